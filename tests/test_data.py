"""Data generators: Mackey-Glass, NARMA, the memory task, Lorenz."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from reservoirpy.datasets import mackey_glass as rpy_mackey_glass
from scipy.integrate import solve_ivp
from typecheck import unchecked

import dynax as dx

BETA, GAMMA, X0 = 0.2, 0.1, 1.2


def np_mackey_glass(n, dt=0.1, tau=17.0, sample_every=1.0):
    """The documented scheme in plain NumPy: RK4, linear history interpolation."""
    m, per = round(tau / dt), round(sample_every / dt)
    hist = [X0] * m  # x(t - tau), ..., x(t - dt)
    x, out = X0, []

    def f(x, d):
        return BETA * d / (1 + d**10) - GAMMA * x

    for j in range(n * per):
        if j % per == 0:
            out.append(x)
        d0, d1 = hist[-m], (hist[-m + 1] if m > 1 else x)
        dm = 0.5 * (d0 + d1)
        k1 = f(x, d0)
        k2 = f(x + 0.5 * dt * k1, dm)
        k3 = f(x + 0.5 * dt * k2, dm)
        k4 = f(x + dt * k3, d1)
        hist.append(x)
        x = x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return np.array(out)


def test_mackey_glass_equals_numpy_same_scheme():
    got = np.asarray(dx.data.mackey_glass(300))
    np.testing.assert_allclose(got, np_mackey_glass(300), rtol=1e-11)
    got = np.asarray(dx.data.mackey_glass(40, dt=0.5, sample_every=2.0, washout=3))
    ref = np_mackey_glass(43, dt=0.5, sample_every=2.0)[3:]
    np.testing.assert_allclose(got, ref, rtol=1e-11)


def first_interval(t):
    """On [0, tau] the delayed value is the constant history: a linear ODE."""
    c = BETA * X0 / (1 + X0**10)
    return c / GAMMA + (X0 - c / GAMMA) * np.exp(-GAMMA * t)


def test_mackey_glass_against_exact_and_fine_reference():
    x01 = np.asarray(dx.data.mackey_glass(35, dt=0.1))
    x005 = np.asarray(dx.data.mackey_glass(35, dt=0.05))
    # [0, 17]: closed form (RK4 error only, ~1e-11)
    np.testing.assert_allclose(x01[:18], first_interval(np.arange(18.0)), atol=1e-9)

    # [17, 34]: x(t - 17) is the closed form above; DOP853 at rtol 1e-12
    def rhs(t, x):
        d = first_interval(t - 17.0)
        return BETA * d / (1 + d**10) - GAMMA * x

    ts = np.arange(17.0, 35.0)
    sol = solve_ivp(rhs, (17, 34), [first_interval(17.0)], t_eval=ts, rtol=1e-12,
                    atol=1e-14, method="DOP853")  # fmt: skip
    err01 = np.max(np.abs(x01[17:] - sol.y[0]))
    err005 = np.max(np.abs(x005[17:] - sol.y[0]))
    assert err01 < 2e-5  # measured 6.8e-6
    assert 3.0 < err01 / err005 < 5.0  # second order (linear history interpolation)


def test_mackey_glass_statistics_match_reservoirpy():
    """reservoirpy integrates with h = 1 and a frozen delay: compare statistics."""
    ours = np.asarray(dx.data.mackey_glass(2000, washout=100))
    theirs = rpy_mackey_glass(2100)[100:, 0]
    assert ours.shape == theirs.shape
    assert abs(ours.mean() - theirs.mean()) < 0.01  # measured 0.0014
    assert abs(ours.std() - theirs.std()) < 0.01  # measured 0.0013
    assert abs(ours.min() - theirs.min()) < 0.02
    assert abs(ours.max() - theirs.max()) < 0.02


def test_mackey_glass_key_dtype_and_bad_input(getkey):
    a = dx.data.mackey_glass(50, key=getkey(), dtype=jnp.float32)
    b = dx.data.mackey_glass(50, key=getkey(), dtype=jnp.float32)
    assert a.dtype == jnp.float32 and a.shape == (50,)
    assert not np.allclose(np.asarray(a[20:]), np.asarray(b[20:]))
    with unchecked(), pytest.raises(ValueError, match="tau"):
        dx.data.mackey_glass(10, tau=17.05)
    with unchecked(), pytest.raises(ValueError, match="sample_every"):
        dx.data.mackey_glass(10, sample_every=0.25)
    with unchecked(), pytest.raises(ValueError, match="washout"):
        dx.data.mackey_glass(10, washout=-1)


def np_narma(u, order=10):
    y = np.zeros(len(u) + 1)
    for k in range(len(u)):
        lo = max(k - order + 1, 0)
        u_old = u[k - order + 1] if k - order + 1 >= 0 else 0.0
        y[k + 1] = (0.3 * y[k] + 0.05 * y[k] * y[lo : k + 1].sum()
                    + 1.5 * u_old * u[k] + 0.1)  # fmt: skip
    return y[:-1]


@pytest.mark.parametrize("order", [1, 5, 10])
def test_narma_equals_numpy(order, getkey):
    u, y, ok = dx.data.narma(400, order=order, key=getkey())
    assert bool(ok)
    assert float(u.min()) >= 0 and float(u.max()) <= 0.5
    np.testing.assert_allclose(np.asarray(y), np_narma(np.asarray(u), order), 1e-12)


def test_narma_flags_divergence():
    y = dx.data.narma_from_inputs(jnp.full((200,), 1.0))
    assert not bool(jnp.all(jnp.isfinite(y) & (jnp.abs(y) < 10)))
    _, _, ok = dx.data.narma(200, key=jr.PRNGKey(0), bound=0.05)
    assert not bool(ok)


def test_memory_capacity_task_alignment(getkey):
    u, targets = dx.data.memory_capacity_task(30, max_delay=4, key=getkey())
    u = np.asarray(u)[:, 0]
    for k in range(30):
        for d in range(1, 5):
            want = u[k - 1 - d] if k - 1 - d >= 0 else 0.0
            assert float(targets[k, d - 1]) == want


def test_lorenz_series_against_scipy():
    ys = np.asarray(dx.data.lorenz_series(101, dt=0.01, sample_every=2, washout=5))

    def rhs(t, s):
        x, y, z = s
        return [10 * (y - x), x * (28 - z) - y, x * y - 8 / 3 * z]

    ts = np.arange(5, 106) * 0.02
    sol = solve_ivp(rhs, (0, ts[-1]), [1.0, 1.0, 1.0], t_eval=ts, rtol=1e-12,
                    atol=1e-12, method="DOP853")  # fmt: skip
    # fixed-step Tsit5 at dt = 0.01 over t <= 2.1: measured max error 1.3e-6
    np.testing.assert_allclose(ys, sol.y.T, atol=5e-6)

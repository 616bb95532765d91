"""Reservoir metrics: NRMSE, memory capacity, effective spectral radius, ESP."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from typecheck import unchecked

import dynax as dx
from dynax.analysis import (
    echo_state_property,
    effective_spectral_radius,
    memory_capacity,
    nrmse,
)


def test_nrmse_known_answers(getkey):
    y = jr.normal(getkey(), (500, 2))
    np.testing.assert_allclose(nrmse(jnp.full_like(y, jnp.mean(y)), y), 1.0, 1e-12)
    np.testing.assert_allclose(nrmse(y + 0.3, y), 0.3 / np.std(np.asarray(y)), 1e-12)
    with unchecked(), pytest.raises(ValueError, match="pred, target"):
        nrmse(y[:-1], y)


def linear_states(n=50, T=20001, seed=0):
    """The algorithms.md setup: W = 0.95 * orthogonal, input scaling 0.1."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    W, w_in = 0.95 * q, 0.1 * rng.uniform(-1, 1, n)
    u = rng.uniform(-1, 1, T)
    X = np.zeros((T, n))
    for k in range(T - 1):  # row k has seen u[0..k-1], as dx.simulate
        X[k + 1] = W @ X[k] + w_in * u[k]
    return X, u


def np_memory_capacity(X, u, max_delay, start, n_train, alpha):
    rows = np.arange(start, len(u))
    ds = np.arange(1, max_delay + 1)
    Y = u[rows[:, None] - 1 - ds[None, :]]
    A = np.hstack([X[start:], np.ones((len(rows), 1))])
    n_feat = X.shape[1]
    reg = np.vstack([A[:n_train], np.sqrt(alpha) * np.eye(n_feat, n_feat + 1)])
    rhs = np.vstack([Y[:n_train], np.zeros((n_feat, max_delay))])
    coef = np.linalg.lstsq(reg, rhs, rcond=None)[0]
    pred = A[n_train:] @ coef
    return np.array(
        [np.corrcoef(pred[:, j], Y[n_train:, j])[0, 1] ** 2 for j in range(max_delay)]
    )


def test_memory_capacity_linear_reservoir_near_n():
    """algorithms.md: N = 50 linear orthogonal reservoir, NumPy gives MC = 48.86."""
    X, u = linear_states()
    # train on rows 500..10499, test on the rest (algorithms.md's split)
    frac = 10000 / (20001 - 500)
    mc = memory_capacity(
        jnp.asarray(X), jnp.asarray(u), max_delay=100, washout=500, alpha=1e-10,
        train_fraction=frac,
    )  # fmt: skip
    ref = np_memory_capacity(X, u, 100, 500, 10000, 1e-10)
    np.testing.assert_allclose(np.asarray(mc.per_delay), ref, rtol=1e-6, atol=1e-9)
    assert float(mc.total) <= 50.0
    assert abs(float(mc.total) - 48.86) < 0.01  # measured 48.8605 (same setup, seed 0)
    assert float(mc.per_delay[0]) > 0.99


def test_memory_capacity_of_tanh_esn_is_below_n_and_matches_numpy(getkey):
    n = 30
    esn = dx.models.ESN(1, n, spectral_radius=0.9, input_scaling=0.5, key=getkey())
    u = jr.uniform(getkey(), (3000, 1), jnp.float64, minval=-1, maxval=1)
    ys = dx.simulate(esn, esn.init_state(), jnp.arange(3000.0), inputs=u).ys
    mc = memory_capacity(ys, u, max_delay=60, washout=100, alpha=1e-8)
    ref = np_memory_capacity(np.asarray(ys), np.asarray(u)[:, 0], 60, 100, 1450, 1e-8)
    np.testing.assert_allclose(np.asarray(mc.per_delay), ref, rtol=1e-5, atol=1e-8)
    assert 3.0 < float(mc.total) < n


def test_memory_capacity_float32_equals_float64():
    """float32 states of a 100-unit ESN: the normal equations of the delay readouts
    are not numerically positive definite at alpha = 1e-8 and the capacity was NaN;
    it must equal the float64 capacity of the same states."""
    esn = dx.models.ESN(
        1, 100, spectral_radius=0.9, leak=0.3, density=0.1, key=jr.PRNGKey(3)
    )
    u = jr.uniform(jr.PRNGKey(4), (3000, 1), jnp.float64, minval=-1, maxval=1)
    ys = dx.simulate(esn, esn.init_state(), jnp.arange(3000.0), inputs=u).ys
    y32, u32 = ys.astype(jnp.float32), u.astype(jnp.float32)
    for alpha in (1e-8, 1e-10):
        mc = memory_capacity(y32, u32, max_delay=100, washout=100, alpha=alpha)
        ref = memory_capacity(
            y32.astype(jnp.float64), u, max_delay=100, washout=100, alpha=alpha
        )
        assert mc.total.dtype == jnp.float32
        np.testing.assert_allclose(mc.per_delay, ref.per_delay, atol=1e-4)


def test_memory_capacity_vmap_equals_loop(getkey):
    u = jr.uniform(getkey(), (400, 1), jnp.float64, minval=-1, maxval=1)
    ys = jnp.tanh(jr.normal(getkey(), (3, 400, 10)) + u[None, :, :])  # 3 "members"
    mc = jax.vmap(lambda y: memory_capacity(y, u, max_delay=15, washout=20))(ys)
    for i in range(3):
        one = memory_capacity(ys[i], u, max_delay=15, washout=20)
        np.testing.assert_allclose(mc.total[i], one.total, rtol=1e-10)


def test_memory_capacity_bad_input(getkey):
    X, u = jnp.ones((100, 5)), jnp.ones((100,))
    with unchecked(), pytest.raises(ValueError, match="washout"):
        memory_capacity(X, u, max_delay=5, washout=100)
    with unchecked(), pytest.raises(ValueError, match="alpha"):
        memory_capacity(X, u, max_delay=5, alpha=-1.0)
    with unchecked(), pytest.raises(ValueError, match="max_delay"):
        memory_capacity(X, u, max_delay=0)
    with (
        unchecked(),
        pytest.raises(ValueError, match=r"inputs: expected shape \(time,\)"),
    ):
        memory_capacity(X, u[:-1], max_delay=5)


def test_effective_spectral_radius_matches_numpy(getkey):
    for leak in (1.0, 0.3, jnp.linspace(0.1, 1.0, 20)):
        esn = dx.models.ESN(1, 20, spectral_radius=1.3, leak=leak, key=getkey())
        a = np.broadcast_to(np.asarray(esn.leak), (20,))[:, None]
        J = (1 - a) * np.eye(20) + a * np.asarray(esn.W)
        ref = np.max(np.abs(np.linalg.eigvals(J)))
        np.testing.assert_allclose(float(effective_spectral_radius(esn)), ref, 1e-7)
    make = eqx.filter_jit(dx.make_ensemble)
    ens = make(lambda k: dx.models.ESN(1, 20, leak=0.5, key=k), jr.split(getkey(), 3))
    rhos = jax.vmap(effective_spectral_radius)(ens)
    for i in range(3):
        one = effective_spectral_radius(dx.member(ens, i))
        np.testing.assert_allclose(rhos[i], one, rtol=1e-10)


def test_echo_state_property(getkey):
    u = jr.uniform(getkey(), (300, 1), jnp.float64, minval=-1, maxval=1)
    good = dx.models.ESN(1, 20, spectral_radius=0.8, key=getkey())
    check = echo_state_property(good, u, key=getkey())
    assert bool(check.converged) and check.distance.shape == (300,)
    # no input and a large radius: the zero state is unstable; the two runs settle
    # on different (non-zero) attractors and never meet
    bad = dx.models.ESN(1, 20, spectral_radius=3.0, key=getkey())
    check = echo_state_property(bad, jnp.zeros((300, 1)), key=getkey())
    assert not bool(check.converged)
    assert float(check.distance[-1]) > 1e-2


def test_one_trace_across_repeated_calls(getkey, monkeypatch):
    import dynax.analysis._reservoir as mod

    traces = []
    ridge = mod.ridge

    def counted(*args, **kwargs):
        traces.append(1)  # runs at trace time only
        return ridge(*args, **kwargs)

    monkeypatch.setattr(mod, "ridge", counted)
    u = jr.uniform(getkey(), (200,), jnp.float64)
    for _ in range(3):
        X = jr.normal(getkey(), (200, 8))
        memory_capacity(X, u, max_delay=5)
    assert len(traces) == 1


def test_memory_capacity_equals_reservoirpy(getkey):
    """reservoirpy.observables.memory_capacity on the same reservoir and series.

    reservoirpy drives the reservoir with u' = series[k_max:], fits the delays
    1..k_max on the first 80% of the rows (the first k_max discarded as warm-up) and
    correlates on the last 20%. With dx.simulate's alignment (ys[k] = reservoirpy's
    x(k - 1)) that is rows 21..180 of ys, the first 0.75 of them for training.
    """
    from reservoirpy.nodes import Reservoir, Ridge
    from reservoirpy.observables import memory_capacity as rpy_memory_capacity

    k_max, n = 20, 40
    m = dx.models.ESN(1, n, spectral_radius=0.9, leak=0.5, density=0.2, key=getkey())
    series = np.asarray(jr.uniform(getkey(), (10 * k_max, 1), jnp.float64, -0.8, 0.8))
    res = Reservoir(W=np.asarray(m.W), Win=np.asarray(m.W_in), bias=np.asarray(m.b))
    res.lr = float(m.leak)
    ref = rpy_memory_capacity(
        res >> Ridge(ridge=1e-6), k_max, as_list=True, series=series, test_size=0.2
    )
    u = jnp.asarray(np.concatenate([series[k_max:, 0], [0.0]]))  # one unused sample
    ys = dx.simulate(
        m, m.init_state(), jnp.arange(u.shape[0], dtype=float), inputs=u[:, None]
    ).ys
    mc = memory_capacity(ys, u, max_delay=k_max, alpha=1e-6, train_fraction=0.75)
    assert 1.0 < float(mc.total) < n
    np.testing.assert_allclose(np.asarray(mc.per_delay), ref, rtol=1e-6, atol=1e-9)


def test_memory_capacity_ensemble_equals_loop(getkey):
    X = jr.normal(getkey(), (3, 300, 12), jnp.float64)
    u = jr.normal(getkey(), (300,), jnp.float64)
    U = jr.normal(getkey(), (3, 300, 1), jnp.float64)
    shared = dx.analysis.memory_capacity(X, u, max_delay=4, ensemble=True)
    per = dx.analysis.memory_capacity(X, U, max_delay=4, ensemble=True, chunk_size=2)
    assert shared.per_delay.shape == (3, 4) and per.total.shape == (3,)
    for i in range(3):
        one = dx.analysis.memory_capacity(X[i], u, max_delay=4)
        np.testing.assert_allclose(shared.per_delay[i], one.per_delay, rtol=1e-9)
        own = dx.analysis.memory_capacity(X[i], U[i], max_delay=4)
        np.testing.assert_allclose(per.total[i], own.total, rtol=1e-9)
    with (
        unchecked(),
        pytest.raises(ValueError, match="^ensemble: expected True for the stacked"),
    ):
        dx.analysis.memory_capacity(X, u, max_delay=4)
    with (
        unchecked(),
        pytest.raises(ValueError, match=r"^states: expected shape \(members, time"),
    ):
        dx.analysis.memory_capacity(X[0], u, max_delay=4, ensemble=True)
    with unchecked(), pytest.raises(ValueError, match="^inputs: expected rank 1"):
        dx.analysis.memory_capacity(X, U[:2], max_delay=4, ensemble=True)

"""Lorenz, Rossler, VanDerPol, Lorenz96 against scipy, and under JAX transforms."""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate
from typecheck import unchecked

import dynax as dx
from dynax.models import Lorenz, Lorenz96, Rossler, VanDerPol


def np_lorenz(t, y, sigma=10.0, rho=28.0, beta=8.0 / 3.0):
    x, v, z = y
    return [sigma * (v - x), x * (rho - z) - v, x * v - beta * z]


def np_rossler(t, y, a=0.2, b=0.2, c=5.7):
    x, v, z = y
    return [-v - z, x + a * v, b + z * (x - c)]


def np_van_der_pol(t, y, mu=1.0):
    x, v = y
    return [v, mu * (1 - x**2) * v - x]


def np_lorenz96(t, x, forcing: float | np.ndarray = 8.0):
    n = len(x)
    f = np.broadcast_to(forcing, (n,))
    return [
        (x[(i + 1) % n] - x[(i - 2) % n]) * x[(i - 1) % n] - x[i] + f[i]
        for i in range(n)
    ]


# name: (dynax model, NumPy right-hand side, start, horizon). Horizons keep the
# chaotic error growth (largest exponent ~0.9 for Lorenz, ~1.7 for Lorenz96) small.
CASES = {
    "lorenz": (Lorenz(), np_lorenz, [1.0, 1.0, 1.0], 2.0),
    "lorenz_params": (
        Lorenz(16.0, 45.92, 4.0),
        lambda t, y: np_lorenz(t, y, 16.0, 45.92, 4.0),
        [-3.0, 2.0, 20.0],
        1.0,
    ),
    "rossler": (Rossler(), np_rossler, [1.0, -2.0, 0.5], 10.0),
    "van_der_pol": (
        VanDerPol(2.5),
        lambda t, y: np_van_der_pol(t, y, 2.5),
        [0.5, 0.0],
        10.0,
    ),
    "lorenz96": (Lorenz96(6), np_lorenz96, [8.0, 8.01, 7.5, 8.0, 9.0, 8.0], 2.0),
}


@pytest.mark.parametrize("name", CASES)
def test_matches_scipy_solve_ivp(name):
    """scipy DOP853 at rtol = atol = 1e-12 against Tsit5 with a PID controller at
    rtol = atol = 1e-10 (both float64). Measured largest differences: 3e-10
    (Rossler) to 2.4e-8 (Lorenz96); the tolerance 1e-6 is 40x the largest and far
    below any error in the equations (a wrong sign or index changes the states at
    O(1), the ranges checked below)."""
    model, rhs, y0, t1 = CASES[name]
    ts = np.linspace(0.0, t1, 21)
    ref = scipy.integrate.solve_ivp(
        rhs, (0.0, t1), y0, method="DOP853", t_eval=ts, rtol=1e-12, atol=1e-12
    ).y.T
    traj = dx.simulate(
        model,
        jnp.asarray(y0),
        jnp.asarray(ts),
        solver=diffrax.Tsit5(),
        stepsize_controller=diffrax.PIDController(rtol=1e-10, atol=1e-10),
    )
    assert np.ptp(ref, axis=0).max() > 0.5  # the trajectory goes somewhere
    np.testing.assert_allclose(traj.ys, ref, rtol=0, atol=1e-6)


class Forcing(eqx.Module):
    """u(t) = (0, A cos(w t)): a smooth drive with ``.evaluate`` (a path)."""

    amplitude: jax.Array
    frequency: jax.Array

    def evaluate(self, t0, t1=None, left=True):
        del t1, left
        phase = self.frequency * t0
        return jnp.stack([jnp.zeros_like(phase), self.amplitude * jnp.cos(phase)])


def test_forced_van_der_pol_matches_scipy():
    """x'' - mu (1 - x^2) x' + x = A cos(w t) (driven=True adds u to the field).

    As above; the measured largest difference is 5e-10."""
    mu, amp, freq = 1.5, 1.2, 0.7
    ts = np.linspace(0.0, 10.0, 21)

    def rhs(t, y):
        dx_, dv = np_van_der_pol(t, y, mu)
        return [dx_, dv + amp * np.cos(freq * t)]

    ref = scipy.integrate.solve_ivp(
        rhs, (0.0, 10.0), [1.0, 0.0], "DOP853", t_eval=ts, rtol=1e-12, atol=1e-12
    ).y.T
    model = VanDerPol(mu, driven=True)
    assert model.n_in == 2
    traj = dx.simulate(
        model,
        model.init_state().at[0].set(1.0),
        jnp.asarray(ts),
        inputs=Forcing(jnp.asarray(amp), jnp.asarray(freq)),
        solver=diffrax.Tsit5(),
        stepsize_controller=diffrax.PIDController(rtol=1e-10, atol=1e-10),
    )
    free = dx.simulate(model, jnp.array([1.0, 0.0]), jnp.asarray(ts), dt=0.01).ys
    assert np.abs(np.asarray(free) - ref).max() > 0.1  # the drive matters
    np.testing.assert_allclose(traj.ys, ref, rtol=0, atol=1e-6)


def test_defaults_and_init_states():
    lorenz, rossler = Lorenz(), Rossler()
    np.testing.assert_allclose(
        [lorenz.sigma, lorenz.rho, lorenz.beta], [10.0, 28.0, 8.0 / 3.0], rtol=1e-15
    )
    np.testing.assert_allclose([rossler.a, rossler.b, rossler.c], [0.2, 0.2, 5.7])
    assert float(VanDerPol().mu) == 1.0
    l96 = Lorenz96()
    assert l96.n == 40 and float(l96.forcing) == 8.0
    np.testing.assert_array_equal(lorenz.init_state(), np.ones(3))
    y = np.asarray(l96.init_state())
    np.testing.assert_allclose(y, np.r_[8.01, np.full(39, 8.0)])
    # x_i = F is a fixed point of Lorenz96, the origin one of Lorenz and VanDerPol.
    np.testing.assert_allclose(l96(0.0, jnp.full(40, 8.0), None), 0.0, atol=1e-14)
    np.testing.assert_array_equal(lorenz(0.0, jnp.zeros(3), None), 0.0)
    np.testing.assert_array_equal(VanDerPol()(0.0, jnp.zeros(2), None), 0.0)
    per_site = Lorenz96(5, jnp.arange(5.0))
    x = jnp.asarray(np.random.default_rng(0).normal(size=5))
    np.testing.assert_allclose(
        per_site(0.0, x, None), np_lorenz96(0.0, np.asarray(x), np.arange(5.0))
    )


MAKERS = {
    "lorenz": (lambda p: Lorenz(rho=p), jnp.ones(3)),
    "rossler": (lambda p: Rossler(c=p), jnp.array([1.0, -2.0, 0.5])),
    "van_der_pol": (lambda p: VanDerPol(p), jnp.array([0.5, 0.0])),
    "lorenz96": (lambda p: Lorenz96(5, p), jnp.array([8.0, 8.1, 7.9, 8.0, 8.3])),
}
PARAMS = {
    "lorenz": [24.0, 28.0, 35.0],
    "rossler": [4.0, 5.7, 9.0],
    "van_der_pol": [0.3, 1.0, 3.0],
    "lorenz96": [5.0, 8.0, 10.0],
}


TS = jnp.linspace(0.0, 0.5, 51)  # one Tsit5 step of 0.01 per interval (jit-safe)


def rollout(model, y0):
    return dx.simulate(model, y0, TS, solver=diffrax.Tsit5()).ys


@pytest.mark.parametrize("name", MAKERS)
def test_vmap_ensemble_equals_loop_and_jit(name):
    make, y0 = MAKERS[name]
    params = jnp.asarray(PARAMS[name])
    ens = eqx.filter_vmap(make)(params)
    batched = dx.simulate(ens, y0, TS, solver=diffrax.Tsit5(), ensemble=True).ys
    for i, p in enumerate(np.asarray(params)):
        model = make(float(p))
        want = rollout(model, y0)
        np.testing.assert_allclose(batched[i], want, rtol=1e-12, atol=1e-12)
        eager, jitted = model(0.3, y0, None), eqx.filter_jit(model)(0.3, y0, None)
        np.testing.assert_allclose(jitted, eager, rtol=1e-14, atol=1e-14)
    assert not np.allclose(batched[0], batched[2])


@pytest.mark.parametrize("name", MAKERS)
def test_grad_matches_finite_differences(name):
    """d/dp of a loss after a short Tsit5 run, float64, central differences."""
    make, y0 = MAKERS[name]
    p0 = jnp.asarray(PARAMS[name][1])

    def loss(p):
        return jnp.sum(jnp.sin(rollout(make(p), y0)[-1]))

    grad = jax.jit(jax.grad(loss))(p0)
    eps = 1e-6
    fd = (loss(p0 + eps) - loss(p0 - eps)) / (2 * eps)
    assert abs(float(grad)) > 1e-3
    np.testing.assert_allclose(grad, fd, rtol=1e-6)


@pytest.mark.parametrize("name", MAKERS)
def test_float32_stays_float32(name):
    make, y0 = MAKERS[name]
    p32 = jnp.asarray(PARAMS[name][1], jnp.float32)
    model = make(p32)  # a float32 parameter sets the dtype
    leaves = jax.tree.leaves(eqx.filter(model, eqx.is_inexact_array))
    assert {leaf.dtype for leaf in leaves} == {jnp.dtype(jnp.float32)}
    assert model.init_state().dtype == jnp.float32
    y32 = y0.astype(jnp.float32)
    assert model(0.0, y32, None).dtype == jnp.float32
    ts = jnp.linspace(0.0, 0.2, 3, dtype=jnp.float32)
    assert dx.simulate(model, y32, ts, dt=0.01).ys.dtype == jnp.float32
    typed = Lorenz(dtype=jnp.float32)
    assert typed.sigma.dtype == jnp.float32 and Lorenz().sigma.dtype == jnp.float64


def test_parameter_sweep_traces_once():
    """Parameters are array leaves: new values reuse the compiled program."""

    @eqx.filter_jit
    @eqx.debug.assert_max_traces(max_traces=1)
    def run(model):
        return rollout(model, jnp.ones(3))

    outs = [run(Lorenz(rho=rho)) for rho in (20.0, 28.0, 40.0)]
    assert not np.allclose(outs[0], outs[2])


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: Lorenz(sigma=np.ones(2)), ValueError, "sigma: expected a scalar"),
        (lambda: Rossler(c=np.ones(3)), ValueError, "c: expected a scalar"),
        (lambda: VanDerPol(np.ones(2)), ValueError, "mu: expected a scalar"),
        (lambda: Lorenz96(3), ValueError, "n: expected an integer >= 4"),
        (lambda: Lorenz96(4.0), ValueError, "n: expected an integer >= 4"),  # pyright: ignore
        (
            lambda: Lorenz96(5, np.ones(3)),
            ValueError,
            r"forcing: expected a scalar or shape \(n,\) = \(5,\)",
        ),
        (lambda: Lorenz(driven=1), TypeError, "driven: expected a bool"),  # pyright: ignore
        (
            lambda: Lorenz(dtype=jnp.int32),
            ValueError,
            "dtype: expected a float dtype",
        ),
    ],
)
def test_errors(make, error, match):
    with unchecked(), pytest.raises(error, match=match):
        make()


def test_driven_model_checks_its_input_width():
    model = Lorenz(driven=True)
    ts = jnp.linspace(0.0, 0.1, 3)
    with (
        unchecked(),
        pytest.raises(
            ValueError, match=r"inputs: expected shape \(len\(ts\), n_in\) = \(3, 3\)"
        ),
    ):
        dx.simulate(model, model.init_state(), ts, inputs=jnp.zeros((3, 2)))
    kicked = dx.simulate(model, model.init_state(), ts, inputs=jnp.ones((3, 3))).ys
    free = dx.simulate(model, model.init_state(), ts).ys  # no inputs: zero drive
    np.testing.assert_allclose(free, dx.simulate(Lorenz(), jnp.ones(3), ts).ys)
    assert not np.allclose(kicked, free)

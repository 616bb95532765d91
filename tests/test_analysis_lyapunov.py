import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from helpers import OU, Linear
from typecheck import unchecked

import dynax as dx


def lorenz():
    return dx.models.Lorenz()  # sigma = 10, rho = 28, beta = 8/3


def test_linear_flow_exponents_are_real_parts():
    """dx/dt = A x: exponents are the real parts of eig(A).

    A is normal (an orthogonal change of basis of decay-times-rotation blocks). After
    a transient of T = 50 the tangent frame is aligned with the invariant subspaces
    (spectral gaps >= 0.4 leave e^{-20} of misalignment), and from there on each
    QR growth rate is exactly a real part (rotations preserve norms); what remains is
    Tsit5's O(dt^5) error, far below 1e-8.
    """
    Q, _ = np.linalg.qr(np.asarray(jr.normal(jr.PRNGKey(0), (4, 4))))
    D = np.array(
        [[-0.1, 2.0, 0, 0], [-2.0, -0.1, 0, 0], [0, 0, -0.5, 0], [0, 0, 0, -1.2]]
    )
    A = jnp.asarray(Q @ D @ Q.T)
    res = dx.analysis.lyapunov_spectrum(
        Linear(A, jnp.zeros((4, 1))),
        jnp.ones(4),
        dt=0.01,
        n_steps=5000,
        n_transient=5000,
    )
    np.testing.assert_allclose(res.exponents, [-0.1, -0.1, -0.5, -1.2], atol=1e-8)
    assert bool(res.finite)


def test_lorenz_sum_and_largest():
    """Sum = trace of the Jacobian = -(sigma + 1 + beta) (exact for the volume
    contraction of the discretised map up to Tsit5's O(dt^5)); largest 0.9056
    (Sprott, Chaos and Time-Series Analysis, 2003), within 3 block standard errors
    plus 0.01 for the finite run (T = 500)."""
    res = dx.analysis.lyapunov_spectrum(
        lorenz(), jnp.ones(3), dt=0.01, n_steps=50000, n_transient=1000
    )
    np.testing.assert_allclose(jnp.sum(res.exponents), -(10 + 1 + 8 / 3), atol=1e-4)
    l1, l2, _ = np.asarray(res.exponents)
    assert abs(l1 - 0.9056) < 3 * float(res.stderr[0]) + 0.01
    assert abs(l2) < 3 * float(res.stderr[1]) + 0.01
    assert 0 < float(res.stderr[0]) < 0.05
    assert res.history.shape == (10, 3)
    np.testing.assert_allclose(res.history[-1], res.exponents)


def test_henon_map():
    """Henon (a = 1.4, b = 0.3): lambda1 = 0.41922 (Sprott 2003), sum = log b."""

    def henon(t, y, args):
        return jnp.stack([1 - 1.4 * y[0] ** 2 + y[1], 0.3 * y[0]])

    res = dx.analysis.lyapunov_spectrum(
        henon,
        jnp.array([0.1, 0.1]),
        dt=1.0,
        n_steps=100000,
        n_transient=100,
        kind="map",
    )
    np.testing.assert_allclose(jnp.sum(res.exponents), np.log(0.3), atol=1e-10)
    assert abs(float(res.exponents[0]) - 0.41922) < 3 * float(res.stderr[0]) + 2e-3


def test_linear_map_and_qr_every():
    M = jnp.array([[0.9, 0.5], [0.0, 0.5]])
    f = lambda t, y, args: M @ y  # noqa: E731
    for qr_every in (1, 5):
        res = dx.analysis.lyapunov_spectrum(
            f, jnp.ones(2), dt=0.5, n_steps=4000, kind="map", qr_every=qr_every
        )
        # per unit time: log|lambda| / dt; the non-normal start-up costs O(1/T)
        np.testing.assert_allclose(res.exponents, np.log([0.9, 0.5]) / 0.5, atol=2e-3)


def test_ou_with_noise_equals_euler_maruyama_closed_form(getkey):
    """Additive noise leaves the tangent map 1 - theta h: exponent log(1-theta h)/h."""
    model = OU(jnp.asarray(1.5), jnp.asarray(0.7))
    h = 0.01
    res = dx.analysis.lyapunov_spectrum(
        model, jnp.array([0.3]), dt=h, n_steps=500, key=getkey()
    )
    np.testing.assert_allclose(res.exponents, [np.log(1 - 1.5 * h) / h], rtol=1e-10)
    noiseless = dx.analysis.lyapunov_spectrum(
        model, jnp.array([0.3]), dt=h, n_steps=500, solver=diffrax.Euler()
    )
    # the noise moved the trajectory, not the exponent
    assert abs(float(res.final_state[0] - noiseless.final_state[0])) > 1e-3
    with unchecked(), pytest.raises(ValueError, match="Euler-Maruyama"):
        dx.analysis.lyapunov_spectrum(
            model,
            jnp.array([0.3]),
            dt=h,
            n_steps=10,
            key=getkey(),
            solver=diffrax.Heun(),
        )


def test_ensemble_equals_loop_and_vmap_over_states(getkey):
    ens = dx.make_ensemble(
        lambda k: dx.models.CTRNN(0, 5, 1, g=2.0, key=k), jr.split(getkey(), 3)
    )
    y0 = jr.normal(getkey(), (3, 5))
    kw = dict(dt=0.05, n_steps=400, n_exponents=2, solver=diffrax.Heun())
    res = dx.analysis.lyapunov_spectrum(ens, y0, ensemble=True, **kw)
    assert res.exponents.shape == (3, 2)
    for i in range(3):
        one = dx.analysis.lyapunov_spectrum(dx.member(ens, i), y0[i], **kw)
        np.testing.assert_allclose(res.exponents[i], one.exponents, rtol=1e-10)
        np.testing.assert_allclose(res.stderr[i], one.stderr, rtol=1e-10)
    many = jax.vmap(
        lambda y: dx.analysis.lyapunov_spectrum(dx.member(ens, 0), y, **kw).exponents
    )(y0)
    np.testing.assert_allclose(many[0], res.exponents[0], rtol=1e-10)


def test_inputs_per_step(getkey):
    """A driven linear system: inputs enter additively, so exponents are unchanged,
    and the input sequence does reach the model (final states differ)."""
    A = jnp.array([[-1.0, 0.0], [0.0, -0.3]])
    model = Linear(A, jnp.eye(2))
    u = jr.normal(getkey(), (990, 2))
    driven = dx.analysis.lyapunov_spectrum(
        model, jnp.ones(2), dt=0.01, n_steps=900, inputs=u
    )  # the default transient (n_steps // 10 = 90 steps) takes inputs too
    free = dx.analysis.lyapunov_spectrum(model, jnp.ones(2), dt=0.01, n_steps=900)
    np.testing.assert_allclose(driven.exponents, free.exponents, atol=1e-12)
    assert not np.allclose(driven.final_state, free.final_state)


def test_grad_of_largest_exponent_matches_finite_differences():
    """d lambda / d a for dx/dt = a x is 1 (Euler map: d/da log(1 + a h)/h)."""

    def lam(a):
        A = jnp.array([[a, 0.0], [0.0, -2.0]])
        res = dx.analysis.lyapunov_spectrum(
            Linear(A, jnp.zeros((2, 1))),
            jnp.ones(2),
            dt=0.01,
            n_steps=200,
            solver=diffrax.Euler(),
        )
        return res.exponents[0]

    a = -0.5
    expected = 1.0 / (1.0 + a * 0.01)
    np.testing.assert_allclose(jax.grad(lam)(a), expected, rtol=1e-8)


def test_one_trace_across_repeated_calls():
    traces = []

    class Counting(eqx.Module):
        def __call__(self, t, y, args):
            traces.append(1)
            return -y

    dx.analysis.lyapunov_spectrum(Counting(), jnp.ones(2), dt=0.1, n_steps=20)
    n = len(traces)
    dx.analysis.lyapunov_spectrum(Counting(), 2 * jnp.ones(2), dt=0.1, n_steps=20)
    assert n > 0 and len(traces) == n


def test_bad_input():
    model = lorenz()
    y0 = jnp.ones(3)
    with unchecked(), pytest.raises(ValueError, match="dt: expected a number > 0"):
        dx.analysis.lyapunov_spectrum(model, y0, dt=0.0, n_steps=10)
    with (
        unchecked(),
        pytest.raises(ValueError, match="n_exponents: expected an integer in"),
    ):
        dx.analysis.lyapunov_spectrum(model, y0, dt=0.1, n_steps=10, n_exponents=4)
    with unchecked(), pytest.raises(ValueError, match="qr_every"):
        dx.analysis.lyapunov_spectrum(model, y0, dt=0.1, n_steps=10, qr_every=3)
    with unchecked(), pytest.raises(ValueError, match="y0: expected one state"):
        dx.analysis.lyapunov_spectrum(model, jnp.ones((2, 3)), dt=0.1, n_steps=10)
    with unchecked(), pytest.raises(ValueError, match="inputs: expected shape"):
        dx.analysis.lyapunov_spectrum(
            model, y0, dt=0.1, n_steps=10, inputs=jnp.zeros((9, 1))
        )
    with unchecked(), pytest.raises(ValueError, match="solver: expected an explicit"):
        dx.analysis.lyapunov_spectrum(
            model, y0, dt=0.1, n_steps=10, solver=diffrax.ImplicitEuler()
        )


def test_steps_through_simulate_and_dt_is_an_array_leaf():
    """The trajectory is simulate's fixed-step one (same stepper, no second
    integrator), and dt can be vmapped (one trace) or given per member."""
    model = lorenz()
    y0 = jnp.array([1.0, 2.0, 20.0])
    for solver in (diffrax.Tsit5(), diffrax.Heun()):
        res = dx.analysis.lyapunov_spectrum(
            model, y0, dt=0.01, n_steps=300, n_transient=0, solver=solver
        )
        ts = 0.01 * jnp.arange(301.0)
        ys = dx.simulate(model, y0, ts, solver=solver).ys
        np.testing.assert_allclose(res.final_state, ys[-1], rtol=1e-12)
    traces = []

    def run(h):
        traces.append(1)
        return dx.analysis.lyapunov_spectrum(
            model, y0, dt=h, n_steps=200, n_transient=0
        ).exponents

    dts = jnp.array([0.005, 0.01, 0.02])
    many = jax.jit(jax.vmap(run))(dts)
    assert len(traces) == 1
    for i, h in enumerate(dts):
        one = dx.analysis.lyapunov_spectrum(model, y0, dt=h, n_steps=200, n_transient=0)
        np.testing.assert_allclose(many[i], one.exponents, rtol=1e-9)
    ens = dx.make_ensemble(
        lambda k: dx.models.CTRNN(0, 4, 1, g=2.0, key=k), jr.split(jr.PRNGKey(1), 3)
    )
    per_member = dx.analysis.lyapunov_spectrum(
        ens, jnp.ones(4), dt=dts, n_steps=100, ensemble=True
    )
    for i in range(3):
        one = dx.analysis.lyapunov_spectrum(
            dx.member(ens, i), jnp.ones(4), dt=dts[i], n_steps=100
        )
        np.testing.assert_allclose(per_member.exponents[i], one.exponents, rtol=1e-10)
    with (
        unchecked(),
        pytest.raises(ValueError, match=r"dt: expected rank 0 .* got shape \(2,\)"),
    ):
        dx.analysis.lyapunov_spectrum(
            ens, jnp.ones(4), dt=dts[:2], n_steps=100, ensemble=True
        )

"""simulate(): accuracy against closed forms and scipy, the fast path against
diffrax.diffeqsolve, input semantics, noise, maps, ensembles and bad input."""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
import scipy.integrate
import scipy.linalg
from helpers import OU, Integrator, Linear, Logistic
from typecheck import unchecked

import dynax as dx
from dynax._terms import DiagonalNoiseTerm, GridBrownian, brownian_increments

A = jnp.array([[-0.5, 1.0, 0.0], [-1.0, -0.3, 0.2], [0.1, 0.0, -0.8]])
B = jnp.array([[1.0], [0.0], [0.5]])
Y0 = jnp.array([1.0, -0.5, 0.25])


def _expm_reference(ts):
    return np.stack([scipy.linalg.expm(np.asarray(A) * t) @ np.asarray(Y0) for t in ts])


@pytest.mark.parametrize(
    "solver, dt, tol",
    [(diffrax.Tsit5(), 0.01, 1e-11), (diffrax.Dopri8(), 0.05, 1e-11)],
)
def test_linear_fixed_step_matches_expm(solver, dt, tol):
    ts = jnp.linspace(0.0, 5.0, 26)
    traj = dx.simulate(Linear(A, B), Y0, ts, solver=solver, dt=dt)
    np.testing.assert_allclose(traj.ys, _expm_reference(ts), atol=tol, rtol=0)
    assert bool(traj.ok)
    assert int(traj.stats["num_steps"]) == round(5.0 / dt)


def test_linear_adaptive_matches_expm():
    ts = jnp.linspace(0.0, 5.0, 26)
    controller = diffrax.PIDController(rtol=1e-11, atol=1e-11)
    traj = dx.simulate(
        Linear(A, B), Y0, ts, solver=diffrax.Tsit5(), stepsize_controller=controller
    )
    np.testing.assert_allclose(traj.ys, _expm_reference(ts), atol=1e-9, rtol=0)
    np.testing.assert_allclose(traj.outputs, traj.ys[:, :1])


def test_lorenz_matches_scipy():
    sigma, rho, beta = 10.0, 28.0, 8.0 / 3.0
    y0 = np.array([1.0, 1.0, 1.0])
    ts = np.linspace(0.0, 2.0, 41)

    def rhs(t, y):
        x, yy, z = y
        return [sigma * (yy - x), x * (rho - z) - yy, x * yy - beta * z]

    ref = scipy.integrate.solve_ivp(
        rhs, (0.0, 2.0), y0, method="DOP853", t_eval=ts, rtol=1e-13, atol=1e-13
    ).y.T
    model = dx.models.Lorenz(sigma, rho, beta)
    adaptive = dx.simulate(
        model,
        jnp.asarray(y0),
        ts,
        solver=diffrax.Dopri8(),
        stepsize_controller=diffrax.PIDController(rtol=1e-12, atol=1e-12),
    )
    fixed = dx.simulate(model, jnp.asarray(y0), ts, solver=diffrax.Dopri8(), dt=1e-3)
    # Errors grow like exp(0.9 t) (largest Lyapunov exponent): ~6x over t = 2.
    np.testing.assert_allclose(adaptive.ys, ref, atol=1e-8, rtol=0)
    np.testing.assert_allclose(fixed.ys, ref, atol=1e-8, rtol=0)


def _smooth_input(ts):
    fine = jnp.linspace(ts[0], ts[-1], 7)
    return diffrax.LinearInterpolation(fine, jnp.sin(3.0 * fine)[:, None])


SOLVERS = [
    diffrax.Euler(),
    diffrax.Heun(),
    diffrax.Midpoint(),
    diffrax.Ralston(),
    diffrax.Bosh3(),
    diffrax.Tsit5(),
    diffrax.Dopri5(),
]


def _pair(solver, ts, dt, path):
    def ours(a):
        traj = dx.simulate(Linear(a, B), Y0, ts, inputs=path, solver=solver, dt=dt)
        return traj.ys

    def reference(a):
        return diffrax.diffeqsolve(
            diffrax.ODETerm(Linear(a, B)),
            solver,
            ts[0],
            ts[-1],
            dt,
            Y0,
            path,
            saveat=diffrax.SaveAt(ts=ts),
            stepsize_controller=diffrax.ConstantStepSize(),
        ).ys

    return ours, reference


@pytest.mark.parametrize("solver", SOLVERS, ids=lambda s: type(s).__name__)
def test_fast_path_equals_diffeqsolve(solver):
    ts = jnp.linspace(0.0, 2.0, 11)
    ours, reference = _pair(solver, ts, 0.2, _smooth_input(ts))
    np.testing.assert_allclose(ours(A), reference(A), rtol=1e-12, atol=1e-13)


# Tsit5 only: Heun's tableau runs through the same code and is compared with
# diffeqsolve, values and gradients, in test_fixed_step.py (22 s less per run).
@pytest.mark.parametrize("solver", [diffrax.Tsit5()], ids=["Tsit5"])
def test_fast_path_gradients_equal_diffeqsolve_with_substeps(solver):
    ts = jnp.linspace(0.0, 2.0, 11)
    ours, reference = _pair(solver, ts, 0.2 / 3, _smooth_input(ts))
    np.testing.assert_allclose(ours(A), reference(A), rtol=1e-12, atol=1e-13)
    loss = lambda f: lambda a: jnp.sum(jnp.sin(f(a)))  # noqa: E731
    np.testing.assert_allclose(
        jax.grad(loss(ours))(A), jax.grad(loss(reference))(A), rtol=1e-11, atol=1e-12
    )


def test_generic_solver_path_equals_diffeqsolve():
    ts = jnp.linspace(0.0, 1.0, 6)
    solver = diffrax.ImplicitEuler(
        root_finder=diffrax.VeryChord(rtol=1e-12, atol=1e-12)
    )
    ours = dx.simulate(Linear(A, B), Y0, ts, solver=solver, dt=0.05).ys
    ref = diffrax.diffeqsolve(
        diffrax.ODETerm(Linear(A, B)),
        solver,
        0.0,
        1.0,
        0.05,
        Y0,
        None,
        saveat=diffrax.SaveAt(ts=ts),
    ).ys
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12)


class _Oscillator(dx.models.AbstractDynamics):
    omega: jax.Array

    def __call__(self, t, y, args):
        return {"x": y["v"], "v": -(self.omega**2) * y["x"]}

    def init_state(self):
        return {"x": jnp.zeros(()), "v": jnp.zeros(())}


def test_pytree_state_matches_closed_form():
    omega = 2.0
    ts = jnp.linspace(0.0, 3.0, 31)
    y0 = {"x": jnp.asarray(1.0), "v": jnp.asarray(0.0)}
    traj = dx.simulate(
        _Oscillator(jnp.asarray(omega)), y0, ts, solver=diffrax.Tsit5(), dt=0.01
    )
    np.testing.assert_allclose(traj.ys["x"], np.cos(omega * ts), atol=1e-10)
    np.testing.assert_allclose(traj.ys["v"], -omega * np.sin(omega * ts), atol=1e-10)


@pytest.mark.parametrize(
    "solver, controller",
    [
        (diffrax.Heun(), None),
        (diffrax.Tsit5(), None),
        (diffrax.Tsit5(), diffrax.PIDController(rtol=1e-9, atol=1e-9)),
    ],
)
def test_piecewise_constant_inputs(solver, controller):
    # dy/dt = u(t): y(ts[k]) is the exact integral of the piecewise-constant samples,
    # and only inputs[0..k-1] reach ys[k].
    ts = jnp.array([0.0, 0.1, 0.35, 0.4, 1.0, 1.3])
    u = jnp.array([[1.0], [-2.0], [3.0], [0.5], [-1.0], [100.0]])
    expected = np.concatenate([[0.0], np.cumsum(np.diff(ts) * u[:-1, 0])])[:, None]
    kw = dict(inputs=u, solver=solver, stepsize_controller=controller)
    traj = dx.simulate(Integrator(), jnp.zeros(1), ts, **kw)
    np.testing.assert_allclose(traj.ys, expected, atol=1e-9 if controller else 1e-13)
    # Changing the sample at ts[3] changes nothing before ts[4].
    bumped = dx.simulate(
        Integrator(), jnp.zeros(1), ts, **{**kw, "inputs": u.at[3].set(9.0)}
    )
    np.testing.assert_allclose(bumped.ys[:4], traj.ys[:4], atol=1e-12)
    assert not np.allclose(bumped.ys[4:], traj.ys[4:])


def test_substeps_keep_input_constant_over_interval():
    ts = jnp.linspace(0.0, 1.0, 5)
    u = jnp.array([[1.0], [2.0], [3.0], [4.0], [5.0]])
    traj = dx.simulate(
        Integrator(), jnp.zeros(1), ts, inputs=u, solver=diffrax.Heun(), dt=0.05
    )
    np.testing.assert_allclose(traj.ys[:, 0], [0.0, 0.25, 0.75, 1.5, 2.5], atol=1e-12)
    assert int(traj.stats["num_steps"]) == 20


def test_float32_times_accept_a_dividing_dt():
    # linspace in float32 rounds the spacings (0.1 / 0.02 = 4.99997 .. 5.00002 here);
    # that rounding must not be mistaken for a dt that does not divide them.
    ts = jnp.linspace(0.0, 10.0, 101, dtype=jnp.float32)
    u = jnp.ones((101, 1), jnp.float32)
    traj = dx.simulate(
        Integrator(),
        jnp.zeros(1, jnp.float32),
        ts,
        inputs=u,
        solver=diffrax.Heun(),
        dt=0.02,
    )
    assert int(traj.stats["num_steps"]) == 500
    # y = t, summed in float32 over 500 steps: rounding <= 500 * eps * 10 = 6e-4.
    np.testing.assert_allclose(traj.ys[:, 0], np.asarray(ts), rtol=0, atol=6e-4)
    with (
        unchecked(),
        pytest.raises(
            ValueError, match="dt: expected a step that divides every interval"
        ),
    ):
        dx.simulate(Integrator(), jnp.zeros(1, jnp.float32), ts, inputs=u, dt=0.03)


def test_ou_stationary_variance(getkey):
    # dy = -theta y dt + s dW. Euler-Maruyama with step h has the stationary variance
    # s^2 / (theta (2 - theta h)) (exact for the discrete recursion); the SDE's is
    # s^2 / (2 theta). 4,000 keys x 4 independent coordinates = 16,000 samples at
    # t = 6 (equilibrated to within exp(-12)); the standard error of a sample
    # variance is var * sqrt(2 / n) = 0.0056 * var, so 4 standard errors is 2.2%.
    theta, s, h = 1.5, 0.8, 0.01
    model = OU(jnp.asarray(theta), jnp.asarray(s))
    ts = jnp.linspace(0.0, 6.0, 7)
    keys = jr.split(getkey(), 4000)
    run = eqx.filter_vmap(
        lambda k: dx.simulate(model, model.init_state(), ts, key=k, dt=h).ys[-1]
    )
    samples = run(keys).ravel()
    var_em = s**2 / (theta * (2 - theta * h))
    se = var_em * np.sqrt(2 / samples.size)
    assert abs(float(jnp.var(samples)) - var_em) < 4 * se
    assert abs(var_em - s**2 / (2 * theta)) < 0.01 * s**2 / (2 * theta)
    assert abs(float(jnp.mean(samples))) < 4 * np.sqrt(var_em / samples.size)


def test_sde_fast_path_equals_diffeqsolve_and_key_none_is_deterministic(getkey):
    model = OU(jnp.asarray(1.0), jnp.asarray(0.5))
    ts = jnp.linspace(0.0, 1.0, 11)
    y0 = jnp.ones(4)
    key = getkey()
    traj = dx.simulate(model, y0, ts, key=key, dt=0.05)
    h = jnp.full((10, 2), 0.05)
    dws = brownian_increments(key, y0, h)
    grid = GridBrownian(jnp.arange(20.0) * 0.05, dws.reshape(20, 4))
    terms = diffrax.MultiTerm(
        diffrax.ODETerm(model), DiagonalNoiseTerm(model.diffusion, grid)
    )
    ref = diffrax.diffeqsolve(
        terms, diffrax.Euler(), 0.0, 1.0, 0.05, y0, None, saveat=diffrax.SaveAt(ts=ts)
    ).ys
    np.testing.assert_allclose(traj.ys, ref, rtol=1e-12, atol=1e-13)
    quiet = dx.simulate(model, y0, ts, dt=0.05)
    decay = (1 - 0.05) ** (2 * np.arange(11))
    np.testing.assert_allclose(quiet.ys, decay[:, None] * np.asarray(y0)[None, :])
    assert not np.allclose(traj.ys, quiet.ys)
    other = dx.simulate(model, y0, ts, key=getkey(), dt=0.05)
    assert not np.allclose(traj.ys, other.ys)


def test_map_matches_numpy_loop_and_input_semantics():
    r = 3.2  # periodic, not chaotic: rounding differences stay at rounding level
    ts = jnp.arange(30.0)
    u = 0.01 * jnp.sin(jnp.arange(30.0))[:, None]
    traj = dx.simulate(Logistic(jnp.asarray(r)), jnp.array([0.2]), ts, inputs=u)
    y, ref = 0.2, [0.2]
    for k in range(29):
        y = r * y * (1 - y) + float(u[k, 0])
        ref.append(y)
    np.testing.assert_allclose(traj.ys[:, 0], ref, rtol=1e-12)
    bumped = dx.simulate(
        Logistic(jnp.asarray(r)), jnp.array([0.2]), ts, inputs=u.at[10].add(0.1)
    )
    np.testing.assert_array_equal(bumped.ys[:11], traj.ys[:11])
    assert bumped.ys[11, 0] != traj.ys[11, 0]


def _make_linear(key):
    return Linear(A + 0.1 * jr.normal(key, A.shape), B)


def test_ensemble_equals_loop_over_members(getkey):
    ens = dx.make_ensemble(_make_linear, jr.split(getkey(), 5))
    ts = jnp.linspace(0.0, 1.0, 11)
    u = jnp.cos(ts)[:, None]
    batched = dx.simulate(ens, Y0, ts, inputs=u, solver=diffrax.Heun(), ensemble=True)
    vmapped = eqx.filter_vmap(
        lambda m: dx.simulate(m, Y0, ts, inputs=u, solver=diffrax.Heun())
    )(ens)
    assert batched.ys.shape == (5, 11, 3)
    for i in range(5):
        single = dx.simulate(dx.member(ens, i), Y0, ts, inputs=u, solver=diffrax.Heun())
        np.testing.assert_allclose(batched.ys[i], single.ys, rtol=1e-13)
        np.testing.assert_allclose(vmapped.ys[i], single.ys, rtol=1e-13)
    assert bool(jnp.all(batched.ok))


def test_stochastic_ensemble_members_get_their_own_noise(getkey):
    ens = dx.make_ensemble(
        lambda k: OU(jnp.asarray(1.0), jnp.asarray(1.0)), jr.split(getkey(), 3)
    )
    traj = dx.simulate(
        ens, jnp.zeros(4), jnp.linspace(0.0, 1.0, 5), key=getkey(), ensemble=True
    )
    assert not np.allclose(traj.ys[0], traj.ys[1])


def test_diverging_member_is_flagged_and_frozen(getkey):
    ens = dx.make_ensemble(_make_linear, jr.split(getkey(), 3))
    ens = eqx.tree_at(lambda m: m.A, ens, ens.A.at[1].set(4000.0 * jnp.eye(3)))
    ts = jnp.linspace(0.0, 3.0, 31)
    traj = dx.simulate(ens, Y0, ts, ensemble=True, dt=0.01)
    assert bool((traj.result == diffrax.RESULTS.nonfinite)[1])
    np.testing.assert_array_equal(np.asarray(traj.ok), [True, False, True])
    assert bool(jnp.all(jnp.isfinite(traj.ys)))
    frozen_from = int(np.argmax(np.all(traj.ys[1, 1:] == traj.ys[1, :-1], axis=1)))
    np.testing.assert_array_equal(
        traj.ys[1, frozen_from + 1 :], traj.ys[1, frozen_from:-1]
    )
    healthy = dx.simulate(dx.member(ens, 2), Y0, ts, dt=0.01)
    np.testing.assert_allclose(traj.ys[2], healthy.ys, rtol=1e-13)
    with unchecked(), pytest.raises(Exception, match="[Nn]onfinite"):
        dx.simulate(ens, Y0, ts, ensemble=True, dt=0.01, throw=True)


def test_jit_equals_no_jit_and_traced_ts():
    ts = jnp.linspace(0.0, 1.0, 6)
    model = Linear(A, B)
    eager = dx.simulate(model, Y0, ts, solver=diffrax.Heun())
    with jax.disable_jit():
        no_jit = dx.simulate(model, Y0, ts, solver=diffrax.Heun())
    under_jit = jax.jit(lambda t: dx.simulate(model, Y0, t, solver=diffrax.Heun()).ys)(
        ts
    )
    np.testing.assert_allclose(no_jit.ys, eager.ys, rtol=1e-13)
    np.testing.assert_allclose(under_jit, eager.ys, rtol=1e-13)


class _CountingLinear(dx.models.AbstractDynamics):
    A: jax.Array
    calls: list = eqx.field(static=True)

    def __call__(self, t, y, args):
        self.calls.append(1)  # runs at trace time only
        return self.A @ y

    def init_state(self):
        return jnp.zeros(3)


def test_one_trace_across_repeated_calls(getkey):
    calls = []
    ts = jnp.linspace(0.0, 1.0, 6)
    dx.simulate(_CountingLinear(A, calls), Y0, ts, solver=diffrax.Tsit5())
    traced = len(calls)
    assert traced > 0
    for _ in range(3):
        a = jr.normal(getkey(), A.shape)
        y0 = jr.normal(getkey(), (3,))
        dx.simulate(_CountingLinear(a, calls), y0, ts + 1.0, solver=diffrax.Tsit5())
    assert len(calls) == traced


def test_float32_stays_float32():
    model = Linear(A.astype(jnp.float32), B.astype(jnp.float32))
    ts = jnp.linspace(0.0, 1.0, 6)  # float64 times
    u = jnp.ones((6, 1), jnp.float32)
    for solver in (diffrax.Euler(), diffrax.Tsit5()):
        traj = dx.simulate(
            model, Y0.astype(jnp.float32), ts, inputs=u, solver=solver, dt=0.1
        )
        assert traj.ys.dtype == jnp.float32
        assert traj.outputs.dtype == jnp.float32


@pytest.mark.parametrize("solver", [diffrax.Euler(), diffrax.Heun()])
def test_float32_sde_on_float64_times_equals_float32_times(solver, getkey):
    """A float32 noisy network on a float64 grid (a task's ts under x64): diffrax's
    drift term gave its step in float64 and failed strict promotion."""
    net = dx.models.CTRNN(2, 6, 1, sigma_rec=0.3, dtype=jnp.float32, key=getkey())
    ts = 0.1 * jnp.arange(30.0)
    u = jnp.ones((30, 2), jnp.float32)
    key = getkey()

    def run(t):
        kw = dict(inputs=u, key=key, solver=solver, dt=0.05)
        return dx.simulate(net, net.init_state(), t, **kw).ys

    ys = run(ts)
    assert ys.dtype == jnp.float32
    np.testing.assert_allclose(ys, run(ts.astype(jnp.float32)), rtol=1e-5, atol=1e-6)
    assert not np.allclose(ys, dx.simulate(net, net.init_state(), ts, inputs=u).ys)


def test_bad_input_raises_clear_errors():
    model, ts = Linear(A, B), jnp.linspace(0.0, 1.0, 6)
    with (
        unchecked(),
        pytest.raises(ValueError, match=r"y0: expected shape \(3,\).*got shape \(4,\)"),
    ):
        dx.simulate(model, jnp.zeros(4), ts)
    with unchecked(), pytest.raises(ValueError, match="y0: expected the structure"):
        dx.simulate(model, {"x": jnp.zeros(3)}, ts)
    with (
        unchecked(),
        pytest.raises(
            ValueError, match="inputs: expected a leading time axis of length"
        ),
    ):
        dx.simulate(model, Y0, ts, inputs=jnp.zeros((5, 1)))
    with unchecked(), pytest.raises(TypeError, match="inputs: expected an array"):
        dx.simulate(model, Y0, ts, inputs="sine")
    with (
        unchecked(),
        pytest.raises(ValueError, match="ts: expected strictly increasing"),
    ):
        dx.simulate(model, Y0, jnp.array([0.0, 0.2, 0.2, 0.5]))
    with unchecked(), pytest.raises(ValueError, match="ts: expected a 1-d array"):
        dx.simulate(model, Y0, jnp.zeros((3, 2)))
    with unchecked(), pytest.raises(ValueError, match="dt: expected a number > 0"):
        dx.simulate(model, Y0, ts, dt=0.0)
    with unchecked(), pytest.raises(ValueError, match="dt: expected a number > 0"):
        dx.simulate(
            model,
            Y0,
            ts,
            dt=-1.0,
            stepsize_controller=diffrax.PIDController(rtol=1e-3, atol=1e-3),
        )
    with (
        unchecked(),
        pytest.raises(
            ValueError, match="dt: expected a step that divides every interval"
        ),
    ):
        dx.simulate(model, Y0, ts, dt=0.03)
    with (
        unchecked(),
        pytest.raises(TypeError, match="solver: expected a diffrax solver"),
    ):
        dx.simulate(model, Y0, ts, solver="rk4")
    with unchecked(), pytest.raises(TypeError, match="stepsize_controller: expected"):
        dx.simulate(model, Y0, ts, stepsize_controller="adaptive")
    with (
        unchecked(),
        pytest.raises(
            ValueError,
            match="solver: expected an implicit solver on fixed steps to have "
            "root-finder",
        ),
    ):
        dx.simulate(model, Y0, ts, solver=diffrax.ImplicitEuler())
    with unchecked(), pytest.raises(TypeError, match="model: expected a dynax model"):
        dx.simulate(3.0, Y0, ts)
    with (
        unchecked(),
        pytest.raises(ValueError, match="keys: expected a batch of PRNG keys"),
    ):
        dx.make_ensemble(_make_linear, jr.PRNGKey(0))


def test_traced_ts_checked_inside_jit():
    run = jax.jit(lambda t: dx.simulate(Linear(A, B), Y0, t).ys)
    with (
        unchecked(),
        pytest.raises(Exception, match="ts: expected finite, strictly increasing"),
    ):
        run(jnp.array([0.0, 0.5, 0.4]))


@pytest.mark.usefixtures("optimized")  # run time > compile time
def test_adaptive_sde_path_stationary_variance(getkey):
    # Additive noise: Heun (Stratonovich) solves the same SDE as Ito here. 1,000 keys
    # x 4 coordinates = 4,000 samples at t = 5 (equilibrated to within exp(-10));
    # standard error of the sample variance var * sqrt(2 / 4000) = 2.2%, bound 4 SE.
    theta, s = 1.0, 0.6
    model = OU(jnp.asarray(theta), jnp.asarray(s))
    ts = jnp.array([0.0, 5.0])
    controller = diffrax.PIDController(rtol=1e-3, atol=1e-3)

    def final(k):
        traj = dx.simulate(
            model,
            model.init_state(),
            ts,
            key=k,
            solver=diffrax.Heun(),
            dt=0.05,
            stepsize_controller=controller,
        )
        return traj.ys[-1], traj.ok

    samples, ok = eqx.filter_vmap(final)(jr.split(getkey(), 1000))
    assert bool(jnp.all(ok))
    var = s**2 / (2 * theta)
    assert abs(float(jnp.var(samples)) - var) < 4 * var * np.sqrt(2 / samples.size)


def test_remat_gives_the_same_values_and_gradients(getkey):
    """Rematerialising the time loop changes memory and speed, never the numbers."""
    net = dx.models.CTRNN(2, 6, 1, key=getkey())
    ts = jnp.linspace(0.0, 2.0, 21)
    u = jr.normal(getkey(), (21, 2))

    def loss(model, remat):
        out = dx.simulate(
            model, model.init_state(), ts, inputs=u, dt=0.05, remat=remat
        ).outputs
        return jnp.sum(out**2)

    plain, remat = (eqx.filter_value_and_grad(loss)(net, r) for r in (False, True))
    np.testing.assert_allclose(remat[0], plain[0], rtol=1e-13)
    for a, b in zip(jax.tree.leaves(remat[1]), jax.tree.leaves(plain[1]), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_maps_have_no_solver_step_and_stepped_maps_check_ts(getkey):
    """A map takes one application per interval of ts: a dt that differs is an
    error (it used to be validated and ignored); a stepped map needs ts spaced by
    its own step."""
    esn = dx.models.ESN(1, 5, key=getkey())
    ts = jnp.arange(6.0)
    u = jnp.ones((6, 1))
    with (
        unchecked(),
        pytest.raises(ValueError, match=r"dt: a map takes one application .* got 0.25"),
    ):
        dx.simulate(esn, esn.init_state(), ts, inputs=u, dt=0.25)
    same = dx.simulate(esn, esn.init_state(), ts, inputs=u, dt=1.0).ys
    np.testing.assert_array_equal(
        same, dx.simulate(esn, esn.init_state(), ts, inputs=u).ys
    )
    lif = dx.models.LIFReservoir(1, 4, key=getkey())  # dt = 1 ms
    assert isinstance(lif, dx.models.AbstractSteppedMap)
    with (
        unchecked(),
        pytest.raises(ValueError, match=r"ts: LIFReservoir advances 1 per application"),
    ):
        dx.simulate(lif, lif.init_state(), 0.5 * ts, inputs=u)
    with (
        unchecked(),
        pytest.raises(ValueError, match=r"dt: .* expected None or its time_step\(\)"),
    ):
        dx.simulate(lif, lif.init_state(), ts, inputs=u, dt=0.5)
    half = dx.models.LIFReservoir(1, 4, dt=0.5, dtype=jnp.float32, key=getkey())
    t32 = 0.5 * jnp.arange(400.0, dtype=jnp.float32)
    u32 = jnp.ones((400, 1), jnp.float32)
    assert dx.simulate(half, half.init_state(), t32, inputs=u32).ys.v.shape == (400, 4)

"""Interventions (Ablate, Clamp, Patch, Kick, AddNoise) against independent references.

References: the same network with its outgoing weights zeroed; hand-written NumPy
Euler loops; scipy.linalg.expm closed forms of linear systems; models whose noise
amplitude is the intervened one.
"""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
import scipy.linalg
from helpers import OU, Linear
from typecheck import unchecked

import dynax as dx
from dynax.analysis import (
    Ablate,
    AddNoise,
    Clamp,
    Kick,
    Patch,
    intervene,
    perturb_response,
)

N, DT = 6, 0.01
TS = jnp.linspace(0.0, 4.0, 401)


def ctrnn(sigma=0.0, seed=0, g=1.8):
    net = dx.models.CTRNN(2, N, 2, g=g, sigma_rec=sigma, key=jr.key(seed))
    return eqx.tree_at(lambda n: n.b, net, 0.3 * jr.normal(jr.key(seed + 1), (N,)))


def drive(seed=2):
    return 0.5 * jr.normal(jr.key(seed), (TS.shape[0], 2))


def y_start(seed=3):
    return jr.normal(jr.key(seed), (N,))


def stable_matrix(n=3, seed=0):
    """A non-normal stable matrix (eigenvalues with real parts in [-1.3, -0.3])."""
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(n, n))
    d = np.diag(-np.linspace(0.3, 1.3, n))
    return q @ d @ np.linalg.inv(q) + 0.2 * np.triu(rng.normal(size=(n, n)), 1)


# ----------------------------------------------------------------------------------
# Ablate


@pytest.mark.parametrize("sigma", [0.0, 0.3])
def test_ablating_a_unit_equals_zeroing_its_outgoing_weights(sigma):
    """Every other unit and the output follow the network without column i of W and
    W_out, exactly (tanh(0) = 0), with or without noise (same key, same increments);
    the ablated unit decays as (1 - dt)^k, Euler's closed form for dy/dt = -y."""
    net, u, y0, key = ctrnn(sigma), drive(), y_start(), jr.key(7)
    i = 2
    lesioned = eqx.tree_at(
        lambda n: (n.W, n.W_out),
        net,
        (net.W.at[:, i].set(0), net.W_out.at[:, i].set(0)),
    )
    ref = dx.simulate(lesioned, y0, TS, inputs=u, key=key)
    out = dx.simulate(intervene(net, Ablate(units=[i])), y0, TS, inputs=u, key=key)
    kept = np.arange(N) != i
    np.testing.assert_array_equal(out.ys[:, kept], ref.ys[:, kept])
    np.testing.assert_array_equal(out.outputs, ref.outputs)
    k = np.arange(TS.shape[0])
    np.testing.assert_allclose(out.ys[:, i], y0[i] * (1 - DT) ** k, rtol=1e-12)
    # the reference itself is not trivially equal to the intact network
    intact = dx.simulate(net, y0, TS, inputs=u, key=key)
    assert np.abs(intact.ys[:, kept] - ref.ys[:, kept]).max() > 1e-2


def test_ablating_a_map_unit_equals_zeroing_its_outgoing_weights():
    net = dx.models.VanillaRNN(2, N, 2, g=1.5, key=jr.key(4))
    ts = jnp.arange(60.0)
    u = jr.normal(jr.key(5), (60, 2))
    y0 = 0.5 * y_start()
    lesioned = eqx.tree_at(
        lambda n: (n.W, n.W_out),
        net,
        (net.W.at[:, 0].set(0), net.W_out.at[:, 0].set(0)),
    )
    ref = dx.simulate(lesioned, y0, ts, inputs=u)
    out = dx.simulate(intervene(net, Ablate(units=[0])), y0, ts, inputs=u)
    assert isinstance(intervene(net, Ablate(units=[0])), dx.models.AbstractMap)
    np.testing.assert_array_equal(out.ys[1:, 1:], ref.ys[1:, 1:])
    np.testing.assert_array_equal(out.outputs[1:], ref.outputs[1:])
    np.testing.assert_array_equal(out.ys[1:, 0], 0.0)


def test_subspace_ablation_of_a_linear_flow_is_expm_of_the_projected_matrix():
    """dy/dt = A y with a (non-orthonormal) 2-d subspace B ablated is the linear flow
    M = P A P - kappa (I - P), P = I - B (B^T B)^-1 B^T: compared with
    scipy.linalg.expm (Tsit5, dt = 0.01: error ~1e-11). Fixed points and Lyapunov
    spectra run on the same wrapper: its Jacobian is M, its exponents Re eig(M)."""
    rng = np.random.default_rng(1)
    A, B = stable_matrix(4, 2), rng.normal(size=(4, 2))
    P = np.eye(4) - B @ np.linalg.solve(B.T @ B, B.T)
    M = P @ A @ P - 0.7 * (np.eye(4) - P)
    model = intervene(
        Linear(jnp.asarray(A), jnp.zeros((4, 1))), Ablate(subspace=B, decay=0.7)
    )
    y0 = jnp.asarray(rng.normal(size=4))
    traj = dx.simulate(model, y0, TS, solver=diffrax.Tsit5())
    want = np.stack([scipy.linalg.expm(M * t) @ np.asarray(y0) for t in np.asarray(TS)])
    np.testing.assert_allclose(traj.ys, want, atol=1e-10)
    np.testing.assert_allclose(traj.outputs, want @ P.T[:, :1], atol=1e-10)  # r(Py)
    fps = dx.analysis.find_fixed_points(model, jnp.asarray(rng.normal(size=(3, 4))))
    np.testing.assert_allclose(fps.jacobians[0], M, atol=1e-12)
    np.testing.assert_allclose(fps.points[0], 0.0, atol=1e-10)
    # M has real eigenvalues (gaps >= 0.38): after a transient of T = 40 the QR
    # frame is aligned to e^{-15}, and each growth rate is then an eigenvalue.
    lyap = dx.analysis.lyapunov_spectrum(
        model, y0, dt=0.01, n_steps=4000, n_transient=4000
    )
    want_exp = np.sort(np.linalg.eigvals(M).real)[::-1]
    np.testing.assert_allclose(lyap.exponents, want_exp, atol=1e-8)


# ----------------------------------------------------------------------------------
# Clamp and Patch


def euler_reference(net, y0, u, units, target, window, rate, slope=None):
    """A NumPy Euler loop: inside the window the model sees y with y[units] =
    target(k); those units move by h * (slope - rate * (y - target)); the others by
    h * f(t, y_seen)."""
    y, ys = np.asarray(y0, np.float64), [np.asarray(y0)]
    h = DT
    for k in range(TS.shape[0] - 1):
        t = float(TS[k])
        args = dx.ConstantInput(u[k])

        def f(yy, t=TS[k], args=args):
            return np.array(net(t, jnp.asarray(yy), args))

        if window[0] <= t < window[1]:
            seen = y.copy()
            seen[units] = target(k)
            step = f(seen)
            s = 0.0 if slope is None else slope(k)
            step[units] = s - rate * (y[units] - target(k))
            y = y + h * step
        else:
            y = y + h * f(y)
        ys.append(y)
    return np.stack(ys)


@pytest.mark.parametrize("rate", [3.0, 1 / DT])
def test_clamp_equals_a_hand_written_euler_loop(rate):
    """Euler steps of the clamped model equal the loop; with rate = 1/dt each
    clamped step lands on the value: the discrete hard clamp (to rounding)."""
    net, u, y0 = ctrnn(), np.asarray(drive()), y_start()
    units, values, window = [1, 4], np.array([0.8, -0.5]), (1.0, 2.5)
    out = dx.simulate(
        intervene(net, Clamp(units, values, window, rate=rate)), y0, TS, inputs=u
    )
    ref = euler_reference(net, y0, u, units, lambda k: values, window, rate)
    np.testing.assert_allclose(out.ys, ref, rtol=1e-12, atol=1e-12)
    inside = (TS > 1.0 + DT / 2) & (TS < 2.5 + DT / 2)
    if rate == 1 / DT:
        np.testing.assert_allclose(
            out.ys[inside][:, units],
            np.broadcast_to(values, (int(inside.sum()), 2)),
            atol=1e-12,
        )
    outside = np.asarray(TS) <= 1.0
    intact = dx.simulate(net, y0, TS, inputs=u)
    np.testing.assert_array_equal(out.ys[outside], intact.ys[outside])


def test_clamp_of_a_map_sets_the_state():
    net = dx.models.VanillaRNN(1, N, 1, g=1.3, key=jr.key(2))
    ts, u = jnp.arange(30.0), jr.normal(jr.key(3), (30, 1))
    out = dx.simulate(
        intervene(net, Clamp([2], 0.4, (10.0, 20.0))), jnp.zeros(N), ts, inputs=u
    )
    y, ref = np.zeros(N), [np.zeros(N)]
    for k in range(29):
        seen = y.copy()
        if 10 <= k < 20:
            seen[2] = 0.4
        y = np.array(net(ts[k], jnp.asarray(seen), dx.ConstantInput(u[k])))
        if 10 <= k < 20:
            y[2] = 0.4
        ref.append(y)
    np.testing.assert_allclose(out.ys, np.stack(ref), rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("sigma", [0.0, 0.2])
def test_patching_a_run_with_itself_is_the_identity(sigma):
    net, u, y0, key = ctrnn(sigma), drive(), y_start(), jr.key(9)
    run = dx.simulate(net, y0, TS, inputs=u, key=key)
    patched = intervene(net, Patch(run, [0, 3, 5], (0.5, 3.0), rate=5.0))
    again = dx.simulate(patched, y0, TS, inputs=u, key=key)
    np.testing.assert_allclose(again.ys, run.ys, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(again.outputs, run.outputs, rtol=1e-13, atol=1e-13)


def test_patching_from_another_run_equals_a_hand_written_euler_loop():
    """Units [1, 2] of run A follow run B (another input) inside the window; the rest
    of A sees B's values there; with rate = 1/dt the patched units land on B's."""
    net, y0 = ctrnn(), y_start()
    ua, ub = np.asarray(drive(2)), np.asarray(drive(12))
    run_b = dx.simulate(net, y0, TS, inputs=ub)
    vb = np.asarray(run_b.ys)
    units, window = [1, 2], (1.0, 3.0)
    patched = intervene(net, Patch((run_b.ts, run_b.ys), units, window, rate=1 / DT))
    out = dx.simulate(patched, y0, TS, inputs=ua)
    ref = euler_reference(
        net, y0, ua, units, lambda k: vb[k, units], window, 1 / DT,
        slope=lambda k: (vb[k + 1, units] - vb[k, units]) / DT,
    )  # fmt: skip
    np.testing.assert_allclose(out.ys, ref, rtol=1e-11, atol=1e-12)
    inside = (TS > 1.0 + DT / 2) & (TS < 3.0 + DT / 2)
    np.testing.assert_allclose(
        out.ys[inside][:, units], vb[inside][:, units], atol=1e-12
    )


# ----------------------------------------------------------------------------------
# Kick and perturb_response


def kick_closed_form(A, d, a, t_k, w, ts, shape):
    """delta(t) for dy/dt = A y + a p(t - t_k) d, t >= t_k + w:
    expm(A (t - t_k - w)) Phi d a / w with Phi = int_0^w expm(A (w - u)) w p(u) du:
    box: A^-1 (e^{Aw} - I);
    cosine: (e^{Aw} - I) A^-1 om^2 (A^2 + om^2 I)^-1 with om = 2 pi / w."""
    n = A.shape[0]
    E = scipy.linalg.expm(A * w) - np.eye(n)
    phi = np.linalg.solve(A, E)
    if shape == "cosine":
        om = 2 * np.pi / w
        phi = phi @ (om**2 * np.linalg.inv(A @ A + om**2 * np.eye(n)))
    return np.stack(
        [scipy.linalg.expm(A * (t - t_k - w)) @ phi @ d * a / w for t in ts]
    )


def test_cosine_kick_on_a_linear_system_equals_the_expm_closed_form():
    A, d = stable_matrix(3, 4), np.array([1.0, -2.0, 0.5])
    model = Linear(jnp.asarray(A), jnp.zeros((3, 1)))
    kicked = intervene(model, Kick(d, 0.7, 1.0, 0.5, shape="cosine"))
    y0 = jnp.zeros(3)
    ys = dx.simulate(kicked, y0, TS, solver=diffrax.Tsit5()).ys
    after = np.asarray(TS) >= 1.5
    want = kick_closed_form(A, d, 0.7, 1.0, 0.5, np.asarray(TS)[after], "cosine")
    np.testing.assert_allclose(ys[after], want, atol=1e-10)
    np.testing.assert_array_equal(ys[np.asarray(TS) <= 1.0], 0.0)


def test_box_kick_with_euler_and_width_dt_is_a_jump():
    """Euler: delta_k = (I + dt A)^(k - k0 - 1) a d after the kick step k0; and the
    box pulse integrates to a d (A = 0: the state moves by exactly a d)."""
    A, d = stable_matrix(3, 5), np.array([0.3, 1.0, -1.0])
    k0 = 100
    out = dx.simulate(
        intervene(Linear(jnp.asarray(A), jnp.zeros((3, 1))), Kick(d, 2.0, TS[k0], DT)),
        jnp.zeros(3),
        TS,
    )
    step = np.eye(3) + DT * A
    want = [
        np.linalg.matrix_power(step, k - k0 - 1) @ d * 2.0 for k in range(k0 + 1, 401)
    ]
    np.testing.assert_allclose(out.ys[k0 + 1 :], np.stack(want), rtol=1e-11, atol=1e-13)
    np.testing.assert_array_equal(out.ys[: k0 + 1], 0.0)
    flat = Linear(jnp.zeros((3, 3)), jnp.zeros((3, 1)))
    for shape, solver, w in [("box", None, 0.37), ("cosine", diffrax.Tsit5(), 0.4)]:
        ys = dx.simulate(
            intervene(flat, Kick(d, 2.0, 1.0, w, shape=shape)),
            jnp.zeros(3),
            TS,
            solver=solver,
        ).ys
        np.testing.assert_allclose(ys[-1], 2.0 * d, rtol=1e-10)


def test_perturb_response_is_linear_for_a_linear_system_and_matches_expm():
    A, d = stable_matrix(3, 6), np.array([1.0, 0.0, -1.0])
    amps = jnp.array([1e-3, 1e-2, 0.1, 1.0])
    res = perturb_response(
        Linear(jnp.asarray(A), jnp.zeros((3, 1))), jnp.ones(3), d, amps, ts=TS,
        time=0.5, width=0.4, shape="cosine", solver=diffrax.Tsit5(),
    )  # fmt: skip
    assert res.delta.shape == (4, 401, 3)
    np.testing.assert_allclose(res.nonlinearity, 0.0, atol=1e-9)
    np.testing.assert_allclose(res.gain, res.gain[0], rtol=1e-9)
    after = np.asarray(TS) >= 0.9
    for a, delta in zip(np.asarray(amps), res.delta, strict=True):
        want = kick_closed_form(A, d, a, 0.5, 0.4, np.asarray(TS)[after], "cosine")
        np.testing.assert_allclose(delta[after], want, atol=1e-10 * max(a, 1e-2))


def test_perturb_response_from_linear_to_nonlinear_on_a_ctrnn():
    """At the fixed point 0 of a tanh network without bias (g = 0.8, stable), a tiny
    kick follows the linearisation J = (W - I)/tau (the expm closed form; tanh is
    odd, so the first correction is O(a^2) = 1e-8 relative), and the departure from
    linear scaling grows with the amplitude."""
    net = dx.models.CTRNN(0, N, 1, g=0.8, key=jr.key(11))
    d = np.asarray(jr.normal(jr.key(12), (N,)))
    amps = jnp.array([1e-4, 1e-2, 0.5, 2.0])
    res = perturb_response(
        net, jnp.zeros(N), d, amps, ts=TS, time=0.5, width=0.4, shape="cosine",
        solver=diffrax.Tsit5(),
    )  # fmt: skip
    J = (np.asarray(net.W) - np.eye(N)) / np.asarray(net.tau)[:, None]
    after = np.asarray(TS) >= 0.9
    lin = kick_closed_form(J, d, 1.0, 0.5, 0.4, np.asarray(TS)[after], "cosine")
    got = np.asarray(res.delta[0])[after] / 1e-4
    np.testing.assert_allclose(got, lin, atol=1e-7 * np.abs(lin).max())
    nl = np.asarray(res.nonlinearity)
    assert nl[0] == 0 and nl[1] < 1e-3 and nl[2] > 100 * nl[1] and nl[3] > 2 * nl[2]


# ----------------------------------------------------------------------------------
# AddNoise


def test_add_noise_equals_a_model_with_that_diffusion():
    """Same key, same Brownian increments: a deterministic OU drift plus AddNoise is
    the OU SDE with amplitude sigma; on an SDE it is sqrt(s^2 + sigma^2) per unit."""
    theta, key, y0 = jnp.array(0.8), jr.key(1), jnp.ones(4)
    quiet = OU(theta, jnp.array(0.0))
    noisy = intervene(quiet, AddNoise(0.3))
    assert isinstance(noisy, dx.models.AbstractStochasticDynamics)
    ref = dx.simulate(OU(theta, jnp.array(0.3)), y0, TS, key=key)
    np.testing.assert_allclose(
        dx.simulate(noisy, y0, TS, key=key).ys, ref.ys, rtol=1e-13
    )
    both = intervene(
        OU(theta, jnp.array(0.2)), AddNoise(jnp.array([0.3, 0.1]), units=[1, 3])
    )
    s = jnp.sqrt(jnp.array([0.04, 0.04 + 0.09, 0.04, 0.04 + 0.01]))
    ref = dx.simulate(OU(theta, s), y0, TS, key=key)
    np.testing.assert_allclose(
        dx.simulate(both, y0, TS, key=key).ys, ref.ys, rtol=1e-12
    )
    # without a key the noise is off
    np.testing.assert_array_equal(
        dx.simulate(noisy, y0, TS).ys, dx.simulate(quiet, y0, TS).ys
    )


# ----------------------------------------------------------------------------------
# vmap, ensembles, composition, training


def test_vmap_over_kick_amplitudes_and_units_equals_a_loop():
    net, u, y0 = ctrnn(), drive(), y_start()
    d = jnp.ones(N) / np.sqrt(N)
    amps = jnp.array([-0.5, 0.1, 1.0])

    def run(a, i):
        m = intervene(net, [Ablate(units=i[None]), Kick(d, a, 1.0, DT)])
        return dx.simulate(m, y0, TS, inputs=u).ys

    units = jnp.array([0, 3, 5])
    batched = jax.vmap(run)(amps, units)
    for k in range(3):
        np.testing.assert_allclose(
            batched[k], run(amps[k], units[k]), rtol=1e-13, atol=1e-14
        )
    assert not np.allclose(batched[0], batched[1])


def test_intervened_ensemble_equals_a_loop_over_members():
    ens = dx.make_ensemble(
        lambda k: dx.models.CTRNN(2, N, 2, g=1.5, key=k), jr.split(jr.key(0), 3)
    )
    ivs = [Clamp([1], 0.2, (1.0, 2.0)), Kick(jnp.ones(N), 0.5, 2.5, DT)]
    both = intervene(ens, ivs, ensemble=True)
    out = dx.simulate(both, y_start(), TS, inputs=drive(), ensemble=True)
    for i in range(3):
        one = dx.simulate(
            intervene(dx.member(ens, i), ivs), y_start(), TS, inputs=drive()
        )
        np.testing.assert_allclose(out.ys[i], one.ys, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(out.outputs[i], one.outputs, rtol=1e-12, atol=1e-13)
    with pytest.raises(ValueError, match="ensemble"):
        dx.simulate(intervene(dx.member(ens, 0), ivs), y_start(), TS, ensemble=True)


def test_trials_and_no_retracing_across_parameter_values():
    """simulate(trials=True) on an intervened model equals one call per trial; new
    amplitudes, units and windows (same shapes) reuse the compiled solve."""
    traces = []

    class Counted(dx.models.AbstractDynamics):
        net: dx.models.CTRNN

        def __call__(self, t, y, args):
            traces.append(1)  # runs at trace time only
            return self.net(t, y, args)

        def init_state(self):
            return self.net.init_state()

    model, y0 = Counted(ctrnn()), y_start()
    batch = jnp.stack([drive(2), drive(3), drive(4)])

    def wrapped(a, i, t1):
        return intervene(
            model, [Ablate(units=[i]), Clamp([2], a, (1.0, t1)), Kick(y0, a, 2.0, DT)]
        )

    out = dx.simulate(wrapped(0.3, 1, 2.0), y0, TS, inputs=batch, trials=True)
    for k in range(3):
        one = dx.simulate(wrapped(0.3, 1, 2.0), y0, TS, inputs=batch[k])
        np.testing.assert_allclose(out.ys[k], one.ys, rtol=1e-13, atol=1e-14)
    n = len(traces)
    for a, i, t1 in [(0.5, 3, 2.5), (-1.0, 0, 3.0)]:
        dx.simulate(wrapped(a, i, t1), y0, TS, inputs=batch[0])
    assert len(traces) == n


def test_a_list_applies_in_order():
    """[Ablate, Kick] kicks the ablated network (the kick reaches the ablated unit
    and decays there); [Kick, Ablate] projects the kick off the ablated unit too."""
    net, y0 = ctrnn(), jnp.zeros(N)
    d = jnp.zeros(N).at[0].set(1.0)
    first = dx.simulate(
        intervene(net, [Ablate(units=[0]), Kick(d, 1.0, 1.0, DT)]), y0, TS
    )
    second = dx.simulate(
        intervene(net, [Kick(d, 1.0, 1.0, DT), Ablate(units=[0])]), y0, TS
    )
    nested = dx.simulate(
        intervene(intervene(net, Ablate(units=[0])), Kick(d, 1.0, 1.0, DT)), y0, TS
    )
    np.testing.assert_array_equal(first.ys, nested.ys)
    k0 = 100
    assert float(first.ys[k0 + 1, 0]) == pytest.approx(1.0, rel=1e-12)
    assert float(second.ys[k0 + 1, 0]) == 0.0
    np.testing.assert_array_equal(first.ys[:, 1:], second.ys[:, 1:])  # unit 0 is unseen


def test_fit_trains_the_network_and_leaves_the_interventions():
    task = dx.tasks.FlipFlop(n_bits=2, n_steps=40, dt=0.1)
    net = dx.models.CTRNN(2, 8, 2, key=jr.key(0))
    model = intervene(net, [Ablate(units=[3]), Kick(jnp.ones(8), 0.3, 1.0, 0.1)])
    trained, history = dx.train.fit(
        model, task, optimizer=__import__("optax").adam(1e-2), n_steps=3,
        batch_size=4, key=jr.key(1), progress=False,
    )  # fmt: skip
    assert type(trained) is type(model)
    for a, b in zip(
        jax.tree.leaves(trained.interventions),
        jax.tree.leaves(model.interventions),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(trained.model.W, net.W)
    assert np.all(np.isfinite(history.loss))


def test_forwarded_attributes_and_methods():
    net = ctrnn()
    m = intervene(net, Ablate(units=[1]))
    assert m.n_in == 2 and m.n_out == 2 and m.W is net.W
    np.testing.assert_array_equal(m.tau, net.tau)
    assert m.frozen_fields() == ("sigma_rec", "interventions")
    with pytest.raises(AttributeError, match="bypass"):
        m.recurrent(jnp.zeros(N))
    y = y_start()
    np.testing.assert_array_equal(m.readout(y), net.readout(y.at[1].set(0)))


# ----------------------------------------------------------------------------------
# Bad input


def test_bad_input_raises_naming_the_argument():
    net = ctrnn()
    with unchecked():
        with pytest.raises(ValueError, match=r"units: expected indices in \[0, 6\)"):
            intervene(net, Ablate(units=[6]))
        with pytest.raises(ValueError, match="units: expected distinct"):
            intervene(net, Clamp([1, 1], 0.0, (0.0, 1.0)))
        with pytest.raises(ValueError, match=r"subspace: expected shape \(6, k\)"):
            intervene(net, Ablate(subspace=np.ones((5, 2))))
        with pytest.raises(ValueError, match="subspace: expected columns of full rank"):
            intervene(net, Ablate(subspace=np.ones((6, 2))))
        with pytest.raises(ValueError, match="units: expected exactly one"):
            Ablate()
        run = dx.simulate(net, y_start(), TS)
        with pytest.raises(ValueError, match=r"window: expected a window inside"):
            intervene(net, Patch(run, [0], (3.0, 5.0)))
        with pytest.raises(ValueError, match="window: expected finite times t0 < t1"):
            intervene(net, Clamp([0], 0.0, (2.0, 1.0)))
        with pytest.raises(ValueError, match="direction: expected the state's shape"):
            intervene(net, Kick(jnp.ones(5), 1.0, 0.0, 0.1))
        with pytest.raises(ValueError, match="width: expected a number > 0"):
            intervene(net, Kick(jnp.ones(N), 1.0, 0.0, 0.0))
        with pytest.raises(ValueError, match="values: expected an array broadcastable"):
            intervene(net, Clamp([0, 1], jnp.ones(3), (0.0, 1.0)))
        with pytest.raises(ValueError, match="source: expected one run's states"):
            intervene(net, Patch((TS, jnp.zeros((401, 4))), [0], (0.0, 1.0)))
        rnn = dx.models.VanillaRNN(1, N, 1, key=jr.key(0))
        with pytest.raises(TypeError, match="model: expected a flow"):
            intervene(rnn, AddNoise(0.1))
        with pytest.raises(TypeError, match="model: expected a dynax model"):
            intervene(lambda t, y, a: y, Ablate(units=[0]))
        with pytest.raises(TypeError, match="interventions: expected an intervention"):
            intervene(net, [])
        with pytest.raises(ValueError, match="sigma: expected values >= 0"):
            intervene(net, AddNoise(-1.0))
        with pytest.raises(ValueError, match="direction: expected a real array"):
            intervene(net, Kick(jnp.ones(N, complex), 1.0, 0.0, 0.1))
        with pytest.raises(ValueError, match=r"time: expected a kick onset inside ts"):
            perturb_response(net, y_start(), jnp.ones(N), jnp.ones(2), ts=TS, time=5.0)
        with pytest.raises(ValueError, match="amplitudes: expected nonzero"):
            perturb_response(net, y_start(), jnp.ones(N), jnp.zeros(2), ts=TS)

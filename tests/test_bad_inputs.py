"""One error contract across the public API: a table of bad calls.

Every bad call raises the listed exception, whose message starts with (or, for
checks that run inside ``jit``, contains) ``"<argument>:"`` and says what was
expected and what was got. Checks fire before anything is compiled, so the table
runs in seconds; models are built once, small.
"""

import inspect
from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import jax.tree_util as jtu
import numpy as np
import optax
import pytest
from typecheck import unchecked

import dynax as dx
from dynax._validate import check_ensemble

M, A, T, TR, D = dx.models, dx.analysis, dx.tasks, dx.train, dx.data
KEY = jr.PRNGKey(0)
KEYS2 = jr.split(KEY, 2)
TS = jnp.linspace(0.0, 1.0, 5)
NET = M.CTRNN(2, 4, 2, key=KEY)  # n_in = 2, n_hidden = 4, n_out = 2
POT = M.CoupledOscillatorPotential(2)
ENS = dx.make_ensemble(lambda k: M.CTRNN(2, 4, 2, key=k), jr.split(KEY, 3))
Y0 = NET.init_state()
TASK = T.FlipFlop(n_bits=2, n_steps=5)
ADAM = optax.adam(1e-2)
PID = diffrax.PIDController(rtol=1e-3, atol=1e-3)
CAND = jnp.zeros((3, 4))
ESN = M.ESN(1, 5, n_out=1, feedback=True, key=KEY)
ESN_ENS = jtu.tree_map(lambda x: jnp.stack([x, x]) if eqx.is_array(x) else x, ESN)
EIA = M.EIAdaptiveReservoir(1, 5, key=KEY)
LIF = M.LIFReservoir(1, 5, key=KEY)
KUR = M.Kuramoto(jnp.zeros(5), jnp.ones((5, 5)))
STATES, U = jnp.sin(jnp.arange(120.0)).reshape(40, 3), jnp.cos(jnp.arange(40.0))
OMEGA, LAP, IN = jnp.zeros(5), jnp.eye(3) - 1 / 3, jnp.zeros((4, 1))
TRAJ = jnp.sin(jnp.arange(60.0)).reshape(20, 3) + jnp.arange(3.0)[None]  # (time, n)
OP = jnp.diag(jnp.array([0.9, 0.5, 0.1]))
NET6 = M.CTRNN(2, 6, 2, key=KEY)
RELU = M.CTRNN(2, 4, 2, activation=jax.nn.relu, key=KEY)
_K = (2,)  # two slots of a 2-unit network
LF = M.LangevinFlow(2, 1, n_forward=1, n_latents=2, hidden=2, key=KEY)
SPK = np.ones((2, 4, 3))  # (trials, 3 observed + 1 forward bins, 2 + 1 neurons)
FPS = A.FixedPoints(
    points=jnp.zeros((2, 2)), speed=jnp.zeros(_K), converged=jnp.ones(_K, bool),
    unique=jnp.ones(_K, bool), candidate=jnp.zeros(_K, int), n_unique=jnp.array(2),
    jacobians=jnp.zeros((2, 2, 2)), eigvals=jnp.zeros((2, 2)),
    n_unstable=jnp.zeros(_K, int), stable=jnp.ones(_K, bool), n_steps=jnp.array(1),
)  # fmt: skip


def sim(**kw):
    args = dict(model=NET, y0=Y0, ts=TS) | kw
    return lambda: dx.simulate(
        args.pop("model"), args.pop("y0"), args.pop("ts"), **args
    )


def fit(model=NET, task=TASK, **kw):
    kw = dict(optimizer=ADAM, n_steps=2, batch_size=2, key=KEY) | kw
    return lambda: TR.fit(model, task, **kw)


def lflow(**kw):
    sizes = dict(n_heldin=2, n_heldout=1)
    sizes.update({k: kw.pop(k) for k in list(kw) if k in sizes})
    return lambda: M.LangevinFlow(*sizes.values(), **(dict(n_latents=2, key=KEY) | kw))


def lfl(spikes=SPK, model=LF, **kw):
    return lambda: TR.langevin_flow_loss(model, spikes, **kw)


def lfr(heldin=SPK[:, :3, :2], model=LF, **kw):
    return lambda: TR.langevin_flow_rates(model, heldin, **kw)


def fit_spikes(spikes=SPK, model=LF, **kw):
    kw = dict(optimizer=ADAM, n_steps=2, batch_size=2, key=KEY) | kw
    return lambda: TR.fit_spikes(model, spikes, **kw)


def evaluate(model=NET, task=TASK, **kw):
    return lambda: TR.evaluate(model, task, **(dict(key=KEY, n_trials=2) | kw))


def ffp(f=NET, candidates=CAND, **kw):
    return lambda: A.find_fixed_points(f, candidates, **kw)


def lyap(f=NET, y0=Y0, **kw):
    return lambda: A.lyapunov_spectrum(f, y0, **(dict(dt=0.1, n_steps=10) | kw))


def ctrnn(**kw):
    sizes = dict(n_in=2, n_hidden=4, n_out=2)
    sizes.update({k: kw.pop(k) for k in list(kw) if k in sizes})
    return lambda: M.CTRNN(*sizes.values(), **(dict(key=KEY) | kw))


def esn(**kw):
    return lambda: M.ESN(1, 5, **(dict(key=KEY) | kw))


def lif(**kw):
    return lambda: M.LIFReservoir(1, 5, **(dict(key=KEY) | kw))


def kuramoto(omega: Any = OMEGA, coupling: Any = 1.0, **kw):
    return lambda: M.Kuramoto(omega, coupling, **kw)


def delayed(kuramoto: Any = KUR, delays: Any = 0.1, **kw):
    return lambda: M.DelayedKuramoto(kuramoto, delays, **(dict(dt=0.05) | kw))


def gradient_net(f=lambda x: jnp.sum(x**2), lap=LAP, **kw):
    kw = dict(coupling=1.0, sigma=0.1) | kw
    return lambda: M.CoupledGradientNetwork(f, lap, **kw)


def mc(states=STATES, inputs=U, **kw):
    return lambda: A.memory_capacity(states, inputs, **(dict(max_delay=3) | kw))


def adapt(model=EIA, inputs=IN, **kw):
    return lambda: TR.adapt_inhibition(model, inputs, **(dict(eta=0.1) | kw))


def bad_f(t, y, args):
    return jnp.zeros(y.shape[0] + 1)


V, X = ValueError, TypeError
CASES = [
    # --- dx.simulate: every argument ---------------------------------------------
    ("simulate", sim(model=3.0), X, "model"),
    ("simulate", sim(model=bad_f, y0=jnp.zeros(2)), V, "model"),
    ("simulate", sim(y0=jnp.zeros(5)), V, "y0"),
    ("simulate", sim(y0=(Y0, Y0)), V, "y0"),
    ("simulate", sim(y0=Y0.astype(jnp.float32)), V, "y0"),
    ("simulate", sim(ts=jnp.zeros((2, 2))), V, "ts"),
    ("simulate", sim(ts=jnp.array([0.0])), V, "ts"),
    ("simulate", sim(ts=jnp.array([0.0, 0.2, 0.1])), V, "ts"),
    ("simulate", sim(ts=jnp.array([0.0, 0.1, jnp.nan, 0.3])), V, "ts"),
    ("simulate", sim(ts="0..1"), X, "ts"),
    ("simulate", sim(inputs=jnp.zeros((4, 2))), V, "inputs"),
    ("simulate", sim(inputs=jnp.zeros((5, 3))), V, "inputs"),
    ("simulate", sim(inputs="sine"), X, "inputs"),
    ("simulate", sim(key=0), X, "key"),
    ("simulate", sim(key=jr.split(KEY, 2)), V, "key"),
    ("simulate", sim(solver="tsit5"), X, "solver"),
    ("simulate", sim(solver=diffrax.ImplicitEuler()), V, "solver"),
    ("simulate", sim(dt=0.0), V, "dt"),
    ("simulate", sim(dt=0.3), V, "dt"),
    ("simulate", sim(dt=-1.0, stepsize_controller=PID), V, "dt"),
    ("simulate", sim(stepsize_controller="pid"), X, "stepsize_controller"),
    ("simulate", sim(adjoint="backsolve"), X, "adjoint"),
    ("simulate", sim(stepsize_controller=PID, max_steps=0), V, "max_steps"),
    ("simulate", sim(stepsize_controller=PID, max_steps=1.5), X, "max_steps"),
    ("simulate", sim(throw="yes"), X, "throw"),
    ("simulate", sim(ensemble="yes"), X, "ensemble"),
    ("simulate", sim(ensemble=True), V, "ensemble"),
    ("simulate", sim(model=ENS), V, "ensemble"),
    ("simulate", sim(unroll=0), V, "unroll"),
    ("simulate", sim(remat=1), X, "remat"),
    ("simulate", sim(brownian_tol=-1.0), V, "brownian_tol"),
    # --- ensembles ---------------------------------------------------------------
    ("make_ensemble", lambda: dx.make_ensemble(3, KEYS2), X, "make"),  # pyright: ignore
    ("make_ensemble", lambda: dx.make_ensemble(M.CTRNN, KEY), V, "keys"),
    ("make_ensemble", lambda: dx.make_ensemble(M.CTRNN, jr.split(KEY, 0)), V, "keys"),
    ("member", lambda: dx.member(ENS, 5), IndexError, "i"),
    ("ensemble_size", lambda: dx.ensemble_size(Y0.sum()), V, "ensemble"),
    # --- dx.train.fit: every argument ---------------------------------------------
    ("fit", fit(task=object()), X, "task"),
    ("fit", fit(model=ENS), V, "ensemble"),
    ("fit", fit(ensemble=True), V, "ensemble"),
    ("fit", fit(ensemble=1), X, "ensemble"),
    ("fit", fit(model=M.CTRNN(2, 4, 3, key=KEY)), V, "model"),
    ("fit", fit(model=M.CTRNN(3, 4, 2, key=KEY)), V, "model"),
    ("fit", fit(optimizer="adam"), X, "optimizer"),
    ("fit", fit(optimizer=ADAM, hyperparams={"learning_rate": 0.1}), X, "optimizer"),
    ("fit", fit(optimizer=optax.adam, hyperparams=[0.1]), X, "hyperparams"),
    (
        "fit",
        fit(optimizer=optax.adam, hyperparams={"learning_rate": jnp.ones(3)}),
        V,
        "hyperparams['learning_rate']",
    ),
    ("fit", fit(n_steps=0), V, "n_steps"),
    ("fit", fit(n_steps=1.5), X, "n_steps"),
    ("fit", fit(batch_size=0), V, "batch_size"),
    ("fit", fit(key=None), X, "key"),
    ("fit", fit(filter_spec=(True, False)), V, "filter_spec"),
    ("fit", fit(filter_spec=False), V, "filter_spec"),
    ("fit", fit(loss=3), X, "loss"),
    ("fit", fit(regularizer=3), X, "regularizer"),
    ("fit", fit(noise="yes"), X, "noise"),
    ("fit", fit(options={"dt": 0.1}), X, "options"),
    ("SimulateOptions", lambda: dx.SimulateOptions(solver="euler"), X, "solver"),
    ("SimulateOptions", lambda: dx.SimulateOptions(dt=-0.1), V, "dt"),
    ("SimulateOptions", lambda: dx.SimulateOptions(unroll=0), V, "unroll"),
    ("SimulateOptions", lambda: dx.SimulateOptions(remat="no"), X, "remat"),
    ("fit", fit(independent_batches=1), X, "independent_batches"),
    ("fit", fit(log_every=0), V, "log_every"),
    ("fit", fit(n_steps=4, log_every=2, checkpoint_every=3), V, "checkpoint_every"),
    ("fit", fit(max_to_keep=0), V, "max_to_keep"),
    ("fit", fit(progress="bar"), X, "progress"),
    ("fit", fit(callback=3), X, "callback"),
    # --- dx.train.evaluate ---------------------------------------------------------
    ("evaluate", evaluate(task=None), X, "task"),
    ("evaluate", evaluate(model=ENS), V, "ensemble"),
    ("evaluate", evaluate(ensemble=True), V, "ensemble"),
    ("evaluate", evaluate(model=M.CTRNN(2, 4, 3, key=KEY)), V, "model"),
    ("evaluate", evaluate(key="k"), X, "key"),
    ("evaluate", evaluate(n_trials=0), V, "n_trials"),
    ("evaluate", evaluate(loss=3), X, "loss"),
    ("evaluate", evaluate(options=3), X, "options"),
    # --- find_fixed_points, sample_candidates, unique_fixed_points ----------------
    ("find_fixed_points", ffp(f=3.0), X, "f"),
    ("find_fixed_points", ffp(candidates=jnp.zeros((3, 5))), V, "candidates"),
    ("find_fixed_points", ffp(candidates=jnp.zeros(4)), V, "candidates"),
    ("find_fixed_points", ffp(candidates=jnp.zeros((3, 4), int)), X, "candidates"),
    ("find_fixed_points", ffp(candidates=CAND.at[1, 1].set(jnp.nan)), V, "candidates"),
    ("find_fixed_points", ffp(kind="ode"), V, "kind"),
    ("find_fixed_points", ffp(tol=0.0), V, "tol"),
    ("find_fixed_points", ffp(max_steps=0), V, "max_steps"),
    ("find_fixed_points", ffp(ftol=1.0), V, "ftol"),
    ("find_fixed_points", ffp(solver="lm"), X, "solver"),
    ("find_fixed_points", ffp(unique_tol=0.0), V, "unique_tol"),
    (
        "find_fixed_points",
        ffp(outlier_distance_scale=-1.0),
        V,
        "outlier_distance_scale",
    ),
    ("find_fixed_points", ffp(max_points=0), V, "max_points"),
    ("find_fixed_points", ffp(compute_jacobians="yes"), X, "compute_jacobians"),
    ("find_fixed_points", ffp(f=ENS), V, "ensemble"),
    (
        "find_fixed_points",
        ffp(candidates=jnp.zeros((3, 3, 4)), ensemble=True),
        V,
        "ensemble",
    ),
    (
        "find_fixed_points",
        ffp(ENS, jnp.zeros((2, 3, 4)), ensemble=True),
        V,
        "candidates",
    ),
    (
        "find_fixed_points",
        ffp(ENS, jnp.zeros((3, 3, 4)), ensemble=True, chunk_size=0),
        V,
        "chunk_size",
    ),
    (
        "find_fixed_points",
        ffp(inputs=jnp.zeros(2), args=dx.ConstantInput(jnp.zeros(2))),
        V,
        "inputs",
    ),
    ("find_fixed_points", ffp(inputs=jnp.zeros((3, 2))), V, "inputs"),
    ("find_fixed_points", ffp(t=jnp.zeros(2)), V, "t"),
    (
        "sample_candidates",
        lambda: A.sample_candidates(Y0, 4, noise=0.1, key=KEY),
        V,
        "trajectories",
    ),
    (
        "sample_candidates",
        lambda: A.sample_candidates(STATES, 0, noise=0.1, key=KEY),
        V,
        "n",
    ),
    (
        "sample_candidates",
        lambda: A.sample_candidates(STATES, 4, noise=-1.0, key=KEY),
        V,
        "noise",
    ),
    (
        "sample_candidates",
        lambda: A.sample_candidates(STATES, 4, noise=0.1, key=None),
        X,
        "key",
    ),
    (
        "sample_candidates",
        lambda: A.sample_candidates(
            STATES, 4, noise=0.1, key=KEY, mask=jnp.ones(3, bool)
        ),
        V,
        "mask",
    ),
    ("unique_fixed_points", lambda: A.unique_fixed_points(3), X, "fps"),
    (
        "unique_fixed_points",
        lambda: A.unique_fixed_points(FPS, include_slow=1),
        X,
        "include_slow",
    ),
    # --- linearise, jacobian -----------------------------------------------------
    ("linearise", lambda: A.linearise(NET, jnp.zeros(9)), V, "y"),
    ("linearise", lambda: A.linearise(NET, jnp.zeros((2, 4))), V, "y"),
    ("linearise", lambda: A.linearise(NET, Y0, dt=0.0), V, "dt"),
    ("linearise", lambda: A.linearise(NET, Y0, kind="ode"), V, "kind"),
    ("linearise", lambda: A.linearise(ENS, Y0), V, "ensemble"),
    ("linearise", lambda: A.linearise(3.0, Y0), X, "f"),
    ("jacobian", lambda: A.jacobian(NET, jnp.zeros((2, 4))), V, "y"),
    ("jacobian", lambda: A.jacobian(NET, Y0, inputs=jnp.zeros(2), args=1), V, "inputs"),
    # --- lyapunov_spectrum -----------------------------------------------------------
    ("lyapunov_spectrum", lyap(y0=jnp.zeros((2, 4))), V, "y0"),
    ("lyapunov_spectrum", lyap(y0=jnp.zeros(5)), V, "y0"),
    ("lyapunov_spectrum", lyap(dt=0.0), V, "dt"),
    ("lyapunov_spectrum", lyap(n_steps=0), V, "n_steps"),
    ("lyapunov_spectrum", lyap(n_exponents=5), V, "n_exponents"),
    ("lyapunov_spectrum", lyap(qr_every=3), V, "qr_every"),
    ("lyapunov_spectrum", lyap(n_transient=-1), V, "n_transient"),
    ("lyapunov_spectrum", lyap(n_blocks=0), V, "n_blocks"),
    ("lyapunov_spectrum", lyap(inputs=jnp.zeros((9, 2))), V, "inputs"),
    ("lyapunov_spectrum", lyap(inputs=jnp.zeros((10, 2)), args=1), V, "inputs"),
    ("lyapunov_spectrum", lyap(solver=diffrax.ImplicitEuler()), V, "solver"),
    ("lyapunov_spectrum", lyap(key=3), X, "key"),
    ("lyapunov_spectrum", lyap(kind="ode"), V, "kind"),
    ("lyapunov_spectrum", lyap(f=ENS), V, "ensemble"),
    ("lyapunov_spectrum", lyap(ensemble=True), V, "ensemble"),
    ("lyapunov_spectrum", lyap(f=ENS, y0=jnp.zeros((2, 4)), ensemble=True), V, "y0"),
    # --- PCA ------------------------------------------------------------------------
    ("pca", lambda: A.pca(jnp.zeros(5)), V, "x"),
    ("pca", lambda: A.pca(jnp.zeros((1, 5))), V, "x"),
    ("pca", lambda: A.pca(jnp.full((4, 3), jnp.nan)), V, "x"),
    ("pca", lambda: A.pca(TRAJ, 4), V, "n_components"),
    ("pca", lambda: A.pca(TRAJ, 0), V, "n_components"),
    ("pca", lambda: A.pca(TRAJ, 1.5), X, "n_components"),
    # --- synchrony, graphs, reservoir metrics, branching ----------------------------
    ("order_parameter", lambda: A.order_parameter(1.0), V, "theta"),
    ("phase_locking_value", lambda: A.phase_locking_value(jnp.zeros(3)), V, "theta"),
    ("sync_error", lambda: A.sync_error(jnp.zeros(3)), V, "x"),
    ("analytic_signal", lambda: A.analytic_signal(jnp.zeros(4), axis=1), V, "axis"),
    (
        "instantaneous_phase",
        lambda: A.instantaneous_phase(jnp.zeros(4), unwrap=1),
        X,
        "unwrap",
    ),
    (
        "synchronization_matrix",
        lambda: A.synchronization_matrix(jnp.zeros(4), 0.1),
        V,
        "z",
    ),
    (
        "synchronization_series",
        lambda: A.synchronization_series(jnp.zeros((4, 3)), 0.1, pairs=(0, 1)),
        V,
        "pairs",
    ),
    (
        "synchronization_matrix",
        lambda: A.synchronization_matrix(jnp.zeros((4, 3)), jnp.ones(3)),
        V,
        "decay",
    ),
    ("laplacian", lambda: A.laplacian(jnp.ones((3, 4))), V, "A"),
    ("laplacian", lambda: A.laplacian(-jnp.ones((3, 3))), V, "A"),
    (
        "laplacian",
        lambda: A.laplacian(jnp.ones((3, 3)), normalized="yes"),
        X,
        "normalized",
    ),
    (
        "laplacian_spectrum",
        lambda: A.laplacian_spectrum(jnp.triu(jnp.ones((3, 3)))),
        V,
        "A",
    ),
    (
        "algebraic_connectivity",
        lambda: A.algebraic_connectivity(jnp.zeros((1, 1))),
        V,
        "A",
    ),
    (
        "consensus_noise",
        lambda: A.consensus_noise(
            jnp.triu(jnp.ones((3, 3))), coupling=1.0, contraction=1.0, sigma=1.0
        ),
        V,
        "laplacian",
    ),
    ("ring_graph", lambda: M.ring_graph(2), V, "n"),
    ("ring_graph", lambda: M.ring_graph(4.0), X, "n"),
    ("erdos_renyi_graph", lambda: M.erdos_renyi_graph(5, 1.5, key=KEY), V, "p"),
    ("erdos_renyi_graph", lambda: M.erdos_renyi_graph(5, 0.5, key="k"), X, "key"),
    (
        "watts_strogatz_graph",
        lambda: M.watts_strogatz_graph(10, 3, 0.1, key=KEY),
        V,
        "k",
    ),
    ("edges_from_adjacency", lambda: M.edges_from_adjacency(jnp.ones(3)), V, "A"),
    ("memory_capacity", mc(states=U), V, "states"),
    ("memory_capacity", mc(inputs=U[:-1]), V, "inputs"),
    ("memory_capacity", mc(max_delay=0), V, "max_delay"),
    ("memory_capacity", mc(washout=40), V, "washout"),
    ("memory_capacity", mc(alpha=0.0), V, "alpha"),
    ("memory_capacity", mc(train_fraction=1.5), V, "train_fraction"),
    ("memory_capacity", mc(max_delay=37), V, "states"),
    ("nrmse", lambda: A.nrmse(jnp.zeros(3), jnp.zeros(4)), V, "pred, target"),
    (
        "branching_factor",
        lambda: A.branching_factor(jnp.zeros(5), jnp.zeros((5, 5))),
        V,
        "spikes",
    ),
    (
        "branching_factor",
        lambda: A.branching_factor(jnp.zeros((9, 5)), jnp.zeros((4, 4))),
        V,
        "W",
    ),
    (
        "branching_factor",
        lambda: A.branching_factor(jnp.zeros((9, 5)), jnp.zeros((5, 5)), window=0),
        V,
        "window",
    ),
    (
        "branching_factor",
        lambda: A.branching_factor(jnp.zeros((9, 5)), jnp.zeros((5, 5)), buffer=-1),
        V,
        "buffer",
    ),
    (
        "echo_state_property",
        lambda: A.echo_state_property(ESN, jnp.zeros(5), key=KEY),
        V,
        "inputs",
    ),
    # --- model constructors ---------------------------------------------------------
    ("CTRNN", ctrnn(n_hidden=0), V, "n_hidden"),
    ("CTRNN", ctrnn(n_hidden=2.5), X, "n_hidden"),
    ("CTRNN", ctrnn(n_in=-1), V, "n_in"),
    ("CTRNN", ctrnn(n_out=-1), V, "n_out"),
    ("CTRNN", ctrnn(tau=0.0), V, "tau"),
    ("CTRNN", ctrnn(tau=jnp.ones(3)), V, "tau"),
    ("CTRNN", ctrnn(g=-1.0), V, "g"),
    ("CTRNN", ctrnn(sigma_rec=-0.1), V, "sigma_rec"),
    ("CTRNN", ctrnn(dtype=jnp.int32), V, "dtype"),
    ("CTRNN", ctrnn(dtype="no-such-dtype"), X, "dtype"),
    ("CTRNN", ctrnn(activation=3), X, "activation"),
    ("CTRNN", ctrnn(learn_tau="yes"), X, "learn_tau"),
    ("CTRNN", ctrnn(key=None), X, "key"),
    ("LowRankRNN", lambda: M.LowRankRNN(2, 4, 2, rank=0, key=KEY), V, "rank"),
    ("LowRankRNN", lambda: M.LowRankRNN(2, 4, 2, rank=5, key=KEY), V, "rank"),
    ("EIRNN", lambda: M.EIRNN(2, 5, 2, frac_exc=0.0, key=KEY), V, "frac_exc"),
    ("EIRNN", lambda: M.EIRNN(2, 5, 2, frac_exc=0.05, key=KEY), V, "frac_exc"),
    ("GRU", lambda: M.GRU(2, 0, 2, key=KEY), V, "n_hidden"),
    ("GRU", lambda: M.GRU(2, 4, 2, key=None), X, "key"),
    ("VanillaRNN", lambda: M.VanillaRNN(2, 4, 2, g=-1.0, key=KEY), V, "g"),
    (
        "VanillaRNN",
        lambda: M.VanillaRNN(2, 4, 2, activation="tanh", key=KEY),
        X,
        "activation",
    ),
    ("ESN", esn(spectral_radius=0.0), V, "spectral_radius"),
    ("ESN", esn(leak=1.5), V, "leak"),
    ("ESN", esn(leak=jnp.ones(3)), V, "leak"),
    ("ESN", esn(density=0.0), V, "density"),
    ("ESN", esn(input_scaling=-1.0), V, "input_scaling"),
    ("ESN", esn(feedback=True), V, "n_out"),
    ("ESN", esn(feedback="yes", n_out=1), X, "feedback"),
    (
        "ESN.with_readout",
        lambda: ESN.with_readout(jnp.zeros((1, 4)), jnp.zeros(1)),
        V,
        "weights, bias",
    ),
    (
        "ESN.with_readout",
        lambda: ESN.with_readout(jnp.zeros((2, 5)), jnp.zeros(2)),
        V,
        "weights",
    ),
    (
        "ESN.generate",
        lambda: M.ESN(2, 5, n_out=1, key=KEY).generate(jnp.zeros(5), 3),
        V,
        "generate",
    ),
    (
        "ESN.teacher_force",
        lambda: M.ESN(1, 5, key=KEY).teacher_force(
            jnp.zeros(5), None, jnp.zeros((4, 1))
        ),
        V,
        "teacher_force",
    ),
    (
        "EIAdaptiveReservoir",
        lambda: M.EIAdaptiveReservoir(1, 1, key=KEY),
        V,
        "n_hidden",
    ),
    (
        "EIAdaptiveReservoir",
        lambda: M.EIAdaptiveReservoir(1, 5, frac_exc=1.5, key=KEY),
        V,
        "frac_exc",
    ),
    (
        "EIAdaptiveReservoir",
        lambda: M.EIAdaptiveReservoir(1, 5, target_rate=1.5, key=KEY),
        V,
        "target_rate",
    ),
    (
        "EIAdaptiveReservoir",
        lambda: M.EIAdaptiveReservoir(1, 5, density=0.0, key=KEY),
        V,
        "density",
    ),
    (
        "EIAdaptiveReservoir",
        lambda: M.EIAdaptiveReservoir(1, 5, inhibitory_gain=-1.0, key=KEY),
        V,
        "inhibitory_gain",
    ),
    ("EIAdaptiveReservoir.with_gain", lambda: EIA.with_gain(-1.0), V, "g"),
    ("lognormal_rates", lambda: M.lognormal_rates(KEY, 4, clip=0.6), V, "clip"),
    ("LIFReservoir", lambda: M.LIFReservoir(1, 0, key=KEY), V, "n"),
    ("LIFReservoir", lif(frac_exc=0.0), V, "frac_exc"),
    ("LIFReservoir", lif(density=1.5), V, "density"),
    ("LIFReservoir", lif(w_exc=5.0), V, "w_exc"),
    ("LIFReservoir", lif(tau_m=0.0), V, "tau_m"),
    ("LIFReservoir", lif(threshold=0.0), V, "threshold"),
    ("LIFReservoir", lif(bias=jnp.ones(3)), V, "bias"),
    ("Kuramoto", kuramoto(jnp.zeros(10), jnp.ones((5, 5))), V, "coupling"),
    ("Kuramoto", kuramoto(coupling=jnp.ones((5, 4))), V, "coupling"),
    ("Kuramoto", kuramoto(omega=jnp.zeros((2, 2))), V, "omega"),
    ("Kuramoto", kuramoto(sigma=-0.1), V, "sigma"),
    ("Kuramoto", kuramoto(lag=jnp.ones(5)), V, "lag"),
    ("Kuramoto", kuramoto(edges=(jnp.array([0, 5]), jnp.array([1, 2]))), V, "edges"),
    ("Kuramoto", kuramoto(edges=jnp.array([0, 1])), X, "edges"),
    (
        "StuartLandau",
        lambda: M.StuartLandau(jnp.zeros(5), 1.0, lam=jnp.ones(3)),
        V,
        "lam",
    ),
    (
        "StuartLandau",
        lambda: M.StuartLandau(jnp.zeros(5), 1.0, shear=jnp.ones(2)),
        V,
        "shear",
    ),
    ("StuartLandau", lambda: M.StuartLandau(jnp.zeros(5), 1.0, sigma=-1.0), V, "sigma"),
    ("DelayedKuramoto", delayed(kuramoto=3), X, "kuramoto"),
    (
        "DelayedKuramoto",
        delayed(kuramoto=M.Kuramoto(jnp.zeros(5), 1.0, sigma=0.1)),
        V,
        "kuramoto",
    ),
    ("DelayedKuramoto", delayed(delays=-0.1), V, "delays"),
    ("DelayedKuramoto", delayed(delays=jnp.zeros(3)), V, "delays"),
    ("DelayedKuramoto", delayed(dt=0.0), V, "dt"),
    ("DelayedKuramoto", delayed(n_substeps=0), V, "n_substeps"),
    ("DelayedKuramoto", delayed(max_delay=-1.0), V, "max_delay"),
    (
        "DelayedKuramoto.history_state",
        lambda: M.DelayedKuramoto(KUR, 0.1, dt=0.05).history_state(jnp.zeros(4)),
        V,
        "theta",
    ),
    ("CoupledGradientNetwork", gradient_net(f=3), X, "f"),
    ("Lorenz", lambda: M.Lorenz(sigma=jnp.ones(2)), V, "sigma"),
    ("Lorenz", lambda: M.Lorenz(driven="yes"), X, "driven"),
    ("Rossler", lambda: M.Rossler(c=jnp.ones(3)), V, "c"),
    ("VanDerPol", lambda: M.VanDerPol(mu=jnp.ones(2)), V, "mu"),
    ("Lorenz96", lambda: M.Lorenz96(3), V, "n"),
    ("Lorenz96", lambda: M.Lorenz96(5, forcing=jnp.ones(4)), V, "forcing"),
    ("MeanField", lambda: M.MeanField(1.0, 0), V, "n"),
    ("MeanField", lambda: M.MeanField(jnp.ones(3), 4), V, "strength"),
    ("DenseCoupling", lambda: M.DenseCoupling(jnp.ones((3, 2))), V, "weights"),
    (
        "SparseCoupling",
        lambda: M.SparseCoupling(jnp.array([0, 5]), jnp.array([1, 0]), 1.0, 3),
        V,
        "senders, receivers",
    ),
    (
        "SparseCoupling",
        lambda: M.SparseCoupling.from_adjacency(jnp.ones((3, 2))),
        V,
        "A",
    ),
    ("CoupledGradientNetwork", gradient_net(lap=jnp.ones((3, 3))), V, "laplacian"),
    ("CoupledGradientNetwork", gradient_net(lap=jnp.ones((3, 2))), V, "laplacian"),
    ("CoupledGradientNetwork", gradient_net(coupling=-1.0), V, "coupling"),
    ("CoupledGradientNetwork", gradient_net(sigma=jnp.ones(2)), V, "sigma"),
    ("CoupledGradientNetwork", gradient_net(dim=0), V, "dim"),
    (
        "sparse_matrix",
        lambda: M.sparse_matrix(KEY, (3, 3), distribution="cauchy"),
        V,
        "distribution",
    ),
    ("spectral_radius", lambda: M.spectral_radius(jnp.zeros((3, 2))), V, "W"),
    # --- tasks -------------------------------------------------------------------
    ("FlipFlop", lambda: T.FlipFlop(n_bits=0), V, "n_bits"),
    ("FlipFlop", lambda: T.FlipFlop(n_bits=2.0), X, "n_bits"),
    ("FlipFlop", lambda: T.FlipFlop(p_pulse=1.5), V, "p_pulse"),
    ("FlipFlop", lambda: T.FlipFlop(dt=0.0), V, "dt"),
    (
        "FlipFlop.score",
        lambda: TASK.score(jnp.zeros((5, 3)), T.TaskBatch(*(jnp.zeros((5, 2)),) * 3)),
        V,
        "outputs",
    ),
    ("SineWave", lambda: T.SineWave(n_freqs=1), V, "n_freqs"),
    ("SineWave", lambda: T.SineWave(midpoints="yes"), X, "midpoints"),
    (
        "DelayedDiscrimination",
        lambda: T.DelayedDiscrimination(min_gap=0.4),
        V,
        "min_gap",
    ),
    (
        "DelayedDiscrimination",
        lambda: T.DelayedDiscrimination(stim_steps=0),
        V,
        "stim_steps",
    ),
    ("PathIntegration", lambda: T.PathIntegration(dim=0), V, "dim"),
    ("PathIntegration", lambda: T.PathIntegration(speed=0.0), V, "speed"),
    ("NParity", lambda: T.NParity(2, heads="both"), V, "heads"),
    ("NParity", lambda: T.NParity(2, bit_steps=2, settle_steps=2), V, "settle_steps"),
    ("NDelayedMatch", lambda: T.NDelayedMatch(2, bit_steps=0), V, "bit_steps"),
    ("HMMEmission", lambda: T.HMMEmission(topology="ring"), V, "topology"),
    ("HMMEmission", lambda: T.HMMEmission(stay=1.0), V, "stay"),
    ("curriculum", lambda: T.curriculum(T.NParity, 2, n_min=3), V, "n_max"),
    # --- data generators -----------------------------------------------------------
    ("mackey_glass", lambda: D.mackey_glass(0), V, "n"),
    ("mackey_glass", lambda: D.mackey_glass(10, tau=1.05, dt=0.1), V, "tau"),
    ("mackey_glass", lambda: D.mackey_glass(10, dt=0.0), V, "dt"),
    ("mackey_glass", lambda: D.mackey_glass(10, washout=-1), V, "washout"),
    ("narma", lambda: D.narma(0, key=KEY), V, "n"),
    ("narma", lambda: D.narma(10, key=KEY, dtype=jnp.int32), V, "dtype"),
    ("narma_from_inputs", lambda: D.narma_from_inputs(jnp.zeros((4, 2))), V, "u"),
    (
        "narma_from_inputs",
        lambda: D.narma_from_inputs(jnp.zeros(4), order=0),
        V,
        "order",
    ),
    (
        "memory_capacity_task",
        lambda: D.memory_capacity_task(10, max_delay=0, key=KEY),
        V,
        "max_delay",
    ),
    ("lorenz_series", lambda: D.lorenz_series(0), V, "n"),
    ("lorenz_series", lambda: D.lorenz_series(5, y0=jnp.ones(2)), V, "y0"),
    ("lorenz_series", lambda: D.lorenz_series(5, sample_every=0), V, "sample_every"),
    # --- readouts and online rules -------------------------------------------------
    ("ridge_readout", lambda: TR.ridge_readout(U, U, alpha=1.0), V, "states"),
    (
        "ridge_readout",
        lambda: TR.ridge_readout(STATES, U[:-1], alpha=1.0),
        V,
        "targets",
    ),
    ("ridge_readout", lambda: TR.ridge_readout(STATES, U, alpha=-1.0), V, "alpha"),
    (
        "ridge_readout",
        lambda: TR.ridge_readout(STATES, U, alpha=jnp.ones((2, 2))),
        V,
        "alpha",
    ),
    (
        "ridge_readout",
        lambda: TR.ridge_readout(STATES, U, alpha=1.0, washout=-1),
        V,
        "washout",
    ),
    (
        "ridge_readout",
        lambda: TR.ridge_readout(STATES, U, alpha=1.0, bias="yes"),
        X,
        "bias",
    ),
    (
        "force_readout",
        lambda: TR.force_readout(3, jnp.zeros(5), jnp.zeros((4, 1))),
        X,
        "model",
    ),
    (
        "force_readout",
        lambda: TR.force_readout(ESN_ENS, jnp.zeros(5), jnp.zeros((4, 1))),
        V,
        "model",
    ),
    (
        "force_readout",
        lambda: TR.force_readout(ESN, jnp.zeros(5), jnp.zeros(4)),
        V,
        "targets",
    ),
    (
        "force_readout",
        lambda: TR.force_readout(
            ESN, jnp.zeros(5), jnp.zeros((4, 1)), inputs=jnp.zeros((3, 1))
        ),
        V,
        "inputs",
    ),
    (
        "force_readout",
        lambda: TR.force_readout(ESN, jnp.zeros(5), jnp.zeros((4, 1)), alpha=0.0),
        V,
        "alpha",
    ),
    (
        "force_readout",
        lambda: TR.force_readout(NET, jnp.zeros(4), jnp.zeros((4, 1))),
        X,
        "model",
    ),
    (
        "force_readout",
        lambda: TR.force_readout(ESN, jnp.zeros(5), jnp.zeros((4, 2))),
        V,
        "targets",
    ),
    ("stdp", lambda: TR.stdp(ESN, jnp.zeros((4, 1))), X, "model"),
    ("adapt_inhibition", adapt(model=ESN), X, "model"),
    ("stdp", lambda: TR.stdp(3, jnp.zeros((4, 1))), X, "model"),
    ("stdp", lambda: TR.stdp(LIF, jnp.zeros((4, 2))), V, "inputs"),
    ("stdp", lambda: TR.stdp(LIF, jnp.zeros((4, 1)), rule="hebb"), X, "rule"),
    ("stdp", lambda: TR.stdp(LIF, jnp.zeros((4, 1)), reset="yes"), X, "reset"),
    ("STDP", lambda: TR.STDP(tau_plus=0.0), V, "tau_plus"),
    ("Astrocyte", lambda: TR.Astrocyte(tau=0.0), V, "tau"),
    ("adapt_inhibition", adapt(model=3), X, "model"),
    ("adapt_inhibition", adapt(inputs=jnp.zeros((4, 2))), V, "inputs"),
    ("adapt_inhibition", adapt(eta=0.0), V, "eta"),
    ("adapt_inhibition", adapt(tau_rate=0.5), V, "tau_rate"),
    ("adapt_inhibition", adapt(record_every=3), V, "record_every"),
    ("adapt_inhibition", adapt(y0=jnp.zeros(3)), V, "y0"),
    ("spike_counts", lambda: TR.spike_counts(LIF, jnp.zeros(4)), V, "inputs"),
    (
        "ridge_classifier",
        lambda: TR.ridge_classifier(STATES, jnp.zeros(40, int), n_classes=1),
        V,
        "n_classes",
    ),
    (
        "ridge_classifier",
        lambda: TR.ridge_classifier(STATES, U, n_classes=2),
        V,
        "labels",
    ),
    ("Regularizer", lambda: TR.Regularizer(l1_weights=-1.0), V, "l1_weights"),
    # --- degeneracy: DSA, CKA, Procrustes, weight space, the report ---------------
    ("dsa", lambda: A.dsa(TRAJ, TRAJ, rank=10), V, "rank"),
    ("dsa", lambda: A.dsa(TRAJ, TRAJ, n_delays=20), V, "n_delays"),
    ("dsa", lambda: A.dsa(TRAJ, TRAJ, n_delays=0), V, "n_delays"),
    ("dsa", lambda: A.dsa(TRAJ, TRAJ, score="cosine"), V, "score"),
    ("dsa", lambda: A.dsa(TRAJ, TRAJ, rank=2, rank_thresh=0.1), V, "rank_thresh"),
    ("dsa", lambda: A.dsa(TRAJ, TRAJ, lamb=-1.0), V, "lamb"),
    ("dsa", lambda: A.dsa(TRAJ[:, 0], TRAJ), V, "X"),
    ("dsa", lambda: A.dsa(TRAJ, TRAJ.at[0, 0].set(jnp.nan)), V, "Y"),
    ("dsa", lambda: A.dsa(TRAJ, "states"), X, "Y"),
    ("dsa", lambda: A.dsa(TRAJ, TRAJ, n_starts=0), V, "n_starts"),
    ("dsa", lambda: A.dsa(TRAJ, TRAJ, tol=0.0), V, "tol"),
    ("dsa_matrix", lambda: A.dsa_matrix(TRAJ), V, "trajectories"),
    ("dsa_matrix", lambda: A.dsa_matrix(TRAJ[None]), V, "trajectories"),
    ("dsa_matrix", lambda: A.dsa_matrix(jnp.stack([TRAJ] * 2), rank=9), V, "rank"),
    ("hankel", lambda: A.hankel(TRAJ, n_delays=30), V, "n_delays"),
    ("hankel", lambda: A.hankel(TRAJ, delay_interval=0), V, "delay_interval"),
    (
        "vector_field_procrustes",
        lambda: A.vector_field_procrustes(OP, OP[:2, :2]),
        V,
        "B",
    ),  # fmt: skip
    ("vector_field_procrustes", lambda: A.vector_field_procrustes(OP[:2], OP), V, "A"),
    ("vector_field_procrustes", lambda: A.vector_field_procrustes(OP * 0, OP), V, "A"),
    ("linear_cka", lambda: A.linear_cka(TRAJ, TRAJ[:10]), V, "Y"),
    ("linear_cka", lambda: A.linear_cka(TRAJ[0, 0], TRAJ), V, "X"),
    ("linear_cka_matrix", lambda: A.linear_cka_matrix(TRAJ[0]), V, "states"),
    # --- learning regime: kernel alignment, weight change, effective rank ----------
    ("kernel_alignment", lambda: A.kernel_alignment(TRAJ, TRAJ[:10]), V, "Y"),
    ("kernel_alignment", lambda: A.kernel_alignment(TRAJ[0, 0], TRAJ), V, "X"),
    ("kernel_alignment", lambda: A.kernel_alignment(TRAJ, TRAJ, mask=TS), V, "mask"),
    (
        "kernel_alignment",
        lambda: A.kernel_alignment(TRAJ, TRAJ, center=True, mask=jnp.eye(20)[0]),
        V,
        "mask",
    ),
    (
        "kernel_alignment",
        lambda: A.kernel_alignment(TRAJ, TRAJ, precomputed=True),
        V,
        "X",
    ),
    (
        "kernel_alignment",
        lambda: A.kernel_alignment(TRAJ.at[3, 1].set(jnp.nan), TRAJ),
        V,
        "X",
    ),
    ("kernel_alignment", lambda: A.kernel_alignment(TRAJ, TRAJ, center=1), X, "center"),
    ("weight_change", lambda: A.weight_change(NET, NET6), V, "model_after"),
    ("weight_change", lambda: A.weight_change(NET, ESN), V, "model_after"),
    ("weight_change", lambda: A.weight_change(ENS, ENS), V, "ensemble"),
    ("weight_change", lambda: A.weight_change(NET, NET, ensemble=True), V, "ensemble"),
    (
        "weight_change",
        lambda: A.weight_change(NET, eqx.tree_at(lambda m: m.W, NET, NET.W * jnp.nan)),
        V,
        "model_after",
    ),
    ("weight_change", lambda: A.weight_change(NET, NET, weights="V"), V, "weights"),
    ("weight_change", lambda: A.weight_change(KUR, KUR), V, "weights"),
    (
        "weight_change",
        lambda: A.weight_change(NET, NET, weights=lambda m: jnp.arange(3)),
        V,
        "weights",
    ),
    ("effective_rank", lambda: A.effective_rank(jnp.zeros((2, 3, 3))), V, "W"),
    ("effective_rank", lambda: A.effective_rank(jnp.ones(3)), V, "W"),
    ("effective_rank", lambda: A.effective_rank(NET, weights="all"), V, "weights"),
    ("effective_rank", lambda: A.effective_rank(NET, weights="b"), V, "weights"),
    (
        "effective_rank",
        lambda: A.effective_rank(jnp.eye(3), change_from=jnp.eye(4)),
        V,
        "W",
    ),
    ("effective_rank", lambda: A.effective_rank(jnp.eye(3) * jnp.inf), V, "W"),
    ("learning_regime", lambda: A.learning_regime(NET, NET, "x"), X, "data"),
    ("learning_regime", lambda: A.learning_regime(NET, NET, TASK), V, "key"),
    (
        "learning_regime",
        lambda: A.learning_regime(NET, NET, TASK, key=KEY, n_trials=1),
        V,
        "n_trials",
    ),
    (
        "learning_regime",
        lambda: A.learning_regime(NET, NET, T.FlipFlop(n_bits=3), key=KEY),
        V,
        "data",
    ),
    (
        "learning_regime",
        lambda: A.learning_regime(NET, NET, TASK, key=KEY, targets=TRAJ),
        V,
        "targets",
    ),
    (
        "learning_regime",
        lambda: A.learning_regime(NET, NET, (TRAJ, TRAJ), key=KEY),
        V,
        "key",
    ),
    (
        "learning_regime",
        lambda: A.learning_regime(NET, NET, (TRAJ, TRAJ[:5])),
        V,
        "data",
    ),
    (
        "learning_regime",
        lambda: A.learning_regime(NET, NET, (TRAJ, TRAJ), targets=TRAJ[:5]),
        V,
        "targets",
    ),
    (
        "learning_regime",
        lambda: A.learning_regime(NET, NET, (TRAJ, TRAJ), mask=TS),
        V,
        "mask",
    ),
    (
        "learning_regime",
        lambda: A.learning_regime(NET, NET, (TRAJ, TRAJ), weights="all"),
        V,
        "weights",
    ),
    (
        "procrustes_distance",
        lambda: A.procrustes_distance(TRAJ, TRAJ, score="x"),
        V,
        "score",
    ),  # fmt: skip
    ("procrustes_distance", lambda: A.procrustes_distance(TRAJ, TRAJ[:3]), V, "Y"),
    ("procrustes_matrix", lambda: A.procrustes_matrix(TRAJ[0]), V, "states"),
    ("permutation_distance", lambda: A.permutation_distance(NET, NET6), V, "net_b"),
    ("permutation_distance", lambda: A.permutation_distance(KUR, NET), X, "net_a"),
    ("permutation_distance", lambda: A.permutation_distance(NET, ENS), V, "net_b"),
    (
        "permutation_distance",
        lambda: A.permutation_distance(RELU, RELU, sign_flips=True),
        V,
        "sign_flips",
    ),  # fmt: skip
    (
        "permutation_distance",
        lambda: A.permutation_distance(NET, NET, max_iter=0),
        V,
        "max_iter",
    ),  # fmt: skip
    (
        "permutation_distance_matrix",
        lambda: A.permutation_distance_matrix(NET),
        V,
        "ensemble",
    ),  # fmt: skip
    (
        "permutation_distance_matrix",
        lambda: A.permutation_distance_matrix(ESN_ENS),
        X,
        "ensemble",
    ),  # fmt: skip
    (
        "degeneracy_report",
        lambda: A.degeneracy_report(ENS, T.FlipFlop(n_bits=3), key=KEY),
        V,
        "task",
    ),  # fmt: skip
    ("degeneracy_report", lambda: A.degeneracy_report(ENS, TASK, key=3), X, "key"),
    (
        "degeneracy_report",
        lambda: A.degeneracy_report(ENS, TASK, key=KEY, n_trials=0),
        V,
        "n_trials",
    ),  # fmt: skip
    (
        "degeneracy_report",
        lambda: A.degeneracy_report(ENS, TASK, key=KEY, dsa_options={"rank": 3}),
        V,
        "dsa_options",
    ),  # fmt: skip
    ("weight_penalty", lambda: TR.weight_penalty(NET, p=3), V, "p"),
    ("UnderdampedLangevin", lambda: M.UnderdampedLangevin(POT, gamma=-1.0), V, "gamma"),
    # --- LangevinFlow and its loss, rates and fit_spikes ---------------------------
    ("LangevinFlow", lflow(n_heldin=0), V, "n_heldin"),
    ("LangevinFlow", lflow(n_heldin=2.5), X, "n_heldin"),
    ("LangevinFlow", lflow(decoder_input="z"), V, "decoder_input"),
    ("LangevinFlow", lflow(d_model=5), V, "d_model"),
    ("LangevinFlow", lflow(bin_size=0.0), V, "bin_size"),
    ("LangevinFlow", lflow(n_substeps=0), V, "n_substeps"),
    ("LangevinFlow", lflow(causal=1), X, "causal"),
    ("LangevinFlow", lflow(potential=M.CoupledOscillatorPotential(3)), V, "potential"),
    ("LangevinFlow", lflow(potential="ring"), X, "potential"),
    ("LangevinFlow", lflow(key=None), X, "key"),
    ("langevin_flow_loss", lfl(model=NET), X, "model"),
    ("langevin_flow_loss", lfl(-SPK), V, "spikes"),
    ("langevin_flow_loss", lfl(SPK / 2), V, "spikes"),
    ("langevin_flow_loss", lfl(SPK[0]), V, "spikes"),
    ("langevin_flow_loss", lfl(SPK[..., :2]), V, "spikes"),
    ("langevin_flow_loss", lfl(SPK[:, :1]), V, "spikes"),
    ("langevin_flow_loss", lfl(SPK.astype(bool)), V, "spikes"),
    ("langevin_flow_loss", lfl(heldin=[0, 1], heldout=[1]), V, "heldout"),
    ("langevin_flow_loss", lfl(heldin=[0]), V, "heldin"),
    ("langevin_flow_loss", lfl(heldout=[3]), V, "heldout"),
    ("langevin_flow_loss", lfl(heldout=[1, 1]), V, "heldout"),
    ("langevin_flow_loss", lfl(heldout=[2.0]), X, "heldout"),
    ("langevin_flow_loss", lfl(heldout=np.ones(2, bool)), V, "heldout"),
    ("langevin_flow_loss", lfl(dropout=1.0), V, "dropout"),
    ("langevin_flow_loss", lfl(dropout=0.5), V, "key"),
    ("langevin_flow_loss", lfl(beta=-1.0), V, "beta"),
    ("langevin_flow_loss", lfl(terms=1), X, "terms"),
    ("langevin_flow_loss", lfl(ensemble=True), V, "ensemble"),
    ("langevin_flow_rates", lfr(SPK), V, "heldin"),
    ("langevin_flow_rates", lfr(-SPK[..., :2]), V, "heldin"),
    ("langevin_flow_rates", lfr(n_samples=0), V, "n_samples"),
    ("langevin_flow_rates", lfr(key=0), X, "key"),
    ("fit_spikes", fit_spikes(SPK / 2), V, "spikes"),
    ("fit_spikes", fit_spikes(SPK[0]), V, "spikes"),
    ("fit_spikes", fit_spikes(model=NET), X, "model"),
    ("fit_spikes", fit_spikes(batch_size=3), V, "batch_size"),
    ("fit_spikes", fit_spikes(heldin=[0, 2], heldout=[2]), V, "heldout"),
    ("fit_spikes", fit_spikes(dropout=-0.1), V, "dropout"),
    ("fit_spikes", fit_spikes(optimizer="adam"), X, "optimizer"),
    ("fit_spikes", fit_spikes(key=KEYS2), V, "key"),
    (
        "CoupledOscillatorPotential",
        lambda: M.CoupledOscillatorPotential(3, onsite="x"),
        V,
        "onsite",
    ),  # fmt: skip
    ("MLPPotential", lambda: M.MLPPotential(0, key=KEY), V, "n"),
    (
        "bits_per_spike",
        lambda: A.bits_per_spike(np.ones((2, 3)), -np.ones((2, 3))),
        V,
        "spikes",
    ),  # fmt: skip
    ("co_bps", lambda: A.co_bps(np.zeros((2, 3)), np.ones((2, 3))), V, "rates"),
    ("fp_bps", lambda: A.fp_bps(np.ones((2, 3)), np.full((2, 3), 0.5)), V, "spikes"),
    (
        "psth_r2",
        lambda: A.psth_r2(np.ones((2, 3, 1)), np.ones((1, 3, 1)), [[0, 1], [1]]),
        V,
        "conditions",
    ),  # fmt: skip
    (
        "velocity_r2",
        lambda: A.velocity_r2(
            np.ones((9, 2)),
            np.ones((9, 1)),
            np.ones((4, 2)),
            np.ones((4, 1)),
            n_folds=1,
        ),
        V,
        "n_folds",
    ),  # fmt: skip
    (
        "lorenz_spikes",
        lambda: D.lorenz_spikes(KEY, n_neurons=2, n_heldout=2),
        V,
        "n_heldout",
    ),  # fmt: skip
    ("load_nlb", lambda: D.load_nlb("absent.nwb"), V, "path"),
    # --- interventions, trajectory geometry, timescales -------------------------
    ("intervene", lambda: A.intervene("net", A.Ablate(units=[0])), X, "model"),
    ("intervene", lambda: A.intervene(NET, "ablate"), X, "interventions"),
    ("intervene", lambda: A.intervene(NET, []), X, "interventions"),
    ("intervene", lambda: A.intervene(NET, A.Ablate(units=[9])), V, "units"),
    ("simulate", lambda: dx.simulate(A.intervene(NET, A.Clamp(
        [0], [1.0], (5.0, 6.0))), Y0, TS), V, "window"),
    ("simulate", lambda: dx.simulate(A.intervene(NET, A.Kick(
        jnp.ones(4), 1.0, time=-3.0, width=1.0)), Y0, TS), V, "time"),
    ("intervene", lambda: A.intervene(NET, A.Ablate(units=[0]), ensemble=1), X,
     "ensemble"),
    ("perturb_response", lambda: A.perturb_response(
        NET, Y0, jnp.ones(4), jnp.array([0.0, 1.0]), ts=TS), V, "amplitudes"),
    ("perturb_response", lambda: A.perturb_response(
        NET, Y0, jnp.ones(4), jnp.ones((2, 2)), ts=TS), V, "amplitudes"),
    ("perturb_response", lambda: A.perturb_response(
        NET, Y0, jnp.ones(4), jnp.ones(2), ts=TS[:1]), V, "ts"),
    ("perturb_response", lambda: A.perturb_response(
        NET, Y0, jnp.ones(4), jnp.ones(2), ts=TS, time=5.0), V, "time"),
    ("speed", lambda: A.speed(NET, TRAJ[:, :4], ts=jnp.zeros(3)), V, "ts"),
    ("speed", lambda: A.speed(NET, jnp.zeros((5, 4)), inputs=jnp.zeros((4, 2))), V,
     "inputs"),
    ("speed_segments", lambda: A.speed_segments(jnp.ones((3, 2))), V, "q"),
    ("speed_segments", lambda: A.speed_segments(jnp.ones(5), slow_quantile=1.5), V,
     "slow_quantile"),
    ("speed_segments", lambda: A.speed_segments(
        jnp.ones(5), slow_quantile=0.5, fast_quantile=0.2), V, "fast_quantile"),
    ("closed_orbit", lambda: A.closed_orbit(TRAJ[:, 0], TS), V, "ys"),
    ("closed_orbit", lambda: A.closed_orbit(TRAJ, TS), V, "ts"),
    ("closed_orbit", lambda: A.closed_orbit(TRAJ, jnp.arange(20.0), start=19), V,
     "start"),
    ("closed_orbit", lambda: A.closed_orbit(TRAJ, jnp.arange(20.0), tol=0.0), V,
     "tol"),
    ("kick_neurons", lambda: A.kick_neurons(NET, Y0, TS, units=[7]), V, "units"),
    ("kick_neurons", lambda: A.kick_neurons(NET, Y0, TS, fast_quantile=1.0), V,
     "fast_quantile"),
    ("kick_neurons", lambda: A.kick_neurons(NET, Y0, TS[:, None]), V, "ts"),
    ("autocorrelation", lambda: A.autocorrelation(jnp.arange(5)), V, "x"),
    ("autocorrelation", lambda: A.autocorrelation(jnp.ones((1, 3))), V, "x"),
    ("autocorrelation", lambda: A.autocorrelation(TRAJ, max_lag=20), V, "max_lag"),
    ("autocorrelation", lambda: A.autocorrelation(TRAJ, reduce="mean"), V, "reduce"),
    ("expected_autocorrelation", lambda: A.expected_autocorrelation(
        2.0, n_time=1, max_lag=0), V, "n_time"),
    ("expected_autocorrelation", lambda: A.expected_autocorrelation(
        2.0, n_time=10, max_lag=10), V, "max_lag"),
    ("autocorrelation_timescale", lambda: A.autocorrelation_timescale(
        TRAJ, dt=0.0), V, "dt"),
    ("autocorrelation_timescale", lambda: A.autocorrelation_timescale(
        TRAJ, dt=1.0, max_lag=20), V, "max_lag"),
    ("autocorrelation_timescale", lambda: A.autocorrelation_timescale(
        TRAJ, dt=1.0, min_weight=0.7), V, "min_weight"),
    ("autocorrelation_timescale", lambda: A.autocorrelation_timescale(
        TRAJ[:2], dt=1.0), V, "x"),
    ("network_timescales", lambda: A.network_timescales(NET, jnp.zeros(5)), V, "y"),
    ("network_timescales", lambda: A.network_timescales(NET, Y0, kind="ode"), V,
     "kind"),
    ("sinkhorn_divergence", lambda: TR.sinkhorn_divergence(CAND, CAND, blur=0.0), V,
     "blur"),
    ("sinkhorn_divergence", lambda: TR.sinkhorn_divergence(CAND, CAND, p=3), V, "p"),
    ("sinkhorn_divergence", lambda: TR.sinkhorn_divergence(CAND, CAND, n_iters=0), V,
     "n_iters"),
    ("sinkhorn_divergence", lambda: TR.sinkhorn_divergence(
        CAND, CAND, scaling=1.0), V, "scaling"),
    ("sinkhorn_divergence", lambda: TR.sinkhorn_divergence(CAND, CAND[:, :2]), V,
     "x, y"),
    ("gumbel_softmax", lambda: TR.gumbel_softmax(KEY, CAND, tau=0.0), V, "tau"),
    ("gumbel_softmax", lambda: TR.gumbel_softmax(KEY, CAND, hard=1), TypeError,
     "hard"),
    ("SinkhornLoss", lambda: TR.SinkhornLoss(blur=-1.0), V, "blur"),
    ("SinkhornLoss", lambda: TR.SinkhornLoss(p=0), V, "p"),
    ("SinkhornLoss", lambda: TR.SinkhornLoss(tau="1"), TypeError, "tau"),
    ("emission_statistics", lambda: A.emission_statistics(jnp.ones((2, 4, 3))), V,
     "sequences"),
    ("emission_statistics", lambda: A.emission_statistics(jnp.eye(3)[:1]), V,
     "sequences"),
    ("emission_statistics", lambda: A.emission_statistics(
        jnp.eye(3), ensemble=True), V, "sequences"),
    ("emission_statistics", lambda: A.emission_statistics(
        jnp.eye(3), ensemble=1), TypeError, "ensemble"),
]


@pytest.mark.parametrize(
    "call, error, name",
    [
        pytest.param(c, e, n, id=f"{i:03d}-{where}-{n}")
        for i, (where, c, e, n) in enumerate(CASES)
    ],
)
def test_bad_input_names_the_argument(call, error, name):
    with unchecked(), pytest.raises(error) as info:
        call()
    text = str(info.value)
    assert text.startswith(f"{name}:"), text
    assert "expected" in text and "got" in text, text
    if error is TypeError:  # a wrong type is also a ValueError (one except clause)
        assert isinstance(info.value, ValueError)


def test_the_table_covers_every_entry_point():
    covered = {where.split(".")[0] for where, *_ in CASES}
    public = {"simulate", "make_ensemble", "member", "fit", "evaluate"}
    public |= {n for n in dir(A) if n[0].islower() and callable(getattr(A, n))}
    public |= {
        n
        for n in dir(M)
        if not n.startswith(("_", "Abstract")) and not inspect.ismodule(getattr(M, n))
    }
    public |= {n for n in dir(T) if n[0].isupper() and n not in ("TaskBatch",)}
    public |= {
        "curriculum",
        "adapt_inhibition",
        "stdp",
        "ridge_readout",
        "force_readout",
        "sinkhorn_divergence",
        "gumbel_softmax",
        "SinkhornLoss",
        "langevin_flow_loss",
        "langevin_flow_rates",
        "fit_spikes",
    }
    public |= {
        n
        for n in dir(D)
        if not n.startswith("_") and not inspect.ismodule(getattr(D, n))
    }
    exempt = {  # take no argument that can be wrong, or have no user-facing check
        "effective_spectral_radius", "kirchhoff_index", "scale_to_spectral_radius",
        "DelayBuffer", "LIFState", "path_graph", "complete_graph", "AbstractTask",
        "AbstractBitStreamTask", "LorenzSpikes", "NLBData", "SpikeTensors",
        "NLB_PRESETS",
    }  # fmt: skip
    assert len(CASES) >= 100
    assert public - exempt <= covered, sorted(public - exempt - covered)


def test_nan_in_ts_is_named_where_it_is():
    with (
        unchecked(),
        pytest.raises(
            ValueError, match=r"ts: expected finite times, got nan at ts\[2\]"
        ),
    ):
        dx.simulate(NET, Y0, jnp.array([0.0, 0.1, jnp.nan, 0.3]))


def test_nan_in_traced_ts_raises_inside_jit():
    run = eqx.filter_jit(lambda ts: dx.simulate(NET, Y0, ts).ys)
    with (
        unchecked(),
        pytest.raises(eqx.EquinoxRuntimeError, match="ts: expected finite, strictly"),
    ):
        run(jnp.array([0.0, 0.1, jnp.nan, 0.3]))


def test_integer_y0_is_promoted_like_diffrax():
    """An integer y0 takes the float dtype of model.init_state(), as in diffrax."""
    y0 = jnp.array([1, 0, -1, 2])
    got = dx.simulate(NET, y0, TS).ys  # the fixed-step scan (was a carry-type error)
    want = dx.simulate(NET, y0.astype(Y0.dtype), TS).ys
    assert got.dtype == Y0.dtype
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_omitted_inputs_are_zero_input():
    """simulate documents that inputs=None drives a model with inputs by zeros."""
    u = jnp.zeros((TS.shape[0], 2))
    y = dx.simulate(NET, Y0 + 0.5, TS).ys
    np.testing.assert_array_equal(
        np.asarray(y), dx.simulate(NET, Y0 + 0.5, TS, inputs=u).ys
    )


with unchecked():  # a shape the annotation forbids, which dynax tolerates
    PER_UNIT_SIGMA = M.CTRNN(2, 4, 2, sigma_rec=jnp.full(4, 0.1), key=KEY)


@pytest.mark.parametrize(
    "model",
    [
        NET,
        PER_UNIT_SIGMA,  # per-unit values in a scalar field
        M.GRU(1, 3, 1, key=KEY),
        ESN,
        EIA,
        LIF,
        KUR,
        M.DelayedKuramoto(KUR, 0.1, dt=0.05),
        M.CoupledGradientNetwork(lambda x: jnp.sum(x**2), LAP, coupling=1.0, sigma=0.1),
    ],
    ids=lambda m: type(m).__name__,
)
def test_ensemble_rule_tells_one_network_from_a_stack(model):
    stack = jtu.tree_map(
        lambda x: jnp.stack([x, x, x]) if eqx.is_array(x) else x, model
    )
    assert check_ensemble(model, False) is None
    assert check_ensemble(stack, True) == 3
    with (
        unchecked(),
        pytest.raises(ValueError, match="ensemble: expected True for a stacked"),
    ):
        check_ensemble(stack, False)
    with (
        unchecked(),
        pytest.raises(ValueError, match="ensemble: expected False for one network"),
    ):
        check_ensemble(model, True)

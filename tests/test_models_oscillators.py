"""Kuramoto, StuartLandau and DelayedKuramoto against independent references."""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import brentq
from typecheck import unchecked

import dynax as dx
from dynax.models import (
    DelayedKuramoto,
    DenseCoupling,
    Kuramoto,
    MeanField,
    SparseCoupling,
    StuartLandau,
)

N = 7


def lorentzian_quantiles(n, gamma):
    """Deterministic frequencies: the (j - 1/2)/n quantiles of a Lorentzian."""
    j = np.arange(1, n + 1)
    return gamma * np.tan(np.pi * (j - 0.5) / n - np.pi / 2)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def weighted_graph(rng, n=N, p=0.6):
    """Directed weights in [0.2, 1.5] on a random undirected support."""
    upper = np.triu(rng.uniform(size=(n, n)) < p, k=1)
    return (upper | upper.T) * rng.uniform(0.2, 1.5, (n, n))


def np_kuramoto(omega, C, lag, theta):
    """omega_i + sum_j C_ij sin(theta_j - theta_i - lag), by brute force."""
    diff = theta[None, :] - theta[:, None] - lag
    return omega + np.sum(C * np.sin(diff), axis=1)


def np_stuart_landau(omega, C, lam, c, z):
    """The Hopf normal form with diffusive coupling, in complex arithmetic."""
    local = (lam + 1j * omega) * z - (1 + 1j * c) * np.abs(z) ** 2 * z
    return local + C @ z - C.sum(axis=1) * z


# ----------------------------------------------------------------------------------
# Closed forms


def test_lorentzian_order_parameter_matches_ott_antonsen():
    """All-to-all, Lorentzian g (gamma = 0.5, K_c = 2 gamma = 1): r = sqrt(1 - K_c/K).

    N = 2000 with quantile-sampled frequencies (no sampling noise in g), Heun with
    dt = 0.1 (Heun at dt = 0.05 gave the same averages to 2e-4, so the time-step
    error is below that), time average over t in [50, 100]. Tolerance 0.004: the
    temporal fluctuation of r is ~0.3/sqrt(N) = 0.007 with a correlation time of
    order 1, so the 50-unit average has a standard error ~0.001; the measured
    finite-N offset at N = 2000 is <= 0.001 (0.7061 at K = 2 with Euler dt = 0.01
    in the notes, 0.7068 here); 0.004 covers both with margin. Since dr/dK =
    K_c / (2 r K^2) = 0.18 at K = 2, it rejects an error of more than ~1% in the
    scale of the coupling (a 1/(N-1) slip is 0.05% at this N: the package test
    below, with N = 50, is the one that pins the exact normalisation).
    Below K_c the incoherent state has <r^2> = 1/(N (1 - K/K_c)) from finite-size
    noise alone (linear theory, e.g. Hildebrand et al. 2007, PRL 98:054101).
    """
    n, gamma = 2000, 0.5
    omega = jnp.asarray(lorentzian_quantiles(n, gamma))
    ks = jnp.array([0.5, 1.5, 2.0, 4.0])
    ens = eqx.filter_vmap(lambda k: Kuramoto(omega, k))(ks)
    theta0 = np.random.default_rng(3).uniform(0.0, 2 * np.pi, n)
    ts = jnp.linspace(0.0, 100.0, 1001)
    ys = dx.simulate(ens, theta0, ts, solver=diffrax.Heun(), ensemble=True).ys
    r, _ = dx.analysis.order_parameter(ys[:, 500:])
    mean_r = np.asarray(jnp.mean(r, axis=1))
    theory = np.sqrt(1.0 - 2 * gamma / np.asarray(ks[1:]))
    np.testing.assert_allclose(mean_r[1:], theory, rtol=0, atol=0.004)
    mean_r2 = float(jnp.mean(r[0] ** 2))
    assert mean_r2 < 3.0 / (n * (1.0 - float(ks[0]) / (2 * gamma)))
    assert mean_r[0] < 0.1 * theory[0]


def test_two_oscillators_lock_iff_gap_below_twice_coupling():
    """C = [[0, K], [K, 0]]: d(delta)/dt = dw - 2K sin(delta).

    Locked (|dw| <= 2K): delta -> arcsin(dw / 2K). Drifting: delta grows by 2 pi
    every 2 pi / sqrt(dw^2 - 4K^2) (the closed-form period of the Adler equation).
    """
    k = 0.5
    gaps = jnp.array([0.9, 0.99, 1.01, 1.1]) * 2 * k
    coupling = jnp.array([[0.0, k], [k, 0.0]])
    ens = eqx.filter_vmap(lambda g: Kuramoto(jnp.stack([g / 2, -g / 2]), coupling))(
        gaps
    )
    ts = jnp.linspace(0.0, 400.0, 8001)
    ys = dx.simulate(ens, jnp.zeros(2), ts, solver=diffrax.Tsit5(), ensemble=True).ys
    delta = np.asarray(ys[:, :, 0] - ys[:, :, 1])
    t = np.asarray(ts)
    for i, g in enumerate(np.asarray(gaps)):
        if g <= 2 * k:
            np.testing.assert_allclose(delta[i, -1], np.arcsin(g / (2 * k)), atol=1e-8)
            assert np.ptp(delta[i, -1000:]) < 1e-8
        else:
            # Crossing times of delta = pi + 2 pi m (delta increases monotonically).
            levels = np.pi + 2 * np.pi * np.arange(1, int(delta[i, -1] / (2 * np.pi)))
            crossings = np.interp(levels, delta[i], t)
            period = np.mean(np.diff(crossings))
            want = 2 * np.pi / np.sqrt(g**2 - 4 * k**2)
            assert len(levels) >= 3
            np.testing.assert_allclose(period, want, rtol=1e-4)


def test_phase_noise_decoheres_as_brownian_motion(getkey):
    """K = 0: theta_i(t) = omega t + sigma W_i(t), so E r(t) -> exp(-sigma^2 t / 2).

    Euler-Maruyama is exact in law for additive noise without drift dependence.
    With n = 20000 the standard error of r(t) is below sqrt(1/(2n)) = 0.005;
    tolerance 0.02 = 4 standard errors.
    """
    n, sigma = 20000, 0.5
    model = Kuramoto(jnp.ones(n), 0.0, sigma=sigma)
    ts = jnp.linspace(0.0, 4.0, 41)
    ys = dx.simulate(model, model.init_state(), ts, key=getkey()).ys
    r, psi = dx.analysis.order_parameter(ys)
    np.testing.assert_allclose(r, np.exp(-(sigma**2) * np.asarray(ts) / 2), atol=0.02)
    np.testing.assert_allclose(np.unwrap(psi), ts, atol=0.05)
    plain = dx.simulate(model, model.init_state(), ts).ys  # no key: no noise
    np.testing.assert_allclose(plain, np.broadcast_to(ts[:, None], plain.shape))


def test_stuart_landau_limit_cycle_radius_and_frequency():
    """Uncoupled: |z| -> sqrt(lam), phase velocity omega - c lam (shear c)."""
    omega = jnp.array([1.0, 2.0, -0.5])
    lam, shear = jnp.array([0.5, 1.0, 2.0]), 0.3
    model = StuartLandau(omega, 0.0, lam=lam, shear=shear)
    z0 = jnp.array([[0.1, 0.0], [0.0, 3.0], [1.0, 1.0]])
    ts = jnp.linspace(0.0, 30.0, 3001)
    ys = dx.simulate(model, z0, ts, solver=diffrax.Tsit5()).ys
    ys = np.asarray(ys)
    z = ys[:, :, 0] + 1j * ys[:, :, 1]
    np.testing.assert_allclose(np.abs(z[-1]), np.sqrt(lam), rtol=1e-8)
    phase = np.unwrap(np.angle(z[-1001:]), axis=0)
    speed = (phase[-1] - phase[0]) / 10.0
    np.testing.assert_allclose(speed, omega - shear * lam, rtol=1e-8)
    # The default start sits on the in-phase cycle.
    np.testing.assert_allclose(model.init_state()[:, 0], np.sqrt(lam))


# ----------------------------------------------------------------------------------
# Layouts agree; NumPy references


def three_layouts(cls, rng, **kw):
    """The same coupling as dense, sparse and (for the column-constant part) MF."""
    omega = jnp.asarray(np.linspace(-1.0, 1.3, N))
    C = jnp.asarray(weighted_graph(rng))
    s, r, w = dx.models.edges_from_adjacency(C)
    k_i = jnp.linspace(0.5, 2.0, N)
    return (
        cls(omega, C, **kw),
        cls(omega, w, edges=(s, r), **kw),
        cls(omega, k_i, **kw),
        cls(omega, jnp.broadcast_to(k_i[:, None] / N, (N, N)), **kw),
    )


@pytest.mark.parametrize("cls", [Kuramoto, StuartLandau])
def test_mean_field_and_sparse_equal_dense(cls, rng):
    kw = dict(lag=0.4) if cls is Kuramoto else dict(shear=0.7, lam=0.8)
    dense, sparse, mean_field, mf_dense = three_layouts(cls, rng, **kw)
    assert isinstance(dense.coupling, DenseCoupling)
    assert isinstance(sparse.coupling, SparseCoupling)
    assert isinstance(mean_field.coupling, MeanField)
    shape = (N,) if cls is Kuramoto else (N, 2)
    y = jnp.asarray(2.0 * rng.normal(size=shape))
    np.testing.assert_allclose(sparse(0.0, y, None), dense(0.0, y, None), rtol=1e-12)
    np.testing.assert_allclose(
        mean_field(0.0, y, None), mf_dense(0.0, y, None), rtol=1e-12, atol=1e-14
    )
    jaxpr = jax.make_jaxpr(lambda y: mean_field(0.0, y, None))(y)
    shapes = [v.aval.shape for eqn in jaxpr.eqns for v in eqn.outvars]
    assert (N, N) not in shapes  # the all-to-all path never forms an N x N array


def test_kuramoto_matches_numpy_euler_loop(rng):
    omega = np.linspace(-1.0, 1.3, N)
    C = weighted_graph(rng)
    lag, dt, steps = 0.3, 0.02, 200
    theta0 = rng.uniform(0, 2 * np.pi, N)
    theta = theta0.copy()
    for _ in range(steps):
        theta = theta + dt * np_kuramoto(omega, C, lag, theta)
    model = Kuramoto(omega, C, lag=lag)
    ts = jnp.arange(steps + 1.0) * dt
    ys = dx.simulate(model, theta0, ts).ys
    assert np.max(np.abs(theta - theta0)) > 0.5
    np.testing.assert_allclose(ys[-1], theta, rtol=1e-11, atol=1e-11)


def test_stuart_landau_matches_numpy_euler_loop(rng):
    omega = np.linspace(0.5, 1.5, N)
    C = weighted_graph(rng)
    lam, shear, dt, steps = np.linspace(-0.5, 1.0, N), 0.6, 0.01, 300
    z0 = rng.normal(size=(N, 2))
    z = z0[:, 0] + 1j * z0[:, 1]
    for _ in range(steps):
        z = z + dt * np_stuart_landau(omega, C, lam, shear, z)
    model = StuartLandau(omega, C, lam=lam, shear=shear)
    ys = dx.simulate(model, z0, jnp.arange(steps + 1.0) * dt).ys
    got = np.asarray(ys[-1])
    np.testing.assert_allclose(got[:, 0] + 1j * got[:, 1], z, rtol=1e-11)


# ----------------------------------------------------------------------------------
# Delays


def test_zero_delays_equal_no_delays(rng):
    omega = jnp.asarray(np.linspace(-1.0, 1.3, N))
    C = jnp.asarray(weighted_graph(rng))
    s, r, w = dx.models.edges_from_adjacency(C)
    theta0 = jnp.asarray(rng.uniform(0, 2 * np.pi, N))
    dt, steps = 0.02, 100
    ts = jnp.arange(steps + 1.0) * dt
    cases = [
        (Kuramoto(omega, C, lag=0.2), jnp.zeros((N, N))),
        (Kuramoto(omega, w, lag=0.2, edges=(s, r)), jnp.zeros(w.shape)),
        (Kuramoto(omega, 1.7, lag=0.2), 0.0),
    ]
    for plain, delays in cases:
        delayed = DelayedKuramoto(plain, delays, dt=dt)
        assert delayed.n_lags == 1
        want = dx.simulate(plain, theta0, ts).ys
        got = dx.simulate(delayed, delayed.history_state(theta0), ts).outputs
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)


def test_delayed_pair_rotates_at_yeung_strogatz_frequency():
    """Identical pair, delay tau: in phase at Omega = omega - K sin(Omega tau).

    The in-phase solution theta = Omega t also solves the Euler map exactly when tau
    is a whole number of steps, so the only error is the decaying transient.
    """
    omega, k, tau, dt = 1.0, 1.0, 0.5, 0.01
    model = Kuramoto(jnp.full(2, omega), jnp.array([[0.0, k], [k, 0.0]]))
    delayed = DelayedKuramoto(model, tau, dt=dt, n_substeps=10)
    ts = jnp.arange(601.0) * 0.1
    out = dx.simulate(delayed, delayed.history_state(jnp.array([0.0, 0.5])), ts)
    theta = np.asarray(out.outputs)
    speed = (theta[-1] - theta[-101]) / 10.0
    want = brentq(lambda w: w - omega + k * np.sin(w * tau), 0.0, 2.0)
    np.testing.assert_allclose(speed, [want, want], rtol=1e-9)
    assert abs(theta[-1, 0] - theta[-1, 1]) < 1e-9
    assert abs(want - omega) > 0.3  # the delay matters


def np_delayed(omega, C, lag, lags, theta0, dt, steps):
    """Euler with a full history array; lags[i, j] in steps; constant past."""
    hist = [theta0.copy()]
    n = len(omega)
    for k in range(steps):
        theta = hist[-1]
        src = np.array(
            [[hist[max(k - lags[i, j], 0)][j] for j in range(n)] for i in range(n)]
        )
        drift = omega + np.sum(C * np.sin(src - theta[:, None] - lag), axis=1)
        hist.append(theta + dt * drift)
    return np.array(hist)


def test_heterogeneous_delays_match_numpy(rng):
    omega = np.linspace(-1.0, 1.3, N)
    C = weighted_graph(rng)
    dt, steps, lag = 0.05, 120, 0.25
    lags = rng.integers(0, 9, (N, N))
    theta0 = rng.uniform(0, 2 * np.pi, N)
    want = np_delayed(omega, C, lag, lags, theta0, dt, steps)
    ts = jnp.arange(steps + 1.0) * dt
    s, r, w = dx.models.edges_from_adjacency(C)
    per_sender = np.broadcast_to(lags[0], (N, N))
    k_i = np.linspace(0.5, 2.0, N)
    cases = [
        (Kuramoto(omega, C, lag=lag), lags * dt, lags),
        (Kuramoto(omega, w, lag=lag, edges=(s, r)), lags[r, s] * dt, lags),
        (Kuramoto(omega, C, lag=lag), lags[0] * dt, per_sender),
        (Kuramoto(omega, k_i, lag=lag), lags[0] * dt, per_sender),
    ]
    for i, (model, delays, full_lags) in enumerate(cases):
        coupling = C if i < 3 else np.broadcast_to(k_i[:, None] / N, (N, N))
        if i >= 2:
            want = np_delayed(omega, coupling, lag, full_lags, theta0, dt, steps)
        delayed = DelayedKuramoto(model, delays, dt=dt)
        got = dx.simulate(delayed, delayed.history_state(theta0), ts).outputs
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-11)


# ----------------------------------------------------------------------------------
# Transformations: vmap, jit, grad, float32

KINDS = ["dense", "sparse", "mean_field", "stuart_landau", "delayed"]
GRAD_FIELD = {
    "dense": lambda m: m.coupling.weights,
    "sparse": lambda m: m.coupling.weights,
    "mean_field": lambda m: m.omega,
    "stuart_landau": lambda m: m.coupling.weights,
    "delayed": lambda m: m.kuramoto.coupling.weights,
}


def make(kind, seed, dtype=jnp.float64):
    """A model with non-trivial parameters and a state to evaluate it at.

    The graph is the same for every seed (ensembles stack members of one layout).
    """
    fixed, rng = np.random.default_rng(7), np.random.default_rng(seed)
    C = jnp.asarray(weighted_graph(fixed), dtype)
    omega = jnp.asarray(rng.normal(size=N), dtype)
    y = jnp.asarray(rng.uniform(0, 2 * np.pi, N), dtype)
    if kind == "dense":
        return Kuramoto(omega, C, lag=0.3, sigma=0.2), y
    if kind == "sparse":
        s, r, w = dx.models.edges_from_adjacency(C)
        return Kuramoto(omega, w, lag=0.3, sigma=0.1, edges=(s, r)), y
    if kind == "mean_field":
        return Kuramoto(omega, jnp.asarray(1.5, dtype), lag=0.2, sigma=0.3), y
    if kind == "stuart_landau":
        model = StuartLandau(omega, C, lam=0.5, shear=0.4, sigma=0.1)
        return model, jnp.stack([jnp.cos(y), jnp.sin(y)], axis=1)
    delays = jnp.asarray(fixed.integers(0, 4, (N, N)) * 0.1, dtype)
    model = DelayedKuramoto(Kuramoto(omega, C, lag=0.3), delays, dt=0.1)
    hist = jnp.cumsum(jnp.ones((model.n_lags, N), dtype) * 0.1, axis=0) + y[None]
    return model, model.history_state(hist)


def evaluate(model, y):
    if isinstance(model, DelayedKuramoto):
        return (model(0.0, y, None).history,)
    return model(0.0, y, None), model.diffusion(0.0, y, None)


def rollout_loss(model, y, steps=12, dt=0.05):
    def step(_, y):
        if isinstance(model, DelayedKuramoto):
            return model(0.0, y, None)
        return y + dt * model(0.0, y, None)

    y = jax.lax.fori_loop(0, steps, step, y)
    y = y.current if isinstance(model, DelayedKuramoto) else y
    return jnp.sum(jnp.sin(y) ** 2)


@pytest.mark.parametrize("kind", KINDS)
def test_vmap_ensemble_equals_loop(kind):
    models, states = zip(*(make(kind, seed) for seed in range(3)), strict=True)
    ens = jax.tree.map(lambda *xs: jnp.stack(xs), *models)
    ys = jax.tree.map(lambda *xs: jnp.stack(xs), *states)
    batched = eqx.filter_jit(eqx.filter_vmap(evaluate))(ens, ys)
    single = eqx.filter_jit(evaluate)
    for i in range(3):
        for got, want in zip(batched, single(models[i], states[i]), strict=True):
            np.testing.assert_allclose(got[i], want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", KINDS)
def test_jit_equals_no_jit(kind):
    model, y = make(kind, 1)
    for got, want in zip(
        eqx.filter_jit(evaluate)(model, y), evaluate(model, y), strict=True
    ):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("kind", KINDS)
def test_grad_matches_finite_differences(kind):
    model, y = make(kind, 2)
    where = GRAD_FIELD[kind]
    p = where(model)

    def loss(q):
        return rollout_loss(eqx.tree_at(where, model, q), y)

    flat, eps = p.reshape(-1), 1e-6
    basis = eps * jnp.eye(flat.size, dtype=p.dtype)

    @jax.jit
    def grad_and_fd(p):
        f = jax.vmap(lambda e: loss((flat + e).reshape(p.shape)))
        return jax.grad(loss)(p), ((f(basis) - f(-basis)) / (2 * eps)).reshape(p.shape)

    grad, fd = grad_and_fd(p)
    assert np.max(np.abs(grad)) > 1e-3
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("kind", KINDS)
def test_float32_stays_float32(kind, getkey):
    """Parameters, vector fields and (for one flow and the map) simulate stay f32."""
    model, y = make(kind, 3, dtype=jnp.float32)
    leaves = jax.tree.leaves(eqx.filter(model, eqx.is_inexact_array))
    assert {leaf.dtype for leaf in leaves} == {jnp.dtype(jnp.float32)}
    outs = evaluate(model, y) + eqx.filter_jit(evaluate)(model, y)
    assert all(o.dtype == jnp.float32 for o in outs)
    if kind in ("dense", "delayed"):
        ts = jnp.linspace(0.0, 0.3, 4, dtype=jnp.float32)
        traj = dx.simulate(model, y, ts, key=getkey())
        assert jax.tree.leaves(traj.ys)[0].dtype == jnp.float32


# ----------------------------------------------------------------------------------
# Side by side with the `kuramoto` package (PyPI, 0.4)


@pytest.mark.parametrize("graph", ["all_to_all", "directed"])
def test_matches_kuramoto_package(graph):
    """Same phases, frequencies, coupling: the order-parameter trajectories agree.

    The package integrates dtheta_i = omega_i + (K / M_i) sum_j A_ji sin(theta_j -
    theta_i) (A[sender, receiver], M_i = number of non-zero entries in column i;
    read from kuramoto/kuramoto.py) with scipy's odeint (LSODA, rtol = atol =
    1.49e-8) on t = linspace(0, T, int(T / dt)). dynax takes fixed Tsit5 steps on
    that same grid (local error ~h^5 = 1e-10). Measured differences: 3e-8 in r,
    1e-6 in the phases (odeint's tolerance accumulated over 1000 outputs); the
    tolerances below are ~10x those, and a transposed or K/N-instead-of-K/M_i
    convention changes r by more than 1e-2.
    """
    kuramoto = pytest.importorskip("kuramoto")
    rng = np.random.default_rng(0)
    n, k = 50, 1.8
    omega, theta0 = rng.normal(size=n), rng.uniform(0, 2 * np.pi, n)
    if graph == "all_to_all":
        adj = np.ones((n, n))  # self-loops add sin(0) = 0 and make M_i = n: K/N
        model = Kuramoto(omega, k)
    else:
        adj = (rng.uniform(size=(n, n)) < 0.3).astype(float)
        np.fill_diagonal(adj, 0.0)
        in_degree = np.maximum((adj != 0).sum(axis=0), 1)
        model = Kuramoto(omega, k * adj.T / in_degree[:, None])
    peer = kuramoto.Kuramoto(coupling=k, dt=0.01, T=10, natfreqs=omega)
    act = peer.run(adj_mat=adj, angles_vec=theta0)  # (n, time)
    ts = jnp.linspace(0.0, 10.0, act.shape[1])
    ys = dx.simulate(model, jnp.asarray(theta0), ts, solver=diffrax.Tsit5()).ys
    r, _ = dx.analysis.order_parameter(ys)
    r_peer = np.abs(np.exp(1j * act).mean(axis=0))
    assert r_peer[-1] - r_peer[0] > 0.3  # it synchronises: a non-trivial trajectory
    np.testing.assert_allclose(r, r_peer, rtol=0, atol=3e-7)
    np.testing.assert_allclose(np.asarray(ys).T, act, rtol=0, atol=1e-5)


# ----------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(omega=np.zeros((2, 2))), "omega: expected a 1-d array"),
        (dict(coupling=np.ones((5, 4))), r"coupling: expected a square \(n, n\)"),
        (
            dict(omega=np.zeros(4)),
            r"coupling: expected an \(n, n\) matrix with n = len\(omega\) = 4",
        ),
        (dict(coupling=np.ones(3)), "coupling: expected a scalar or shape"),
        (dict(sigma=-0.1), r"sigma: expected (a value|every element) >= 0"),
        (dict(sigma=np.ones(3)), "sigma: expected a scalar or shape"),
        (dict(lag=np.ones(5)), "lag: expected a scalar"),
        (dict(edges=(np.array([0, 5]), np.array([1, 2]))), r"edges: .* in \[0, 5\)"),
        (dict(edges=(np.array([0, 1]), np.array([1]))), "edges: .* equal length"),
        (dict(edges=(np.array([0.0]), np.array([1.0]))), "edges: expected integer"),
        (dict(edges=np.array([0, 1])), "edges: expected a tuple"),
        (
            dict(edges=(np.array([0, 1]), np.array([1, 2]))),
            "coupling: expected a scalar or one weight per edge",
        ),
    ],
)
@pytest.mark.parametrize("cls", [Kuramoto, StuartLandau])
def test_oscillator_errors(cls, kwargs, match):
    kwargs = dict(omega=np.zeros(5), coupling=np.ones((5, 5))) | kwargs
    if "edges" in kwargs and "one weight per edge" not in match:
        kwargs["coupling"] = 1.0
    if cls is StuartLandau and "lag" in kwargs:
        kwargs["shear"] = kwargs.pop("lag")
        match = match.replace("lag", "shear")
    if cls is StuartLandau and "sigma" in kwargs and np.ndim(kwargs["sigma"]):
        match = "sigma: expected a scalar"
    omega, coupling = kwargs.pop("omega"), kwargs.pop("coupling")
    with unchecked(), pytest.raises(ValueError, match=match):
        cls(omega, coupling, **kwargs)


@pytest.mark.parametrize(
    "delays, kwargs, match",
    [
        (-0.1, {}, r"delays: expected (a value|every element) >= 0"),
        (np.full((5, 5), -0.2), {}, r"delays: expected (a value|every element) >= 0"),
        (np.zeros(3), {}, r"delays: with a DenseCoupling expected .* \(5, 5\)"),
        (0.1, dict(dt=0.0), "dt: expected a number > 0"),
        (0.1, dict(n_substeps=0), "n_substeps: expected an integer >= 1"),
        (0.5, dict(max_delay=0.2), "delays: expected delays <= max_delay"),
    ],
)
def test_delayed_errors(delays, kwargs, match):
    kwargs = dict(dt=0.1) | kwargs
    with unchecked(), pytest.raises(ValueError, match=match):
        DelayedKuramoto(Kuramoto(np.zeros(5), np.ones((5, 5))), delays, **kwargs)


def test_delayed_rejects_noise_and_bad_history():
    with (
        unchecked(),
        pytest.raises(
            ValueError,
            match=r"kuramoto: expected sigma = 0 \(DelayedKuramoto is deterministic\)",
        ),
    ):
        DelayedKuramoto(Kuramoto(np.zeros(3), 1.0, sigma=0.1), 0.1, dt=0.1)
    model = DelayedKuramoto(Kuramoto(np.zeros(3), 1.0), 0.2, dt=0.1)
    with (
        unchecked(),
        pytest.raises(ValueError, match=r"theta: expected shape \(3,\) or \(3, 3\)"),
    ):
        model.history_state(np.zeros(4))


def test_delays_swept_with_vmap_need_max_delay():
    base = Kuramoto(jnp.linspace(-0.5, 0.5, 4), 1.2)
    delays = jnp.array([0.0, 0.2, 0.4])
    with (
        unchecked(),
        pytest.raises(
            ValueError,
            match="max_delay: expected the longest delay of any member when the delays "
            "are traced",
        ),
    ):
        eqx.filter_vmap(lambda d: DelayedKuramoto(base, d, dt=0.1))(delays)
    ens = eqx.filter_vmap(lambda d: DelayedKuramoto(base, d, dt=0.1, max_delay=0.4))(
        delays
    )
    theta0 = jnp.array([0.0, 1.0, 2.0, 3.0])
    ts = jnp.arange(21.0) * 0.1
    run = eqx.filter_vmap(lambda m: dx.simulate(m, m.history_state(theta0), ts).outputs)
    got = run(ens)
    for i, d in enumerate(np.asarray(delays)):
        one = DelayedKuramoto(base, float(d), dt=0.1, max_delay=0.4)
        want = dx.simulate(one, one.history_state(theta0), ts).outputs
        np.testing.assert_allclose(got[i], want, rtol=1e-13)
    assert not np.allclose(got[0], got[2])
    with (
        unchecked(),
        pytest.raises(Exception, match="delays: expected delays <= max_delay"),
    ):
        eqx.filter_vmap(lambda d: DelayedKuramoto(base, d, dt=0.1, max_delay=0.2))(
            delays
        )

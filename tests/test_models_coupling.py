"""Coupling classes (MeanField, DenseCoupling, SparseCoupling) against NumPy."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from typecheck import unchecked

import dynax as dx
from dynax.analysis import laplacian
from dynax.models import (
    AbstractCoupling,
    CoupledGradientNetwork,
    DelayedKuramoto,
    DenseCoupling,
    Kuramoto,
    MeanField,
    SparseCoupling,
    StuartLandau,
    ring_graph,
)

N = 6


def directed_graph(seed, n=N, p=0.5):
    """Weights in [-0.5, 1.5] (some repulsive) on a random directed support."""
    rng = np.random.default_rng(seed)
    mask = rng.uniform(size=(n, n)) < p
    np.fill_diagonal(mask, False)
    return mask * rng.uniform(-0.5, 1.5, (n, n))


def couplings(seed=0):
    """The three layouts with their dense matrices C (row = receiver)."""
    C = directed_graph(seed)
    k_i = np.linspace(0.5, 2.0, N)
    return [
        (MeanField(jnp.asarray(k_i), N), np.broadcast_to(k_i[:, None] / N, (N, N))),
        (MeanField(1.7, N), np.full((N, N), 1.7 / N)),
        (DenseCoupling(jnp.asarray(C)), C),
        (SparseCoupling.from_adjacency(C), C),
    ]


@pytest.mark.parametrize("i", range(4))
def test_terms_match_numpy(i):
    coupling, C = couplings()[i]
    rng = np.random.default_rng(1)
    x = rng.normal(size=(N, 3))
    theta, phi, lag = rng.uniform(0, 6, N), rng.uniform(0, 6, N), 0.4
    np.testing.assert_allclose(coupling.matrix(), C, rtol=1e-15)
    np.testing.assert_allclose(coupling.aggregate(jnp.asarray(x)), C @ x, rtol=1e-12)
    diffusive = C @ x - C.sum(axis=1)[:, None] * x
    np.testing.assert_allclose(
        coupling.diffusive(jnp.asarray(x)), diffusive, rtol=1e-12
    )
    lap = np.diag(C.sum(axis=1)) - C
    np.testing.assert_allclose(coupling.laplacian(), lap, rtol=1e-14, atol=1e-15)
    want = np.sum(C * np.sin(phi[None, :] - theta[:, None] - lag), axis=1)
    got = coupling.phase_interaction(jnp.asarray(theta), jnp.asarray(phi), lag)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    g = rng.normal(size=(N, N))  # g[i, j]: a term on the connection j -> i
    summed = coupling.connection_sum(lambda s, r: jnp.asarray(g)[r, s])
    np.testing.assert_allclose(summed, np.sum(C * g, axis=1), rtol=1e-12, atol=1e-14)


def test_models_accept_objects_and_arrays_alike():
    C = directed_graph(2)
    omega = jnp.linspace(-1.0, 1.0, N)
    s, r, w = dx.models.edges_from_adjacency(C)
    theta = jnp.asarray(np.random.default_rng(3).uniform(0, 6, N))
    z = jnp.stack([jnp.cos(theta), 0.5 * jnp.sin(theta)], axis=1)
    pairs = [
        (MeanField(2.0, N), 2.0),
        (DenseCoupling(C), C),
        (SparseCoupling.from_adjacency(C), dict(coupling=w, edges=(s, r))),
    ]
    for obj, arrays in pairs:
        kw = arrays if isinstance(arrays, dict) else dict(coupling=arrays)
        a, b = Kuramoto(omega, obj, lag=0.3), Kuramoto(omega, lag=0.3, **kw)
        assert type(a.coupling) is type(b.coupling)
        np.testing.assert_allclose(a(0.0, theta, None), b(0.0, theta, None))
        a, b = StuartLandau(omega, obj), StuartLandau(omega, **kw)
        np.testing.assert_allclose(a(0.0, z, None), b(0.0, z, None))


def test_strength_sweep_is_a_vmap_without_recompiling():
    """MeanField strengths are array leaves: vmap over them, and one trace for all."""
    omega = jnp.linspace(-0.5, 0.5, N)
    theta0 = jnp.linspace(0.0, 3.0, N)
    ts = jnp.linspace(0.0, 2.0, 21)
    ks = jnp.array([0.0, 1.0, 4.0])

    @eqx.filter_jit
    @eqx.debug.assert_max_traces(max_traces=1)
    def run(model):
        return dx.simulate(model, theta0, ts).ys

    singles = [run(Kuramoto(omega, MeanField(k, N))) for k in ks]
    ens = eqx.filter_vmap(lambda k: Kuramoto(omega, MeanField(k, N)))(ks)
    batched = dx.simulate(ens, theta0, ts, ensemble=True).ys
    for i in range(3):
        np.testing.assert_allclose(batched[i], singles[i], rtol=1e-13)
    assert not np.allclose(singles[0], singles[2])


def test_grad_in_mean_field_strength_matches_finite_differences():
    omega = jnp.linspace(-0.5, 0.5, N)
    theta0 = jnp.linspace(0.0, 3.0, N)

    def loss(k):
        model = Kuramoto(omega, MeanField(k, N), lag=0.2)
        y = jax.lax.fori_loop(
            0, 20, lambda _, y: y + 0.05 * model(0.0, y, None), theta0
        )
        return jnp.sum(jnp.cos(y))

    k, eps = jnp.asarray(1.3), 1e-6
    grad = jax.jit(jax.grad(loss))(k)
    fd = (loss(k + eps) - loss(k - eps)) / (2 * eps)
    assert abs(float(grad)) > 1e-3
    np.testing.assert_allclose(grad, fd, rtol=1e-6)


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


def test_delays_per_connection_and_per_receiver_match_numpy():
    """Delays broadcast to the coupling's connections: per pair for the mean field
    (summed pair by pair), per receiver (n, 1) and per edge (E,)."""
    rng = np.random.default_rng(4)
    omega, theta0 = np.linspace(-1.0, 1.0, N), rng.uniform(0, 6, N)
    dt, steps, lag = 0.05, 60, 0.25
    C = directed_graph(5)
    k_i = np.linspace(0.5, 2.0, N)
    pair_lags = rng.integers(0, 6, (N, N))
    row_lags = np.broadcast_to(pair_lags[:, :1], (N, N))
    sparse = SparseCoupling.from_adjacency(C)
    s, r = np.asarray(sparse.senders), np.asarray(sparse.receivers)
    cases = [
        (MeanField(k_i, N), np.broadcast_to(k_i[:, None] / N, (N, N)), pair_lags),
        (DenseCoupling(C), C, row_lags, pair_lags[:, :1]),
        (sparse, C, pair_lags, pair_lags[r, s]),
    ]
    for case in cases:
        coupling, matrix, full = case[:3]
        delays = (case[3] if len(case) > 3 else full) * dt
        model = DelayedKuramoto(Kuramoto(omega, coupling, lag=lag), delays, dt=dt)
        ts = jnp.arange(steps + 1.0) * dt
        got = dx.simulate(model, model.history_state(theta0), ts).outputs
        assert got is not None
        want = np_delayed(omega, matrix, lag, full, theta0, dt, steps)
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-11)


def test_gradient_network_takes_a_sparse_graph():
    A = np.array(ring_graph(7))
    A[0, 3] = A[3, 0] = 2.5  # a weighted chord
    f = lambda x: 0.5 * jnp.sum(x**2)  # noqa: E731
    dense = CoupledGradientNetwork(f, laplacian(A), coupling=1.5, sigma=0.1, dim=2)
    sparse = CoupledGradientNetwork(
        f, SparseCoupling.from_adjacency(A), coupling=1.5, sigma=0.1, dim=2
    )
    assert isinstance(dense.graph, DenseCoupling)
    np.testing.assert_allclose(sparse.laplacian, laplacian(A), rtol=1e-15)
    np.testing.assert_allclose(dense.laplacian, laplacian(A), rtol=1e-15)
    x = jnp.asarray(np.random.default_rng(6).normal(size=(7, 2)))
    want = -np.asarray(x) - 1.5 * np.asarray(laplacian(A)) @ np.asarray(x)
    np.testing.assert_allclose(sparse(0.0, x, None), want, rtol=1e-12)
    np.testing.assert_allclose(dense(0.0, x, None), want, rtol=1e-12)
    directed = A.copy()
    directed[1, 2] = 0.0
    with unchecked(), pytest.raises(ValueError, match="laplacian: .* not symmetric"):
        CoupledGradientNetwork(
            f, SparseCoupling.from_adjacency(directed), coupling=1.0, sigma=0.1
        )
    with unchecked(), pytest.raises(ValueError, match="negative edge weight"):
        CoupledGradientNetwork(f, DenseCoupling(-A), coupling=1.0, sigma=0.1)


def test_float_dtypes():
    C32 = jnp.asarray(directed_graph(0), jnp.float32)
    assert DenseCoupling(C32).weights.dtype == jnp.float32
    assert MeanField(jnp.float32(1.0), N).strength.dtype == jnp.float32
    assert SparseCoupling.from_adjacency(C32).weights.dtype == jnp.float32
    assert MeanField(1.0, N, dtype=jnp.float32).strength.dtype == jnp.float32
    # A model casts a coupling object to its own dtype (that of omega).
    model = Kuramoto(jnp.zeros(N, jnp.float32), DenseCoupling(directed_graph(0)))
    assert model.coupling.weights.dtype == jnp.float32  # pyright: ignore
    sparse = Kuramoto(jnp.zeros(N, jnp.float32), SparseCoupling.from_adjacency(C32))
    assert sparse.coupling.senders.dtype == jnp.int32  # pyright: ignore
    theta = jnp.zeros(N, jnp.float32)
    assert sparse(0.0, theta, None).dtype == jnp.float32


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: MeanField(np.ones(3), 5), r"strength: expected a scalar or shape"),
        (lambda: MeanField(1.0, 0), "n: expected an integer >= 1"),
        (lambda: DenseCoupling(np.ones((2, 3))), r"weights: expected a square"),
        (
            lambda: SparseCoupling(np.array([0, 4]), np.array([1, 2]), 1.0, 4),
            r"senders, receivers: expected node indices in \[0, 4\)",
        ),
        (
            lambda: SparseCoupling(np.array([0.0]), np.array([1]), 1.0, 4),
            "senders, receivers: expected integer",
        ),
        (
            lambda: SparseCoupling(np.array([0, 1]), np.array([1, 2]), np.ones(3), 4),
            r"weights: expected a scalar or one weight per edge, shape \(2,\)",
        ),
        (
            lambda: Kuramoto(np.zeros(5), MeanField(1.0, 4)),
            "coupling: expected a coupling of n = len.omega. = 5 nodes",
        ),
        (
            lambda: Kuramoto(
                np.zeros(3),
                DenseCoupling(np.ones((3, 3))),
                edges=(np.array([0]), np.array([1])),
            ),
            "edges: expected None",
        ),
        (lambda: SparseCoupling.from_adjacency(np.ones(3)), "A: expected a square"),
    ],
)
def test_errors(make, match):
    with unchecked(), pytest.raises(ValueError, match=match):
        make()


def test_abstract_coupling_is_abstract():
    with unchecked(), pytest.raises(TypeError):
        AbstractCoupling()  # pyright: ignore

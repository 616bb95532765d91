"""dynax.analysis synchrony tools: Laplacians, consensus noise, phases, CTM."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
import scipy.signal
from typecheck import unchecked

import dynax as dx
from dynax.analysis import (
    algebraic_connectivity,
    analytic_signal,
    consensus_noise,
    instantaneous_phase,
    kirchhoff_index,
    laplacian,
    laplacian_spectrum,
    order_parameter,
    phase_locking_value,
    sync_error,
    synchronization_matrix,
    synchronization_series,
)
from dynax.models import complete_graph, path_graph, ring_graph, watts_strogatz_graph


def random_symmetric_graph(seed, n=8, p=0.6):
    """Symmetric weights in [0.5, 2] on a random support (NumPy, no JAX)."""
    rng = np.random.default_rng(seed)
    upper = np.triu(rng.uniform(size=(n, n)) < p, k=1) * rng.uniform(0.5, 2.0, (n, n))
    return upper + upper.T


# ----------------------------------------------------------------------------------
# Laplacians and spectra


@pytest.mark.parametrize("n", [9, 10])
def test_spectra_of_ring_path_and_complete_graphs(n):
    m = np.arange(n)
    ring = np.sort(2 - 2 * np.cos(2 * np.pi * m / n))
    path = np.sort(2 - 2 * np.cos(np.pi * m / n))
    complete = np.r_[0.0, np.full(n - 1, float(n))]
    for A, want in [(ring_graph(n), ring), (path_graph(n), path)]:
        np.testing.assert_allclose(laplacian_spectrum(A), want, atol=1e-12)
    np.testing.assert_allclose(
        laplacian_spectrum(complete_graph(n)), complete, atol=1e-12
    )
    np.testing.assert_allclose(
        laplacian_spectrum(ring_graph(n), normalized=True), ring / 2, atol=1e-12
    )
    np.testing.assert_allclose(
        laplacian_spectrum(complete_graph(n), normalized=True),
        np.r_[0.0, np.full(n - 1, n / (n - 1))],
        atol=1e-12,
    )
    np.testing.assert_allclose(
        algebraic_connectivity(ring_graph(n)), 2 - 2 * np.cos(2 * np.pi / n)
    )
    # Kirchhoff index = sum of resistance distances over pairs (Klein & Randic).
    np.testing.assert_allclose(kirchhoff_index(ring_graph(n)), (n**3 - n) / 12)
    np.testing.assert_allclose(kirchhoff_index(path_graph(n)), (n**3 - n) / 6)
    np.testing.assert_allclose(kirchhoff_index(complete_graph(n)), n - 1)


def test_laplacian_definition_directed_and_normalized():
    n = 6
    A = np.random.default_rng(0).uniform(size=(n, n)) * (1 - np.eye(n))
    A[2, :] = A[:, 2] = 0.0  # an isolated node
    L = np.asarray(laplacian(A))
    np.testing.assert_allclose(L, np.diag(A.sum(axis=1)) - A, rtol=1e-14)
    np.testing.assert_allclose(L.sum(axis=1), 0.0, atol=1e-14)
    S = (A + A.T) / 2
    deg = S.sum(axis=1)
    inv = np.where(deg > 0, 1 / np.sqrt(np.where(deg > 0, deg, 1)), 0.0)
    want = np.diag((deg > 0).astype(float)) - inv[:, None] * S * inv[None, :]
    np.testing.assert_allclose(laplacian(S, normalized=True), want, rtol=1e-13)
    assert np.allclose(laplacian(S, normalized=True)[2], 0.0)


# ----------------------------------------------------------------------------------
# Consensus noise


def test_consensus_noise_matches_algorithms_notes():
    """algorithms.md section 7: n = 10 ring, d = 1, lam = 1, sigma = 0.5."""
    L = laplacian(ring_graph(10))
    got = [
        consensus_noise(L, coupling=k, contraction=1.0, sigma=0.5) for k in (0, 1, 10)
    ]
    np.testing.assert_allclose(
        [g.dispersion for g in got], [1.125, 0.4341, 0.0877], atol=5e-5
    )
    np.testing.assert_allclose([g.center_error for g in got], 0.0125, rtol=1e-12)


@pytest.mark.parametrize("dt", [None, 0.05])
def test_consensus_noise_matches_lyapunov_equation(dt):
    """Stationary covariance P of X from a Lyapunov solve (scipy), no eigenmodes.

    SDE: M P + P M^T + sigma^2 I = 0 with M = -(lam I + k L). Euler-Maruyama chain:
    P = F P F^T + sigma^2 dt I with F = I + dt M. Per coordinate; d copies.
    """
    n, d, lam, k, sigma = 8, 3, 0.7, 1.9, 0.4
    L = laplacian(random_symmetric_graph(1, n))
    M = -(lam * np.eye(n) + k * np.asarray(L))
    if dt is None:
        P = scipy.linalg.solve_continuous_lyapunov(M, -(sigma**2) * np.eye(n))
    else:
        F = np.eye(n) + dt * M
        P = scipy.linalg.solve_discrete_lyapunov(F, sigma**2 * dt * np.eye(n))
    centre = np.eye(n) - np.ones((n, n)) / n
    got = consensus_noise(L, coupling=k, contraction=lam, sigma=sigma, dim=d, dt=dt)
    np.testing.assert_allclose(got.dispersion, d * np.trace(centre @ P), rtol=1e-10)
    np.testing.assert_allclose(got.center_error, d * P.sum() / n**2, rtol=1e-10)
    np.testing.assert_allclose(
        got.unit_error, d * np.trace(P) / n, rtol=1e-10
    )  # E (1/n) sum_i |x_i - x*|^2
    mu2 = algebraic_connectivity(random_symmetric_graph(1, n))
    assert mu2 > 0
    if dt is None:
        assert got.dispersion <= got.dispersion_bound * (1 + 1e-12)


def test_consensus_noise_pure_consensus_is_kirchhoff():
    """lam = 0: dispersion = d sigma^2 Kf / (2 k n); the mean does not converge."""
    A = path_graph(7)
    got = consensus_noise(laplacian(A), coupling=2.0, contraction=0.0, sigma=0.3, dim=2)
    want = 2 * 0.3**2 * kirchhoff_index(A) / (2 * 2.0 * 7)
    np.testing.assert_allclose(got.dispersion, want, rtol=1e-12)
    assert np.isinf(got.center_error)
    unstable = consensus_noise(
        laplacian(A), coupling=10.0, contraction=1.0, sigma=0.3, dt=0.1
    )
    assert np.isinf(unstable.dispersion)  # dt (lam + k mu_max) > 2: the chain diverges


# ----------------------------------------------------------------------------------
# Phases


def test_order_parameter():
    theta = np.random.default_rng(0).uniform(0, 2 * np.pi, (4, 30))
    r, psi = order_parameter(theta)
    z = np.exp(1j * theta).mean(axis=-1)
    np.testing.assert_allclose(r, np.abs(z), rtol=1e-12)
    np.testing.assert_allclose(psi, np.angle(z), rtol=1e-12)
    r1, psi1 = order_parameter(jnp.full(5, 2.0))
    np.testing.assert_allclose([r1, psi1], [1.0, 2.0], rtol=1e-12)
    r0, _ = order_parameter(jnp.arange(6.0) * 2 * np.pi / 6)
    assert abs(float(r0)) < 1e-12


def test_phase_locking_value():
    theta = np.random.default_rng(0).normal(size=(2, 50, 4)).cumsum(axis=1)
    e = np.exp(1j * theta)
    want = np.abs(np.einsum("bti,btj->bij", e, e.conj()) / 50)
    got = phase_locking_value(theta)
    np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-12)
    locked = jnp.linspace(0, 20, 100)[:, None] + jnp.array([0.0, 1.0, -2.0])[None]
    np.testing.assert_allclose(phase_locking_value(locked), 1.0, rtol=1e-12)


@pytest.mark.parametrize("length", [64, 65])
def test_analytic_signal_matches_scipy(length):
    x = np.random.default_rng(length).normal(size=(length, 3))
    np.testing.assert_allclose(
        analytic_signal(x), scipy.signal.hilbert(x, axis=0), rtol=1e-10, atol=1e-12
    )
    np.testing.assert_allclose(
        analytic_signal(x.T, axis=-1), scipy.signal.hilbert(x.T), rtol=1e-10, atol=1e-12
    )
    assert analytic_signal(x.astype(np.float32)).dtype == jnp.complex64


def test_instantaneous_phase_of_a_cosine():
    t = np.arange(2000) * 0.01  # 20 time units, a whole number of periods
    omega, phi = 2 * np.pi * 0.5, 0.3
    phase = instantaneous_phase(np.cos(omega * t + phi), unwrap=True)
    np.testing.assert_allclose(phase, omega * t + phi, atol=1e-9)
    np.testing.assert_allclose(
        instantaneous_phase(np.cos(omega * t + phi)),
        np.angle(np.exp(1j * (omega * t + phi))),
        atol=1e-9,
    )


def test_sync_error():
    x = np.random.default_rng(0).normal(size=(5, 6, 3))
    want = ((x - x.mean(axis=1, keepdims=True)) ** 2).sum(axis=(1, 2))
    np.testing.assert_allclose(sync_error(x), want, rtol=1e-12)
    np.testing.assert_allclose(sync_error(np.ones((4, 2))), 0.0)


# ----------------------------------------------------------------------------------
# CTM synchronisation


def ctm_reference(z, decay):
    """S^t = sum_{tau<=t} r^(t-tau) z_i z_j / sqrt(sum r^(t-tau)), plain loops."""
    r = np.exp(-np.clip(decay, 0, 15))
    out = []
    for t in range(z.shape[0]):
        w = r[None] ** (t - np.arange(t + 1))[:, None, None]
        num = (w * z[: t + 1, :, None] * z[: t + 1, None, :]).sum(axis=0)
        out.append(num / np.sqrt(w.sum(axis=0)))
    return np.array(out)


def test_synchronization_recurrent_equals_closed_form():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(12, 5))
    decay = rng.uniform(-1.0, 3.0, (5, 5))
    decay[0, 1] = 20.0  # clamped to 15, like CTM
    want = ctm_reference(z, decay)
    left, right = np.array([0, 3, 4]), np.array([2, 3, 1])

    @jax.jit
    def both(z, d):
        prefixes = [synchronization_matrix(z[:t], d) for t in (1, 6)]
        series = synchronization_series(z, d)
        pairs = synchronization_series(z, d[left, right], pairs=(left, right))
        g_closed = jax.grad(lambda d: jnp.sum(synchronization_matrix(z, d) ** 2))(d)
        g_rec = jax.grad(lambda d: jnp.sum(synchronization_series(z, d)[-1] ** 2))(d)
        return prefixes, series, pairs, g_closed, g_rec, synchronization_matrix(z, d)

    prefixes, series, pairs, g_closed, g_rec, final = both(z, jnp.asarray(decay))
    np.testing.assert_allclose(series, want, rtol=1e-12)
    np.testing.assert_allclose(final, want[-1], rtol=1e-12)
    for t, closed in zip((1, 6), prefixes, strict=True):
        np.testing.assert_allclose(closed, want[t - 1], rtol=1e-12)
    np.testing.assert_allclose(pairs, want[:, left, right], rtol=1e-12)
    np.testing.assert_allclose(
        synchronization_matrix(z, 0.0), z.T @ z / np.sqrt(12), rtol=1e-12
    )
    # Gradients with respect to the decay agree between the two forms.
    np.testing.assert_allclose(g_closed, g_rec, rtol=1e-10, atol=1e-12)
    assert np.abs(g_closed).max() > 1e-3


# ----------------------------------------------------------------------------------
# Transformations and errors


def test_vmap_over_an_ensemble_equals_loop():
    graphs = jnp.asarray(np.stack([random_symmetric_graph(seed) for seed in range(3)]))
    theta = jnp.asarray(np.random.default_rng(3).uniform(0, 6, (3, 20, 6)))
    ks = jnp.array([0.5, 1.0, 3.0])

    def everything(A, th, k):
        L = laplacian(A)
        c = consensus_noise(L, coupling=k, contraction=1.0, sigma=0.3)
        return (
            laplacian_spectrum(A),
            kirchhoff_index(A),
            c.dispersion,
            order_parameter(th)[0],
            phase_locking_value(th),
            synchronization_matrix(th, k),
            instantaneous_phase(th),
        )

    batched = jax.jit(jax.vmap(everything))(graphs, theta, ks)
    single = jax.jit(everything)
    for i in range(3):
        for got, want in zip(batched, single(graphs[i], theta[i], ks[i]), strict=True):
            np.testing.assert_allclose(got[i], want, rtol=1e-10, atol=1e-12)


def test_analysis_functions_do_not_retrace():
    functions = {
        "laplacian": lambda A, th: laplacian(A),
        "spectrum": lambda A, th: laplacian_spectrum(A),
        "connectivity": lambda A, th: algebraic_connectivity(A),
        "kirchhoff": lambda A, th: kirchhoff_index(A),
        "consensus": lambda A, th: (
            consensus_noise(
                laplacian(A), coupling=th[0, 0], contraction=1.0, sigma=0.2
            ).dispersion
        ),
        "order": lambda A, th: order_parameter(th),
        "plv": lambda A, th: phase_locking_value(th),
        "phase": lambda A, th: instantaneous_phase(th),
        "sync_error": lambda A, th: sync_error(th[..., None]),
        "ctm": lambda A, th: synchronization_matrix(th, A[:6, :6]),
        "ctm_series": lambda A, th: synchronization_series(th, A[:6, :6]),
    }
    rng = np.random.default_rng(0)
    inputs = [
        (
            jnp.asarray(random_symmetric_graph(seed)),
            jnp.asarray(rng.uniform(size=(10, 6))),
        )
        for seed in range(3)
    ]
    for name, fn in functions.items():
        counted = eqx.debug.assert_max_traces(fn, max_traces=1)
        jitted = eqx.filter_jit(counted)
        for A, theta in inputs:
            jitted(A, theta)
        assert eqx.debug.get_num_traces(counted) == 1, name


def test_float32_stays_float32(getkey):
    A = ring_graph(6, dtype=jnp.float32)
    th = jnp.asarray(np.random.default_rng(0).uniform(size=(10, 6)), jnp.float32)
    outs = jax.jit(
        lambda A, th, key: [
            laplacian(A),
            laplacian_spectrum(A),
            kirchhoff_index(A),
            consensus_noise(
                laplacian(A), coupling=1.0, contraction=1.0, sigma=0.1
            ).dispersion,
            *order_parameter(th),
            phase_locking_value(th),
            instantaneous_phase(th),
            sync_error(th[..., None]),
            synchronization_matrix(th, 0.5),
            synchronization_series(th, 0.5),
            watts_strogatz_graph(6, 2, 0.5, key=key, dtype=jnp.float32),
        ]
    )(A, th, getkey())
    outs.append(laplacian(A))  # and without jit
    assert all(o.dtype == jnp.float32 for o in outs)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: laplacian(np.ones((3, 4))), r"A: expected a square \(n, n\)"),
        (lambda: laplacian(-np.ones((3, 3))), "A: expected non-negative edge weights"),
        (
            lambda: laplacian_spectrum(np.triu(np.ones((3, 3)))),
            "A: expected a symmetric",
        ),
        (
            lambda: consensus_noise(
                np.triu(np.ones((3, 3))), coupling=1.0, contraction=1.0, sigma=1.0
            ),
            "laplacian: expected a symmetric",
        ),
        (
            lambda: synchronization_matrix(np.ones((5, 3)), np.ones(3)),
            "decay: expected",
        ),
    ],
)
def test_errors(call, match):
    with unchecked(), pytest.raises(ValueError, match=match):
        call()


def test_negative_weights_are_caught_under_jit():
    with (
        unchecked(),
        pytest.raises(Exception, match="A: expected non-negative edge weights"),
    ):
        jax.jit(laplacian)(-jnp.ones((3, 3))).block_until_ready()
    _ = dx  # the public namespace re-exports the same functions
    assert dx.analysis.laplacian is laplacian

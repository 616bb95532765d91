r"""Graph Laplacians, their spectra, and the consensus-noise prediction.

Adjacency convention (as for the dense coupling of :class:`dynax.models.Kuramoto`):
$A_{ij} \ge 0$ is the weight of the edge from $j$ to $i$ (row = receiver), so that
$\sum_j A_{ij}(x_j - x_i) = -(L x)_i$ with $L = D - A$, $D = \mathrm{diag}(\sum_j
A_{ij})$. The spectral functions need an undirected (symmetric) graph.
"""

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from .._custom_types import Array, ArrayLike, Float, ScalarLike
from .._validate import as_array, check_bool, check_int, fail, is_concrete


def _square(name: str, m: ArrayLike) -> Float[Array, "n n"]:
    m = as_array(name, m)
    if not jnp.issubdtype(m.dtype, jnp.floating):
        m = m.astype(jnp.result_type(float))
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        fail(name, "a square (n, n) matrix", f"shape {m.shape}")
    return m


def _check_adjacency(A: ArrayLike, *, symmetric: bool) -> Float[Array, "n n"]:
    """Square, non-negative (and symmetric if asked); traced values: error_if."""
    A = _square("A", A)
    if is_concrete(A):
        a = np.asarray(A)
        if not np.all(a >= 0):
            fail("A", "non-negative edge weights", f"a minimum of {np.min(a)}")
        if symmetric and not np.allclose(a, a.T):
            what = "a symmetric adjacency (an undirected graph)"
            fail("A", what, f"an asymmetry of {np.max(np.abs(a - a.T))}")
        return A
    msg = "A: expected non-negative edge weights, got a traced A with a negative one."
    return eqx.error_if(A, ~jnp.all(A >= 0), msg)


def laplacian(
    A: Float[ArrayLike, "n n"], normalized: bool = False
) -> Float[Array, "n n"]:
    r"""Return the graph Laplacian of a weighted adjacency matrix.

    $L = D - A$ with $D = \mathrm{diag}(\sum_j A_{ij})$; with ``normalized=True``
    the symmetric normalised Laplacian $I - D^{-1/2} A D^{-1/2}$ (rows of isolated
    nodes are zero, as in networkx). $L$ is positive semi-definite for a
    symmetric $A \ge 0$, with $L\mathbf 1 = 0$ (Chung 1997, *Spectral Graph
    Theory*).

    Args:
        A: non-negative edge weights, row = receiver (see the module docstring).
        normalized: return the normalised Laplacian.

    Returns:
        The ``(n, n)`` Laplacian.
    """
    check_bool("normalized", normalized)
    A = _check_adjacency(A, symmetric=False)
    degree = jnp.sum(A, axis=1)
    if not normalized:
        return jnp.diag(degree) - A
    has_edges = degree > 0
    scale = jnp.where(has_edges, 1.0 / jnp.sqrt(jnp.where(has_edges, degree, 1.0)), 0.0)
    eye = jnp.diag(has_edges.astype(A.dtype))
    return eye - scale.reshape(-1, 1) * A * scale.reshape(1, -1)


def laplacian_spectrum(
    A: Float[ArrayLike, "n n"], normalized: bool = False
) -> Float[Array, " n"]:
    r"""Return the Laplacian eigenvalues $0 = \mu_1 \le \mu_2 \le \dots \le \mu_n$.

    For example a ring of $n$ nodes has $\mu = 2 - 2\cos(2\pi m/n)$, a path
    $2 - 2\cos(\pi m/n)$, $m = 0, \dots, n-1$, and the complete graph $0$ and $n$
    ($n - 1$ times).

    Args:
        A: a symmetric non-negative adjacency matrix.
        normalized: use the normalised Laplacian.

    Returns:
        The eigenvalues in ascending order.
    """
    A = _check_adjacency(A, symmetric=True)
    return jnp.linalg.eigvalsh(laplacian(A, normalized))


def algebraic_connectivity(A: Float[ArrayLike, "n n"]) -> Float[Array, ""]:
    r"""Return $\mu_2$, the second-smallest Laplacian eigenvalue (Fiedler 1973).

    It is positive iff the graph is connected and sets the slowest rate at which
    diffusive coupling removes disagreement (Olfati-Saber & Murray 2004).
    """
    A = _square("A", A)
    if A.shape[0] < 2:
        fail(
            "A",
            "a graph of at least 2 nodes (mu_2 is the second eigenvalue)",
            f"shape {A.shape}",
        )
    return laplacian_spectrum(A)[1]


def kirchhoff_index(A: Float[ArrayLike, "n n"]) -> Float[Array, ""]:
    r"""Return the Kirchhoff index $K_f = n \sum_{m \ge 2} 1/\mu_m$.

    The sum of the resistance distances over all node pairs (Klein & Randić 1993;
    Gutman & Mohar 1996); ``inf`` for a disconnected graph. A ring has
    $(n^3 - n)/12$, a path $(n^3 - n)/6$, the complete graph $n - 1$.
    """
    mu = laplacian_spectrum(A)
    return mu.shape[0] * jnp.sum(1.0 / mu[1:])


class ConsensusNoise(eqx.Module):
    r"""Stationary moments of noisy, linearly coupled gradient systems.

    Attributes:
        dispersion: $E \sum_i \lVert x_i - \bar x\rVert^2$.
        center_error: $E \lVert \bar x - x^*\rVert^2$.
        unit_error: $E \frac1n \sum_i \lVert x_i - x^*\rVert^2$
            $=$ ``center_error + dispersion / n``.
        dispersion_bound: $d (n-1) \sigma^2 / (2(\lambda + k\mu_2))$ (continuous
            time), the bound through the algebraic connectivity alone.
        eigenvalues: the Laplacian eigenvalues $\mu_1 \le \dots \le \mu_n$.
    """

    dispersion: Float[Array, ""]
    center_error: Float[Array, ""]
    unit_error: Float[Array, ""]
    dispersion_bound: Float[Array, ""]
    eigenvalues: Float[Array, " n"]


def consensus_noise(
    laplacian: Float[ArrayLike, "n n"],
    *,
    coupling: ScalarLike,
    contraction: ScalarLike,
    sigma: ScalarLike,
    dim: int = 1,
    dt: ScalarLike | None = None,
) -> ConsensusNoise:
    r"""Predict the dispersion and error of $n$ noisy coupled contracting copies.

    For $dx_i = [-\lambda(x_i - x^*) - k\sum_j L_{ij} x_j]\,dt + \sigma\,dW_i$
    (:class:`dynax.models.CoupledGradientNetwork` with
    $f = \frac\lambda2\lVert x - x^*\rVert^2$), $x_i \in \mathbb R^d$, and a
    symmetric Laplacian $L = \sum_m \mu_m v_m v_m^\top$ (orthonormal $v_m$,
    $v_1 = \mathbf 1/\sqrt n$, $\mu_1 = 0$):

    *Derivation.* The deviations $Y = X - \mathbf 1 x^{*\top}$ satisfy
    $dY = -(\lambda I + kL) Y\,dt + \sigma\,dW$ because $L\mathbf 1 = 0$. In the
    eigenbasis, $a_m = v_m^\top Y \in \mathbb R^d$ obey independent
    Ornstein-Uhlenbeck equations $da_m = -(\lambda + k\mu_m) a_m\,dt + \sigma\,dB_m$
    (an orthogonal change of basis keeps white noise white), whose stationary
    variance per coordinate is $\sigma^2 / (2(\lambda + k\mu_m))$. The centre of
    mass is $\bar x - x^* = a_1/\sqrt n$, where the coupling cancels, and the
    dispersion is $\sum_i \lVert x_i - \bar x\rVert^2 = \sum_{m \ge 2}
    \lVert a_m\rVert^2$. Hence

    $$E\lVert \bar x - x^*\rVert^2 = \frac{d\sigma^2}{2\lambda n}, \qquad
    E\sum_i\lVert x_i - \bar x\rVert^2 = d\sigma^2 \sum_{m=2}^{n}
    \frac{1}{2(\lambda + k\mu_m)} \le \frac{d(n-1)\sigma^2}{2(\lambda + k\mu_2)}.$$

    Coupling leaves the error of the mean untouched and shrinks the dispersion,
    fastest through the algebraic connectivity $\mu_2$; for $\lambda = 0$ the
    dispersion is $d\sigma^2 K_f / (2kn)$ with $K_f$ the Kirchhoff index.
    Bouvrie & Slotine (2011, Neural Comput. 23:2915) derive bounds of this form for
    nonlinear $f$ with contraction rate $\lambda$ ($\nabla^2 f \succeq \lambda I$)
    by stochastic contraction; for quadratic $f$ the expressions above are exact.

    With ``dt`` the moments are those of the Euler-Maruyama chain
    $a \leftarrow (1 - c\,\Delta t) a + \sigma\sqrt{\Delta t}\,\xi$,
    $c = \lambda + k\mu_m$, whose stationary variance is
    $\sigma^2 / (c(2 - c\Delta t))$ (``inf`` unless $0 < c\Delta t < 2$): exactly
    what :func:`dynax.simulate` with ``diffrax.Euler`` and step ``dt`` samples.

    Args:
        laplacian: the symmetric ``(n, n)`` Laplacian $L$.
        coupling: $k \ge 0$.
        contraction: $\lambda \ge 0$ (``center_error`` is ``inf`` for 0).
        sigma: the noise amplitude $\sigma$.
        dim: the dimension $d$ of each copy.
        dt: the Euler-Maruyama step, or ``None`` for the SDE itself.

    Returns:
        A :class:`ConsensusNoise`.
    """
    lap = _square("laplacian", laplacian)
    if is_concrete(lap) and not np.allclose(np.asarray(lap), np.asarray(lap).T):
        fail("laplacian", "a symmetric matrix (undirected graph)", "an asymmetric one")
    check_int("dim", dim, 1)
    mu = jnp.linalg.eigvalsh(lap)
    rates = jnp.asarray(contraction, lap.dtype) + jnp.asarray(coupling, lap.dtype) * mu
    rates = rates.at[0].set(jnp.asarray(contraction, lap.dtype))  # the mean: mu_1 = 0
    var = jnp.asarray(sigma, lap.dtype) ** 2 * _stationary_variance(rates, dt)
    n = mu.shape[0]
    dispersion = dim * jnp.sum(var[1:])
    center = dim * var[0] / n
    cont = (
        jnp.asarray(contraction, lap.dtype) + jnp.asarray(coupling, lap.dtype) * mu[1]
    )
    bound = dim * (n - 1) * jnp.asarray(sigma, lap.dtype) ** 2 / (2.0 * cont)
    return ConsensusNoise(dispersion, center, center + dispersion / n, bound, mu)


def _stationary_variance(rates: Float[Array, " n"], dt) -> Float[Array, " n"]:
    """Stationary variance per unit noise of da = -c a dt + dB (or its EM chain)."""
    if dt is None:
        return 1.0 / (2.0 * rates)
    h = jnp.asarray(dt, rates.dtype)
    stable = (rates > 0) & (rates * h < 2.0)
    return jnp.where(stable, 1.0 / (rates * (2.0 - rates * h)), jnp.inf)

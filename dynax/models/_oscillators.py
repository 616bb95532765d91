r"""Phase and amplitude oscillators on graphs: :class:`Kuramoto`, :class:`StuartLandau`.

Both take their coupling as an :class:`~dynax.models.AbstractCoupling`
(:class:`~dynax.models.MeanField`, :class:`~dynax.models.DenseCoupling`,
:class:`~dynax.models.SparseCoupling`), or as arrays converted to one: a scalar or
per-oscillator strength for all-to-all coupling with the $1/N$ normalisation
(computed in $O(N)$ through the mean field), a dense ``(n, n)`` weight matrix
(row = receiver, column = sender, no normalisation), or ``edges=(senders,
receivers)`` with a scalar or per-edge ``coupling`` (no normalisation, $O(E)$).
"""

import equinox as eqx
import jax.numpy as jnp
from jax.typing import DTypeLike

from .._custom_types import Args, Array, ArrayLike, Float, Int, ScalarLike
from ._base import AbstractStochasticDynamics
from ._coupling import (
    AbstractCoupling,
    as_coupling,
    check_frequencies,
    check_nonnegative,
    check_per_unit,
    check_scalar,
    float_dtype,
)

Edges = tuple[Int[ArrayLike, " edges"], Int[ArrayLike, " edges"]]
CouplingLike = AbstractCoupling | Float[ArrayLike, "..."]


class Kuramoto(AbstractStochasticDynamics):
    r"""Kuramoto(-Sakaguchi) phase oscillators on a weighted graph, with phase noise.

    $$d\theta_i = \Big[\omega_i + \sum_j C_{ij}\,\sin(\theta_j - \theta_i - \alpha)
    \Big]\,dt + \sigma\,dW_i,$$

    an Itô SDE in the phases $\theta_i$ (radians, not wrapped), time in the units of
    $1/\omega$. The coupling matrix $C$ is an
    :class:`~dynax.models.AbstractCoupling`, or arrays converted to one:

    - **all-to-all** (:class:`~dynax.models.MeanField`; ``coupling`` a scalar $K$,
      or per-oscillator $K_i$ of shape ``(n,)``): $C_{ij} = K_i / N$, the
      classical normalisation (Kuramoto 1975), for which a Lorentzian frequency
      density of half-width $\gamma$ synchronises above $K_c = 2\gamma$ with
      $r = \sqrt{1 - K_c/K}$. It is computed through the mean field
      $r e^{i\psi} = \frac1N \sum_j e^{i\theta_j}$ once per evaluation,
      $\sum_j C_{ij} \sin(\theta_j - \theta_i - \alpha)
      = K_i\, r \sin(\psi - \theta_i - \alpha)$, in $O(N)$.
    - **dense** (:class:`~dynax.models.DenseCoupling`; ``coupling`` an ``(n, n)``
      matrix): $C_{ij}$ is the weight with which oscillator $j$ acts on
      oscillator $i$; no normalisation is applied (for the textbook
      $\frac{K}{N} A_{ij}$ pass ``K / N * A``). Two oscillators with
      $C = \begin{psmallmatrix}0 & K\\ K & 0\end{psmallmatrix}$ lock iff
      $|\omega_1 - \omega_2| \le 2K$. Cost $O(N^2)$ (two matrix-vector products,
      $O(N)$ sines).
    - **sparse** (:class:`~dynax.models.SparseCoupling`, e.g.
      ``SparseCoupling.from_adjacency(A)``; or ``edges=(senders, receivers)`` with
      ``coupling`` a scalar or one weight per edge): $C_{r_e s_e} = w_e$ summed
      over edges, $O(E)$.

    Negative weights (repulsive coupling) are allowed. ``lag`` is the Sakaguchi
    phase lag $\alpha$ (Sakaguchi & Kuramoto 1986, Prog. Theor. Phys. 76:576).
    The noise is additive and independent per oscillator; :func:`dynax.simulate`
    draws it from its ``key`` (without a key the model is deterministic). For
    transmission delays see :class:`DelayedKuramoto`.

    References: Y. Kuramoto (1975), Lecture Notes in Physics 39:420; S. H. Strogatz
    (2000), Physica D 143:1; E. Ott & T. M. Antonsen (2008), Chaos 18:037113.

    Args:
        omega: natural frequencies $\omega_i$ (rad per unit time), shape ``(n,)``.
        coupling: an :class:`~dynax.models.AbstractCoupling` of ``n`` nodes; or a
            scalar or ``(n,)`` (all-to-all, $K_i/N$), an ``(n, n)`` matrix $C$, or
            with ``edges`` a scalar or ``(E,)`` edge weights.
        lag: the phase lag $\alpha$ (radians), a scalar.
        sigma: noise amplitude $\sigma \ge 0$, a scalar or one per oscillator.
        edges: ``(senders, receivers)``, integer arrays of length $E$ (edge $e$
            carries $\theta_{s_e}$ to oscillator $r_e$), making ``coupling`` the
            edge weights of a :class:`~dynax.models.SparseCoupling`; else ``None``.
        dtype: float dtype of every parameter (default: that of ``omega`` if it is
            a float array, else JAX's default float).

    Example:
        >>> model = Kuramoto(jnp.linspace(-1, 1, 100), 2.0)  # all-to-all, K = 2
        >>> theta0 = jax.random.uniform(jax.random.key(0), (100,)) * 2 * jnp.pi
        >>> traj = dx.simulate(model, theta0, jnp.linspace(0, 50, 5001))
    """

    omega: Float[Array, " n"]
    coupling: AbstractCoupling
    lag: Float[Array, ""]
    sigma: Float[Array, "..."]
    n: int = eqx.field(static=True)

    def __init__(
        self,
        omega: Float[ArrayLike, " n"],
        coupling: CouplingLike,
        *,
        lag: ScalarLike = 0.0,
        sigma: Float[ArrayLike, "..."] = 0.0,
        edges: Edges | None = None,
        dtype: DTypeLike | None = None,
    ):
        dtype = float_dtype(omega, dtype)
        self.omega = check_frequencies(omega, dtype)
        self.n = self.omega.shape[0]
        self.coupling = as_coupling(coupling, self.n, edges, dtype)
        self.lag = check_scalar("lag", lag, dtype)
        sigma = check_per_unit("sigma", sigma, self.n, dtype)
        self.sigma = check_nonnegative("sigma", sigma, dtype)

    def interaction(
        self, theta: Float[Array, " n"], source: Float[Array, " n"]
    ) -> Float[Array, " n"]:
        r"""Return $\sum_j C_{ij} \sin(\phi_j - \theta_i - \alpha)$ for sources $\phi$.

        ``source = theta`` gives the coupling term of the vector field; other
        sources (e.g. delayed phases) go through the same coupling
        (:meth:`~dynax.models.AbstractCoupling.phase_interaction`).
        """
        return self.coupling.phase_interaction(theta, source, self.lag)

    def __call__(
        self, t: ScalarLike, theta: Float[Array, " n"], args: Args
    ) -> Float[Array, " n"]:
        r"""Return the drift $d\theta/dt$."""
        del t, args
        return self.omega + self.interaction(theta, theta)

    def diffusion(
        self, t: ScalarLike, y: Float[Array, " n"], args: Args
    ) -> Float[Array, " n"]:
        r"""Return the diagonal noise amplitude $\sigma$."""
        del t, args
        return jnp.broadcast_to(self.sigma, y.shape)

    def init_state(self) -> Float[Array, " n"]:
        """Return all phases at zero (in phase; pass random phases for incoherence)."""
        return jnp.zeros((self.n,), self.omega.dtype)


class StuartLandau(AbstractStochasticDynamics):
    r"""Stuart-Landau oscillators (Hopf normal form) with diffusive graph coupling.

    $$dz_j = \Big[(\lambda_j + i\omega_j)\,z_j - (1 + ic)\,|z_j|^2 z_j
    + \sum_k C_{jk}\,(z_k - z_j)\Big]\,dt + \sigma\,(dW^x_j + i\,dW^y_j),$$

    with complex amplitudes $z_j = x_j + i y_j$ stored as a real ``(n, 2)`` array
    ``[x, y]``; time in the units of $1/\omega$. An uncoupled unit with
    $\lambda > 0$ has a stable limit cycle of radius $\sqrt{\lambda}$ and angular
    frequency $\omega - c\lambda$ ($c$ is the shear, or nonisochronicity); for
    $\lambda < 0$ it decays to $z = 0$. The coupling $C$ is given as for
    :class:`Kuramoto`: all-to-all $C_{jk} = K_j/N$ (then
    $\sum_k C_{jk}(z_k - z_j) = K_j(\bar z - z_j)$, computed in $O(N)$), a dense
    ``(n, n)`` matrix (row = receiver, no normalisation), a sparse edge list, or
    any :class:`~dynax.models.AbstractCoupling`
    (:meth:`~dynax.models.AbstractCoupling.diffusive`).

    References: Y. Kuramoto (1984), *Chemical Oscillations, Waves, and Turbulence*,
    Springer, ch. 2; A. Pikovsky, M. Rosenblum & J. Kurths (2001),
    *Synchronization*, Cambridge University Press.

    Args:
        omega: natural frequencies $\omega_j$, shape ``(n,)``.
        coupling: as for :class:`Kuramoto`.
        lam: the bifurcation parameter $\lambda$ (a scalar or one per unit).
        shear: the shear $c$ (a scalar).
        sigma: additive noise amplitude $\sigma \ge 0$ on each of $x$ and $y$.
        edges: ``(senders, receivers)`` for the sparse layout.
        dtype: float dtype of every parameter.
    """

    omega: Float[Array, " n"]
    coupling: AbstractCoupling
    lam: Float[Array, "..."]
    shear: Float[Array, ""]
    sigma: Float[Array, ""]
    n: int = eqx.field(static=True)

    def __init__(
        self,
        omega: Float[ArrayLike, " n"],
        coupling: CouplingLike,
        *,
        lam: Float[ArrayLike, "..."] = 1.0,
        shear: ScalarLike = 0.0,
        sigma: ScalarLike = 0.0,
        edges: Edges | None = None,
        dtype: DTypeLike | None = None,
    ):
        dtype = float_dtype(omega, dtype)
        self.omega = check_frequencies(omega, dtype)
        self.n = self.omega.shape[0]
        self.coupling = as_coupling(coupling, self.n, edges, dtype)
        self.lam = check_per_unit("lam", lam, self.n, dtype)
        self.shear = check_scalar("shear", shear, dtype)
        self.sigma = check_nonnegative(
            "sigma", check_scalar("sigma", sigma, dtype), dtype
        )

    def __call__(
        self, t: ScalarLike, z: Float[Array, "n 2"], args: Args
    ) -> Float[Array, "n 2"]:
        """Return the drift $dz/dt$ as ``[Re, Im]`` columns."""
        del t, args
        x, y = z[:, 0], z[:, 1]
        r2 = x * x + y * y
        # (lam + i omega) z - (1 + i c) |z|^2 z, split into real and imaginary parts.
        growth = self.lam - r2
        rotation = self.omega - self.shear * r2
        local = jnp.stack(
            [growth * x - rotation * y, growth * y + rotation * x], axis=1
        )
        return local + self.coupling.diffusive(z)

    def diffusion(
        self, t: ScalarLike, y: Float[Array, "n 2"], args: Args
    ) -> Float[Array, "n 2"]:
        r"""Return the diagonal noise amplitude $\sigma$ on both components."""
        del t, args
        return jnp.broadcast_to(self.sigma, y.shape)

    def init_state(self) -> Float[Array, "n 2"]:
        r"""Return every unit at $z = \sqrt{\max(\lambda, 0)}$ (in phase, on its cycle).

        ``z = 0`` is a fixed point of the deterministic flow, so it is not the default.
        """
        radius = jnp.sqrt(jnp.maximum(self.lam, 0.0))
        x = jnp.broadcast_to(radius, (self.n,))
        return jnp.stack([x, jnp.zeros_like(x)], axis=1)

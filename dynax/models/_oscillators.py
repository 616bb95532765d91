r"""Phase and amplitude oscillators on graphs: :class:`Kuramoto`, :class:`StuartLandau`.

Both take the coupling in one of three layouts (see the class docstrings): a scalar
or per-oscillator strength for all-to-all coupling with the $1/N$ normalisation
(computed in $O(N)$ through the mean field), a dense ``(n, n)`` weight matrix
(row = receiver, column = sender, no normalisation), or a sparse edge list
``edges=(senders, receivers)`` with a scalar or per-edge ``coupling`` (no
normalisation, $O(E)$).
"""

import equinox as eqx
import jax.numpy as jnp
from jax.typing import DTypeLike

from .._custom_types import Args, Array, ArrayLike, Float, Int, ScalarLike
from .._validate import (
    as_array,
    check_array,
    check_float_dtype,
    check_positive,
    check_unit_shape,
    fail,
)
from ._base import AbstractStochasticDynamics
from ._coupling import aggregate, check_coupling

Edges = tuple[Int[ArrayLike, " edges"], Int[ArrayLike, " edges"]]


class Kuramoto(AbstractStochasticDynamics):
    r"""Kuramoto(-Sakaguchi) phase oscillators on a weighted graph, with phase noise.

    $$d\theta_i = \Big[\omega_i + \sum_j C_{ij}\,\sin(\theta_j - \theta_i - \alpha)
    \Big]\,dt + \sigma\,dW_i,$$

    an Itô SDE in the phases $\theta_i$ (radians, not wrapped), time in the units of
    $1/\omega$. The coupling matrix $C$ is given in one of three layouts:

    - **all-to-all** (``coupling`` a scalar $K$, or per-oscillator $K_i$ of shape
      ``(n,)``): $C_{ij} = K_i / N$, the classical normalisation (Kuramoto 1975),
      for which a Lorentzian frequency density of half-width $\gamma$ synchronises
      above $K_c = 2\gamma$ with $r = \sqrt{1 - K_c/K}$. It is computed through the
      mean field $r e^{i\psi} = \frac1N \sum_j e^{i\theta_j}$ once per evaluation,
      $\sum_j C_{ij} \sin(\theta_j - \theta_i - \alpha)
      = K_i\, r \sin(\psi - \theta_i - \alpha)$, in $O(N)$.
    - **dense** (``coupling`` an ``(n, n)`` matrix): $C_{ij}$ is the weight with
      which oscillator $j$ acts on oscillator $i$; no normalisation is applied
      (for the textbook $\frac{K}{N} A_{ij}$ pass ``K / N * A``). Two oscillators
      with $C = \begin{psmallmatrix}0 & K\\ K & 0\end{psmallmatrix}$ lock iff
      $|\omega_1 - \omega_2| \le 2K$. Cost $O(N^2)$ (two matrix-vector products,
      $O(N)$ sines).
    - **sparse** (``edges=(senders, receivers)``, ``coupling`` a scalar or one
      weight per edge): $C_{r_e s_e} = w_e$ summed over edges, $O(E)$.

    Negative weights (repulsive coupling) are allowed. ``lag`` is the Sakaguchi
    phase lag $\alpha$ (Sakaguchi & Kuramoto 1986, Prog. Theor. Phys. 76:576).
    The noise is additive and independent per oscillator; :func:`dynax.simulate`
    draws it from its ``key`` (without a key the model is deterministic). For
    transmission delays see :class:`DelayedKuramoto`.

    References: Y. Kuramoto (1975), Lecture Notes in Physics 39:420; S. H. Strogatz
    (2000), Physica D 143:1; E. Ott & T. M. Antonsen (2008), Chaos 18:037113.

    Args:
        omega: natural frequencies $\omega_i$ (rad per unit time), shape ``(n,)``.
        coupling: a scalar or ``(n,)`` (all-to-all, $K_i/N$), an ``(n, n)``
            matrix $C$, or with ``edges`` a scalar or ``(E,)`` edge weights.
        lag: the phase lag $\alpha$ (radians), a scalar.
        sigma: noise amplitude $\sigma \ge 0$, a scalar or one per oscillator.
        edges: ``(senders, receivers)``, integer arrays of length $E$ (edge $e$
            carries $\theta_{s_e}$ to oscillator $r_e$); ``None`` for the dense or
            all-to-all layouts.
        dtype: float dtype of every parameter (default: that of ``omega`` if it is
            a float array, else JAX's default float).

    Example:
        >>> model = Kuramoto(jnp.linspace(-1, 1, 100), 2.0)  # all-to-all, K = 2
        >>> theta0 = jax.random.uniform(jax.random.key(0), (100,)) * 2 * jnp.pi
        >>> traj = dx.simulate(model, theta0, jnp.linspace(0, 50, 5001))
    """

    omega: Float[Array, " n"]
    coupling: Float[Array, "..."]
    lag: Float[Array, ""]
    sigma: Float[Array, "..."]
    senders: Int[Array, " edges"] | None
    receivers: Int[Array, " edges"] | None
    mode: str = eqx.field(static=True)
    n: int = eqx.field(static=True)

    def __init__(
        self,
        omega: Float[ArrayLike, " n"],
        coupling: Float[ArrayLike, "..."],
        *,
        lag: ScalarLike = 0.0,
        sigma: Float[ArrayLike, "..."] = 0.0,
        edges: Edges | None = None,
        dtype: DTypeLike | None = None,
    ):
        dtype = _dtype_of(omega, dtype)
        self.omega = _check_frequencies(omega, dtype)
        self.n = self.omega.shape[0]
        self.mode, self.coupling, self.senders, self.receivers = check_coupling(
            coupling, self.n, edges, dtype
        )
        self.lag = check_array("lag", lag, ndim=0, dtype=dtype, what="a scalar")
        check_unit_shape("sigma", sigma, self.n, axis="n")
        self.sigma = check_positive("sigma", sigma, dtype, strict=False)

    def interaction(
        self, theta: Float[Array, " n"], source: Float[Array, " n"]
    ) -> Float[Array, " n"]:
        r"""Return $\sum_j C_{ij} \sin(\phi_j - \theta_i - \alpha)$ for sources $\phi$.

        ``source = theta`` gives the coupling term of the vector field; other
        sources (e.g. delayed phases) reuse the same layout.
        """
        cos_src, sin_src = jnp.cos(source), jnp.sin(source)
        if source is theta:  # the undelayed vector field: reuse the sines
            cos_th, sin_th = cos_src, sin_src
        else:
            cos_th, sin_th = jnp.cos(theta), jnp.sin(theta)
        trig = jnp.stack([cos_src, sin_src], axis=1)
        z = aggregate(self.mode, self.coupling, self.senders, self.receivers, trig)
        # sin(phi - theta - lag) = Im(e^{-i theta} e^{-i lag} e^{i phi}): rotate the
        # aggregated field Z_i = sum_j C_ij e^{i phi_j} by -lag, then by -theta_i;
        # two sines per oscillator and evaluation, none per pair.
        cos_lag, sin_lag = jnp.cos(self.lag), jnp.sin(self.lag)
        re = cos_lag * z[:, 0] + sin_lag * z[:, 1]
        im = cos_lag * z[:, 1] - sin_lag * z[:, 0]
        return cos_th * im - sin_th * re

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
    $\lambda < 0$ it decays to $z = 0$. The coupling $C$ takes the layouts of
    :class:`Kuramoto`: all-to-all $C_{jk} = K_j/N$ (then
    $\sum_k C_{jk}(z_k - z_j) = K_j(\bar z - z_j)$, computed in $O(N)$), a dense
    ``(n, n)`` matrix (row = receiver, no normalisation) or a sparse edge list.

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
    coupling: Float[Array, "..."]
    lam: Float[Array, "..."]
    shear: Float[Array, ""]
    sigma: Float[Array, ""]
    senders: Int[Array, " edges"] | None
    receivers: Int[Array, " edges"] | None
    mode: str = eqx.field(static=True)
    n: int = eqx.field(static=True)

    def __init__(
        self,
        omega: Float[ArrayLike, " n"],
        coupling: Float[ArrayLike, "..."],
        *,
        lam: Float[ArrayLike, "..."] = 1.0,
        shear: ScalarLike = 0.0,
        sigma: ScalarLike = 0.0,
        edges: Edges | None = None,
        dtype: DTypeLike | None = None,
    ):
        dtype = _dtype_of(omega, dtype)
        self.omega = _check_frequencies(omega, dtype)
        self.n = self.omega.shape[0]
        self.mode, self.coupling, self.senders, self.receivers = check_coupling(
            coupling, self.n, edges, dtype
        )
        check_unit_shape("lam", lam, self.n, axis="n")
        self.lam = as_array("lam", lam, dtype)
        self.shear = check_array("shear", shear, ndim=0, dtype=dtype, what="a scalar")
        check_array("sigma", sigma, ndim=0, what="a scalar")
        self.sigma = check_positive("sigma", sigma, dtype, strict=False)

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
        ones = jnp.ones((self.n, 1), z.dtype)
        summed = aggregate(
            self.mode,
            self.coupling,
            self.senders,
            self.receivers,
            jnp.concatenate([z, ones], axis=1),
        )
        return local + summed[:, :2] - summed[:, 2:] * z

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


def _dtype_of(omega, dtype: DTypeLike | None):
    if (
        dtype is None
        and hasattr(omega, "dtype")
        and jnp.issubdtype(omega.dtype, jnp.floating)
    ):
        return jnp.dtype(omega.dtype)
    return check_float_dtype("dtype", dtype)


def _check_frequencies(omega, dtype) -> Float[Array, " n"]:
    """Return ``omega`` as a 1-d float array of at least one oscillator."""
    what = "a 1-d array of natural frequencies, one per oscillator"
    omega = check_array("omega", omega, ndim=1, dtype=dtype, what=what)
    if omega.shape[0] < 1:
        fail("omega", what, f"shape {omega.shape}")
    return omega

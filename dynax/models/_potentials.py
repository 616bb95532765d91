r"""Potentials $U(z)$ for Langevin latents: coupled oscillators and an MLP.

A potential is a scalar function of a position $z \in \mathbb R^n$; the force on the
latent is $-\nabla U(z)$, taken with ``jax.grad`` (:meth:`AbstractPotential.force`).
:class:`~dynax.models.UnderdampedLangevin` integrates a particle in such a potential.
"""

import abc
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import DTypeLike

from .._custom_types import Array, ArrayLike, Float, PRNGKeyArray, ScalarLike
from .._validate import (
    as_array,
    check_callable,
    check_choice,
    check_float_dtype,
    check_int,
    check_key,
    check_positive,
    fail,
)

_ONSITE = ("harmonic", "double_well", "cosine")


class AbstractPotential(eqx.Module):
    r"""A potential energy $U: \mathbb R^n \to \mathbb R$ of a latent position.

    Subclasses declare ``n`` (the dimension) and implement ``__call__(z)``; the
    force $-\nabla U$ is :meth:`force` (``jax.grad``), so it is exact and
    differentiable (second derivatives flow through to the parameters).
    """

    n: eqx.AbstractVar[int]

    @abc.abstractmethod
    def __call__(self, z: Float[Array, " n"]) -> Float[Array, ""]:
        """Return the potential energy $U(z)$ (a scalar)."""

    def force(self, z: Float[Array, " n"]) -> Float[Array, " n"]:
        r"""Return the force $-\nabla U(z)$ (``jax.grad`` of :meth:`__call__`)."""
        return -jax.grad(self)(z)


class CoupledOscillatorPotential(AbstractPotential):
    r"""Oscillators on a ring (or grid), each in its own well, coupled by springs.

    $$U(z) = \sum_{i=1}^n \phi(z_i; \kappa_i)
    + \frac12 \sum_{i=1}^n \sum_{o} k_{i,o}\,\big(z_{\nu_o(i)} - z_i\big)^2,$$

    where $\nu_o(i)$ is the neighbour of site $i$ at offset $o$ and the on-site
    well $\phi$ is one of (all with curvature $\kappa_i$ at their minimum, i.e.
    small-amplitude angular frequency $\omega_i = \sqrt{\kappa_i}$ for unit mass):

    - ``"harmonic"`` (default): $\phi(z; \kappa) = \frac12 \kappa z^2$;
    - ``"double_well"`` (quartic): $\phi(z; \kappa) = \frac{\kappa}{8}(z^2 - 1)^2$,
      minima at $z = \pm 1$, barrier height $\kappa / 8$ at $z = 0$;
    - ``"cosine"`` (pendulum): $\phi(z; \kappa) = \kappa\,(1 - \cos z)$, minima at
      $z = 2\pi m$, barrier $2\kappa$.

    Layout: without ``grid`` the $n$ sites lie on a ring (a chain with
    ``periodic=False``) and the offsets are $o = 1, \dots, r$ ($r$ =
    ``coupling_range``): $\nu_o(i) = i + o \bmod n$. With ``grid=(rows, cols)``
    ($n$ = rows $\times$ cols, site $i$ = row-major index) the offsets are
    $1..r$ down the rows, then $1..r$ along the columns, on a torus (an open grid
    with ``periodic=False``: springs that would wrap around are absent). Every
    unordered pair of neighbours has one spring $k_{i,o}$, stored per site and
    offset in ``coupling`` of shape ``(n, n_offsets)``. Positive $k$ pull
    neighbours together; negative $k$ are allowed (anti-ferro coupling), but then
    $U$ may be unbounded below.

    For the harmonic well the potential is the quadratic form
    $U = \frac12 z^\top (\mathrm{diag}\,\kappa + L_k)\,z$, with $L_k$ the Laplacian
    of the weighted ring/grid: a symmetric banded (circulant when the weights do
    not depend on $i$) matrix, and the force is linear, $-(\mathrm{diag}\,\kappa +
    L_k) z$.

    Relation to the published LangevinFlow code (Song et al. 2025,
    KingJamesSong/LangevinFlow_CCN): there $z$ is reshaped to 4 groups $\times$
    $C$ channels and $U = \sum_c \big[\sum_g (K * z)_{g,c}\big]\big[\sum_{g'}
    z_{g',c}\big]$ with $K$ a learned $(4, 4, 3)$ 1-D convolution kernel along the
    channel axis (zero padding, initialised at zero): a general quadratic form
    $z^\top M z$ whose matrix $M$ is banded (bandwidth 1 in the channel index, all
    to all across groups), neither symmetric nor positive definite by
    construction. Only the symmetric part of $M$ enters the force. This class
    writes the same kind of local quadratic coupling as springs (positive
    semi-definite for $k \ge 0$, so the wells set the curvature), adds the on-site
    term explicitly, and allows non-quadratic wells, which the published code
    cannot express. A chain (``periodic=False``) matches its zero padding; the
    periodic ring avoids edge effects.

    Args:
        n: the number of oscillators (latent dimension).
        stiffness: the well curvatures $\kappa_i$, a scalar or shape ``(n,)``
            (default 1). Stored unconstrained (a learnable array leaf);
            $\kappa \le 0$ makes a well flat or inverted.
        coupling: the spring constants $k$: a scalar, one per offset
            ``(n_offsets,)`` (the same at every site), or ``(n, n_offsets)``
            (default 0: uncoupled).
        onsite: ``"harmonic"``, ``"double_well"`` or ``"cosine"`` (see above).
        coupling_range: the largest offset $r \ge 1$ along each axis.
        grid: ``None`` (a ring of ``n``) or ``(rows, cols)`` with
            ``rows * cols == n``.
        periodic: whether the ring/grid wraps around (a torus) or is open. On a
            periodic axis of length $L \le 2r$ the offsets that would repeat a
            pair already coupled (or couple a site to itself) carry no spring.
        dtype: float dtype of the parameters (default: JAX's default float).

    Example:
        >>> U = CoupledOscillatorPotential(8, stiffness=1.0, coupling=0.5)
        >>> model = UnderdampedLangevin(U, gamma=0.5, sigma=0.3)
    """

    stiffness: Float[Array, " n"]
    coupling: Float[Array, "n offsets"]
    n: int = eqx.field(static=True)
    onsite: str = eqx.field(static=True)
    shape: tuple[int, ...] = eqx.field(static=True)
    coupling_range: int = eqx.field(static=True)
    periodic: bool = eqx.field(static=True)

    def __init__(
        self,
        n: int,
        *,
        stiffness: Float[ArrayLike, "..."] = 1.0,
        coupling: Float[ArrayLike, "..."] = 0.0,
        onsite: str = "harmonic",
        coupling_range: int = 1,
        grid: tuple[int, int] | None = None,
        periodic: bool = True,
        dtype: DTypeLike | None = None,
    ):
        check_int("n", n, 1)
        check_int("coupling_range", coupling_range, 1)
        self.onsite = check_choice("onsite", onsite, _ONSITE)
        if not isinstance(periodic, bool):
            fail("periodic", "a bool", repr(periodic), error=TypeError)
        dtype = check_float_dtype("dtype", dtype)
        self.shape = _layout(n, grid)
        self.n, self.coupling_range, self.periodic = n, coupling_range, periodic
        n_off = len(self.shape) * coupling_range
        self.stiffness = _per_site("stiffness", stiffness, (n,), dtype)
        self.coupling = _per_site("coupling", coupling, (n, n_off), dtype)

    def onsite_energy(self, z: Float[Array, " n"]) -> Float[Array, " n"]:
        r"""Return the per-site well energies $\phi(z_i; \kappa_i)$."""
        k = self.stiffness
        if self.onsite == "harmonic":
            return 0.5 * k * z**2
        if self.onsite == "double_well":
            return k / 8.0 * (z**2 - 1.0) ** 2
        return k * (1.0 - jnp.cos(z))

    def differences(self, z: Float[Array, " n"]) -> Float[Array, "n offsets"]:
        r"""Return $z_{\nu_o(i)} - z_i$ per site and offset (0: no spring)."""
        grid = z.reshape(self.shape)
        cols = []
        for axis in range(len(self.shape)):
            for d in range(1, self.coupling_range + 1):
                cols.append((jnp.roll(grid, -d, axis=axis) - grid).reshape(self.n))
        return jnp.stack(cols, axis=1) * jnp.asarray(self._mask(), z.dtype)

    def __call__(self, z: Float[Array, " n"]) -> Float[Array, ""]:
        """Return $U(z)$: the wells plus the springs."""
        springs = 0.5 * jnp.sum(self.coupling * self.differences(z) ** 2)
        return jnp.sum(self.onsite_energy(z)) + springs

    def _mask(self) -> np.ndarray:
        """1 for springs present, 0 for those an open layout cuts (host constant)."""
        index = np.indices(self.shape).reshape(len(self.shape), self.n)
        cols = []
        for axis, length in enumerate(self.shape):
            for d in range(1, self.coupling_range + 1):
                if not self.periodic:
                    cols.append(index[axis] + d < length)
                else:  # each unordered pair once on short periodic axes
                    cols.append(
                        (2 * d < length) | ((2 * d == length) & (index[axis] < d))
                    )
        return np.stack(cols, axis=1).astype(np.float64)


class MLPPotential(AbstractPotential):
    r"""A learned potential: an MLP plus a harmonic confinement.

    $$U(z) = \mathrm{MLP}_\theta(z) + \frac{c}{2} \lVert z \rVert^2,$$

    with a scalar-output MLP of smooth activations (its gradient is the force, so
    the activation must be differentiable; ``tanh`` by default) and a confinement
    $c \ge 0$ that keeps the latent bounded while the MLP is untrained (the MLP's
    gradient is bounded, so for $c > 0$ the force points inward far from the
    origin).

    Args:
        n: the latent dimension.
        width: hidden units per layer.
        depth: number of hidden layers.
        confinement: the curvature $c \ge 0$ of the harmonic term (default 1; an
            array leaf).
        activation: a smooth activation (default ``jnp.tanh``).
        dtype: float dtype of the parameters.
        key: PRNG key for the MLP weights (equinox's default initialisation).
    """

    mlp: eqx.nn.MLP
    confinement: Float[Array, ""]
    n: int = eqx.field(static=True)

    def __init__(
        self,
        n: int,
        *,
        width: int = 64,
        depth: int = 2,
        confinement: ScalarLike = 1.0,
        activation: Callable[[Array], Array] = jnp.tanh,
        dtype: DTypeLike | None = None,
        key: PRNGKeyArray,
    ):
        check_int("n", n, 1)
        check_int("width", width, 1)
        check_int("depth", depth, 0)
        check_callable("activation", activation, "a smooth callable such as jnp.tanh")
        check_key("key", key)
        dtype = check_float_dtype("dtype", dtype)
        c = check_positive("confinement", confinement, dtype, strict=False)
        if c.ndim != 0:
            fail("confinement", "a scalar", f"shape {c.shape}")
        self.n, self.confinement = n, c
        self.mlp = eqx.nn.MLP(
            n, "scalar", width, depth, activation=activation, dtype=dtype, key=key
        )

    def __call__(self, z: Float[Array, " n"]) -> Float[Array, ""]:
        r"""Return $\mathrm{MLP}(z) + \frac c2 \lVert z\rVert^2$."""
        return self.mlp(z) + 0.5 * self.confinement * jnp.sum(z * z)


def _layout(n: int, grid) -> tuple[int, ...]:
    if grid is None:
        return (n,)
    ok = isinstance(grid, tuple | list) and len(grid) == 2
    ok = ok and all(isinstance(g, int) and not isinstance(g, bool) for g in grid)
    if not ok or min(grid) < 1 or grid[0] * grid[1] != n:
        fail("grid", f"None or (rows, cols) with rows * cols = n = {n}", repr(grid))
    return (int(grid[0]), int(grid[1]))


def _per_site(name: str, value, shape: tuple[int, ...], dtype) -> Array:
    """Broadcast a scalar, or per-offset values, to ``shape`` (else raise)."""
    arr = as_array(name, value, dtype)
    allowed = [(), shape[-1:], shape]
    if arr.shape not in allowed:
        what = " or ".join(str(s) for s in dict.fromkeys(allowed))
        fail(name, f"shape {what}", f"shape {arr.shape}")
    return jnp.broadcast_to(arr, shape)

r"""Underdamped Langevin latents: a particle with inertia, friction and noise.

The latent dynamics of LangevinFlow (Song, Keller, Yue, Perona & Welling, CCN 2025),
written as a continuous-time Itô SDE that :func:`dynax.simulate` integrates with any
step size (the published code is a fixed discrete map with $\Delta = 0.01$,
$\gamma = 0.55$).
"""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jax.typing import DTypeLike

from .._custom_types import Args, Array, ArrayLike, Float, PRNGKeyArray, ScalarLike
from .._validate import (
    check_callable,
    check_float_dtype,
    check_int,
    check_key,
    check_positive,
    fail,
)
from ._base import AbstractStochasticDynamics, drive
from ._potentials import AbstractPotential


class UnderdampedLangevin(AbstractStochasticDynamics):
    r"""A unit-mass particle in a potential $U$, with friction, noise and input.

    $$dz = v\,dt, \qquad
    dv = \big(-\gamma \odot v - \nabla U(z) + B\,u(t)\big)\,dt
    + \sigma \odot dW,$$

    an Itô SDE with noise on the velocity only. The state is one vector
    ``y = concat(z, v)`` of length $2n$: positions ``y[:n]``, velocities ``y[n:]``
    (:meth:`positions`, :meth:`velocities`). Time is in the units of $1/\gamma$;
    $\gamma_i > 0$ (friction, per latent) and $\sigma_i > 0$ (noise amplitude, per
    latent) are stored as ``log_gamma`` and ``log_sigma`` (learnable, positive by
    construction). The force $-\nabla U$ comes from ``jax.grad`` of the potential
    (:meth:`~dynax.models.AbstractPotential.force`).

    Stationary law: with $\sigma_i^2 = 2\gamma_i T$ (fluctuation-dissipation) and
    no input, the stationary density is the Gibbs density
    $\propto \exp(-U(z)/T - \lVert v\rVert^2/(2T))$. For the harmonic well
    $U = \frac12 \sum_i \kappa_i z_i^2$ and any $\sigma$: $\mathrm{Var}\,v_i =
    \sigma_i^2/(2\gamma_i)$, $\mathrm{Var}\,z_i = \sigma_i^2/(2\gamma_i\kappa_i)$,
    $\mathrm{Cov}(z_i, v_i) = 0$ (a phase-space Ornstein-Uhlenbeck process).

    Noise is never sampled here: :func:`dynax.simulate` draws the Brownian motion
    from its ``key`` (Euler-Maruyama by default; the noise is additive, so
    Euler-Maruyama converges with strong order 1); without a key the drift alone
    is integrated. The published LangevinFlow step
    $z \leftarrow z + \Delta v$, $v \leftarrow v - \Delta \nabla U(z)$,
    $v \leftarrow (1 - \gamma) v + \sqrt{2\gamma}\,\varepsilon$ is a splitting of
    this SDE with per-step friction $\gamma_\text{step} = \gamma\Delta$ and
    $\sigma^2 \Delta = 2\gamma_\text{step}$ (temperature 1), to first order in
    $\gamma_\text{step}$ (its kick uses the updated position). At its
    $\gamma_\text{step} = 0.55$ the map is far from that limit: its stationary
    velocity variance is $1/(1 - \gamma_\text{step}/2) = 1.38$, not 1.

    Args:
        potential: the potential $U$: an :class:`~dynax.models.AbstractPotential`
            (e.g. :class:`~dynax.models.CoupledOscillatorPotential`,
            :class:`~dynax.models.MLPPotential`), or any callable
            ``U(z) -> scalar`` together with ``n``.
        n: the latent dimension; default ``potential.n``.
        gamma: friction $\gamma > 0$, a scalar or one per latent (default 1).
        sigma: noise amplitude $\sigma > 0$, a scalar or one per latent (default
            1). For a noise-free run simulate without a ``key``.
        n_in: number of input channels (0: autonomous).
        dtype: float dtype of the parameters (default: JAX's default float).
        key: PRNG key for ``B`` (entries $\mathcal N(0, 1/n_\text{in})$); needed
            only when ``n_in > 0``.

    Example:
        >>> U = CoupledOscillatorPotential(4, stiffness=1.0, coupling=0.2)
        >>> model = UnderdampedLangevin(U, gamma=0.5, sigma=0.3)
        >>> ts = jnp.linspace(0.0, 10.0, 201)
        >>> traj = dx.simulate(model, model.init_state(), ts, key=jr.key(0), dt=0.01)
        >>> z = model.positions(traj.ys)  # (201, 4)
    """

    potential: Callable[[Float[Array, " n"]], Float[Array, ""]]
    log_gamma: Float[Array, " n"]
    log_sigma: Float[Array, " n"]
    B: Float[Array, "n n_in"]
    n: int = eqx.field(static=True)
    n_in: int = eqx.field(static=True)

    def __init__(
        self,
        potential: Callable[[Float[Array, " n"]], Float[Array, ""]],
        *,
        n: int | None = None,
        gamma: Float[ArrayLike, "..."] = 1.0,
        sigma: Float[ArrayLike, "..."] = 1.0,
        n_in: int = 0,
        dtype: DTypeLike | None = None,
        key: PRNGKeyArray | None = None,
    ):
        check_callable("potential", potential, "a potential U(z) -> scalar")
        if n is None:
            if not isinstance(potential, AbstractPotential):
                what = "an int (the latent dimension) for a potential without .n"
                fail("n", what, "None")
            n = potential.n
        check_int("n", n, 1)
        if isinstance(potential, AbstractPotential) and potential.n != n:
            fail("n", f"potential.n = {potential.n}", repr(n))
        check_int("n_in", n_in, 0)
        dtype = check_float_dtype("dtype", dtype)
        self.potential, self.n, self.n_in = potential, n, n_in
        self.log_gamma = jnp.log(_per_latent("gamma", gamma, n, dtype))
        self.log_sigma = jnp.log(_per_latent("sigma", sigma, n, dtype))
        if n_in > 0:
            if key is None:
                what = "a PRNG key (B is drawn at random when n_in > 0)"
                fail("key", what, "None", error=TypeError)
            check_key("key", key)
            scale = 1.0 / jnp.sqrt(jnp.asarray(n_in, dtype))
            self.B = jr.normal(key, (n, n_in), dtype) * scale
        else:
            check_key("key", key, optional=True)
            self.B = jnp.zeros((n, 0), dtype)

    @property
    def gamma(self) -> Float[Array, " n"]:
        r"""Friction $\gamma = \exp(\text{log\_gamma})$, one per latent."""
        return jnp.exp(self.log_gamma)

    @property
    def sigma(self) -> Float[Array, " n"]:
        r"""Noise amplitude $\sigma = \exp(\text{log\_sigma})$, one per latent."""
        return jnp.exp(self.log_sigma)

    def force(self, z: Float[Array, " n"]) -> Float[Array, " n"]:
        r"""Return $-\nabla U(z)$ (``jax.grad`` of the potential)."""
        return -jax.grad(self.potential)(z)

    def __call__(
        self, t: ScalarLike, y: Float[Array, " state"], args: Args
    ) -> Float[Array, " state"]:
        r"""Return the drift $(v,\; -\gamma v - \nabla U(z) + B u(t))$."""
        z, v = self.positions(y), self.velocities(y)
        u = drive(args, t, self.n_in, y.dtype)
        dv = -self.gamma * v + self.force(z) + self.B @ u
        return jnp.concatenate([v, dv])

    def diffusion(
        self, t: ScalarLike, y: Float[Array, " state"], args: Args
    ) -> Float[Array, " state"]:
        r"""Return the diagonal noise amplitude: 0 on $z$, $\sigma$ on $v$."""
        del t, args
        return jnp.concatenate([jnp.zeros((self.n,), y.dtype), self.sigma])

    def energy(self, y: Float[Array, " state"]) -> Float[Array, ""]:
        r"""Return the mechanical energy $U(z) + \frac12 \lVert v\rVert^2$."""
        v = self.velocities(y)
        return self.potential(self.positions(y)) + 0.5 * jnp.sum(v * v)

    def positions(self, y: Float[Array, "*batch state"]) -> Float[Array, "*batch n"]:
        """Return the positions $z$ (``y[..., :n]``) of a state or trajectory."""
        return y[..., : self.n]

    def velocities(self, y: Float[Array, "*batch state"]) -> Float[Array, "*batch n"]:
        """Return the velocities $v$ (``y[..., n:]``) of a state or trajectory."""
        return y[..., self.n :]

    def init_state(self) -> Float[Array, " state"]:
        """Return the particle at rest at the origin."""
        return jnp.zeros((2 * self.n,), self.log_gamma.dtype)


def _per_latent(name: str, value, n: int, dtype) -> Array:
    arr = check_positive(name, value, dtype, strict=True)
    if arr.shape not in ((), (n,)):
        fail(name, f"a scalar or shape (n,) = ({n},)", f"shape {arr.shape}")
    return jnp.broadcast_to(arr, (n,))

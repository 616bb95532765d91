r"""Classic flows: Lorenz (1963), Rössler, Van der Pol and Lorenz (1996).

Each parameter is a 0-d array leaf (a sweep over it is a ``vmap``, not a recompile),
of one float dtype (``dtype=``, else that of the float arrays passed, else JAX's
default float). With ``driven=True`` a model takes an input $u(t)$ with one channel
per state variable, added to its vector field ($\dot y = f(y) + u(t)$; e.g. a forced
Van der Pol oscillator is ``u = (0, A cos(w t))``); without it, it takes no input.
"""

import equinox as eqx
import jax.numpy as jnp
from jax.typing import DTypeLike

from .._custom_types import Args, Array, ArrayLike, Float, ScalarLike
from .._validate import ArgumentTypeError, check_float_dtype, check_int
from ._base import AbstractDynamics, drive
from ._coupling import check_per_unit, check_scalar


def _dtype(dtype: DTypeLike | None, *values) -> jnp.dtype:
    if dtype is not None:
        if not jnp.issubdtype(dtype, jnp.floating):
            raise ValueError(f"dtype: expected a float dtype, got {dtype!r}.")
        return jnp.dtype(dtype)
    floats = [
        v.dtype
        for v in values
        if hasattr(v, "dtype") and jnp.issubdtype(v.dtype, jnp.floating)
    ]
    return (
        jnp.dtype(jnp.result_type(*floats))
        if floats
        else check_float_dtype("dtype", None)
    )


def _n_in(driven: bool, dim: int) -> int:
    if not isinstance(driven, bool):
        raise ArgumentTypeError(
            f"driven: expected a bool, got {type(driven).__name__}."
        )
    return dim if driven else 0


def _add_drive(f: Array, args: Args, t: ScalarLike, n_in: int) -> Array:
    return f if n_in == 0 else f + drive(args, t, n_in, f.dtype)


class Lorenz(AbstractDynamics):
    r"""The Lorenz (1963) system, a model of convection with a chaotic attractor.

    $$\dot x = \sigma (y - x),\qquad \dot y = x(\rho - z) - y,\qquad
    \dot z = x y - \beta z,$$

    state ``[x, y, z]``, dimensionless time. At the classic $\sigma = 10$,
    $\rho = 28$, $\beta = 8/3$ the flow is chaotic, with Lyapunov exponents about
    $(0.906, 0, -14.57)$ (Sprott 2003) summing to $-(\sigma + 1 + \beta)$.

    Reference: E. N. Lorenz (1963), "Deterministic nonperiodic flow", J. Atmos. Sci.
    20:130.

    Args:
        sigma: the Prandtl number $\sigma$.
        rho: the reduced Rayleigh number $\rho$.
        beta: the geometric factor $\beta$.
        driven: take a 3-channel input added to the vector field.
        dtype: float dtype of the parameters (see the module docstring).
    """

    sigma: Float[Array, ""]
    rho: Float[Array, ""]
    beta: Float[Array, ""]
    n_in: int = eqx.field(static=True)

    def __init__(
        self,
        sigma: ScalarLike = 10.0,
        rho: ScalarLike = 28.0,
        beta: ScalarLike = 8.0 / 3.0,
        *,
        driven: bool = False,
        dtype: DTypeLike | None = None,
    ):
        dtype = _dtype(dtype, sigma, rho, beta)
        self.sigma = check_scalar("sigma", sigma, dtype)
        self.rho = check_scalar("rho", rho, dtype)
        self.beta = check_scalar("beta", beta, dtype)
        self.n_in = _n_in(driven, 3)

    def __call__(
        self, t: ScalarLike, y: Float[Array, " 3"], args: Args
    ) -> Float[Array, " 3"]:
        """Return ``[dx/dt, dy/dt, dz/dt]`` (plus the input, if driven)."""
        x, v, z = y[0], y[1], y[2]
        f = jnp.stack(
            [self.sigma * (v - x), x * (self.rho - z) - v, x * v - self.beta * z]
        )
        return _add_drive(f, args, t, self.n_in)

    def init_state(self) -> Float[Array, " 3"]:
        """Return ``(1, 1, 1)`` (the origin is a fixed point)."""
        return jnp.ones(3, self.sigma.dtype)


class Rossler(AbstractDynamics):
    r"""The Rössler (1976) system: a folded-band chaotic attractor.

    $$\dot x = -y - z,\qquad \dot y = x + a y,\qquad \dot z = b + z (x - c),$$

    state ``[x, y, z]``, dimensionless time. At the classic $a = b = 0.2$,
    $c = 5.7$ the flow is chaotic (largest Lyapunov exponent about 0.071, Sprott
    2003).

    Reference: O. E. Rössler (1976), "An equation for continuous chaos", Phys.
    Lett. A 57:397.

    Args:
        a: the parameter $a$.
        b: the parameter $b$.
        c: the parameter $c$.
        driven: take a 3-channel input added to the vector field.
        dtype: float dtype of the parameters (see the module docstring).
    """

    a: Float[Array, ""]
    b: Float[Array, ""]
    c: Float[Array, ""]
    n_in: int = eqx.field(static=True)

    def __init__(
        self,
        a: ScalarLike = 0.2,
        b: ScalarLike = 0.2,
        c: ScalarLike = 5.7,
        *,
        driven: bool = False,
        dtype: DTypeLike | None = None,
    ):
        dtype = _dtype(dtype, a, b, c)
        self.a = check_scalar("a", a, dtype)
        self.b = check_scalar("b", b, dtype)
        self.c = check_scalar("c", c, dtype)
        self.n_in = _n_in(driven, 3)

    def __call__(
        self, t: ScalarLike, y: Float[Array, " 3"], args: Args
    ) -> Float[Array, " 3"]:
        """Return ``[dx/dt, dy/dt, dz/dt]`` (plus the input, if driven)."""
        x, v, z = y[0], y[1], y[2]
        f = jnp.stack([-v - z, x + self.a * v, self.b + z * (x - self.c)])
        return _add_drive(f, args, t, self.n_in)

    def init_state(self) -> Float[Array, " 3"]:
        """Return the origin (not a fixed point: ``dz/dt = b`` there)."""
        return jnp.zeros(3, self.a.dtype)


class VanDerPol(AbstractDynamics):
    r"""The Van der Pol oscillator, a relaxation oscillator with a stable limit cycle.

    $$\ddot x - \mu (1 - x^2)\dot x + x = 0,\quad\text{as}\quad \dot x = v,\qquad
    \dot v = \mu (1 - x^2) v - x,$$

    state ``[x, v]``, time in units of the inverse natural frequency. For
    $\mu > 0$ every start except the origin approaches one limit cycle, of
    amplitude near 2 for small $\mu$ and period near $(3 - 2\ln 2)\mu$ for large
    $\mu$.

    Reference: B. van der Pol (1926), "On relaxation-oscillations", Phil. Mag.
    2:978.

    Args:
        mu: the nonlinear damping $\mu$.
        driven: take a 2-channel input added to ``[dx/dt, dv/dt]`` (the forced
            oscillator is ``u = (0, A cos(w t))``).
        dtype: float dtype of the parameter (see the module docstring).
    """

    mu: Float[Array, ""]
    n_in: int = eqx.field(static=True)

    def __init__(
        self,
        mu: ScalarLike = 1.0,
        *,
        driven: bool = False,
        dtype: DTypeLike | None = None,
    ):
        self.mu = check_scalar("mu", mu, _dtype(dtype, mu))
        self.n_in = _n_in(driven, 2)

    def __call__(
        self, t: ScalarLike, y: Float[Array, " 2"], args: Args
    ) -> Float[Array, " 2"]:
        """Return ``[dx/dt, dv/dt]`` (plus the input, if driven)."""
        x, v = y[0], y[1]
        f = jnp.stack([v, self.mu * (1 - x * x) * v - x])
        return _add_drive(f, args, t, self.n_in)

    def init_state(self) -> Float[Array, " 2"]:
        """Return ``(2, 0)``, near the cycle (the origin is a fixed point)."""
        return jnp.array([2.0, 0.0], self.mu.dtype)


class Lorenz96(AbstractDynamics):
    r"""The Lorenz (1996) model: ``n`` sites on a ring, advected, damped and forced.

    $$\dot x_i = (x_{i+1} - x_{i-2})\, x_{i-1} - x_i + F,\qquad
    i = 0, \dots, n-1 \pmod n,$$

    dimensionless time (Lorenz reads one unit as about five days). $x_i = F$ is a
    fixed point; at the classic $F = 8$ it is unstable and the flow (e.g. $n = 40$,
    Lorenz's choice) is chaotic.

    References: E. N. Lorenz (1996), "Predictability: a problem partly solved",
    Proc. ECMWF Seminar on Predictability 1:1; E. N. Lorenz & K. A. Emanuel (1998),
    J. Atmos. Sci. 55:399.

    Args:
        n: the number of sites, ``>= 4``.
        forcing: the forcing $F$, a scalar or one per site.
        driven: take an ``n``-channel input added to the vector field.
        dtype: float dtype of the parameter (see the module docstring).
    """

    forcing: Float[Array, "*n"]
    n: int = eqx.field(static=True)
    n_in: int = eqx.field(static=True)

    def __init__(
        self,
        n: int = 40,
        forcing: Float[ArrayLike, "*n"] = 8.0,
        *,
        driven: bool = False,
        dtype: DTypeLike | None = None,
    ):
        check_int("n", n, 4)
        self.forcing = check_per_unit("forcing", forcing, n, _dtype(dtype, forcing))
        self.n = n
        self.n_in = _n_in(driven, n)

    def __call__(
        self, t: ScalarLike, y: Float[Array, " n"], args: Args
    ) -> Float[Array, " n"]:
        r"""Return $\dot x$ (plus the input, if driven)."""
        ahead, behind2, behind = jnp.roll(y, -1), jnp.roll(y, 2), jnp.roll(y, 1)
        f = (ahead - behind2) * behind - y + self.forcing
        return _add_drive(f, args, t, self.n_in)

    def init_state(self) -> Float[Array, " n"]:
        """Return the fixed point $x_i = F$ with $x_0$ raised by 0.01."""
        x = jnp.broadcast_to(self.forcing, (self.n,))
        return x.at[0].add(jnp.asarray(0.01, x.dtype))

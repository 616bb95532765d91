"""Kick and AddNoise: a pulse along a direction, and extra white noise."""

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from .._custom_types import Array, ArrayLike, Float, Int, ScalarLike
from .._validate import check_array, check_choice, fail, is_concrete
from ._interventions import (
    MAP,
    AbstractIntervention,
    Units,
    active,
    array_state,
    check_units,
    scalar,
)


class Kick(AbstractIntervention):
    r"""A pulse of input along a direction of the state, integrating to its amplitude.

    $$\dot y = f(t, y) + a\,p(t - t_k)\,d\quad\text{(flow)},\qquad
    y_{k+1} = F(t_k, y_k) + a\,d\;\mathbb 1[t_k \le t < t_k + w]\quad\text{(map)},$$

    with direction $d$ (the state's shape, e.g. an eigenvector of a fixed point's
    Jacobian, normalised as the caller likes), amplitude $a$, onset $t_k$
    (``time``) and width $w$. The pulse shape $p$ is zero outside $[t_k, t_k + w)$
    and $\int p = 1$, so the kick adds exactly $a\,d$ of displacement to the
    drift's integral, whatever $w$; as $w \to 0$ it is the jump
    $y \to y + a\,d$. Two shapes:

    - ``"box"`` (default): $p = 1/w$. With Euler steps of ``dt`` on a grid holding
      $t_k$, ``width = dt`` adds $a\,d$ in one step: the discrete jump, exactly.
      Higher-order solvers evaluate stages at a step's right end, where a box
      that ends there is already off: they need the smooth shape.
    - ``"cosine"``: $p(u) = (1 - \cos(2\pi u/w))/w$, continuous with a
      continuous derivative, for Runge-Kutta and adaptive solvers with $w$
      spanning several steps (it is 0 at $t_k$, so one Euler step sees nothing).

    For a map every step whose time lies in the window adds $a\,d$ (take $w$ =
    one step of ``ts`` for a single kick); only ``"box"`` applies.

    Args:
        direction: the direction $d$, shape of the state.
        amplitude: the amplitude $a$ (a scalar; vmap over it for a sweep).
        time: the onset $t_k$.
        width: the pulse duration $w > 0$.
        shape: ``"box"`` or ``"cosine"``.
    """

    direction: Float[Array, "..."]
    amplitude: Float[Array, ""]
    time: Float[Array, ""]
    width: Float[Array, ""]
    shape: str = eqx.field(static=True)

    def __init__(
        self,
        direction: Float[ArrayLike, "..."],
        amplitude: ScalarLike,
        time: ScalarLike,
        width: ScalarLike,
        *,
        shape: str = "box",
    ):
        self.direction = jnp.asarray(direction)
        self.amplitude = jnp.asarray(amplitude)
        self.time = jnp.asarray(time)
        self.width = jnp.asarray(width)
        self.shape = check_choice("shape", shape, ("box", "cosine"))

    def prepare(self, like, kind) -> "Kick":
        """Check the direction's shape; cast to the state's dtype."""
        array_state(like, kind, "model")
        if kind == MAP and self.shape != "box":
            fail("shape", "'box' for a map", repr(self.shape))
        d = check_array("direction", self.direction)
        if jnp.iscomplexobj(d):
            what = "a real array (the real or imaginary part of an eigenvector)"
            fail("direction", what, f"dtype {d.dtype}")
        if d.shape != tuple(like.shape):
            want = f"the state's shape {tuple(like.shape)}"
            fail("direction", want, f"shape {d.shape}")
        time = check_array("time", self.time, ndim=0, what="a scalar time")
        if not jnp.issubdtype(time.dtype, jnp.floating):
            time = time.astype(jnp.result_type(float))
        return Kick(
            d.astype(like.dtype),
            scalar("amplitude", self.amplitude, like.dtype),
            time,
            scalar("width", self.width, time.dtype, positive=True),
            shape=self.shape,
        )

    def pulse(self, t, dtype) -> Array:
        """$p(t - t_k)$, in ``dtype``."""
        window = jnp.stack([self.time, self.time + self.width])
        on = active(window, t).astype(dtype)
        width = self.width.astype(dtype)
        if self.shape == "box":
            return on / width
        u = (jnp.asarray(t).astype(self.time.dtype) - self.time).astype(dtype)
        return on * (1 - jnp.cos(2 * jnp.pi * u / width)) / width

    def adds_noise(self) -> bool:
        """A kick adds no noise."""
        return False

    def drift(self, inner, t, y, args):
        """$f + a p d$: the model plus the pulse."""
        rate = self.amplitude * self.pulse(t, y.dtype)
        return inner(t, y, args) + rate * self.direction

    def update(self, inner, t, y, args):
        """$F + a d$ on the steps inside the pulse."""
        window = jnp.stack([self.time, self.time + self.width])
        on = active(window, t).astype(y.dtype)
        return inner(t, y, args) + (on * self.amplitude) * self.direction

    def diffusion(self, inner, t, y, args):
        """The model's diffusion, unchanged."""
        return None if inner is None else inner(t, y, args)

    def readout(self, inner, y):
        """The model's readout, unchanged."""
        return inner(y)


class AddNoise(AbstractIntervention):
    r"""Add independent white noise of amplitude $\sigma$ to the state (or units).

    The intervened model is an Itô SDE with diagonal diffusion
    $\sqrt{g(t, y)^2 + \sigma^2 m}$, where $g$ is the model's own diffusion (0 for a
    deterministic model) and $m$ is 1 on the noisy units: the sum of the model's
    noise and an independent noise of amplitude $\sigma$ (equal in law; with the
    same ``key`` the sample paths differ from the model's alone). Noise is drawn by
    :func:`dynax.simulate` from its ``key``; without a key it is off. Maps take no
    noise (``simulate`` iterates them deterministically).

    Args:
        sigma: the noise amplitude $\sigma \ge 0$: a scalar, or one value per unit
            of ``units`` (per row of the state when ``units`` is ``None``).
        units: indices into the leading axis of the state (``None``: all).
    """

    sigma: Float[Array, "..."]
    units: Int[Array, " k"] | None

    def __init__(self, sigma: Float[ArrayLike, "..."], units: Units | None = None):
        self.sigma = jnp.asarray(sigma)
        self.units = None if units is None else jnp.asarray(units)

    def prepare(self, like, kind) -> "AddNoise":
        """Check the units and the shape of ``sigma``; cast to the state's dtype."""
        array_state(like, kind, "model")
        if kind == MAP:
            fail(
                "model",
                "a flow (AbstractDynamics) for AddNoise",
                "a map (dynax.simulate iterates maps without noise)",
                error=TypeError,
            )
        n = like.shape[0]
        units = None if self.units is None else check_units(self.units, n)
        k = n if units is None else units.shape[0]
        sigma = check_array("sigma", self.sigma)
        if sigma.shape not in ((), (k,)):
            fail(
                "sigma",
                f"a scalar or shape ({k},) (one per unit)",
                f"shape {sigma.shape}",
            )
        sigma = sigma.astype(like.dtype)
        if is_concrete(sigma) and not bool(jnp.all(sigma >= 0)):
            fail("sigma", "values >= 0", f"{np.asarray(sigma)}")
        return eqx.tree_at(
            lambda a: (a.sigma, a.units),
            self,
            (sigma, units),
            is_leaf=lambda x: x is None,
        )

    def adds_noise(self) -> bool:
        """This intervention is noise."""
        return True

    def _amplitude(self, y) -> Array:
        n = y.shape[0]
        per_unit = jnp.broadcast_to(
            self.sigma, (n if self.units is None else self.units.shape[0],)
        )
        if self.units is not None:
            per_unit = jnp.zeros((n,), y.dtype).at[self.units].set(per_unit)
        return jnp.broadcast_to(per_unit.reshape((n,) + (1,) * (y.ndim - 1)), y.shape)

    def drift(self, inner, t, y, args):
        """The model's drift, unchanged."""
        return inner(t, y, args)

    def update(self, inner, t, y, args):
        """Maps take no noise (rejected in :meth:`prepare`)."""
        return inner(t, y, args)

    def diffusion(self, inner, t, y, args):
        r"""$\sqrt{g^2 + \sigma^2 m}$ (differentiable where it is 0)."""
        extra = self._amplitude(y)
        if inner is None:
            return extra
        var = inner(t, y, args) ** 2 + extra**2
        positive = var > 0
        return jnp.where(positive, jnp.sqrt(jnp.where(positive, var, 1)), 0)

    def readout(self, inner, y):
        """The model's readout, unchanged."""
        return inner(y)

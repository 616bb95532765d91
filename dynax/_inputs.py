"""Input objects handed to models through ``args`` (anything with ``.evaluate(t)``)."""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from ._custom_types import ScalarLike


class ConstantInput(eqx.Module):
    """An input held constant in time.

    Useful to evaluate a model's vector field by hand (fixed points, linearisation)
    with the input a task holds during a period, e.g.
    ``model(0.0, x, dx.ConstantInput(u))``.

    Args:
        value: the input returned at every time.
    """

    value: Float[Array, "..."]

    def __init__(self, value: Float[ArrayLike, "..."]):
        self.value = jnp.asarray(value)

    def evaluate(self, t: ScalarLike) -> Float[Array, "..."]:
        """Return the constant input (``t`` is ignored)."""
        del t
        return self.value


class PiecewiseConstantInput(eqx.Module):
    r"""An input sampled on a time grid, held constant between samples.

    ``evaluate(t)`` returns ``values[k]`` for $t_k \le t < t_{k+1}$ (right-continuous),
    ``values[0]`` before ``ts[0]`` and ``values[-1]`` after ``ts[-1]``. This is the
    convention of :func:`dynax.simulate`: the sample at ``ts[k]`` drives the interval
    from ``ts[k]`` to ``ts[k+1]``.

    Args:
        ts: increasing sample times, shape ``(time,)``.
        values: samples, leading axis time.
    """

    ts: Float[Array, " time"]
    values: Float[Array, "time ..."]

    def __init__(
        self, ts: Float[ArrayLike, " time"], values: Float[ArrayLike, "time ..."]
    ):
        self.ts = jnp.asarray(ts)
        self.values = jnp.asarray(values)

    def evaluate(self, t: ScalarLike) -> Float[Array, "..."]:
        """Return the sample in force at time ``t``."""
        index = jnp.searchsorted(self.ts, t, side="right") - 1
        return self.values[jnp.clip(index, 0, self.ts.shape[0] - 1)]

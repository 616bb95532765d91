"""Turn a model into diffrax terms: the drift, and for SDEs diagonal noise."""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import jax.tree_util as jtu
from jaxtyping import Array, Float, PRNGKeyArray, PyTree

from ._custom_types import Args, ScalarLike, State
from .models._base import AbstractStochasticDynamics


class DiagonalNoiseTerm(diffrax.AbstractTerm):
    r"""The term $g(t, y) \odot dW$ of an SDE with diagonal noise.

    ``diffusion`` returns $g$ with the structure of $y$; ``control`` is a path whose
    ``evaluate(t0, t1)`` returns the Brownian increment, with the structure of $y$.
    """

    diffusion: diffrax.AbstractTerm | object
    control: object

    def vf(self, t: ScalarLike, y: State, args: Args) -> State:
        """Return the diffusion coefficient."""
        return self.diffusion(t, y, args)  # pyright: ignore[reportCallIssue]

    def contr(self, t0: ScalarLike, t1: ScalarLike, **kwargs) -> State:
        """Return the Brownian increment over ``[t0, t1]``."""
        return self.control.evaluate(t0, t1, **kwargs)  # pyright: ignore

    def prod(self, vf: State, control: State) -> State:
        """Multiply elementwise (diagonal noise)."""
        return jtu.tree_map(lambda g, dw: g * dw.astype(g.dtype), vf, control)


class StepIncrement(eqx.Module):
    """A Brownian 'path' that returns one precomputed increment (one scan step)."""

    increment: PyTree[Array]

    def evaluate(self, t0, t1=None, left=True, use_levy=False):
        """Return the stored increment; the fast path asks once per step."""
        del t0, t1, left
        if use_levy:
            raise ValueError(
                "solver: solvers that need Lévy areas are not supported on the "
                "fixed-step path; use diffrax.Euler, diffrax.Heun or "
                "diffrax.EulerHeun, or pass an adaptive stepsize_controller."
            )
        return self.increment


class GridBrownian(eqx.Module):
    """Brownian increments precomputed on a grid of steps (``step_ts`` = step starts).

    ``evaluate(t0, t1)`` returns the increment of the step that starts at ``t0``; it
    is exact only for steps on that grid. It lets ``diffrax.diffeqsolve`` with
    ``ConstantStepSize`` see exactly the noise the fast path sees.
    """

    step_ts: Float[Array, " steps"]
    increments: PyTree[Array]

    def evaluate(self, t0, t1=None, left=True, use_levy=False):
        """Return the increment of the step starting at ``t0``."""
        del t1, left, use_levy
        index = jnp.argmin(jnp.abs(self.step_ts - t0))
        return jtu.tree_map(lambda dw: dw[index], self.increments)


def brownian_increments(
    key: PRNGKeyArray, y0: State, step_sizes: Float[Array, "*steps"]
) -> PyTree[Array]:
    """Draw independent Gaussian increments ``N(0, h)`` for every step and element."""
    leaves, treedef = jtu.tree_flatten(y0)
    keys = jr.split(key, len(leaves))
    out = []
    for k, leaf in zip(keys, leaves, strict=True):
        shape = step_sizes.shape + jnp.shape(leaf)
        scale = jnp.sqrt(step_sizes).astype(leaf.dtype)
        scale = scale.reshape(step_sizes.shape + (1,) * jnp.ndim(leaf))
        out.append(jr.normal(k, shape, leaf.dtype) * scale)
    return jtu.tree_unflatten(treedef, out)


def is_stochastic(model: object) -> bool:
    """Whether the model has a diffusion term."""
    return isinstance(model, AbstractStochasticDynamics)


class StepDrift(diffrax.AbstractTerm):
    """The drift ``f(t, y, args) dt`` with ``dt`` in the state's dtype.

    ``diffrax.ODETerm`` multiplies by ``t1 - t0`` in the dtype of the times; a
    float32 network on float64 times (a task grid under ``jax_enable_x64``) then
    fails strict dtype promotion inside ``solver.step``. The fixed-step path uses
    this term instead: the times keep their precision, only the step is cast.
    """

    vector_field: object
    dtype: object = eqx.field(static=True)

    def vf(self, t: ScalarLike, y: State, args: Args) -> State:
        """Return ``f(t, y, args)``."""
        return self.vector_field(t, y, args)  # pyright: ignore[reportCallIssue]

    def contr(self, t0: ScalarLike, t1: ScalarLike, **kwargs) -> Array:
        """Return the step ``t1 - t0`` in the state's dtype."""
        del kwargs
        return (jnp.asarray(t1) - jnp.asarray(t0)).astype(self.dtype)  # pyright: ignore

    def prod(self, vf: State, control: Array) -> State:
        """Scale every leaf of ``vf`` by the step."""
        return jtu.tree_map(lambda v: v * control.astype(v.dtype), vf)


def make_terms(model, control=None, dtype=None) -> diffrax.AbstractTerm:
    """Return ``ODETerm(model)``, plus diagonal noise driven by ``control`` if given.

    With ``dtype`` (the state's), the drift is a :class:`StepDrift` instead.
    """
    drift = diffrax.ODETerm(model) if dtype is None else StepDrift(model, dtype)
    if control is None:
        return drift
    noise = DiagonalNoiseTerm(model.diffusion, control)  # pyright: ignore
    return diffrax.MultiTerm(drift, noise)


def virtual_brownian(
    key: PRNGKeyArray, y0: State, t0: Array, t1: Array, tol: Array
) -> diffrax.VirtualBrownianTree:
    """A Brownian motion with the structure of ``y0`` for adaptive SDE solves."""
    shape = jtu.tree_map(lambda y: jax.ShapeDtypeStruct(y.shape, y.dtype), y0)
    return diffrax.VirtualBrownianTree(t0, t1, tol=tol, shape=shape, key=key)

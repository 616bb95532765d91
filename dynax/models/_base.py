"""The model contract: continuous flows, stochastic flows and discrete-time maps.

Every model is an ``equinox.Module`` describing **one** network with **one** state (no
batch axis). Ensembles and batches come from ``vmap``. External drive reaches a model
through ``args`` (an object with ``.evaluate(t)``; see :func:`dynax.simulate`), never
as a field. Noise is never sampled inside a model: stochastic models only describe
their diffusion and :func:`dynax.simulate` supplies the Brownian motion.
"""

import abc

import equinox as eqx
import jax.numpy as jnp

from .._custom_types import Args, Array, ScalarLike, State
from .._validate import fail


class AbstractDynamics(eqx.Module):
    r"""A continuous-time dynamical system $\dot y = f(t, y, \text{args})$.

    Subclasses implement ``__call__(t, y, args)`` returning ``dy/dt`` (same PyTree
    structure, shapes and dtypes as ``y``) and ``init_state()``. Models with outputs
    also define ``readout(y)``.
    """

    @abc.abstractmethod
    def __call__(self, t: ScalarLike, y: State, args: Args) -> State:
        """Return the time derivative ``dy/dt`` at time ``t`` and state ``y``."""

    @abc.abstractmethod
    def init_state(self) -> State:
        """Return the default initial state (zeros unless another start is right)."""


class AbstractStochasticDynamics(AbstractDynamics):
    r"""An Itô SDE $dy = f(t, y, \text{args})\,dt + g(t, y, \text{args}) \odot dW$.

    The noise is diagonal: ``diffusion(t, y, args)`` returns $g$ with the same PyTree
    structure and shapes as ``y``, and each state element receives its own independent
    Brownian motion $W$. :func:`dynax.simulate` draws $W$ from its ``key``; without a
    key the diffusion is switched off and the drift alone is integrated.
    """

    @abc.abstractmethod
    def diffusion(self, t: ScalarLike, y: State, args: Args) -> State:
        r"""Return the diagonal diffusion coefficient $g(t, y, \text{args})$."""


class AbstractMap(eqx.Module):
    r"""A discrete-time system $y_{k+1} = F(t_k, y_k, \text{args})$.

    ``__call__(t, y, args)`` returns the **next** state; :func:`dynax.simulate`
    iterates it with ``lax.scan``, one application per interval of ``ts``.
    """

    @abc.abstractmethod
    def __call__(self, t: ScalarLike, y: State, args: Args) -> State:
        """Return the next state after ``y`` given the input at time ``t``."""

    @abc.abstractmethod
    def init_state(self) -> State:
        """Return the default initial state (zeros unless another start is right)."""


def drive(args: Args, t: ScalarLike, n_in: int, dtype) -> Array:
    """Return the external input at time ``t``: ``args.evaluate(t)``, or zeros.

    Args:
        args: the object :func:`dynax.simulate` passes to the model (anything with
            ``.evaluate(t)``), or ``None`` when the model runs without input: then
            every channel is zero (documented for users in :func:`dynax.simulate`).
        t: the time.
        n_in: the number of input channels the model expects.
        dtype: dtype of the zero input used when ``args`` is ``None``.

    Returns:
        The input vector of shape ``(n_in,)``.
    """
    if args is None or n_in == 0:
        return jnp.zeros((n_in,), dtype)
    u = jnp.asarray(args.evaluate(t))
    if u.shape != (n_in,):
        what = f"shape ({n_in},) at one time (the model's n_in = {n_in} channels)"
        fail("inputs", what, f"shape {u.shape}")
    return u.astype(dtype)


class AbstractSteppedMap(AbstractMap):
    r"""A map whose application advances physical time by a fixed step.

    For a plain :class:`AbstractMap` the spacing of ``ts`` only labels the steps;
    a stepped map (an integrate-and-fire network stepped by ``dt`` ms, a delay
    system with a ring buffer of ``dt`` slots) means one application per
    ``time_step()``, so :func:`dynax.simulate` requires ``ts`` spaced by exactly
    that step (and a ``dt``, if given, equal to it).
    """

    @abc.abstractmethod
    def time_step(self) -> Array:
        """The time one application advances (a scalar array)."""


class AbstractReservoir(AbstractMap):
    r"""A discrete-time reservoir driven by an input sequence: $x_{k+1} = F(x_k, u_k)$.

    The online-learning interface. ``step(x, u)`` has one meaning: the next state
    from the state ``x`` (any PyTree the model's ``init_state()`` returns) and the
    input vector ``u`` of shape ``(n_in,)``, with every parameter taken from the
    model's fields (to step with other gains or weights, step a copy made with
    ``eqx.tree_at``). ``__call__(t, x, args)`` is ``step`` with the input
    ``args.evaluate(t)``, so :func:`dynax.simulate` runs the same map. The online
    procedures (:func:`dynax.train.force_readout`,
    :func:`dynax.train.adapt_inhibition`, :func:`dynax.train.stdp`) accept the
    reservoirs that declare this interface and raise a ``TypeError`` naming the
    model's class for any other model.
    """

    n_in: eqx.AbstractVar[int]

    @abc.abstractmethod
    def step(self, x: State, u: Array) -> State:
        """Return the next state after ``x`` driven by the input ``u`` (``(n_in,)``)."""


class AbstractFeedbackReservoir(AbstractReservoir):
    r"""A reservoir whose readout output can be fed back into it.

    ``step_feedback(x, u, y)`` is the next state when the output ``y`` (shape
    ``(n_fb,)``) is fed back, whatever produced ``y``: a target (teacher forcing), the
    output of a readout being learned (FORCE) or the model's own readout (closed
    loop). ``step(x, u)`` feeds back the model's stored readout of ``x``. ``n_fb`` is
    the number of fed-back channels, 0 for a network built without feedback (then
    ``y`` must have shape ``(0,)`` and is ignored).
    """

    @property
    @abc.abstractmethod
    def n_fb(self) -> int:
        """The number of fed-back output channels (0: no feedback)."""

    @abc.abstractmethod
    def step_feedback(self, x: State, u: Array, y: Array) -> State:
        """Return the next state after ``x``, input ``u`` and fed-back output ``y``."""

    @abc.abstractmethod
    def readout(self, x: State) -> Array:
        """Return the stored readout's output at state ``x``."""

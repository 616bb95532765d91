"""Tasks: pure samplers of single trials ``task.sample(key) -> TaskBatch``.

Every task is an :class:`AbstractTask` with static sizes, a time grid ``task.ts`` and
``sample``, ``ood`` and ``score`` methods; batches come from ``jax.vmap`` over keys.
Targets are causal for :func:`dynax.simulate`: ``targets[k]`` depends on
``inputs[0..k-1]`` only, because the state at index ``k`` has seen just those.

Example:
    >>> import jax
    >>> from dynax.tasks import FlipFlop
    >>> task = FlipFlop(n_bits=3)
    >>> batch = jax.vmap(task.sample)(jax.random.split(jax.random.key(0), 32))
    >>> batch.inputs.shape, batch.targets.shape
    ((32, 100, 3), (32, 100, 3))
"""

from ._base import AbstractTask as AbstractTask, TaskBatch as TaskBatch
from ._discrimination import DelayedDiscrimination as DelayedDiscrimination
from ._flipflop import FlipFlop as FlipFlop
from ._hmm import HMMEmission as HMMEmission
from ._integration import PathIntegration as PathIntegration
from ._memory import (
    AbstractBitStreamTask as AbstractBitStreamTask,
    NDelayedMatch as NDelayedMatch,
    NParity as NParity,
    curriculum as curriculum,
)
from ._sine import SineWave as SineWave

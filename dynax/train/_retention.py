r"""Memory retention of flip-flop networks: set every bit pattern, then hold it.

The flip-flop's sign accuracy (:meth:`dynax.tasks.FlipFlop.score`) is computed on
trials of the training length, where a pattern rarely has to be held for long. A
network can score 1.000 and still have lost memories: set to (+, +, +), its state
drifts to (-, +, +) within a few trial lengths because that corner is not an
attractor. :func:`memory_retention` tests every memory directly, as Sussillo &
Barak's fixed-point picture predicts it: set each of the $2^n$ patterns by one pulse
per channel (the way the task sets bits), hold the input at zero for a long time and
record how long each pattern stays on the output.
"""

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from .._custom_types import Array, Bool, Float, Int
from .._ensemble import plan, run
from .._simulate import simulate
from .._validate import ArgumentTypeError
from ..tasks import FlipFlop
from ._step import cast_floats


class Retention(eqx.Module):
    """How long a flip-flop network holds each of its ``2**n_bits`` memories.

    With an ensemble every array but ``patterns`` and ``hold_steps`` has a leading
    member axis.

    Attributes:
        patterns: the bit patterns, shape ``(2**n_bits, n_bits)``, entries ±1.
        hold_steps: the hold lengths checked, in task steps, increasing.
        held: whether the output held pattern ``p`` for ``hold_steps[j]`` steps at
            zero input, shape ``(*members, patterns, holds)``: every channel's output
            stayed on the pattern's side of zero by more than ``threshold`` at every
            step of that window.
        lost_at: the first hold step at which pattern ``p`` was lost (-1 if it was
            held through the longest hold), shape ``(*members, patterns)``.
        fraction: the fraction of patterns held, shape ``(*members, holds)``.
        n_held: how many patterns were held through the longest hold,
            shape ``(*members,)``.
    """

    patterns: Float[Array, "patterns n_bits"]
    hold_steps: Int[Array, " holds"]
    held: Bool[Array, "*members patterns holds"]
    lost_at: Int[Array, "*members patterns"]
    fraction: Float[Array, "*members holds"]
    n_held: Int[Array, "*members"]


def bit_patterns(n_bits: int) -> np.ndarray:
    """All ``2**n_bits`` patterns of ±1 (row ``p`` is the binary code of ``p``)."""
    codes = (np.arange(2**n_bits)[:, None] >> np.arange(n_bits)[::-1]) & 1
    return np.where(codes == 1, 1.0, -1.0)


def retention_inputs(task: FlipFlop, n_hold: int, gap: int) -> tuple[np.ndarray, int]:
    """The input of every pattern trial and the index at which the hold starts.

    Channel ``c`` gets its pulse at index ``c * gap`` (one channel at a time, as in
    training trials); the hold starts at ``n_bits * gap``, when the last pulse has had
    ``gap - 1 >= settle_steps`` steps to show, and lasts ``n_hold + 1`` samples.
    """
    patterns = bit_patterns(task.n_bits)
    start = task.n_bits * gap
    inputs = np.zeros((len(patterns), start + n_hold + 1, task.n_bits))
    for c in range(task.n_bits):
        inputs[:, c * gap, c] = patterns[:, c]
    return inputs, start


def memory_retention(
    model,
    task: FlipFlop,
    *,
    hold_steps=(100, 400, 1600),
    threshold: float = 0.5,
    gap: int | None = None,
    ensemble: bool = False,
    chunk_size: int | None = None,
) -> Retention:
    r"""Set each flip-flop memory and report how long the network holds it.

    For each of the ``2**n_bits`` patterns $p$, the network starts from
    ``model.init_state()``; channel $c$ gets a pulse $p_c$ at index $c \cdot$
    ``gap`` (the task's pulse size), and the input is then zero for
    ``max(hold_steps)`` steps of ``task.dt``. Pattern $p$ is *held* for $T$ steps
    when $p_c\, y_c(t) >$ ``threshold`` for every channel $c$ and every hold step
    $t \le T$, with $y$ the readout. The network runs without private noise.

    A network whose stable fixed points at zero input sit at the $2^n$ corners holds
    every pattern indefinitely; a pattern whose corner is not an attractor is lost
    after a time that grows with the slowest decaying mode, so checking several hold
    lengths (a multiple of the trial length) tells lost memories from slow ones.

    Args:
        model: a trained network with ``n_in = n_out = task.n_bits`` and a
            ``readout``, or a stacked ensemble of them (``ensemble=True``).
        task: the :class:`dynax.tasks.FlipFlop` it was trained on (its ``n_bits``,
            ``dt`` and ``settle_steps`` are used).
        hold_steps: hold lengths to report, in task steps (positive ints).
        threshold: how far on the right side of zero every output must stay
            (targets are ±1; 0 checks the sign only).
        gap: steps between the pulses that set the pattern; default
            ``settle_steps + 1``.
        ensemble: whether ``model`` is a stacked ensemble.
        chunk_size: with an ensemble, run this many members at a time.

    Returns:
        A :class:`Retention`.
    """
    if not isinstance(task, FlipFlop):
        raise ArgumentTypeError(
            f"task: expected a dx.tasks.FlipFlop, got {type(task).__name__}."
        )
    holds = np.asarray(hold_steps)
    if holds.ndim != 1 or holds.size == 0 or holds.dtype.kind not in "iu":
        raise ValueError(
            f"hold_steps: expected a non-empty sequence of ints, got {hold_steps!r}."
        )
    if np.any(holds < 1):
        raise ValueError(f"hold_steps: expected ints >= 1, got {hold_steps!r}.")
    holds = np.sort(holds)
    gap = task.settle_steps + 1 if gap is None else gap
    if isinstance(gap, bool) or not isinstance(gap, int) or gap <= task.settle_steps:
        raise ValueError(
            f"gap: expected an int > settle_steps = {task.settle_steps}, got {gap!r}."
        )
    if not threshold >= 0:
        raise ValueError(f"threshold: expected a number >= 0, got {threshold!r}.")
    how = plan(model, ensemble, chunk_size=chunk_size)
    inputs, start = retention_inputs(task, int(holds[-1]), gap)
    return _retention(
        model,
        jnp.asarray(inputs),
        jnp.asarray(bit_patterns(task.n_bits)),
        jnp.asarray(holds),
        task.dt,
        threshold,
        start,
        how,
    )


@eqx.filter_jit
def _retention(model, inputs, patterns, holds, dt, threshold, start, how):
    def one(m, key):
        del key
        y0 = m.init_state()
        u, p = cast_floats((inputs, patterns), y0)
        ts = dt * jnp.arange(u.shape[1], dtype=u.dtype)
        outputs: Array = simulate(m, y0, ts, inputs=u, trials=True).outputs  # pyright: ignore
        # The hold window: samples start..end, i.e. hold steps 0..max(holds).
        margin = jnp.min(outputs[:, start:] * p[:, None, :], axis=-1)
        ok = margin > threshold  # (patterns, hold steps + 1); NaN counts as lost
        kept = jnp.cumprod(ok, axis=1).astype(bool)
        held = kept[:, holds]
        lost_at = jnp.where(kept[:, -1], -1, jnp.argmin(kept, axis=1))
        return held, lost_at

    held, lost_at = run(one, model, (), how)
    patterns = patterns.astype(jnp.result_type(float))
    return Retention(
        patterns=patterns,
        hold_steps=holds,
        held=held,
        lost_at=lost_at,
        fraction=jnp.mean(held, axis=-2, dtype=patterns.dtype),
        n_held=jnp.sum(held[..., -1], axis=-1),
    )

r"""The one online scan: a reservoir stepped through time beside a learning rule.

Every online procedure on a discrete-time reservoir (FORCE, homeostatic inhibition,
STDP, teacher forcing, closed-loop generation) is this loop, with its own rule::

    for k in range(T):
        net, u, y, carry = before(x[k], data[k], carry)  # the network to step now,
                                                         # its input, its feedback
        x[k+1] = net.step(x[k], u)             if y is None
                 net.step_feedback(x[k], u, y) otherwise
        carry, record[k] = after(x[k], x[k+1], data[k], carry)

``before`` may change the network for this step (current gains, current weights),
choose its input (the data, or the network's own output in closed loop) and the
output fed back (a target when teacher-forcing, the learned readout's output under
FORCE); ``after`` updates the rule's state from the transition and says what to
record. ``step`` and ``step_feedback`` are the declared reservoir interface of
:class:`dynax.models.AbstractReservoir` and
:class:`dynax.models.AbstractFeedbackReservoir`, so a rule can only feed an output
back into a network that declares feedback.
"""

from collections.abc import Callable
from typing import Any

import jax

from ._base import AbstractFeedbackReservoir, AbstractReservoir

Before = Callable[[Any, Any, Any], tuple[AbstractReservoir, Any, Any, Any]]
After = Callable[[Any, Any, Any, Any], tuple[Any, Any]]


def _no_after(x, x_next, item, carry):
    return carry, None


def run_online(
    x0: Any,
    data: Any,
    carry: Any,
    before: Before,
    after: After | None = None,
    *,
    length: int | None = None,
    record_every: int = 1,
) -> tuple[Any, Any, Any]:
    """Run the online loop above as one ``lax.scan``; trace inside ``jit``.

    Args:
        x0: the reservoir state at step 0 (any PyTree the network's ``step`` takes).
        data: a PyTree whose leaves have a leading time axis (``data[k]`` is given
            to the rule at step ``k``), or ``None`` with ``length``.
        carry: the rule's initial state.
        before: ``(x, item, carry) -> (net, u, y, carry)``: the
            :class:`~dynax.models.AbstractReservoir` to step, its input ``u`` and
            the fed-back output ``y`` (``None``: no feedback, ``net.step(x, u)``).
        after: ``(x, x_next, item, carry) -> (carry, record)``; default: records
            nothing.
        length: the number of steps when ``data`` is ``None``.
        record_every: keep the record of every ``record_every``-th step only (the
            last step of each block of ``record_every``; the number of steps must be
            a multiple of it).

    Returns:
        ``(x_T, carry_T, records)`` with a leading axis on the records' leaves.
    """
    after = _no_after if after is None else after

    def one(state, item):
        x, c = state
        net, u, y, c = before(x, item, c)
        if y is None:
            x_next = net.step(x, u)
        elif isinstance(net, AbstractFeedbackReservoir):
            x_next = net.step_feedback(x, u, y)
        else:  # a rule error, not a user error: rules check their models first
            raise TypeError(f"{type(net).__name__} does not declare output feedback")
        c, record = after(x, x_next, item, c)
        return (x_next, c), record

    if record_every == 1:
        (x, c), records = jax.lax.scan(one, (x0, carry), data, length=length)
        return x, c, records
    n_t = jax.tree.leaves(data)[0].shape[0] if length is None else length
    n_blocks = n_t // record_every
    blocks = jax.tree.map(
        lambda a: a.reshape(n_blocks, record_every, *a.shape[1:]), data
    )

    def block(state, items):
        state, records = jax.lax.scan(one, state, items, length=record_every)
        return state, jax.tree.map(lambda r: r[-1], records)

    (x, c), records = jax.lax.scan(
        block, (x0, carry), blocks, length=n_blocks if data is None else None
    )
    return x, c, records

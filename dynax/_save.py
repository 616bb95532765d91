"""``Save``: what :func:`dynax.simulate` keeps of a solve (``save=``)."""

from collections.abc import Callable
from typing import Any

import equinox as eqx

from ._validate import check_bool, check_callable, check_int, fail


class Save(eqx.Module):
    """What :func:`dynax.simulate` materialises (``simulate(..., save=dx.Save(...))``).

    The default, ``Save()``, keeps what ``simulate`` always kept: every state at
    every time of ``ts`` and the model's readout of each. Anything switched off is
    never stored: with ``states=False`` the states are not written out at all (the
    readout is applied inside the time loop, one step at a time), which is what a
    caller who wants only outputs should ask for on long trials and large ensembles.

    Attributes:
        states: keep the states (``Trajectory.ys``); ``False`` leaves ``ys`` ``None``.
        outputs: keep the readout (``Trajectory.outputs``); ``False`` leaves it
            ``None`` (models without a readout always give ``None``).
        every: keep every ``every``-th save time only, ``ts[::every]`` (``ts[0]``
            included; the last time only when ``every`` divides ``len(ts) - 1``).
            Inputs are still sampled on the whole ``ts``; on the fixed-step path
            the steps after the last kept time are not taken.
        final: keep the state at ``ts[-1]`` only (a time axis of length 1, as
            diffrax's ``SaveAt(t1=True)``); cannot be combined with ``every``.
        fn: keep ``fn(t, y)`` instead of the state ``y`` (``Trajectory.ys``
            holds its PyTree with a leading time axis), like diffrax's
            ``SaveAt(fn=...)`` without ``args``. Needs ``states=True``. The readout
            still reads the state itself.

    A member whose state becomes NaN/inf shows its last finite kept save from then
    on, and is flagged (``Trajectory.ok``), whatever is kept.

    Example:
        ```python
        traj = dx.simulate(model, model.init_state(), ts, inputs=u,
                           save=dx.Save(states=False))  # outputs only
        rates = dx.simulate(model, model.init_state(), ts, inputs=u,
                            save=dx.Save(every=10, fn=lambda t, y: jnp.tanh(y)))
        ```
    """

    states: bool = eqx.field(default=True, static=True)
    outputs: bool = eqx.field(default=True, static=True)
    every: int = eqx.field(default=1, static=True)
    final: bool = eqx.field(default=False, static=True)
    fn: Callable[[Any, Any], Any] | None = eqx.field(default=None, static=True)

    def __check_init__(self):
        check_bool("states", self.states)
        check_bool("outputs", self.outputs)
        check_int("every", self.every, 1)
        check_bool("final", self.final)
        if self.fn is not None:
            check_callable("fn", self.fn)
            if not self.states:
                what = "None with states=False (fn replaces the states)"
                fail("fn", what, "a callable")
        if self.final and self.every != 1:
            fail(
                "every",
                "1 with final=True (final keeps ts[-1] only)",
                repr(self.every),
            )
        if not (self.states or self.outputs):
            fail("states", "True, or outputs=True (something must be kept)", "False")

    @property
    def default(self) -> bool:
        """Whether this keeps every state and output (the fast default path)."""
        return self.every == 1 and not self.final and self.fn is None and self.states

    def kept(self, t, y, readout: Callable | None) -> dict[str, Any]:
        """What is kept of the state ``y`` at time ``t``, as a dict.

        Keys ``"ys"`` and ``"outputs"``, each only where it is kept (``readout``
        ``None``: no outputs).
        """
        kept = {}
        if self.states:
            kept["ys"] = y if self.fn is None else self.fn(t, y)
        if self.outputs and readout is not None:
            kept["outputs"] = readout(y)
        return kept

    def check_times(self, n_times: int) -> None:
        """Check ``every`` against ``len(ts)`` (host-side; ``n_times`` is static)."""
        if self.every > max(n_times - 1, 1):
            fail(
                "save",
                f"every <= len(ts) - 1 = {n_times - 1}",
                f"Save(every={self.every})",
            )

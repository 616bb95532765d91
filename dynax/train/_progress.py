"""Progress of :func:`dynax.train.fit`: a tqdm bar on a terminal, lines elsewhere.

On an interactive terminal (``sys.stderr.isatty()``) ``fit`` draws a tqdm bar. Off a
terminal (a pipe, a log file, a batch job, a notebook) a bar would either vanish or
fill the log with carriage returns, so a long ``fit`` prints one line to stderr about
every ``INTERVAL`` seconds (after the chunk that crosses it; once during a long first
chunk, which is mostly compilation) and one when it ends; a run shorter than that
prints nothing. ``progress=False`` or the environment variable
``TQDM_DISABLE`` (non-empty) silence both. tqdm is imported only when a bar is drawn:
it is slow to import, and ``tqdm.auto`` warns inside a notebook without ipywidgets.
"""

import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np

INTERVAL = 10.0  # seconds between two progress lines off a terminal


@runtime_checkable
class TextStream(Protocol):
    """Where progress goes: anything with ``write(str)`` and ``flush()``."""

    def write(self, s: str, /) -> Any:
        """Write text."""
        ...

    def flush(self) -> Any:
        """Flush buffered text."""
        ...


def progress_mode(progress: bool | None, stream: TextStream | None = None) -> str:
    """``"off"``, ``"bar"`` (a tqdm bar) or ``"lines"`` (a line every few seconds).

    Args:
        progress: ``fit``'s argument: ``False`` silences, ``True`` or ``None``
            report (a bar on a terminal, lines elsewhere).
        stream: where progress goes (default ``sys.stderr``).
    """
    if progress is False or os.environ.get("TQDM_DISABLE"):
        return "off"
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return "bar" if isatty is not None and isatty() else "lines"


def median_loss(losses) -> float:
    """Median of the finite losses of one step (NaN if none is finite), no warning."""
    losses = np.asarray(losses, dtype=float)
    finite = losses[np.isfinite(losses)]
    return float(np.median(finite)) if finite.size else float("nan")


class _Off:
    def update(self, step: int, losses, n_failed: int) -> None:
        pass

    def close(self) -> None:
        pass


class _Bar:
    def __init__(self, total: int, initial: int, stream: TextStream):
        from tqdm.std import tqdm  # not tqdm.auto: it warns in notebooks

        self.step = initial
        self.bar = tqdm(
            total=total,
            initial=initial,
            mininterval=1.0,
            desc="fit",
            file=stream,
            disable=False,
        )

    def update(self, step: int, losses, n_failed: int) -> None:
        self.bar.update(step - self.step)
        self.step = step
        self.bar.set_postfix(loss=f"{median_loss(losses):.3g}", failed=n_failed)

    def close(self) -> None:
        self.bar.close()


class Lines:
    """A progress line about every ``interval`` seconds, and one at the end.

    Nothing is printed until ``interval`` seconds have passed, so short runs stay
    quiet; a run that printed a line also prints a final one. Lines with numbers
    come between chunks; with ``first_chunk``, a timer thread also says, once, that
    the first chunk (mostly compilation) is still running after ``interval`` s.

    Args:
        total: the number of steps of the run.
        initial: the step the run starts from (non-zero when resuming).
        n_members: how many networks train (for the failed count).
        stream: where lines go (flushed after each).
        interval: least seconds between two lines (and before the first).
        clock: a function returning seconds (injectable for tests).
        first_chunk: steps in the first chunk, for that message (``None``: no
            timer).
    """

    def __init__(
        self,
        total: int,
        initial: int,
        n_members: int,
        stream: TextStream,
        interval: float = INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        first_chunk: int | None = None,
    ):
        self.total, self.initial, self.n_members = total, initial, n_members
        self.stream, self.interval, self.clock = stream, interval, clock
        self.start = self.last = clock()
        self.step, self.loss, self.n_failed = initial, float("nan"), 0
        self.printed = False
        self.timer = None
        if first_chunk is not None and initial < total:
            text = (
                f"fit: compiling and running the first {first_chunk} steps "
                f"({n_members} member(s), {total} steps in all)..."
            )
            self.timer = threading.Timer(interval, self._still_running, (text,))
            self.timer.daemon = True
            self.timer.start()

    def _still_running(self, text: str) -> None:
        print(text, file=self.stream, flush=True)
        self.printed = True

    def _report(self, now: float, head: str) -> None:
        elapsed = now - self.start
        rate = (self.step - self.initial) / elapsed if elapsed > 0 else float("nan")
        print(
            f"fit: {head}step {self.step}/{self.total}, loss median {self.loss:.4g}, "
            f"failed {self.n_failed}/{self.n_members}, {elapsed:.0f} s elapsed, "
            f"{rate:.3g} steps/s",
            file=self.stream,
            flush=True,
        )
        self.last, self.printed = now, True

    def update(self, step: int, losses, n_failed: int) -> None:
        """Record the state after a chunk; print a line if ``interval`` has passed.

        Args:
            step: the steps done so far.
            losses: the losses of the last step (one per member).
            n_failed: how many members have failed.
        """
        self._stop_timer()
        self.step, self.loss = step, median_loss(losses)
        self.n_failed = n_failed
        now = self.clock()
        if now - self.last >= self.interval and step < self.total:
            self._report(now, "")

    def _stop_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def close(self) -> None:
        """Print the final line if the run was long enough to print any."""
        self._stop_timer()
        now = self.clock()
        if self.printed or now - self.start >= self.interval:
            self._report(now, "done, " if self.step >= self.total else "stopped at ")


def make_progress(
    progress: bool | None, *, total: int, initial: int, n_members: int, chunk: int
) -> _Off | _Bar | Lines:
    """The reporter ``fit`` uses: silent, a tqdm bar, or :class:`Lines` (stderr)."""
    mode = progress_mode(progress)
    if mode == "off":
        return _Off()
    if mode == "bar":
        return _Bar(total, initial, sys.stderr)
    first = min(chunk, total - initial)
    return Lines(total, initial, n_members, sys.stderr, INTERVAL, first_chunk=first)

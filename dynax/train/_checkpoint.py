"""Atomic checkpoints of training state through orbax-checkpoint.

Each checkpoint is one step folder written by ``orbax.checkpoint.CheckpointManager``:
orbax writes into a temporary folder and renames it when the write has finished, and
marks a finished step with ``commit_success.txt``. Only steps with that marker (in the
step folder and in each item) are ever restored, so a save interrupted by a crash, a
``kill`` or a full disk is skipped and the previous checkpoint is used.

What is saved is a PyTree of arrays (``None`` leaves allowed) plus a JSON dict of
metadata; strings and other Python objects belong in the metadata (orbax cannot store
``str`` leaves). Restoring needs a template with the same structure, shapes and
dtypes (a freshly initialised state), which is how equinox modules come back as
modules rather than nested dicts.
"""

import os
import pathlib
import warnings
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import jax.tree_util as jtu

from .._validate import ArgumentTypeError

if TYPE_CHECKING:  # orbax is imported when a checkpoint is used (it is slow to import)
    import orbax.checkpoint as ocp

_MARKER = "commit_success.txt"
_ITEMS = ("state", "meta")


def _absolute(directory) -> pathlib.Path:
    if not isinstance(directory, str | os.PathLike):
        raise ArgumentTypeError(
            "checkpoint_dir: expected a path (str or os.PathLike), got "
            f"{type(directory).__name__}."
        )
    return pathlib.Path(directory).expanduser().resolve()


def _complete(path: pathlib.Path) -> bool:
    return (path / _MARKER).exists() and all(
        (path / item / _MARKER).exists() for item in _ITEMS
    )


class CheckpointManager:
    """Save and restore training state under one folder (one sub-folder per step).

    Args:
        directory: the checkpoint folder (created if missing; made absolute).
        max_to_keep: how many of the newest checkpoints to keep.
        asynchronous: write in a background thread (call :meth:`close` or
            :meth:`wait` before reading the files).
    """

    _manager: "ocp.CheckpointManager"

    def __init__(self, directory, *, max_to_keep: int = 2, asynchronous: bool = True):
        if not isinstance(max_to_keep, int) or max_to_keep < 1:
            raise ValueError(
                f"max_to_keep: expected an integer >= 1, got {max_to_keep!r}."
            )
        import orbax.checkpoint as ocp

        self.directory = _absolute(directory)
        options = ocp.CheckpointManagerOptions(
            max_to_keep=max_to_keep,
            create=True,
            enable_async_checkpointing=asynchronous,
        )
        handlers = {
            "state": ocp.StandardCheckpointHandler(),
            "meta": ocp.JsonCheckpointHandler(),
        }
        self._manager = ocp.CheckpointManager(
            self.directory, options=options, item_handlers=handlers
        )

    def complete_steps(self) -> list[int]:
        """Steps whose checkpoint was written completely, oldest first."""
        self._manager.reload()
        steps = self._manager.all_steps()
        return sorted(s for s in steps if _complete(self.directory / str(s)))

    def save(self, step: int, state: Any, metadata: dict | None = None) -> None:
        """Save ``state`` (a PyTree of arrays) and JSON ``metadata`` as ``step``."""
        import orbax.checkpoint as ocp

        args = ocp.args.Composite(
            state=ocp.args.StandardSave(state),  # pyright: ignore[reportCallIssue]
            meta=ocp.args.JsonSave(metadata or {}),  # pyright: ignore[reportCallIssue]
        )
        self._manager.save(step, args=args, force=True)

    def restore(self, like: Any, step: int | None = None) -> tuple[Any, dict, int]:
        """Restore the newest complete checkpoint (or ``step``) into ``like``'s layout.

        A checkpoint whose files cannot be read (``OSError``) is skipped with a
        warning, falling back to the previous complete one; one that does not
        match ``like`` raises ``ValueError``.

        Returns:
            ``(state, metadata, step)``.

        Raises:
            FileNotFoundError: when there is no complete checkpoint to restore.
        """
        import orbax.checkpoint as ocp

        self.wait()
        steps = self.complete_steps() if step is None else [step]
        for s in reversed(steps):
            try:
                _check_shapes(like, self._manager.item_metadata(s)["state"], s)
                out = self._manager.restore(
                    s,
                    args=ocp.args.Composite(
                        state=ocp.args.StandardRestore(like),  # pyright: ignore[reportCallIssue]
                        meta=ocp.args.JsonRestore(),  # pyright: ignore[reportCallIssue]
                    ),
                )
            except ValueError as error:
                raise ValueError(
                    f"checkpoint {self.directory / str(s)} does not match the "
                    f"template (shape or structure); was it written by a different "
                    f"model or optimiser? orbax says: {error}"
                ) from None
            except OSError as error:
                warnings.warn(
                    f"checkpoint step {s} in {self.directory} could not be read "
                    f"({type(error).__name__}: {error}); trying an older one.",
                    RuntimeWarning,
                    stacklevel=2,
                )
                continue
            _check_leaves(like, out["state"], self.directory / str(s))
            return out["state"], dict(out["meta"]), s
        raise FileNotFoundError(f"no complete checkpoint in {self.directory}.")

    def metadata(self, step: int) -> dict:
        """The JSON metadata saved with ``step`` (read without the arrays)."""
        import orbax.checkpoint as ocp

        args = ocp.args.Composite(meta=ocp.args.JsonRestore())  # pyright: ignore[reportCallIssue]
        return dict(self._manager.restore(step, args=args)["meta"])

    def wait(self) -> None:
        """Block until background saves have finished."""
        self._manager.wait_until_finished()

    def close(self) -> None:
        """Finish pending saves and release the manager."""
        self._manager.wait_until_finished()
        self._manager.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _path(keys) -> tuple[str, ...]:
    names = (getattr(k, "key", getattr(k, "name", getattr(k, "idx", k))) for k in keys)
    return tuple(str(n) for n in names)


def _check_shapes(like, stored, step) -> None:
    """Compare the template with the stored array metadata before reading data."""
    want = {
        _path(p): jnp.shape(x)
        for p, x in jtu.tree_flatten_with_path(like)[0]
        if x is not None
    }
    got = {_path(p): tuple(x.shape) for p, x in jtu.tree_flatten_with_path(stored)[0]}
    for name, shape in want.items():
        if name not in got:
            raise ValueError(
                f"checkpoint step {step}: has no array {'.'.join(name)}; was it "
                "written by a different model or optimiser?"
            )
        if got[name] != shape:
            raise ValueError(
                f"checkpoint step {step}: {'.'.join(name)} has shape {got[name]}, "
                f"the template expects {shape}; was it written by a different model?"
            )


def _check_leaves(like, restored, path) -> None:
    """Guard against orbax's silent empty restores (all-``None`` leaves).

    Shapes were already compared with the stored metadata by :func:`_check_shapes`.
    """
    want = [x for x in jtu.tree_leaves(like) if x is not None]
    got = [x for x in jtu.tree_leaves(restored) if x is not None]
    if len(want) != len(got):
        raise ValueError(
            f"checkpoint {path}: expected {len(want)} array leaves, restored "
            f"{len(got)}; was it written by a different model or optimiser?"
        )


def save_checkpoint(directory, step: int, state: Any, metadata: dict | None = None):
    """Save one checkpoint synchronously (a convenience around the manager).

    Args:
        directory: the checkpoint folder.
        step: the step number (the sub-folder's name).
        state: a PyTree of arrays, e.g. ``eqx.filter(model, eqx.is_array)``.
        metadata: JSON-serialisable extras (configs, names).
    """
    with CheckpointManager(directory, asynchronous=False, max_to_keep=10**9) as m:
        m.save(step, jax.device_get(state), metadata)


def load_checkpoint(directory, like: Any, *, step: int | None = None):
    """Load the newest complete checkpoint (or ``step``) into ``like``'s layout.

    Args:
        directory: the checkpoint folder.
        like: a PyTree with the saved structure, shapes and dtypes, e.g. the freshly
            built ``eqx.filter(model, eqx.is_array)``; rebuild the module with
            ``eqx.combine(state, eqx.filter(model, eqx.is_array, inverse=True))``.
        step: a specific step instead of the newest.

    Returns:
        ``(state, metadata, step)``.
    """
    with CheckpointManager(directory, asynchronous=False, max_to_keep=10**9) as m:
        return m.restore(like, step)

"""JAX's persistent compilation cache, switched on by one call (never on import).

Every first call of a jitted program pays for its compilation (seconds for ``fit``
or ``find_fixed_points``). With the persistent cache on, compiled programs are
written to a folder and a later process with the same program, shapes, JAX version
and flags loads them instead of compiling: a notebook restarted, the next job of a
sweep, a resumed run. Programs that call back into Python are not cached by JAX.
"""

import os
from pathlib import Path

import jax

DEFAULT = "~/.cache/dynax/jax"


def enable_compilation_cache(
    path: str | os.PathLike | None = None, *, min_compile_time_s: float = 0.5
) -> Path:
    """Turn on JAX's persistent compilation cache in ``path``; return the folder.

    Args:
        path: the cache folder (created). Default: ``$DYNAX_CACHE_DIR`` or
            ``~/.cache/dynax/jax``. Processes may share it (writes are atomic).
        min_compile_time_s: cache only programs that took at least this long to
            compile (smaller ones are cheaper to compile than to load).

    Sets ``jax_compilation_cache_dir`` and
    ``jax_persistent_cache_min_compile_time_secs`` in ``jax.config`` for this
    process; a value already set is replaced. The same can be done without dynax
    with the environment variables ``JAX_COMPILATION_CACHE_DIR`` and
    ``JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS``, which subprocesses inherit.
    """
    if path is None:
        path = os.environ.get("DYNAX_CACHE_DIR", DEFAULT)
    if not isinstance(path, str | os.PathLike):
        raise TypeError(
            f"path: expected a folder path or None, got {type(path).__name__}."
        )
    if (
        isinstance(min_compile_time_s, bool)
        or not isinstance(min_compile_time_s, int | float)
        or min_compile_time_s < 0
    ):
        raise ValueError(
            f"min_compile_time_s: expected a number >= 0, got {min_compile_time_s!r}."
        )
    folder = Path(path).expanduser().resolve()
    folder.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update(
        "jax_persistent_cache_min_compile_time_secs", float(min_compile_time_s)
    )
    return folder

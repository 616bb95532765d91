"""The results table: one CSV file of rows per finished group, read as one table.

Each group's rows go to ``rows/<group>.csv`` through a temporary file in the same
folder and an atomic rename, so a reader (or a rerun after a kill) sees either
every row of a group or none. Floats are written with ``repr`` (exact round trip).
"""

import csv
import functools
import importlib.metadata
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

PACKAGES = ("jax", "jaxlib", "equinox", "diffrax", "optax", "numpy", "dynax")


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync, rename onto it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        raw = data.encode() if isinstance(data, str) else data
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_array(path: Path, array: np.ndarray) -> None:
    """``np.save`` through :func:`atomic_write`."""
    buffer = io.BytesIO()
    np.save(buffer, array)
    atomic_write(path, buffer.getvalue())


def _cell(value: Any) -> Any:
    if isinstance(value, list | dict | tuple):
        return json.dumps(value)
    if isinstance(value, float):
        return repr(value)
    return "" if value is None else value


def write_rows(path: Path, rows: list[dict]) -> None:
    columns = list(dict.fromkeys(k for r in rows for k in r))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, restval="")
    writer.writeheader()
    writer.writerows({k: _cell(v) for k, v in r.items()} for r in rows)
    atomic_write(path, buffer.getvalue())


@functools.cache
def git_commit() -> str | None:
    """The commit of the dynax checkout in use (``None`` outside a git checkout)."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True,
            timeout=10, check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def versions() -> dict[str, str | None]:
    """Installed versions of Python and the packages the numbers depend on."""
    found: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:  # e.g. run from a checkout
            found[name] = getattr(sys.modules.get(name), "__version__", None)
    return found


@functools.cache
def provenance() -> dict:
    """:func:`versions` as ``version_<name>`` columns, and the git commit."""
    return {f"version_{k}": v for k, v in versions().items()} | {
        "git_commit": git_commit()
    }

"""What every experiment shares: the command line, the results files and x64.

An experiment is a file ``experiments/<name>.py`` holding a ``Config`` dataclass
(optionally with a ``small()`` classmethod: a configuration that runs in seconds)
and ``main(cfg: Config, out_dir: Path | None = None) -> dict``, which runs the
experiment, writes ``<name>.json`` (and ``<name>.csv`` if it has rows) with
:func:`write_results` when ``out_dir`` is given, and returns its summary. Its
``__main__`` block is ``run_cli(main, Config, __doc__)``: every field of ``Config``
becomes a flag. Figures are drawn by ``analysis/<name>.py`` from the results folder.
"""

import argparse
import csv
import dataclasses
import io
import json
import math
import os
import platform
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax

from dynax.sweep._table import atomic_write, versions

_SCALARS = (int, float, str)


def enable_x64(cfg: Any) -> None:
    """Switch on JAX's 64-bit mode when the config asks for it (``cfg.x64``).

    Call it first thing in ``main`` (never at import time, so that importing an
    experiment changes nothing). ``cfg.x64 = False`` leaves JAX's setting as it is.
    """
    if not isinstance(getattr(cfg, "x64", None), bool):
        raise TypeError(f"cfg: expected a config with a bool `x64` field, got {cfg!r}")
    if cfg.x64:
        jax.config.update("jax_enable_x64", True)


# ----------------------------------------------------------------------------- CLI


def _converter(name: str, tp: Any) -> tuple[Callable[[str], Any], bool]:
    """(parse one word, is a list) for a field type; ``X | None`` accepts 'none'."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1 and inner[0] in _SCALARS:
            return (lambda s: None if s.lower() == "none" else inner[0](s)), False
    elif origin is list and len(args) == 1 and args[0] in _SCALARS:
        return args[0], True
    elif tp in _SCALARS:
        return tp, False
    raise TypeError(
        f"{name}: expected a field of type bool, int, float, str, list[...] of those "
        f"or one of those | None, got {tp}"
    )


def build_parser(config_cls: type, description: str | None = None):
    """A parser with one ``--field-name`` flag per field of ``config_cls``.

    Bools become ``--flag/--no-flag``, lists take several values, ``X | None``
    fields accept ``none``. ``--small`` starts from ``config_cls.small()`` (when
    the class defines it) and ``--out DIR`` is the results folder. Flags not given
    keep the starting configuration's value.
    """
    if not (dataclasses.is_dataclass(config_cls) and isinstance(config_cls, type)):
        raise TypeError(f"config_cls: expected a dataclass type, got {config_cls!r}")
    hints = typing.get_type_hints(config_cls)
    names = {f.name for f in dataclasses.fields(config_cls)}
    if "seed" not in names or names & {"out", "small"}:
        raise TypeError(
            f"config_cls: expected a `seed` field and no field named `out` or "
            f"`small`, got fields {sorted(names)}"
        )
    parser = argparse.ArgumentParser(description=description)
    defaults = config_cls()
    for f in dataclasses.fields(config_cls):
        flag, tp = "--" + f.name.replace("_", "-"), hints[f.name]
        text = f"default: {getattr(defaults, f.name)}"
        if tp is bool:
            action = argparse.BooleanOptionalAction
            parser.add_argument(
                flag, action=action, default=argparse.SUPPRESS, help=text
            )
            continue
        parse, is_list = _converter(f"{config_cls.__name__}.{f.name}", tp)
        parser.add_argument(
            flag, type=parse, nargs="+" if is_list else None,
            default=argparse.SUPPRESS, help=text,
        )  # fmt: skip
    if callable(getattr(config_cls, "small", None)):
        parser.add_argument(
            "--small", action="store_true",
            help=f"start from {config_cls.__name__}.small() (runs in seconds)",
        )  # fmt: skip
    parser.add_argument(
        "--out", type=Path, default=None, metavar="DIR",
        help="folder for the results files (default: write none)",
    )  # fmt: skip
    return parser


def parse_config(
    config_cls: type, argv: list[str] | None = None, description: str | None = None
) -> tuple[Any, Path | None]:
    """The config (defaults, or ``small()``, updated by the flags) and ``--out``."""
    given = vars(build_parser(config_cls, description).parse_args(argv))
    out = given.pop("out")
    base = config_cls.small() if given.pop("small", False) else config_cls()
    return dataclasses.replace(base, **given), out


def run_cli(main: Callable, config_cls: type, doc: str | None) -> dict:
    """The ``__main__`` of an experiment: parse, run, print the summary as JSON."""
    cfg, out = parse_config(config_cls, description=(doc or "").strip().split("\n")[0])
    summary = main(cfg, out)
    print(json.dumps(summary, indent=1, default=_jsonable))
    return summary


# ------------------------------------------------------------------------- results


def machine() -> dict:
    """Operating system, JAX backend, device and whether x64 was on."""
    device = jax.devices()[0]
    return {
        "system": platform.platform(),
        "processor": platform.machine(),
        "cpu_count": os.cpu_count(),
        "backend": jax.default_backend(),
        "device": device.device_kind,
        "device_count": jax.device_count(),
        "x64": bool(jax.config.read("jax_enable_x64")),
    }


def _jsonable(obj: Any) -> Any:
    """JSON form of arrays, NumPy scalars, paths and dataclasses."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    raise TypeError(f"results: expected JSON-serialisable values, got {type(obj)}")


def _cell(value: Any) -> Any:
    """A CSV cell: lists and dicts as JSON, None as empty."""
    if isinstance(value, list | dict | tuple):
        return json.dumps(value, default=_jsonable)
    return "" if value is None else value


def _check_record(name, config, rows, seed, wall_seconds) -> None:
    """Type and value checks of write_results' arguments."""
    if not isinstance(name, str) or not name or os.sep in name or "/" in name:
        raise ValueError(f"name: expected a file stem without '/', got {name!r}")
    if not isinstance(config, dict) and not (
        dataclasses.is_dataclass(config) and not isinstance(config, type)
    ):
        raise TypeError(
            f"config: expected a dataclass instance or dict, got {config!r}"
        )
    if rows is not None and not all(isinstance(r, dict) for r in rows):
        raise TypeError("rows: expected a list of dicts (one per CSV row)")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed: expected an int, got {seed!r}")
    if not (isinstance(wall_seconds, int | float) and math.isfinite(wall_seconds)):
        raise ValueError(
            f"wall_seconds: expected a finite number, got {wall_seconds!r}"
        )


def write_results(
    out_dir: str | Path,
    name: str,
    *,
    config: Any,
    rows: list[dict] | None = None,
    summary: dict | None = None,
    seed: int,
    wall_seconds: float,
    extra: dict | None = None,
) -> Path:
    """Write ``<name>.json`` (and ``<name>.csv`` of the rows) to ``out_dir``.

    The JSON holds the experiment's name, config, seed, wall time, the versions of
    Python and the numerical packages, the machine, the summary, the rows and any
    ``extra`` data (e.g. traces for a figure). Each file is written to a temporary
    file in the same folder and renamed into place, so a reader never sees half a
    file and a failed run leaves the previous results whole.

    Returns:
        The path of the JSON file.
    """
    _check_record(name, config, rows, seed, wall_seconds)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    record = {
        "experiment": name,
        "config": config if isinstance(config, dict) else dataclasses.asdict(config),
        "seed": seed,
        "wall_seconds": round(float(wall_seconds), 2),
        "versions": versions(),
        "machine": machine(),
        "summary": summary if summary is not None else {},
        "rows": rows if rows is not None else [],
        "extra": extra if extra is not None else {},
    }
    text = json.dumps(record, indent=1, default=_jsonable)  # fails before writing
    if rows:
        columns = list(dict.fromkeys(k for r in rows for k in r))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows({k: _cell(v) for k, v in r.items()} for r in rows)
        atomic_write(out / f"{name}.csv", buffer.getvalue())
    path = out / f"{name}.json"
    atomic_write(path, text)
    return path

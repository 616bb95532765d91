"""A sweep's configuration: what to train, the grid, and its expansion into members.

A config is a dict (from YAML or JSON) or a :class:`SweepConfig`. Each **member** is
one network: one point of the grid and one seed. Keys:

- ``name``: the sweep's name (recorded in the table).
- ``task``: a ``dx.tasks`` class name (``"FlipFlop"``) or an import path
  ``"package.module:Name"``; ``task_args``: its keyword arguments.
- ``model``: a ``dx.models`` class name (default ``"CTRNN"``) or an import path;
  ``model_args``: its keyword arguments. ``n_in`` and ``n_out`` come from the task
  when the constructor takes them and they are not given.
- ``train``: ``n_steps`` (500), ``batch_size`` (32), ``optimizer`` (an optax
  function name, ``"adam"``), ``learning_rate`` (1e-3), ``clip`` (global-norm
  clipping, 1.0; ``None`` for none), ``l2`` (weight penalty, 0.0), ``log_every``
  and ``checkpoint_every`` (``fit``'s; ``None``: its defaults).
- ``evaluate``: ``n_trials`` (256): held-out trials, shared by every member.
- ``grid``: ``{"section.key": [values, ...]}``, e.g. ``{"model_args.n_hidden":
  [32, 64], "train.learning_rate": [1e-3, 3e-3]}``; the members are the Cartesian
  product of the lists (first key slowest) times the seeds.
- ``seeds``: seeds per grid point (an int ``n`` for ``0..n-1``, or a list);
  ``seed``: the sweep's base seed. Member keys are ``fold_in(key(seed),
  member_seed)``: the same seed gives the same initialisation and trials at every
  grid point, and a member's numbers do not depend on its group.
- ``memory_budget``: bytes per group (an int, or a string such as ``"2GB"``),
  ``max_group_size``: members per group at most (see :mod:`dynax.sweep._pack`).
- ``x64``: run in JAX's 64-bit mode (the CLI and SLURM jobs switch it on).
- ``slurm``: submitit parameters for the ``slurm`` backend (``timeout_min``,
  ``slurm_partition``, ``cpus_per_task``, ``gpus_per_node``, ...).
"""

import dataclasses
import importlib
import inspect
import itertools
import json
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TRAIN_DEFAULTS: dict[str, Any] = {
    "n_steps": 500,
    "batch_size": 32,
    "optimizer": "adam",
    "learning_rate": 1e-3,
    "clip": 1.0,
    "l2": 0.0,
    "log_every": None,
    "checkpoint_every": None,
}
EVALUATE_DEFAULTS: dict[str, Any] = {"n_trials": 256}
_TYPES: dict[str, tuple] = {  # allowed types of the train/evaluate settings
    "n_steps": (int,),
    "batch_size": (int,),
    "optimizer": (str,),
    "learning_rate": (int, float),
    "clip": (int, float, type(None)),
    "l2": (int, float),
    "log_every": (int, type(None)),
    "checkpoint_every": (int, type(None)),
    "n_trials": (int,),
}
SECTIONS = ("task_args", "model_args", "train", "evaluate")
_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
_UNITS |= {"KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def _fail(name: str, expected: str, got: Any) -> None:
    raise ValueError(f"{name}: expected {expected}, got {got!r}.")


def parse_bytes(name: str, value: Any) -> int:
    """``2_000_000``, ``"2GB"``, ``"512 MiB"`` -> bytes."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str):
        m = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", value)
        if m and m.group(2).upper() in _UNITS:
            n = float(m.group(1)) * _UNITS[m.group(2).upper()]
            if n >= 1:
                return int(n)
    _fail(name, "a positive number of bytes, e.g. 2000000000 or '2GB'", value)
    raise AssertionError


def resolve(kind: str, name: Any) -> Any:
    """A class from ``dx.tasks``/``dx.models`` by name, or ``"module:Name"``."""
    if not isinstance(name, str) or not name:
        _fail(kind, f"a dx.{kind}s class name or 'package.module:Name'", name)
    if ":" in name:
        module, _, attr = name.partition(":")
        try:
            found = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as error:
            raise ValueError(f"{kind}: cannot import {name!r} ({error}).") from None
    else:
        namespace = importlib.import_module(f"dynax.{kind}s")
        found = getattr(namespace, name, None)
        if not inspect.isclass(found):
            known = sorted(
                n for n in dir(namespace)
                if inspect.isclass(getattr(namespace, n)) and not n.startswith("Abs")
            )  # fmt: skip
            _fail(kind, f"a dx.{kind}s class name (one of {known}) or a path", name)
    if not callable(found):
        _fail(kind, "a class or function", found)
    return found


_PLAIN = (bool, int, float, complex, str)


def _plain_types(annotation: Any) -> tuple:
    """The plain Python types an annotation names (``()``: cannot tell)."""
    if annotation in _PLAIN:
        return (annotation,)
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        if any(a is type(None) for a in args):
            return ()  # optional arguments: leave them to the constructor
        return tuple(a for a in args if a in _PLAIN)
    return ()


def _accepts(allowed: tuple, value: Any) -> bool:
    if isinstance(value, bool):
        return bool in allowed
    if isinstance(value, int):
        return bool({int, float, complex} & set(allowed))
    if isinstance(value, float):
        return bool({float, complex} & set(allowed))
    return isinstance(value, allowed)


def _check_args(section: str, target: Any, args: dict) -> None:
    """Keyword arguments exist in the constructor and have its simple types."""
    if not isinstance(args, dict):
        _fail(section, "a mapping of keyword arguments", args)
    try:
        params = inspect.signature(target).parameters
    except (TypeError, ValueError):
        return
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    for key, value in args.items():
        if key not in params or key == "key":
            known = sorted(k for k in params if k not in ("self", "key"))
            _fail(
                f"{section}.{key}", f"a parameter of {target.__name__} ({known})", key
            )
        allowed = _plain_types(params[key].annotation)
        if allowed and not _accepts(allowed, value):
            names = "/".join(sorted({t.__name__ for t in allowed}))
            _fail(f"{section}.{key}", names, value)


def _check_settings(section: str, values: dict, defaults: dict) -> dict:
    if not isinstance(values, dict):
        _fail(section, "a mapping", values)
    out = dict(defaults)
    for key, value in values.items():
        if key not in defaults:
            _fail(f"{section}.{key}", f"one of {sorted(defaults)}", key)
        types = _TYPES[key]
        if isinstance(value, bool) or not isinstance(value, types):
            names = "/".join("None" if t is type(None) else t.__name__ for t in types)
            _fail(f"{section}.{key}", names, value)
        out[key] = value
    for key in ("n_steps", "batch_size", "n_trials"):
        if key in out and out[key] < 1:
            _fail(f"{section}.{key}", "an int >= 1", out[key])
    return out


@dataclass(frozen=True)
class SweepConfig:
    """A checked sweep configuration (:meth:`from_dict`, :func:`load_config`)."""

    name: str
    task: str
    model: str = "CTRNN"
    task_args: dict = field(default_factory=dict)
    model_args: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    evaluate: dict = field(default_factory=dict)
    grid: dict = field(default_factory=dict)
    seeds: int | list = 1
    seed: int = 0
    memory_budget: int | str = "2GB"
    max_group_size: int = 1024
    x64: bool = False
    slurm: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any) -> "SweepConfig":
        """Check ``data`` (unknown keys, types, the grid) and fill in defaults."""
        if isinstance(data, SweepConfig):
            data = data.to_dict()
        if not isinstance(data, dict):
            _fail("config", "a mapping (YAML/JSON object)", type(data).__name__)
        known = [f.name for f in dataclasses.fields(cls)]
        for key in data:
            if key not in known:
                raise ValueError(
                    f"config: unknown key {key!r}; expected keys from {known}."
                )
        for key in ("name", "task"):
            if key not in data:
                raise ValueError(f"{key}: missing; every sweep config needs one.")
        cfg = cls(**data)
        cfg.check()
        train = _check_settings("train", cfg.train, TRAIN_DEFAULTS)
        evaluate = _check_settings("evaluate", cfg.evaluate, EVALUATE_DEFAULTS)
        return dataclasses.replace(cfg, train=train, evaluate=evaluate)

    def check(self) -> None:
        """Raise ``ValueError`` naming the first bad field."""
        if not isinstance(self.name, str) or not re.fullmatch(r"[\w.-]+", self.name):
            _fail(
                "name", "a non-empty name of letters, digits, '_', '-', '.'", self.name
            )
        task, model = resolve("task", self.task), resolve("model", self.model)
        _check_args("task_args", task, self.task_args)
        _check_args("model_args", model, self.model_args)
        if not isinstance(self.grid, dict):
            _fail("grid", "a mapping {'section.key': [values]}", self.grid)
        for key, values in self.grid.items():
            section, _, arg = str(key).partition(".")
            if section not in SECTIONS or not arg:
                _fail("grid", f"keys 'section.key' with section in {SECTIONS}", key)
            if not isinstance(values, list) or not values:
                _fail(f"grid[{key!r}]", "a non-empty list of values", values)
            for value in values:
                one = {arg: value}
                if section == "task_args":
                    _check_args("grid task_args", task, one)
                elif section == "model_args":
                    _check_args("grid model_args", model, one)
                else:
                    defaults = (
                        TRAIN_DEFAULTS if section == "train" else EVALUATE_DEFAULTS
                    )
                    _check_settings(f"grid {section}", one, defaults)
        seeds = self.seeds
        if isinstance(seeds, bool) or not (
            (isinstance(seeds, int) and seeds >= 1)
            or (isinstance(seeds, list) and seeds and all(
                isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds
            ) and len(set(seeds)) == len(seeds))
        ):  # fmt: skip
            _fail("seeds", "an int >= 1 or a list of distinct ints >= 0", seeds)
        for key in ("seed", "max_group_size"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                _fail(key, "an int >= 0", value)
        if self.max_group_size < 1:
            _fail("max_group_size", "an int >= 1", self.max_group_size)
        parse_bytes("memory_budget", self.memory_budget)
        if not isinstance(self.x64, bool):
            _fail("x64", "a bool", self.x64)
        if not isinstance(self.slurm, dict):
            _fail("slurm", "a mapping of submitit parameters", self.slurm)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.seeds)) if isinstance(self.seeds, int) else self.seeds


def load_config(source: Any) -> SweepConfig:
    """A :class:`SweepConfig` from a dict, a config, or a ``.yaml``/``.json`` file."""
    if isinstance(source, str | Path) and not isinstance(source, dict):
        path = Path(source)
        if not path.is_file():
            _fail("config", "a YAML or JSON file", str(path))
        text = path.read_text()
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
        return SweepConfig.from_dict(data)
    return SweepConfig.from_dict(source)


@dataclass(frozen=True)
class Member:
    """One network of a sweep: a grid point and a seed, with its full settings."""

    index: int
    seed: int
    point: dict  # the grid values of this member ("section.key" -> value)
    task_args: dict
    model_args: dict
    train: dict
    evaluate: dict

    @property
    def id(self) -> str:
        return f"m{self.index:05d}"


def expand(cfg: SweepConfig) -> list[Member]:
    """Every member of the sweep: grid points (first key slowest) times seeds."""
    keys = list(cfg.grid)
    members = []
    for values in itertools.product(*(cfg.grid[k] for k in keys)):
        point = dict(zip(keys, values, strict=True))
        sections = {s: dict(getattr(cfg, s)) for s in SECTIONS}
        for key, value in point.items():
            section, _, arg = key.partition(".")
            sections[section][arg] = value
        for seed in cfg.seed_list:
            members.append(
                Member(index=len(members), seed=seed, point=point, **sections)
            )
    return members

"""Running a sweep on a backend, recording failures, and reading it back.

A sweep folder holds:

- ``sweep.json``: the config and the groups (written first; a rerun checks that
  its config is the same);
- ``rows/<group>.csv``: one row per member of each finished group;
- ``groups/<group>/train``: the group's training checkpoints (resume);
- ``groups/<group>/model``: the trained members (orbax);
- ``errors/<group>.json``: the last failure of a group not yet finished;
- ``slurm/``: submitit's scripts and logs (``slurm`` backend).
"""

import contextlib
import dataclasses
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import jax

from .._cache import enable_compilation_cache
from ._config import SweepConfig, expand, load_config
from ._group import run_group
from ._pack import Group, pack
from ._table import atomic_write

BACKENDS = ("local", "slurm")


class SweepError(RuntimeError):
    """Some groups failed; ``errors`` maps each group id to its error message.

    The other groups' results are written; running the sweep again retries only
    the failed and unfinished groups.
    """

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        lines = [f"{len(errors)} group(s) failed (rerun the sweep to retry them):"]
        lines += [f"  {g}: {msg}" for g, msg in errors.items()]
        super().__init__("\n".join(lines))


@dataclasses.dataclass(frozen=True)
class Plan:
    """A sweep's config, members and groups (what ``--dry-run`` prints)."""

    config: SweepConfig
    members: list
    groups: list[Group]

    def describe(self) -> str:
        cfg = self.config
        lines = [
            f"sweep {cfg.name}: {len(self.members)} members = "
            f"{len(self.members) // len(cfg.seed_list)} grid points x "
            f"{len(cfg.seed_list)} seeds; {len(self.groups)} groups "
            f"(memory budget {cfg.memory_budget}, at most {cfg.max_group_size} "
            "per group)"
        ]
        for key, values in cfg.grid.items():
            lines.append(f"  grid {key}: {values}")
        for g in self.groups:
            inside = [self.members[i] for i in g.members]
            parts = []
            for key in cfg.grid:
                values = list(dict.fromkeys(m.point[key] for m in inside))
                one = len(values) == 1
                parts.append(f"{key}={values[0]}" if one else f"{key} in {values}")
            seeds = sorted({m.seed for m in inside})
            parts.append(f"seeds {_ranges(seeds)}")
            lines.append(
                f"  {g.id}: {len(g.members):4d} members ({'; '.join(parts)}), "
                f"~{human_bytes(g.member_bytes)} each, ~{human_bytes(g.bytes)} in all"
            )
        return "\n".join(lines)


def _ranges(values: list[int]) -> str:
    """[0, 1, 2, 5] -> '0-2, 5'."""
    out, start = [], None
    for i, v in enumerate(values):
        if start is None:
            start = v
        if i + 1 == len(values) or values[i + 1] != v + 1:
            out.append(str(start) if start == v else f"{start}-{v}")
            start = None
    return ", ".join(out)


def human_bytes(n: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def plan_sweep(config: Any) -> Plan:
    """Check the config, expand the grid and pack the groups (nothing runs)."""
    cfg = load_config(config)
    with jax.enable_x64(cfg.x64):
        members = expand(cfg)
        return Plan(cfg, members, pack(cfg, members))


def _write_plan(out: Path, p: Plan) -> None:
    record = {
        "config": p.config.to_dict(),
        "n_members": len(p.members),
        "groups": [dataclasses.asdict(g) for g in p.groups],
    }
    path = out / "sweep.json"
    if path.exists():
        stored = json.loads(path.read_text())
        if stored["config"] != json.loads(json.dumps(record["config"])):
            raise ValueError(
                f"out: {out} holds a sweep with a different config "
                f"({stored['config'].get('name')!r}); use a new folder, or the same "
                "config to resume it."
            )
        return
    atomic_write(path, json.dumps(record, indent=1))


def _read_plan(out: Path) -> tuple[SweepConfig, list, list[Group]]:
    path = Path(out) / "sweep.json"
    if not path.is_file():
        raise ValueError(f"out: expected a sweep folder holding sweep.json, got {out}.")
    record = json.loads(path.read_text())
    cfg = SweepConfig.from_dict(record["config"])
    groups = [
        Group(g["id"], tuple(g["members"]), g["member_bytes"]) for g in record["groups"]
    ]
    with jax.enable_x64(cfg.x64):
        return cfg, expand(cfg), groups


def finished(out: Path, groups: list[Group]) -> set[str]:
    return {g.id for g in groups if (out / "rows" / f"{g.id}.csv").exists()}


def _record_error(out: Path, group_id: str, error: BaseException) -> str:
    text = "".join(traceback.format_exception(error))
    kind = type(error).__name__
    lines = str(error).strip().splitlines()
    summary = f"{kind}: {lines[0] if lines else ''}"
    record = {
        "group": group_id,
        "error": summary,
        "traceback": text,
        "time": time.time(),
    }
    atomic_write(out / "errors" / f"{group_id}.json", json.dumps(record, indent=1))
    return summary


def run_group_job(out: str, group_id: str, cache: str | None = None) -> str:
    """Run one group of the sweep in ``out`` (what a SLURM array task calls).

    ``cache``: a folder for JAX's persistent compilation cache, shared by the
    sweep's processes (the groups of one signature compile once).
    """
    if cache is not None:
        enable_compilation_cache(cache)
    out_path = Path(out)
    cfg, members, groups = _read_plan(out_path)
    group = next(g for g in groups if g.id == group_id)
    with jax.enable_x64(cfg.x64):
        run_group(cfg, members, group, out_path)
    (out_path / "errors" / f"{group_id}.json").unlink(missing_ok=True)
    return group_id


def _progress(total: int, progress: bool | None):
    from tqdm import tqdm

    quiet = not sys.stderr.isatty() if progress is None else not progress
    return tqdm(total=total, desc="groups", unit="group", disable=quiet)


def _run_local(out: Path, pending: list[str], bar, cache) -> dict[str, str]:
    errors = {}
    for gid in pending:
        try:
            run_group_job(str(out), gid, cache)
        except Exception as error:  # recorded, the other groups go on
            errors[gid] = _record_error(out, gid, error)
        bar.update(1)
    return errors


def _run_slurm(out: Path, pending: list[str], cfg: SweepConfig, bar, cluster, cache):
    from ._slurm import submit_and_wait

    def done(gid: str, error: BaseException | None) -> None:
        if error is not None:
            errors[gid] = _record_error(out, gid, error)
        bar.update(1)

    errors: dict[str, str] = {}
    name = f"dynax-{cfg.name}"
    submit_and_wait(
        out, pending, cfg.slurm, done, name=name, cluster=cluster, cache=cache
    )
    return errors


def run_sweep(
    config: Any,
    out,
    *,
    backend: str = "local",
    progress: bool | None = None,
    cluster: str | None = None,
    compilation_cache: str | Path | bool = True,
) -> Path:
    """Run every unfinished group of a sweep and write its results to ``out``.

    Args:
        config: a :class:`SweepConfig`, a dict, or a YAML/JSON file.
        out: the sweep folder (created; a rerun skips finished groups and resumes
            interrupted ones from their checkpoints).
        backend: ``"local"`` (this process, one group after another) or
            ``"slurm"`` (a submitit job array, one group per task; the call waits
            for the jobs).
        progress: a bar over groups on stderr (default: on a terminal only).
        cluster: submitit's cluster for ``"slurm"`` (default ``"slurm"``;
            ``"local"`` runs the same jobs as subprocesses without SLURM).
        compilation_cache: a folder for JAX's persistent compilation cache used
            by every group's process (``True``: ``out/jax_cache``; ``False``: leave
            JAX's setting alone). A rerun or a SLURM task then loads the programs
            an earlier one compiled. With the local backend it is switched on in
            this process (``dx.enable_compilation_cache``).

    Returns:
        ``out`` as a path (read it with :func:`load_sweep`).

    Raises:
        SweepError: after all groups ran, when some failed (each error is in
            ``errors/<group>.json``; a rerun retries them).
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {BACKENDS}, got {backend!r}.")
    if not isinstance(out, str | Path):
        raise TypeError(f"out: expected a folder path, got {type(out).__name__}.")
    out = Path(out).expanduser().resolve()
    p = plan_sweep(config)
    out.mkdir(parents=True, exist_ok=True)
    _write_plan(out, p)
    done = finished(out, p.groups)
    pending = [g.id for g in p.groups if g.id not in done]
    if compilation_cache is True:
        cache = str(out / "jax_cache")
    elif compilation_cache is False:
        cache = None
    else:
        cache = str(Path(compilation_cache).expanduser().resolve())
    with contextlib.closing(_progress(len(p.groups), progress)) as bar:
        bar.update(len(done))
        if backend == "local":
            errors = _run_local(out, pending, bar, cache)
        else:
            errors = _run_slurm(out, pending, p.config, bar, cluster, cache)
    if errors:
        raise SweepError(errors)
    return out

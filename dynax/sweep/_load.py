"""Reading a sweep folder back: the table, the failures, and the trained members."""

import csv
import dataclasses
import json
from pathlib import Path

import jax
import numpy as np

from ._config import Member, SweepConfig
from ._group import load_group_model
from ._pack import Group
from ._run import _read_plan


def _value(text: str):
    """A CSV cell back to int, float, bool or str (empty: None)."""
    if text == "":
        return None
    if text in ("True", "False"):
        return text == "True"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


@dataclasses.dataclass(frozen=True)
class Sweep:
    """A sweep folder: its config, members, groups, results and failures.

    Attributes:
        path: the folder.
        config: the :class:`SweepConfig` it was run with.
        members: every :class:`Member` (grid point and seed).
        groups: the groups, in order.
    """

    path: Path
    config: SweepConfig
    members: list[Member]
    groups: list[Group]

    def rows(self) -> list[dict]:
        """Every finished member's row (dicts, in member order)."""
        rows = []
        for g in self.groups:
            path = self.path / "rows" / f"{g.id}.csv"
            if path.exists():
                with path.open(newline="") as fh:
                    rows += [
                        {k: _value(v) for k, v in r.items()} for r in csv.DictReader(fh)
                    ]
        return sorted(rows, key=lambda r: r["member"])

    @property
    def table(self):
        """The rows as a ``pandas.DataFrame`` (needs pandas), one row per member."""
        try:
            import pandas as pd
        except ImportError as error:
            raise ImportError(
                "Sweep.table needs pandas (pip install pandas); Sweep.rows() gives "
                "the same rows as dicts."
            ) from error
        return pd.DataFrame(self.rows())

    @property
    def finished(self) -> list[str]:
        return [
            g.id for g in self.groups if (self.path / "rows" / f"{g.id}.csv").exists()
        ]

    @property
    def pending(self) -> list[str]:
        """Groups without results (not run yet, interrupted, or failed)."""
        done = set(self.finished)
        return [g.id for g in self.groups if g.id not in done]

    @property
    def errors(self) -> dict[str, dict]:
        """The recorded failures of groups that have not finished since."""
        out, pending = {}, set(self.pending)
        for path in sorted((self.path / "errors").glob("*.json")):
            if path.stem in pending:
                out[path.stem] = json.loads(path.read_text())
        return out

    def losses(self) -> dict[str, np.ndarray]:
        """Every finished member's training loss per step: ``{member id: (steps,)}``."""
        out = {}
        for g in self.groups:
            path = self.path / "groups" / g.id / "loss.npy"
            if g.id in self.finished and path.exists():
                curves = np.load(path)
                for i, curve in zip(g.members, curves, strict=True):
                    out[self.members[i].id] = curve
        return dict(sorted(out.items()))

    def group_of(self, member_id: str) -> Group:
        index = int(member_id.removeprefix("m"))
        for g in self.groups:
            if index in g.members:
                return g
        raise ValueError(
            f"member_id: expected one of m00000..m{len(self.members) - 1:05d}, "
            f"got {member_id!r}."
        )

    def load_group(self, group_id: str):
        """``(ensemble, members)``: a finished group's trained members, stacked."""
        group = next((g for g in self.groups if g.id == group_id), None)
        if group is None:
            raise ValueError(
                f"group_id: expected one of {[g.id for g in self.groups]}, "
                f"got {group_id!r}."
            )
        if group_id not in self.finished:
            raise ValueError(f"group_id: {group_id} has not finished (no results yet).")
        with jax.enable_x64(self.config.x64):
            return load_group_model(self.config, self.members, group, self.path)

    def task(self, member_id: str):
        """The task a member was trained on (its ``task_args``)."""
        from ._pack import build_task

        self.group_of(member_id)  # checks the id
        return build_task(self.config, self.members[int(member_id[1:])])

    def load_member(self, member_id: str):
        """One trained network by member id (e.g. ``"m00007"``)."""
        from .._ensemble import member

        group = self.group_of(member_id)
        ensemble, members = self.load_group(group.id)
        return member(ensemble, [m.id for m in members].index(member_id))


def load_sweep(path) -> Sweep:
    """Open a sweep folder written by :func:`run_sweep` (finished or not)."""
    path = Path(path).expanduser().resolve()
    cfg, members, groups = _read_plan(path)
    return Sweep(path, cfg, members, groups)

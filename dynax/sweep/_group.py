"""Training one group: build its members as one stacked ensemble, fit, evaluate, save.

A group's work, in order, each step atomic:

1. ``dx.train.fit`` on the stacked members, one key per member, with orbax
   checkpoints in ``groups/<id>/train`` (an interrupted group resumes from its
   last checkpoint, with the numbers of an uninterrupted run);
2. ``dx.train.evaluate`` on the sweep's shared held-out trials;
3. the trained members through orbax into ``groups/<id>/model``, and the
   training loss of every member and step into ``groups/<id>/loss.npy``;
4. one row per member into ``rows/<id>.csv`` (written to a temporary file and
   renamed): the group is finished exactly when this file exists.
"""

import dataclasses
import os
import platform
import shutil
import socket
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
import optax

from .. import train as dx_train
from ._config import Member, SweepConfig
from ._pack import Group, build_model, build_task, eval_key, member_keys, model_kwargs
from ._table import provenance, save_array, write_rows


@dataclasses.dataclass(frozen=True)
class Optimizer:
    """``optax.chain(clip_by_global_norm(clip), optax.<name>(learning_rate))``.

    A frozen dataclass (hashable, equal by value), so groups with the same
    settings share one compiled training program.
    """

    name: str
    clip: float | None

    def __call__(self, learning_rate):
        opt = getattr(optax, self.name)(learning_rate)
        if self.clip is None:
            return opt
        return optax.chain(optax.clip_by_global_norm(self.clip), opt)


def build_members(cfg: SweepConfig, members: list[Member], task):
    """The members as one stacked ensemble, each built from its own init key.

    Model arguments that differ between the members (a gain, say) are traced
    through ``eqx.filter_vmap``; a constructor that cannot take them traced is
    called once per member and the results stacked (the same numbers).
    """
    keys = jnp.stack([member_keys(cfg, m.seed)[0] for m in members])
    first = model_kwargs(cfg, members[0], task)
    varying = sorted(
        k for k in first
        if any(model_kwargs(cfg, m, task).get(k) != first[k] for m in members)
    )  # fmt: skip
    if not varying:
        return eqx.filter_vmap(lambda k: build_model(cfg, members[0], task, k))(keys)
    values = {k: jnp.asarray([m.model_args[k] for m in members]) for k in varying}

    def make(key, vals):
        one = dataclasses.replace(
            members[0], model_args={**members[0].model_args, **vals}
        )
        return build_model(cfg, one, task, key)

    try:
        return eqx.filter_vmap(make)(keys, values)
    except (jax.errors.ConcretizationTypeError, TypeError, ValueError):
        nets = [
            build_model(cfg, m, task, k) for m, k in zip(members, keys, strict=True)
        ]
        arrays = [eqx.filter(n, eqx.is_array) for n in nets]
        stacked = jtu.tree_map(lambda *xs: jnp.stack(xs), *arrays)
        return eqx.combine(stacked, eqx.filter(nets[0], eqx.is_array, inverse=True))


def group_members(cfg: SweepConfig, all_members: list[Member], group: Group):
    return [all_members[i] for i in group.members]


def train_group(cfg: SweepConfig, members: list[Member], directory: Path | None):
    """Fit and evaluate the members: (trained ensemble, history, evaluation)."""
    m0 = members[0]
    task = build_task(cfg, m0)
    nets = build_members(cfg, members, task)
    t = m0.train
    fit_kwargs = {}
    for name in ("log_every", "checkpoint_every"):
        if t[name] is not None:
            fit_kwargs[name] = t[name]
    trained, history = dx_train.fit(
        nets,
        task,
        optimizer=Optimizer(t["optimizer"], t["clip"]),
        hyperparams={
            "learning_rate": jnp.asarray([m.train["learning_rate"] for m in members])
        },
        n_steps=t["n_steps"],
        batch_size=t["batch_size"],
        key=jnp.stack([member_keys(cfg, m.seed)[1] for m in members]),
        ensemble=True,
        regularizer=dx_train.Regularizer(l2_weights=t["l2"]) if t["l2"] else None,
        checkpoint_dir=None if directory is None else directory / "train",
        max_to_keep=1,
        progress=False,
        **fit_kwargs,
    )
    evaluation = dx_train.evaluate(
        trained,
        task,
        key=eval_key(cfg),
        n_trials=m0.evaluate["n_trials"],
        ensemble=True,
    )
    return trained, history, evaluation


def metrics(history, evaluation, i: int) -> dict:
    """One member's numbers (Python floats: exact in the CSV)."""
    loss = np.asarray(history.loss)[:, i]
    tail = loss[-max(1, len(loss) // 10) :]
    return {
        "final_loss": float(np.mean(tail)),
        "eval_loss": float(np.asarray(evaluation.loss)[i]),
        "eval_score": float(np.asarray(evaluation.score)[i]),
        "failed": bool(np.asarray(history.failed)[i]),
        "failed_step": int(np.asarray(history.failed_step)[i]),
    }


def run_group(cfg: SweepConfig, all_members: list[Member], group: Group, out: Path):
    """Train, evaluate and save one group (skipped when its rows exist)."""
    rows_path = out / "rows" / f"{group.id}.csv"
    if rows_path.exists():
        return
    directory = out / "groups" / group.id
    members = group_members(cfg, all_members, group)
    start = time.perf_counter()
    trained, history, evaluation = train_group(cfg, members, directory)
    model_dir = directory / "model"
    if model_dir.exists():  # a half-saved model from an interrupted run
        shutil.rmtree(model_dir)
    dx_train.save_checkpoint(
        model_dir,
        int(members[0].train["n_steps"]),
        eqx.filter(trained, eqx.is_array),
        {"members": [m.id for m in members]},
    )
    losses = np.asarray(history.loss, dtype=np.float64).T  # (members, steps)
    save_array(directory / "loss.npy", losses)
    seconds = time.perf_counter() - start
    common = provenance() | {
        "group": group.id,
        "group_size": len(members),
        "group_seconds": seconds,
        "member_seconds": seconds / len(members),
        "train_seconds": float(history.seconds),
        "resumed_from": int(history.resumed_from),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "backend": jax.default_backend(),
        "pid": os.getpid(),
    }
    rows = []
    for i, m in enumerate(members):
        row = {"member": m.id, "seed": m.seed, "sweep": cfg.name, "task": cfg.task}
        row |= {"model": cfg.model} | dict(m.point)
        if "train.learning_rate" not in row:
            row["learning_rate"] = m.train["learning_rate"]
        row |= metrics(history, evaluation, i)
        rows.append(row | common)
    write_rows(rows_path, rows)


def load_group_model(
    cfg: SweepConfig, all_members: list[Member], group: Group, out: Path
):
    """The trained members of a finished group, as one stacked ensemble."""
    members = group_members(cfg, all_members, group)
    like = build_members(cfg, members, build_task(cfg, members[0]))
    arrays, static = eqx.partition(like, eqx.is_array)
    state, _, _ = dx_train.load_checkpoint(out / "groups" / group.id / "model", arrays)
    return eqx.combine(state, static), members

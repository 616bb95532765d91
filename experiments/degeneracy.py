"""Solution degeneracy across trained ensembles (after Huang et al., NeurIPS 2025).

For every cell of a grid of task complexity (flip-flop with 1/2/3 bits, path
integration in 1/2 dimensions), network size and L2 weight regularisation (off/on),
an ensemble of ``n_seeds`` CTRNNs is trained on the task with ``dx.train.fit`` (one
stacked ensemble per cell), and ``dx.analysis.degeneracy_report`` measures how much
the members' solutions differ:

- behaviour: the standard deviation across members of the out-of-distribution error
  (``task.ood()``: 4x longer trials, and half the pulse rate for flip-flops);
- dynamics: the mean pairwise DSA angle between hidden-state trajectories on shared
  trials (``n_delays``, ``rank`` below);
- weights: the mean pairwise permutation-invariant distance of the recurrent matrices.

Paper trends (its abstract; its code is not public): harder tasks lower dynamical and
raise weight degeneracy; larger networks and regularisation lower all three.

With ``--out DIR``, writes ``degeneracy.csv`` (one row per cell) and ``degeneracy.json``
(config, versions, rows and each cell's per-member numbers). The files are rewritten
(atomically) after every cell, and a rerun with the same config skips the cells
already in them, so an interrupted run resumes. ``analysis/degeneracy.py DIR`` draws
the trends. Run: ``python experiments/degeneracy.py [--small] [--out DIR]``. The full
grid (30 cells x 16 seeds) takes hours on CPU; ``--small`` runs in seconds.
"""

import dataclasses
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax

if not __package__:  # run as a file: put the repository root (this checkout) first
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dynax as dx  # noqa: E402
from experiments._common import enable_x64, run_cli, write_results  # noqa: E402

TASKS = ("flipflop1", "flipflop2", "flipflop3", "path1", "path2")


@dataclass
class Config:
    """The grid and the training and analysis settings (``small()`` for tests)."""

    tasks: list[str] = field(default_factory=lambda: list(TASKS))
    sizes: list[int] = field(default_factory=lambda: [64, 128, 256])
    l2: list[float] = field(default_factory=lambda: [0.0, 1e-4])
    n_seeds: int = 16
    n_steps: int = 2000
    batch_size: int = 32
    learning_rate: float = 3e-3
    trial_steps: int = 100
    tau: float = 0.5
    g: float = 1.2
    sigma_rec: float = 0.05
    n_trials: int = 32
    n_ood_trials: int = 128
    n_delays: int = 10
    rank: int = 16
    x64: bool = False
    seed: int = 0

    @classmethod
    def small(cls) -> "Config":
        """Two cells of three seeds, briefly trained (seconds; for tests).

        One task with L2 off and on: the cells share their shapes, so they share
        one compiled training program and one compiled report.
        """
        return cls(
            tasks=["flipflop1"], sizes=[16], l2=[0.0, 1e-3], n_seeds=3,
            n_steps=40, trial_steps=40, n_trials=4, n_ood_trials=16, n_delays=3,
            rank=6,
        )  # fmt: skip


def make_task(name: str, cfg: Config):
    """``flipflopK`` (K bits) or ``pathD`` (D dimensions)."""
    if name.startswith("flipflop"):
        return dx.tasks.FlipFlop(n_bits=int(name[8:]), n_steps=cfg.trial_steps)
    if name.startswith("path"):
        return dx.tasks.PathIntegration(dim=int(name[4:]), n_steps=cfg.trial_steps)
    raise ValueError(f"tasks: expected names from {TASKS}, got {name!r}.")


def run_cell(
    cfg: Config, task_name: str, size: int, l2: float, key
) -> tuple[dict, dict]:
    """Train one cell's ensemble and measure it: (row, per-member details)."""
    task = make_task(task_name, cfg)
    k_init, k_fit, k_report = jr.split(key, 3)
    nets = dx.make_ensemble(
        lambda k: dx.models.CTRNN(
            task.n_in, size, task.n_out, tau=cfg.tau, g=cfg.g,
            sigma_rec=cfg.sigma_rec, dtype=jnp.float32, key=k,
        ),
        jr.split(k_init, cfg.n_seeds),
    )  # fmt: skip
    start = time.perf_counter()
    nets, history = dx.train.fit(
        nets,
        task,
        optimizer=optax.chain(
            optax.clip_by_global_norm(1.0), optax.adam(cfg.learning_rate)
        ),
        n_steps=cfg.n_steps,
        batch_size=cfg.batch_size,
        key=k_fit,
        ensemble=True,
        independent_batches=True,
        regularizer=dx.train.Regularizer(l2_weights=l2),
        progress=False,
    )
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    rep = dx.analysis.degeneracy_report(
        nets, task, key=k_report, n_trials=cfg.n_trials,
        n_ood_trials=cfg.n_ood_trials, n_delays=cfg.n_delays, rank=cfg.rank,
    )  # fmt: skip
    report_s = time.perf_counter() - start
    final_loss = np.asarray(history.loss)[-1]
    s = rep.summary()
    row = {
        "task": task_name,
        "family": "flipflop" if task_name.startswith("flipflop") else "path",
        "complexity": int(task_name.removeprefix("flipflop").removeprefix("path")),
        "size": size,
        "l2": l2,
        "n_seeds": cfg.n_seeds,
        "failed": int(np.asarray(history.failed).sum()),
        "final_loss_median": float(np.median(final_loss)),
        "behaviour": s["behaviour"],
        "mean_ood_error": s["mean_ood_error"],
        "diverged": s["n_diverged"],
        "dynamics": s["dynamics"],
        "weights": s["weights"],
        "cka": s["cka"],
        "procrustes": s["procrustes"],
        "dsa_all_converged": bool(np.asarray(rep.dsa.converged).all()),
        "train_seconds": round(train_s, 2),
        "report_seconds": round(report_s, 2),
    }
    details = {
        "ood_error": np.asarray(rep.ood_error).tolist(),
        "final_loss": final_loss.tolist(),
        "dsa": np.asarray(rep.dsa.scores).tolist(),
        "weights": np.asarray(rep.weight_distance.distance).tolist(),
    }
    return row, details


def _cell_id(task: str, size: int, l2: float) -> str:
    return f"{task}/{size}/{l2:g}"


def _previous(out_dir: Path | None, cfg: Config) -> tuple[list, dict]:
    """Rows and details of an earlier run of the same config (to resume)."""
    if out_dir is None or not (out_dir / "degeneracy.json").exists():
        return [], {}
    record = json.loads((out_dir / "degeneracy.json").read_text())
    if record.get("config") != json.loads(json.dumps(dataclasses.asdict(cfg))):
        return [], {}
    return record["rows"], record["extra"].get("members", {})


def trends(rows: list[dict]) -> dict:
    """The paper's trends, checked cell by cell.

    Each value is the fraction of comparisons that go the predicted way (1.0:
    always; 0.5: a coin); ``None`` when the grid has no such comparison.
    """

    def frac(pairs):
        pairs = list(pairs)
        return None if not pairs else float(np.mean([a < b for a, b in pairs]))

    by = {(r["task"], r["size"], r["l2"]): r for r in rows}
    out = {}
    for level in ("behaviour", "dynamics", "weights"):
        out[f"bigger_net_lowers_{level}"] = frac(
            (by[(t, s2, reg)][level], by[(t, s1, reg)][level])
            for (t, s1, reg) in by
            for (t2, s2, reg2) in by
            if t2 == t and reg2 == reg and s2 > s1
        )
        out[f"l2_lowers_{level}"] = frac(
            (by[(t, s, reg2)][level], by[(t, s, reg1)][level])
            for (t, s, reg1) in by
            for (t2, s2, reg2) in by
            if t2 == t and s2 == s and reg2 > reg1
        )

    def harder(level, sign):
        pairs = []
        for (_, s, reg), r1 in by.items():
            for (_, s2, reg2), r2 in by.items():
                same = s2 == s and reg2 == reg and r1["family"] == r2["family"]
                if same and r2["complexity"] > r1["complexity"]:
                    pairs.append((sign * r2[level], sign * r1[level]))
        return frac(pairs)

    out["harder_task_lowers_dynamics"] = harder("dynamics", 1)
    out["harder_task_raises_weights"] = harder("weights", -1)
    return out


def main(cfg: Config, out_dir: Path | None = None) -> dict:
    """Run the grid (resuming from ``out_dir``); return the summary."""
    enable_x64(cfg)
    for name in cfg.tasks:
        make_task(name, cfg)  # names checked before any training
    out_dir = None if out_dir is None else Path(out_dir)
    start = time.perf_counter()
    rows, members = _previous(out_dir, cfg)
    done = {_cell_id(r["task"], r["size"], r["l2"]) for r in rows}
    cells = [(t, s, reg) for t in cfg.tasks for s in cfg.sizes for reg in cfg.l2]
    resumed = len(done)
    for i, (task_name, size, l2) in enumerate(cells):
        cid = _cell_id(task_name, size, l2)
        if cid in done:
            continue
        print(f"degeneracy: cell {i + 1}/{len(cells)} {cid}", file=sys.stderr)
        row, details = run_cell(cfg, task_name, size, l2, jr.PRNGKey(cfg.seed + i))
        rows.append(row)
        members[cid] = details
        summary = {"n_cells": len(cells), "cells_done": len(rows), **trends(rows)}
        if out_dir is not None:
            write_results(
                out_dir, "degeneracy", config=cfg, rows=rows, summary=summary,
                seed=cfg.seed, wall_seconds=time.perf_counter() - start,
                extra={"members": members},
            )  # fmt: skip
    summary = {
        "n_cells": len(cells),
        "cells_done": len(rows),
        "cells_resumed": resumed,
        **trends(rows),
    }
    return summary


if __name__ == "__main__":
    run_cli(main, Config, __doc__)

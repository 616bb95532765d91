"""Figures of a sweep folder: losses, metrics, failures, fixed points of members.

Reads a folder written by ``python -m experiments.sweep CONFIG --out SWEEP_DIR``
(finished or not) and writes PNG and PDF files to ``FIG_DIR`` (default
``SWEEP_DIR/figures``):

- ``loss_curves``: every member's training loss (failed members in red), the median;
- ``metrics``: held-out score and loss against each grid key (a dot per member, the
  line through the medians, one line per value of the next grid key);
- ``failures``: members per grid point that finished, diverged (flagged by ``fit``),
  or are missing (their group failed or has not run), and the groups' recorded errors;
- ``fixed_points_<member>``: the member's hidden states on held-out trials in the
  space of their top principal components, with its fixed points (filled: stable;
  open: unstable). Default member: the best held-out score.

Run: ``python analysis/sweep.py SWEEP_DIR [--out FIG_DIR] [--members m00000 ...]``.
"""

import argparse
import sys
from pathlib import Path

if not __package__:  # run as a file: put the repository root (this checkout) first
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import matplotlib

matplotlib.use("Agg")
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import jax.random as jr  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import dynax as dx  # noqa: E402


def save(fig, out: Path, name: str) -> list[Path]:
    paths = [out / f"{name}.png", out / f"{name}.pdf"]
    for path in paths:
        fig.savefig(path, dpi=150)
    plt.close(fig)
    return paths


def loss_figure(sweep):
    losses = sweep.losses()
    table = sweep.table
    failed = [bool(table.set_index("member").failed[m]) for m in losses]
    title = f"{sweep.config.name}: training loss of {len(losses)} members"
    return dx.plot.loss_curves(losses, failed=failed, title=title)


def metrics_figure(sweep):
    table = sweep.table
    keys = [k for k in sweep.config.grid if k in table.columns] or ["seed"]
    fig, axes = plt.subplots(
        2, len(keys), figsize=(4.5 * len(keys), 7), layout="constrained", squeeze=False
    )
    for j, key in enumerate(keys):
        others = [k for k in keys if k != key and table[k].nunique() > 1]
        hue = others[0] if others else None
        for i, metric in enumerate(("eval_score", "eval_loss")):
            dx.plot.metric_by(table, key, metric, hue=hue, ax=axes[i, j])
    fig.suptitle(f"{sweep.config.name}: held-out metrics ({len(table)} members)")
    return fig


def failures_figure(sweep):
    table = sweep.table
    keys = list(sweep.config.grid)
    points = [
        " ".join(f"{v}" for v in m.point.values()) or "all" for m in sweep.members
    ]
    names = list(dict.fromkeys(points))
    done = {m: bool(f) for m, f in zip(table.member, table.failed, strict=True)}
    counts = np.zeros((len(names), 3), int)  # finished, diverged, missing
    for m, p in zip(sweep.members, points, strict=True):
        col = 2 if m.id not in done else (1 if done[m.id] else 0)
        counts[names.index(p), col] += 1
    fig, ax = plt.subplots(
        figsize=(max(5, 0.6 * len(names) + 2), 4), layout="constrained"
    )
    bottom = np.zeros(len(names))
    for col, (label, colour) in enumerate(
        (("finished", "tab:green"), ("diverged", "tab:red"), ("missing", "0.6"))
    ):
        ax.bar(names, counts[:, col], bottom=bottom, label=label, color=colour)
        bottom += counts[:, col]
    ax.set_xlabel(" / ".join(keys) or "grid point")
    ax.set_ylabel("members")
    ax.tick_params(axis="x", rotation=45)
    errors = sweep.errors
    text = f"{len(errors)} group(s) with a recorded error"
    text += (
        (": " + ", ".join(f"{g} ({e['error'][:40]})" for g, e in errors.items()))
        if errors
        else ""
    )
    ax.set_title(text, fontsize="small")
    ax.legend(loc="best", fontsize="small")
    return fig


def fixed_points_figure(sweep, member_id: str, n_trials: int = 32):
    net = sweep.load_member(member_id)
    task = sweep.task(member_id)
    batch = jax.vmap(task.sample)(jr.split(jr.PRNGKey(1), n_trials))
    traj = dx.simulate(net, net.init_state(), task.ts, inputs=batch.inputs, trials=True)
    states = np.asarray(traj.ys)
    cand = dx.analysis.sample_candidates(states, 256, noise=0.05, key=jr.PRNGKey(2))
    fps = dx.analysis.find_fixed_points(net, cand, inputs=jnp.zeros(task.n_in))
    found = dx.analysis.unique_fixed_points(fps)
    row = sweep.table.set_index("member").loc[member_id]
    title = f"{member_id}: held-out score {row.eval_score:.3f}"
    return dx.plot.trajectories_pca(
        states, np.asarray(found.points), stable=np.asarray(found.stable), title=title
    )


def main(argv: list[str] | None = None) -> list[Path]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("sweep_dir", type=Path)
    parser.add_argument("--out", type=Path, default=None, help="figure folder")
    parser.add_argument(
        "--members", nargs="*", default=None, help="fixed-point figures"
    )
    args = parser.parse_args(argv)
    sweep = dx.load_sweep(args.sweep_dir)
    out = args.out or args.sweep_dir / "figures"
    out.mkdir(parents=True, exist_ok=True)
    if sweep.table.empty:
        raise SystemExit(f"{args.sweep_dir}: no finished group yet, nothing to draw")
    paths = []
    if sweep.losses():
        paths += save(loss_figure(sweep), out, "loss_curves")
    paths += save(metrics_figure(sweep), out, "metrics")
    paths += save(failures_figure(sweep), out, "failures")
    members = args.members
    if members is None:
        table = sweep.table
        members = [table.member[table.eval_score.idxmax()]]
    for member_id in members:
        paths += save(
            fixed_points_figure(sweep, member_id), out, f"fixed_points_{member_id}"
        )
    return paths


if __name__ == "__main__":
    for path in main():
        print(path)

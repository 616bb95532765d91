"""Figure: solution degeneracy against network size, task complexity and L2.

Reads ``degeneracy.json`` written by ``experiments/degeneracy.py --out RESULTS_DIR``
and draws four panels against network size: behavioural degeneracy (standard
deviation across seeds of the out-of-distribution error), dynamical degeneracy (mean
pairwise DSA angle), weight degeneracy (mean pairwise permutation-invariant distance)
and, for context, the mean OOD error. One colour per task (darker: more complex),
solid lines without and dashed lines with L2 regularisation. Below them, the DSA and
weight-distance matrices of the first cell, member by member.

Run: ``python analysis/degeneracy.py RESULTS_DIR [--out FIGURE.png]``.
"""

import sys
from pathlib import Path

if not __package__:  # run as a file: put the repository root (this checkout) first
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from analysis._common import figure_cli, read_record  # noqa: E402

PANELS = (
    ("behaviour", "behaviour: SD of OOD error"),
    ("dynamics", "dynamics: mean DSA angle (rad)"),
    ("weights", "weights: mean permutation distance"),
    ("mean_ood_error", "mean OOD error (1 - score)"),
)
CMAPS = {"flipflop": plt.get_cmap("Blues"), "path": plt.get_cmap("Oranges")}


def colour(row: dict, rows: list[dict]):
    """Darker for more complex tasks of the same family."""
    levels = sorted({r["complexity"] for r in rows if r["family"] == row["family"]})
    shade = 0.45 + 0.5 * (levels.index(row["complexity"]) + 1) / len(levels)
    return CMAPS.get(row["family"], plt.get_cmap("Greys"))(shade)


def make_figure(results_dir: str | Path) -> Figure:
    """Draw the figure from an experiment's output folder and return it."""
    record = read_record(results_dir, "degeneracy")
    rows = record["rows"]
    fig = plt.figure(figsize=(16, 8))
    grid = fig.add_gridspec(2, 4, height_ratios=[1.0, 0.9])
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    l2s = sorted({r["l2"] for r in rows})
    for k, (name, title) in enumerate(PANELS):
        ax = fig.add_subplot(grid[0, k])
        for task in tasks:
            for reg in l2s:
                cell = sorted(
                    (r for r in rows if r["task"] == task and r["l2"] == reg),
                    key=lambda r: r["size"],
                )
                if not cell:
                    continue
                ax.plot(
                    [r["size"] for r in cell],
                    [r[name] for r in cell],
                    "o-" if reg == l2s[0] else "s--",
                    color=colour(cell[0], rows),
                    label=task if reg == l2s[0] else None,
                )
        ax.set_xscale("log", base=2)
        ax.set_xlabel("hidden units")
        ax.set_title(title, fontsize=10)
    handles = fig.axes[0].get_legend_handles_labels()[0]
    styles = [
        Line2D([], [], color="k", ls=ls, marker=m, label=f"L2 = {reg:g}")
        for reg, ls, m in zip(l2s, ("-", "--"), ("o", "s"), strict=False)
    ]
    fig.axes[0].legend(handles=handles + styles, fontsize=8)
    first = rows[0]
    cid = f"{first['task']}/{first['size']}/{first['l2']:g}"
    members = record["extra"]["members"][cid]
    for k, (key, title) in enumerate(
        [("dsa", "DSA angle"), ("weights", "permutation distance")]
    ):
        ax = fig.add_subplot(grid[1, 2 * k : 2 * k + 1])
        m = np.asarray(members[key])
        im = ax.imshow(m, cmap="viridis")
        ax.set_title(f"{title}, {cid} (member x member)", fontsize=10)
        ax.set_xlabel("member")
        ax.set_ylabel("member")
        fig.colorbar(im, ax=ax, fraction=0.046)
    ax = fig.add_subplot(grid[1, 1])
    ax.bar(np.arange(len(members["ood_error"])), members["ood_error"], color="grey")
    ax.set_title(f"OOD error per member, {cid}", fontsize=10)
    ax.set_xlabel("member")
    ax = fig.add_subplot(grid[1, 3])
    ax.axis("off")
    summary = record["summary"]
    lines = [f"{k}: {v:.2f}" for k, v in summary.items() if isinstance(v, float)]
    ax.text(
        0.0, 1.0, "fraction of comparisons\nin the paper's direction:\n\n"
        + "\n".join(lines), va="top", fontsize=9, family="monospace",
    )  # fmt: skip
    fig.suptitle(
        f"Solution degeneracy across trained CTRNN ensembles "
        f"({record['config']['n_seeds']} seeds per cell)"
    )
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> Path:
    """Write the PNG (default ``RESULTS_DIR/degeneracy.png``); return its path."""
    return figure_cli("degeneracy", make_figure, __doc__, argv, dpi=110)


if __name__ == "__main__":
    print(main())

"""Figure: trained tau, network tau and accuracy against N, single- vs multi-head.

Reads ``timescales.json`` written by ``experiments/timescales.py --out
RESULTS_DIR`` and draws one column per task (N-parity, N-DMS) and three rows
against the curriculum stage N: the mean trained per-neuron time constant tau_i,
the network timescale tau_net (median over units of the autocorrelation fits),
and the accuracy (solid: on the stage's own N; dashed: averaged over every N
trained so far, which shows forgetting under the single-head curriculum). One
colour per curriculum; markers are the mean over seeds (members), bars the
min-max range over seeds.

Run: ``python analysis/timescales.py RESULTS_DIR [--out FIGURE.png]``.
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
from matplotlib.ticker import MaxNLocator  # noqa: E402

from analysis._common import figure_cli, read_record  # noqa: E402

COLOURS = {"single": "tab:blue", "multi": "tab:orange"}
TITLES = {"parity": "N-parity", "dms": "N-DMS"}
PANELS = [
    ("mean_tau", "mean trained τ_i"),
    ("tau_net", "τ_net (median over units)"),
    ("accuracy", "accuracy"),
]


def read_rows(results_dir: str | Path) -> list[dict]:
    """The rows (task x curriculum x stage x member) of timescales.json."""
    return read_record(results_dir, "timescales")["rows"]


def stats(rows: list[dict], key: str) -> tuple[np.ndarray, ...]:
    """(N, mean, min, max) of ``key`` over members, per stage N."""
    ns = sorted({r["stage_n"] for r in rows})
    vals = [np.array([r[key] for r in rows if r["stage_n"] == n], float) for n in ns]
    mean = np.array([np.nanmean(v) for v in vals])
    lo = np.array([np.nanmin(v) for v in vals])
    hi = np.array([np.nanmax(v) for v in vals])
    return np.array(ns), mean, lo, hi


def make_figure(results_dir: str | Path) -> Figure:
    """Draw the figure from an experiment's output folder and return it."""
    rows = read_rows(results_dir)
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    curricula = list(dict.fromkeys(r["curriculum"] for r in rows))
    fig, axes = plt.subplots(
        len(PANELS), len(tasks), figsize=(4.8 * len(tasks), 9.5),
        squeeze=False, sharex="col",
    )  # fmt: skip
    for col, task in enumerate(tasks):
        for curriculum in curricula:
            mine = [
                r for r in rows if r["task"] == task and r["curriculum"] == curriculum
            ]
            colour = COLOURS.get(curriculum, "black")
            for row, (key, label) in enumerate(PANELS):
                ax = axes[row, col]
                n, mean, lo, hi = stats(mine, key)
                ax.errorbar(
                    n, mean, yerr=[mean - lo, hi - mean], color=colour, marker="o",
                    capsize=3, label=f"{curriculum}-head",
                )  # fmt: skip
                if key == "accuracy":
                    n, mean, _, _ = stats(mine, "mean_accuracy_trained")
                    ax.plot(n, mean, color=colour, ls="--", alpha=0.8,
                            label=f"{curriculum}: mean over trained N")  # fmt: skip
                ax.set_ylabel(label)
        axes[0, col].set_title(TITLES.get(task, task))
        axes[-1, col].set_xlabel("curriculum stage N")
        axes[-1, col].axhline(0.5, color="grey", lw=0.8, ls=":")
        axes[-1, col].set_ylim(0.4, 1.02)
    for ax in axes.flat:
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0, 0].legend(fontsize=8)
    axes[-1, 0].legend(fontsize=7)
    fig.suptitle("Trained and network timescales vs N (mean, min-max over seeds)")
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> Path:
    """Command line: draw the figure of RESULTS_DIR and save it as a PNG."""
    return figure_cli("timescales", make_figure, __doc__, argv, dpi=120)


if __name__ == "__main__":
    print(main())

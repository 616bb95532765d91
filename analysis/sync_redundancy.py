"""Figure: dispersion and error of redundant noisy copies vs coupling, by topology.

Reads ``sync_redundancy.json`` written by ``experiments/sync_redundancy.py --out
RESULTS_DIR`` and draws, for every noise level sigma, the stationary dispersion
sum_i |x_i - xbar|^2 and the centre-of-mass error |xbar - x*|^2 against the coupling
strength k, one colour per topology: markers with 2-standard-error bars are the
simulation, solid lines the SDE's closed form and dashed lines the exact moments of
the Euler-Maruyama chain that was simulated (they part where dt k mu_max is not
small).

Run: ``python analysis/sync_redundancy.py RESULTS_DIR [--out FIGURE.png]``.
"""

import sys
from collections import defaultdict
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

COLOURS = {
    "ring": "tab:blue",
    "small_world": "tab:orange",
    "complete": "tab:green",
    "random": "tab:red",
}


def read_rows(results_dir: str | Path) -> list[dict]:
    """The rows (one per topology x coupling x sigma) of sync_redundancy.json."""
    return read_record(results_dir, "sync_redundancy")["rows"]


def make_figure(results_dir: str | Path) -> Figure:
    """Draw the figure from an experiment's output folder and return it."""
    rows = read_rows(results_dir)
    sigmas = sorted({r["sigma"] for r in rows})
    fig, axes = plt.subplots(
        2, len(sigmas), figsize=(4.2 * len(sigmas), 7), squeeze=False, sharex=True
    )
    groups = defaultdict(list)
    for r in rows:
        groups[(r["topology"], r["sigma"])].append(r)
    for (topology, sigma), group in groups.items():
        group.sort(key=lambda r: r["coupling"])
        col = sigmas.index(sigma)
        colour = COLOURS.get(topology, "black")
        k = np.array([r["coupling"] for r in group])
        for row_ax, name in enumerate(["dispersion", "center_error"]):
            ax = axes[row_ax, col]
            sim = np.array([r[f"{name}_sim"] for r in group])
            se = np.array([r[f"{name}_se"] for r in group])
            ax.errorbar(
                k, sim, yerr=2 * se, fmt="o", ms=4, color=colour, label=topology
            )
            ax.plot(k, [r[f"{name}_pred"] for r in group], "-", color=colour, lw=1)
            ax.plot(
                k, [r[f"{name}_pred_euler"] for r in group], "--", color=colour, lw=1
            )
    for col, sigma in enumerate(sigmas):
        axes[0, col].set_title(f"sigma = {sigma:g}")
        axes[0, col].set_yscale("log")
        axes[1, col].set_xlabel("coupling k")
        axes[1, col].set_xscale("symlog", linthresh=0.3)
    axes[0, 0].set_ylabel(r"dispersion $E\sum_i \|x_i - \bar x\|^2$")
    axes[1, 0].set_ylabel(r"centre error $E\|\bar x - x^*\|^2$")
    axes[0, 0].legend(title="markers: simulation", fontsize=8)
    styles = [
        Line2D([], [], color="k", ls="-", lw=1, label="SDE closed form"),
        Line2D([], [], color="k", ls="--", lw=1, label="Euler-Maruyama chain"),
    ]
    axes[1, 0].legend(handles=styles, fontsize=8)
    fig.suptitle("Synchronisation vs noise: n redundant copies on a graph")
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> Path:
    """Write the PNG (default ``RESULTS_DIR/sync_redundancy.png``); return its path."""
    return figure_cli("sync_redundancy", make_figure, __doc__, argv, dpi=120)


if __name__ == "__main__":
    print(main())

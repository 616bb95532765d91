"""Figure: liquid state machines on 8x8 digits without and with (astrocyte) STDP.

Reads ``lsm_digits.json`` written by ``experiments/lsm_digits.py --out RESULTS_DIR``
and draws one row of four panels per starting liquid: the test accuracy and the
branching factor of each condition (bars: mean +- standard deviation over the
seeds, dots: single seeds; the raw-pixel ridge classifier, chance level and the
critical branching factor 1 as reference lines), and, during the unsupervised
plasticity phase, the depression rate and the liquid's spike count per millisecond
(mean +- standard deviation over the seeds).

Run: ``python analysis/lsm_digits.py RESULTS_DIR [--out FIGURE.png]``.
"""

import sys
from pathlib import Path

if not __package__:  # run as a file: put the repository root (this checkout) first
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from analysis._common import figure_cli, read_record  # noqa: E402

CONDITIONS = ("none", "stdp", "astro")
COLOURS = {"none": "0.6", "stdp": "tab:blue", "astro": "tab:orange"}
NAMES = {"none": "no plasticity", "stdp": "STDP", "astro": "astrocyte STDP"}


def read_results(results_dir: str | Path) -> dict:
    """The record written by the experiment (config, rows, summary, extra)."""
    return read_record(results_dir, "lsm_digits")


def _bars(ax: Axes, conditions: dict, key: str) -> None:
    """Mean +- s.d. over seeds as bars, single seeds as dots."""
    for i, cond in enumerate(CONDITIONS):
        values = np.asarray(conditions[cond][key])
        ax.bar(i, values.mean(), yerr=values.std(), capsize=4, color=COLOURS[cond])
        ax.plot(np.full(values.size, i), values, "k.", ms=4)
    ax.set_xticks(range(len(CONDITIONS)), [NAMES[c] for c in CONDITIONS])


def _trace(ax: Axes, traces: dict, key: str) -> None:
    """A plasticity-phase trace per plastic condition: mean +- s.d. over seeds."""
    for cond, tr in traces.items():
        t, values = np.asarray(tr["step_ms"]), np.asarray(tr[key])
        m, s = values.mean(0), values.std(0)
        ax.plot(t, m, color=COLOURS[cond], lw=1, label=f"{NAMES[cond]} (mean ± s.d.)")
        ax.fill_between(t, m - s, m + s, color=COLOURS[cond], alpha=0.2, lw=0)
    ax.set_xlabel("time in the STDP phase (ms)")
    ax.legend(fontsize=8)


def _row(axes, start: dict, traces: dict, pixels: float, n_seeds: int) -> None:
    """The four panels of one starting liquid."""
    tag, conditions = f"start w_exc = {start['w_exc']:g}", start["conditions"]
    _bars(axes[0], conditions, "accuracy")
    axes[0].axhline(pixels, color="k", ls=":", lw=1, label="ridge on raw pixels")
    axes[0].axhline(0.1, color="k", ls="--", lw=0.8, label="chance (10 classes)")
    axes[0].set_ylim(0, 1.2)
    axes[0].set_ylabel("test accuracy (fraction correct)")
    axes[0].set_title(f"accuracy, {n_seeds} seeds ({tag})", fontsize=10)
    axes[0].legend(fontsize=7, loc="upper center", ncol=2)
    _bars(axes[1], conditions, "branching_factor")
    axes[1].axhline(1.0, color="k", ls="--", lw=0.8, label="critical (1)")
    axes[1].set_ylabel("branching factor (descendants per spike)")
    axes[1].set_title(f"branching factor ({tag})", fontsize=10)
    axes[1].legend(fontsize=8)
    _trace(axes[2], traces, "depression_rate")
    axes[2].set_ylabel("depression rate $A_-$ (weight change per pair)")
    axes[2].set_title(f"STDP depression rate ({tag})", fontsize=10)
    _trace(axes[3], traces, "liquid_spikes_per_ms")
    axes[3].set_ylabel("liquid spikes per ms (whole network)")
    axes[3].set_title(f"liquid activity during STDP ({tag})", fontsize=10)


def make_figure(results_dir: str | Path) -> Figure:
    """Draw the figure from an experiment's output folder and return it."""
    record = read_results(results_dir)
    summary, traces = record["summary"], record["extra"]["traces"]
    starts = summary["starts"]
    fig, axes = plt.subplots(
        len(starts), 4, figsize=(17, 3.8 * len(starts)), squeeze=False
    )
    for row, start in zip(axes, starts, strict=True):
        _row(
            row, start, traces[str(start["w_exc"])],
            summary["pixels_ridge_accuracy"], record["config"]["n_seeds"],
        )  # fmt: skip
    n = record["config"]["n"]
    fig.suptitle(f"Liquid state machines of {n} LIF neurons on 8x8 digits")
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> Path:
    """Write the PNG (default ``RESULTS_DIR/lsm_digits.png``); return its path."""
    return figure_cli("lsm_digits", make_figure, __doc__, argv, dpi=110)


if __name__ == "__main__":
    print(main())

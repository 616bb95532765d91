"""Figure: globally tuned vs locally adapted E/I reservoirs, and the adaptation.

Reads ``ei_reservoir.json`` written by ``experiments/ei_reservoir.py --out
RESULTS_DIR`` and draws four panels. Top: the test score of each task against the
global inhibitory gain g (markers: mean +- standard deviation over the seeds; the
gain picked on the validation split circled), with the adapted reservoirs' picked
conditions as horizontal lines and bands (mean +- standard deviation over the
seeds). Bottom left: how fast the local rule reaches its targets, the mean over
units of |running rate - target| against adaptation step (mean +- standard
deviation over seeds), per task and kind. Bottom right: the running rates of a few
units of seed 0 (memory-capacity task, heterogeneous targets) with their targets.

Run: ``python analysis/ei_reservoir.py RESULTS_DIR [--out FIGURE.png]``.
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

KINDS = {"adapted_homogeneous": "C1", "adapted_heterogeneous": "C2"}
LABELS = {
    "mc": "memory capacity, test (sum of $r^2$ over delays)",
    "mg": "Mackey-Glass NRMSE, test (dimensionless)",
}


def read_results(results_dir: str | Path) -> dict:
    """The record written by the experiment (config, rows, summary, extra)."""
    return read_record(results_dir, "ei_reservoir")


def _scores(ax: Axes, rows: list[dict], task: str, n_seeds: int) -> None:
    """Test score vs global gain, with the picked adapted conditions."""
    glob = [r for r in rows if r["task"] == task and r["condition"] == "global"]
    gains = np.array([r["gain"] for r in glob])
    mean = np.array([r["test_mean"] for r in glob])
    std = np.array([r["test_std"] for r in glob])
    ax.errorbar(gains, mean, std, fmt="o-", ms=4, capsize=3, color="C0",
                label=f"global gain (mean ± s.d., {n_seeds} seeds)")  # fmt: skip
    best = next(i for i, r in enumerate(glob) if r["picked"])
    ax.plot(gains[best], mean[best], "o", ms=11, mfc="none", color="C0",
            label="picked on validation")  # fmt: skip
    for kind, colour in KINDS.items():
        r = next(
            r for r in rows if r["task"] == task and r["condition"] == kind
            and r["picked"]
        )  # fmt: skip
        m, s = r["test_mean"], r["test_std"]
        ax.axhline(
            m,
            color=colour,
            lw=1.5,
            label=f"{kind.replace('_', ', ')} (target {r['target_rate']:g})",
        )
        ax.axhspan(m - s, m + s, color=colour, alpha=0.15, lw=0)  # fmt: skip
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xticks(gains, [f"{g:g}" for g in gains], fontsize=8)
    ax.minorticks_off()
    ax.set_xlabel("global inhibitory gain g (dimensionless)")
    ax.set_ylabel(LABELS[task])
    if task == "mg":
        ax.set_yscale("log")
    ax.legend(fontsize=7)


def _convergence(ax: Axes, traces: dict) -> None:
    """Mean |rate - target| over units vs adaptation step, per task and kind."""
    styles = {"mc": "-", "mg": "--"}
    for task, kinds in traces.items():
        for kind, tr in kinds.items():
            err = np.asarray(tr["abs_error_per_seed"])  # (seeds, records)
            steps, m, s = np.asarray(tr["steps"]), err.mean(0), err.std(0)
            label = f"{task}, {kind.removeprefix('adapted_')} ({tr['target_rate']:g})"
            ax.plot(steps, m, styles[task], color=KINDS[kind], label=label)
            ax.fill_between(steps, np.maximum(m - s, 1e-6), m + s,
                            color=KINDS[kind], alpha=0.15, lw=0)  # fmt: skip
    ax.set_yscale("log")
    ax.set_xlabel("adaptation step (time steps)")
    ax.set_ylabel("mean over units of |rate - target|")
    ax.set_title("local rule: distance to the targets (mean ± s.d. over seeds)")
    ax.legend(fontsize=7, title="task, targets (mean target)", title_fontsize=7)


def _units(ax: Axes, trace: dict, n_units: int = 8) -> None:
    """Running rates of a few units of seed 0, each with its target (dotted)."""
    steps = np.asarray(trace["steps"])
    pairs = list(zip(trace["seed0_rates"], trace["seed0_targets"], strict=True))
    for i, (rates, target) in enumerate(pairs[:n_units]):
        ax.plot(steps, rates, lw=1.0, color=f"C{i}")
        ax.axhline(target, color=f"C{i}", lw=1.0, ls=":")
    ax.set_xlabel("adaptation step (time steps)")
    ax.set_ylabel("running rate estimate (fraction of maximum)")
    ax.set_title(
        f"{min(n_units, len(pairs))} units of seed 0, memory task, heterogeneous "
        "targets\nrunning rates (solid) and their targets (dotted)",
        fontsize=9,
    )


def make_figure(results_dir: str | Path) -> Figure:
    """Draw the figure from an experiment's output folder and return it."""
    record = read_results(results_dir)
    rows, traces = record["rows"], record["extra"]["rate_traces"]
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    for ax, task in zip(axes[0], ("mc", "mg"), strict=True):
        _scores(ax, rows, task, record["config"]["n_seeds"])
    _convergence(axes[1, 0], traces)
    _units(axes[1, 1], traces["mc"]["adapted_heterogeneous"])
    n = record["config"]["n_hidden"]
    fig.suptitle(f"E/I reservoirs of {n} units: one global gain vs local adaptation")
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> Path:
    """Write the PNG (default ``RESULTS_DIR/ei_reservoir.png``); return its path."""
    return figure_cli("ei_reservoir", make_figure, __doc__, argv, dpi=120)


if __name__ == "__main__":
    print(main())

"""Figure: noise-driven RNNs emulating HMMs: orbits, transitions, kick neurons, errors.

Reads ``hmm_emulation.json`` written by ``experiments/hmm_emulation.py --out
RESULTS_DIR``. One column per HMM, showing the first network of its ensemble whose
long noise-driven run stayed finite:

1. the noise-driven trajectory on its first two principal components, each step
   coloured by its most probable symbol (the orbit through slow regions, one
   per symbol, and fast transitions between them);
2. the trained network's symbol transition matrix next to the HMM's closed form;
3. the ablation effect of every unit, sorted (``dx.analysis.kick_neurons``: 1 =
   ablating the unit stops the fast transitions), with the median;

and a last column with every network's errors before and after training
(frequency, volatility and transition-matrix errors; dots are networks), the
loss curves, and the number of stable fixed points at zero input per network.

Run: ``python analysis/hmm_emulation.py RESULTS_DIR [--out FIGURE.png]``.
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

from analysis._common import figure_cli, read_record  # noqa: E402

ERRORS = ("frequency_error", "volatility_error", "transition_error")


def make_figure(results_dir: str | Path) -> Figure:
    """Draw the figure from an experiment's output folder and return it."""
    record = read_record(results_dir, "hmm_emulation")
    figures, rows = record["extra"]["figures"], record["rows"]
    n = len(figures)
    fig, axes = plt.subplots(
        3, n + 1, figsize=(3.4 * (n + 1), 9.5), squeeze=False,
        gridspec_kw={"width_ratios": [1] * n + [1.2]},
    )  # fmt: skip
    cmap = plt.get_cmap("tab10")
    for col, f in enumerate(figures):
        ax = axes[0, col]
        ax.set_title(
            f"{f['hmm']}, network {f['member']}: noise-driven orbit", fontsize=9
        )
        if f["pcs"] is None:
            ax.text(0.5, 0.5, "every network's long run diverged", ha="center",
                    va="center", transform=ax.transAxes)  # fmt: skip
        else:
            pcs, symbols = np.asarray(f["pcs"]), np.asarray(f["symbols"])
            ax.plot(pcs[:, 0], pcs[:, 1], color="0.8", lw=0.6, zorder=1)
            for s in np.unique(symbols):
                on = symbols == s
                ax.scatter(pcs[on, 0], pcs[on, 1], s=6, color=cmap(int(s)),
                           label=f"symbol {int(s)}", zorder=2)  # fmt: skip
            ax.legend(fontsize=7, markerscale=2)
        ax.set_xlabel("PC 1")
        ax.set_ylabel("PC 2")

        ax = axes[1, col]
        trained, hmm = np.asarray(f["transitions"]), np.asarray(f["hmm_transitions"])
        gap = np.full((trained.shape[0], 1), np.nan)
        ax.imshow(np.hstack([trained, gap, hmm]), vmin=0, vmax=1, cmap="viridis")
        ax.set_title("symbol transitions:\nnetwork | HMM", fontsize=9)
        ax.set_xticks([])
        ax.set_ylabel("from symbol")

        ax = axes[2, col]
        if f["kick_effect"] is None:
            ax.set_axis_off()
            continue
        effect = np.sort(np.asarray(f["kick_effect"]))[::-1]
        ax.bar(np.arange(effect.size), effect, color="tab:purple")
        ax.axhline(np.median(effect), color="k", lw=0.8, ls="--", label="median")
        ax.set_xlabel("unit (sorted)")
        ax.set_ylabel("ablation effect on transitions")
        ax.legend(fontsize=7)
    ax = axes[0, n]
    for i, name in enumerate(ERRORS):
        for j, when in enumerate(("before", "after")):
            values = [r[f"{name}_{when}"] for r in rows]
            x = 3 * i + j + np.linspace(-0.2, 0.2, len(values))
            ax.scatter(x, values, s=10, color="tab:grey" if j == 0 else "tab:green")
    ax.set_xticks([3 * i + 0.5 for i in range(len(ERRORS))])
    ax.set_xticklabels([e.replace("_error", "") for e in ERRORS], fontsize=8)
    ax.set_ylabel("error vs HMM (grey: untrained, green: trained)")
    ax.set_title("every network")
    ax = axes[1, n]
    for f in figures:
        ax.plot(np.asarray(f["loss"], float), lw=0.8, label=f["hmm"])
    ax.set_xlabel("training step")
    ax.set_ylabel("Sinkhorn loss (network shown)")
    ax.set_yscale("log")
    ax.legend(fontsize=7)
    ax = axes[2, n]
    stable = [r["n_stable_fixed_points"] for r in rows]
    ax.hist(stable, bins=np.arange(-0.5, max(stable) + 1.5), color="tab:blue")
    ax.set_xlabel("stable fixed points at zero input")
    ax.set_ylabel("networks")
    diverged = sum(r["orbit_diverged"] for r in rows)
    fig.suptitle(
        "Noise-driven ReLU RNNs trained to emit HMM sequences (Sinkhorn loss); "
        f"{diverged} of {len(rows)} networks diverge on a long run"
    )
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> Path:
    """Write the PNG (default ``RESULTS_DIR/hmm_emulation.png``); return its path."""
    return figure_cli("hmm_emulation", make_figure, __doc__, argv, dpi=110)


if __name__ == "__main__":
    print(main())

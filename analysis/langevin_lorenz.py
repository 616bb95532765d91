"""Figure: LangevinFlow on Lorenz spikes against its ablation and two baselines.

Reads ``langevin_lorenz.json`` written by ``experiments/langevin_lorenz.py --out
RESULTS_DIR``. For one validation trial (member 0 of each ensemble):

1. top row: true (black) against inferred rates of three held-in and three
   held-out neurons, one panel per model (the dotted line marks the start of
   the forward-prediction bins; the smoothing + GLM baseline predicts none);
2. middle row: the three true Lorenz latents (black) against the best affine map
   of each model's latent (z of the Langevin models, the GRU's factors), one
   panel per latent coordinate;
3. bottom row: co-bps, fp-bps and the R² of inferred against true rates
   (held-in, held-out) per model, bars at the mean over members and members as
   dots; the dashed line is the true rates' score; and the training loss of
   member 0.

Run: ``python analysis/langevin_lorenz.py RESULTS_DIR [--out FIGURE.png]``.
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

MODELS = ("langevin", "encoder_only", "gru", "glm")
COLORS = {"langevin": "tab:blue", "encoder_only": "tab:orange", "gru": "tab:green",
          "glm": "tab:grey"}  # fmt: skip
METRICS = ("co_bps", "fp_bps", "rate_r2_heldin", "rate_r2_heldout")


def make_figure(results_dir: str | Path) -> Figure:
    """Draw the figure from an experiment's output folder and return it."""
    record = read_record(results_dir, "langevin_lorenz")
    f, rows, summary = record["extra"]["figure"], record["rows"], record["summary"]
    fig, axes = plt.subplots(3, 4, figsize=(16, 10.5))
    true = np.asarray(f["true_rates"])
    n_in, n_bins = f["n_heldin"], f["n_bins"]
    shown = [0, 1, 2, n_in, n_in + 1, n_in + 2]
    shown = [j for j in shown if j < true.shape[1]]
    cmap = plt.get_cmap("viridis")
    for col, name in enumerate(MODELS):
        ax = axes[0, col]
        pred = np.asarray(f["rates"][name])
        for i, j in enumerate(shown):
            c = cmap(i / max(len(shown) - 1, 1))
            ax.plot(true[:, j], color=c, lw=2.2, alpha=0.35)
            ax.plot(pred[:, j], color=c, lw=1.0)
        ax.axvline(n_bins - 0.5, color="k", ls=":", lw=0.8)
        ax.set_title(f"{name}: rates (thick: true)", fontsize=9)
        ax.set_xlabel("bin")
        ax.set_ylabel("spikes per bin")
    true_lat = np.asarray(f["true_latents"])
    for c in range(3):
        ax = axes[1, c]
        ax.plot(true_lat[:, c], color="k", lw=2, label="true")
        for name, fitted in f["latents_fit"].items():
            ax.plot(np.asarray(fitted)[:, c], color=COLORS[name], lw=1, label=name)
        ax.axvline(n_bins - 0.5, color="k", ls=":", lw=0.8)
        ax.set_title(f"Lorenz latent {'xyz'[c]} vs affine fit of model latent",
                     fontsize=9)  # fmt: skip
        ax.set_xlabel("bin")
        if c == 0:
            ax.legend(fontsize=7)
    ax = axes[1, 3]
    for name, loss in f["loss"].items():
        ax.plot(np.asarray(loss, float), color=COLORS[name], lw=0.8, label=name)
    ax.set_xlabel("training step")
    ax.set_ylabel("training loss (member 0)")
    ax.set_title("loss (ELBO per entry / Poisson NLL)", fontsize=9)
    ax.legend(fontsize=7)
    ceiling = {"co_bps": summary.get("true_rates_co_bps"),
               "fp_bps": summary.get("true_rates_fp_bps")}  # fmt: skip
    for col, metric in enumerate(METRICS):
        ax = axes[2, col]
        for i, name in enumerate(MODELS):
            values = [r[metric] for r in rows if r["model"] == name]
            values = [v for v in values if v is not None]
            if not values:
                ax.text(i, 0, "n/a", ha="center", va="bottom", fontsize=8)
                continue
            ax.bar(i, np.mean(values), color=COLORS[name], alpha=0.5)
            x = i + np.linspace(-0.15, 0.15, len(values))
            ax.scatter(x, values, color="k", s=12, zorder=3)
        if ceiling.get(metric) is not None:
            ax.axhline(ceiling[metric], color="k", ls="--", lw=0.8,
                       label="true rates")  # fmt: skip
            ax.legend(fontsize=7)
        ax.set_xticks(range(len(MODELS)))
        ax.set_xticklabels(MODELS, fontsize=8, rotation=15)
        ax.set_title(metric.replace("_", " "), fontsize=9)
        if metric.startswith("rate_r2"):
            low = min(0.0, *(r[metric] for r in rows if r[metric] is not None))
            ax.set_ylim(max(low, -1.0), 1.0)
    fig.suptitle(
        "LangevinFlow on Lorenz spikes: default decoder, encoder-only ablation, "
        f"GRU and smoothing + GLM baselines (validation trial {f['trial']})"
    )
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> Path:
    """Write the PNG (default ``RESULTS_DIR/langevin_lorenz.png``); return its path."""
    return figure_cli("langevin_lorenz", make_figure, __doc__, argv, dpi=110)


if __name__ == "__main__":
    print(main())

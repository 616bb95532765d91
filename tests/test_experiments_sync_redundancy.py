"""The sync-redundancy experiment and its figure script, on the small config."""

import csv
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.sync_redundancy import main as figure_main, make_figure  # noqa: E402
from experiments.sync_redundancy import TOPOLOGIES, Config, main  # noqa: E402


def test_experiment_and_figure(tmp_path):
    cfg = Config.small()
    summary = main(cfg, tmp_path)
    with open(tmp_path / "sync_redundancy.csv", newline="") as fh:
        csv_rows = list(csv.DictReader(fh))
    saved = json.loads((tmp_path / "sync_redundancy.json").read_text())
    assert saved["summary"] == summary and saved["config"]["n"] == cfg.n
    rows = saved["rows"]
    assert len(rows) == len(csv_rows) == summary["n_rows"]
    assert len(rows) == len(TOPOLOGIES) * len(cfg.couplings) * len(cfg.sigmas)
    assert {r["topology"] for r in csv_rows} == set(TOPOLOGIES)
    for r in rows:
        # Simulation vs the exact Euler-Maruyama prediction: within 5 standard
        # errors (8 runs x 3 time units: a coarse but honest check).
        for name in ("dispersion", "center_error"):
            z = (r[f"{name}_sim"] - r[f"{name}_pred_euler"]) / r[f"{name}_se"]
            assert abs(z) < 5, (r["topology"], r["coupling"], name, z)
        assert r["algebraic_connectivity"] > 0
    by_k = {(r["topology"], r["coupling"]): r["dispersion_pred"] for r in rows}
    for t in TOPOLOGIES:  # coupling shrinks the predicted dispersion
        assert by_k[(t, 5.0)] < by_k[(t, 1.0)] < by_k[(t, 0.0)]
    fig = make_figure(tmp_path)
    assert len(fig.axes) == 2 * len(cfg.sigmas)
    png = figure_main([str(tmp_path)])
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert np.isfinite(summary["total_seconds"])

"""The degeneracy experiment and its figure script, on the small config."""

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.degeneracy import main as figure_main  # noqa: E402
from experiments.degeneracy import Config, main  # noqa: E402

pytestmark = pytest.mark.slow


def test_experiment_resumes_and_draws(tmp_path):
    cfg = Config.small()
    summary = main(cfg, tmp_path)
    assert summary["cells_done"] == summary["n_cells"] == 2
    with open(tmp_path / "degeneracy.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    saved = json.loads((tmp_path / "degeneracy.json").read_text())
    assert [(r["task"], float(r["l2"])) for r in rows] == [
        ("flipflop1", 0.0),
        ("flipflop1", 1e-3),
    ]
    for r in saved["rows"]:
        assert r["n_seeds"] == 3 and r["failed"] == 0
        for name in ("behaviour", "dynamics", "weights", "mean_ood_error"):
            assert np.isfinite(r[name]) and r[name] >= 0
        details = saved["extra"]["members"][f"{r['task']}/{r['size']}/{r['l2']:g}"]
        dsa = np.asarray(details["dsa"])
        off = ~np.eye(3, dtype=bool)
        np.testing.assert_allclose(dsa[off].mean(), r["dynamics"], rtol=1e-9)
        np.testing.assert_allclose(np.std(details["ood_error"]), r["behaviour"])
    # a rerun of the same config finds every cell done and trains nothing
    again = main(cfg, tmp_path)
    assert again["cells_resumed"] == 2
    png = figure_main([str(tmp_path)])
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000

"""The HMM-emulation experiment and its figure script, on the small config."""

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.hmm_emulation import main as figure_main, make_figure  # noqa: E402
from experiments.hmm_emulation import Config, main, make_task  # noqa: E402


@pytest.mark.slow  # about 30 s alone: trains two small ensembles
def test_experiment_writes_results_and_figure(tmp_path):
    cfg = Config.small()
    summary = main(cfg, tmp_path)
    saved = json.loads((tmp_path / "hmm_emulation.json").read_text())
    with open(tmp_path / "hmm_emulation.csv", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == summary["n_rows"]
    assert saved["summary"] == summary
    rows = saved["rows"]
    assert len(rows) == len(cfg.hmms) * cfg.n_members == summary["n_rows"]
    for r in rows:
        task = make_task(cfg, r["hmm"])
        assert r["hmm_volatility"] == float(task.volatility())
        # the reported error is the distance to the closed form
        assert abs(abs(r["volatility_after"] - r["hmm_volatility"])
                   - r["volatility_error_after"]) < 1e-9  # fmt: skip
        for name in ("frequency_error", "transition_error"):
            assert 0 <= r[f"{name}_before"] <= 1 and 0 <= r[f"{name}_after"] <= 1
        assert 0 <= r["n_stable_fixed_points"] <= r["n_fixed_points"]
        assert 0 <= r["fraction_collapsing_to_origin"] <= 1
        if not r["orbit_diverged"]:
            assert len(set(r["kick_units"])) == 3
            assert all(0 <= u < cfg.n_hidden for u in r["kick_units"])
            assert r["kick_effect_top"] >= r["kick_effect_median"]
    figures = saved["extra"]["figures"]
    assert [f["hmm"] for f in figures] == cfg.hmms
    for f in figures:
        assert f["pcs"] is None or np.asarray(f["pcs"]).shape == (cfg.orbit_len, 2)
        assert f["pcs"] is None or np.all(np.isfinite(np.asarray(f["pcs"])))
    fig = make_figure(tmp_path)
    assert len(fig.axes) == 3 * (len(cfg.hmms) + 1)
    png = figure_main([str(tmp_path)])
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000

"""The E/I-reservoir experiment and its figure script, on the small config."""

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.ei_reservoir import main as figure_main  # noqa: E402
from experiments.ei_reservoir import Config, main  # noqa: E402


@pytest.mark.slow
def test_experiment_writes_results_and_figure(tmp_path):
    cfg = Config.small()
    summary = main(cfg, tmp_path)
    saved = json.loads((tmp_path / "ei_reservoir.json").read_text())
    assert saved["summary"] == json.loads(json.dumps(summary))
    with open(tmp_path / "ei_reservoir.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(saved["rows"])
    assert len(rows) == 2 * (len(cfg.global_gains) + 2 * len(cfg.target_rates))
    # one best global gain and one best target per adapted kind, per task
    assert sum(r["picked"] == "True" for r in rows) == 2 * 3
    keys = ("val_mean", "test_mean", "gain", "mean_rate")
    values = [float(r[k]) for r in rows for k in keys]
    assert np.all(np.isfinite(values))
    for task in ("mc", "mg"):
        s = summary[task]
        assert s["best_global_gain"] in cfg.global_gains
        for name in ("adapted_homogeneous", "adapted_heterogeneous"):
            assert np.isfinite(s[f"improvement_pct_{name}"])
            assert s[f"{name}_target_rate"] in cfg.target_rates
            assert s[f"{name}_rate_error"]["mean"] < 0.1
            trace = saved["extra"]["rate_traces"][task][name]
            err = np.array(trace["abs_error_per_seed"])
            assert err.shape == (cfg.n_seeds, len(trace["steps"]))
    assert 0 < summary["mc"]["best_global"]["mean"] <= cfg.n_hidden
    png = figure_main([str(tmp_path)]).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000

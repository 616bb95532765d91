"""The liquid-state-machine digits experiment and its figure, on the small config."""

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.lsm_digits import main as figure_main  # noqa: E402
from experiments.lsm_digits import CONDITIONS, Config, main  # noqa: E402


@pytest.mark.slow
def test_experiment_writes_results_and_figure(tmp_path):
    cfg = Config.small()
    results = main(cfg, tmp_path)
    saved = json.loads((tmp_path / "lsm_digits.json").read_text())
    assert saved["summary"]["starts"] == results["starts"]
    assert [s["w_exc"] for s in results["starts"]] == cfg.w_exc_starts
    with open(tmp_path / "lsm_digits.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(cfg.w_exc_starts) * len(CONDITIONS) * cfg.n_seeds
    for start in results["starts"]:
        rows = start["conditions"]
        assert set(rows) == set(CONDITIONS)
        for cond in CONDITIONS:
            acc = np.array(rows[cond]["accuracy"])
            bf = np.array(rows[cond]["branching_factor"])
            assert acc.shape == bf.shape == (cfg.n_seeds,)
            assert np.isfinite(acc).all() and np.isfinite(bf).all()
            assert (acc > 0.2).all()  # 10 classes: well above chance even when small
            assert rows[cond]["spikes_per_neuron_per_ms"] > 0
        assert rows["none"]["final_depression_rate"] is None
        stdp_rate = rows["stdp"]["final_depression_rate"]
        assert abs(stdp_rate - cfg.a_plus) < 1e-6  # plain STDP: A- = A+ throughout
        traces = saved["extra"]["traces"][str(start["w_exc"])]
        assert set(traces) == {"stdp", "astro"}
        assert np.array(traces["astro"]["depression_rate"]).shape[0] == cfg.n_seeds
    assert 0.8 < results["pixels_ridge_accuracy"] <= 1.0
    data = figure_main([str(tmp_path)]).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000

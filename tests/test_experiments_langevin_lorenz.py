"""The LangevinFlow-on-Lorenz experiment and its figure script, on the small config.

Structure and consistency only: the small config trains for 20 steps, so no
training outcome is asserted (that would need settings passing for five seeds).
"""

import csv
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.langevin_lorenz import main as figure_main, make_figure  # noqa: E402
from experiments.langevin_lorenz import MODELS, Config, main, rate_r2  # noqa: E402

METRICS = ("co_bps", "fp_bps", "rate_r2_heldin", "rate_r2_heldout",
           "rate_r2_forward", "latent_r2")  # fmt: skip


def test_rate_r2_is_one_for_the_truth_and_zero_for_its_mean():
    rng = np.random.default_rng(0)
    true = rng.uniform(0.1, 2.0, (4, 6, 3))
    assert rate_r2(true, true) == 1.0
    mean = np.broadcast_to(true.reshape(-1, 3).mean(0), true.shape)
    assert abs(rate_r2(mean, true)) < 1e-12


@pytest.mark.slow  # about 30 s (alongside another run): trains three small ensembles
def test_experiment_writes_results_and_figure(tmp_path):
    cfg = Config.small()
    summary = main(cfg, tmp_path)
    saved = json.loads((tmp_path / "langevin_lorenz.json").read_text())
    with open(tmp_path / "langevin_lorenz.csv", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == summary["n_rows"]
    assert saved["summary"] == json.loads(json.dumps(summary))
    rows = saved["rows"]
    expected = [(m, i) for m in MODELS for i in range(1 if m == "glm" else cfg.n_seeds)]
    assert [(r["model"], r["member"]) for r in rows] == expected
    for r in rows:
        glm = r["model"] == "glm"
        for metric in METRICS:
            value = r[metric]
            if glm and metric in ("fp_bps", "rate_r2_forward", "latent_r2"):
                assert value is None  # the baseline predicts no forward bins
                continue
            assert math.isfinite(value), (r["model"], metric)
            if "r2" in metric:
                assert value <= 1.0
    # the summary's mean and range are those of the rows
    for name in MODELS:
        values = [r["co_bps"] for r in rows if r["model"] == name]
        s = summary[f"{name}_co_bps"]
        assert s["min"] <= s["mean"] <= s["max"]
        np.testing.assert_allclose(s["mean"], np.mean(values), rtol=1e-12)
    assert math.isfinite(summary["true_rates_co_bps"])
    f = saved["extra"]["figure"]
    n_time = cfg.n_bins + cfg.n_forward
    assert np.asarray(f["true_rates"]).shape == (n_time, cfg.n_neurons)
    assert np.asarray(f["true_latents"]).shape == (n_time, 3)
    for name in MODELS:
        shape = np.asarray(f["rates"][name]).shape
        assert shape == ((cfg.n_bins if name == "glm" else n_time), cfg.n_neurons)
    for name in ("langevin", "encoder_only", "gru"):
        assert np.asarray(f["latents_fit"][name]).shape == (n_time, 3)
    fig = make_figure(tmp_path)
    assert len(fig.axes) == 12
    png = figure_main([str(tmp_path)])
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000

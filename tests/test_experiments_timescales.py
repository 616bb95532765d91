"""The timescales experiment and its figure script, on the small config."""

import csv
import json
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.timescales import main as figure_main, make_figure  # noqa: E402
from experiments.timescales import Config, main  # noqa: E402


@pytest.mark.slow
def test_experiment_and_figure(tmp_path):
    cfg = Config.small()
    summary = main(cfg, tmp_path)
    saved = json.loads((tmp_path / "timescales.json").read_text())
    with open(tmp_path / "timescales.csv", newline="") as fh:
        csv_rows = list(csv.DictReader(fh))
    assert saved["summary"] == summary and saved["config"]["n_hidden"] == cfg.n_hidden
    rows = saved["rows"]
    n_stages = cfg.n_max - cfg.n_min + 1
    n_expected = len(cfg.tasks) * len(cfg.curricula) * n_stages * cfg.n_members
    assert len(rows) == len(csv_rows) == summary["n_rows"] == n_expected
    seen = {(r["task"], r["curriculum"], r["stage_n"], r["member"]) for r in rows}
    assert len(seen) == n_expected  # one row per task x curriculum x stage x member
    for r in rows:
        # Accuracy on every trained N, in [0, 1]; the stage's own N is one of them.
        trained = sorted(int(n) for n in r["accuracy_by_n"])
        assert trained == list(range(cfg.n_min, r["stage_n"] + 1))
        assert r["accuracy_by_n"][str(r["stage_n"])] == r["accuracy"]
        for a in r["accuracy_by_n"].values():
            assert 0.0 <= a <= 1.0
        mean_acc = sum(r["accuracy_by_n"].values()) / len(r["accuracy_by_n"])
        assert math.isclose(r["mean_accuracy_trained"], mean_acc, rel_tol=1e-6)
        # The projected updates keep every tau_i >= its clamp (float32 rounding).
        assert r["min_tau"] >= cfg.tau_min * (1 - 1e-6)
        assert r["min_tau"] <= r["mean_tau"] <= r["max_tau"]
        # tau_net positive and finite unless every unit's fit was flagged bad.
        assert 0 <= r["tau_net_bad"] <= cfg.n_hidden
        if r["tau_net_bad"] < cfg.n_hidden:
            assert math.isfinite(r["tau_net"]) and r["tau_net"] > 0
        else:
            assert math.isnan(r["tau_net"])
        assert math.isfinite(r["final_loss"]) and not r["failed"]
    # The curricula that ran are exactly the configured ones; reached N is a stage N.
    assert set(summary["reached_n"]) == {
        f"{t}/{c}" for t in cfg.tasks for c in cfg.curricula
    }
    for reached in summary["reached_n"].values():
        assert len(reached) == cfg.n_members
        assert all(n is None or cfg.n_min <= n <= cfg.n_max for n in reached)
    fig = make_figure(tmp_path)
    assert len(fig.axes) == 3 * len(cfg.tasks)
    png = figure_main([str(tmp_path)])
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_bad_task_name_is_rejected():
    cfg = Config.small()
    cfg.tasks = ["nope"]
    with pytest.raises(ValueError, match="tasks: expected"):
        main(cfg)

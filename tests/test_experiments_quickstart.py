"""The README's main command: the flip-flop quickstart trains every member."""

import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments.quickstart import Config, main  # noqa: E402


def run_small(seed: int, out_dir: Path | None = None) -> dict:
    return main(replace(Config.small(), seed=seed), out_dir)


def measure_quickstart(seed: int) -> dict:
    """Margins of the small quickstart's bounds (tests/margins.py)."""
    out = run_small(seed)
    return {
        # chance is 0.5; a few hundred steps at this size give well above it
        "min accuracy > 0.8": out["held_out_accuracy"]["min"] - 0.8,
        "min stable points >= 1": min(out["fixed_points"]["stable_per_member"]) - 1,
    }


@pytest.mark.usefixtures("optimized")  # run time > compile time
@pytest.mark.training
def test_quickstart_trains_every_member(tmp_path):
    out = run_small(0, tmp_path)
    saved = json.loads((tmp_path / "quickstart.json").read_text())
    assert saved["config"] == out["config"] and saved["seed"] == 0
    assert saved["summary"] == {k: v for k, v in out.items() if k != "config"}
    assert [r["held_out_accuracy"] for r in saved["rows"]] == (
        out["held_out_accuracy"]["per_member"]
    )
    acc = out["held_out_accuracy"]
    assert len(acc["per_member"]) == 3 and out["failed_members"] == 0
    assert acc["min"] > 0.8
    assert 0.0 <= out["ood_accuracy_median"] <= 1.0
    stable = out["fixed_points"]["stable_per_member"]
    assert len(stable) == 3 and all(s >= 1 for s in stable)
    ret = out["memory_retention"]
    assert ret["hold_steps"] == 4 * 30 and len(ret["patterns_held_per_member"]) == 3
    assert all(0 <= n <= 4 for n in ret["patterns_held_per_member"])

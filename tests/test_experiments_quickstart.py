"""The README's main command: the flip-flop quickstart trains every member."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments.quickstart import Config, main  # noqa: E402


def run_small(seed: int) -> dict:
    cfg = Config(
        n_members=3,
        n_hidden=16,
        sigma_rec=0.0,  # at this size and length, noise left a member with no memory
        n_bits=2,
        n_steps_trial=30,
        p_pulse=0.1,
        batch_size=16,
        n_steps=150,
        learning_rate=1e-2,
        n_test_trials=64,
        hold_trials=4,
        seed=seed,
    )
    return main(cfg)


def measure_quickstart(seed: int) -> dict:
    """Margins of the small quickstart's bounds (tests/margins.py)."""
    out = run_small(seed)
    return {
        # chance is 0.5; a few hundred steps at this size give well above it
        "min accuracy > 0.8": out["held_out_accuracy"]["min"] - 0.8,
        "min stable points >= 1": min(out["fixed_points"]["stable_per_member"]) - 1,
    }


@pytest.mark.training
def test_quickstart_trains_every_member():
    out = run_small(0)
    acc = out["held_out_accuracy"]
    assert len(acc["per_member"]) == 3 and out["failed_members"] == 0
    assert acc["min"] > 0.8
    assert 0.0 <= out["ood_accuracy_median"] <= 1.0
    stable = out["fixed_points"]["stable_per_member"]
    assert len(stable) == 3 and all(s >= 1 for s in stable)
    ret = out["memory_retention"]
    assert ret["hold_steps"] == 4 * 30 and len(ret["patterns_held_per_member"]) == 3
    assert all(0 <= n <= 4 for n in ret["patterns_held_per_member"])

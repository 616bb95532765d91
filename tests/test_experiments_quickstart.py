"""The README's main command: the flip-flop quickstart trains every member."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments.quickstart import Config, main  # noqa: E402


def test_quickstart_trains_every_member():
    cfg = Config(
        n_members=3,
        n_hidden=16,
        n_bits=2,
        n_steps_trial=30,
        batch_size=16,
        n_steps=150,
        learning_rate=1e-2,
        n_test_trials=64,
    )
    out = main(cfg)
    acc = out["held_out_accuracy"]
    assert len(acc["per_member"]) == 3 and out["failed_members"] == 0
    # Chance is 0.5; a few hundred steps at this size give well above it.
    assert acc["min"] > 0.8
    assert 0.0 <= out["ood_accuracy_median"] <= 1.0
    stable = out["fixed_points"]["stable_per_member"]
    assert len(stable) == 3 and all(s >= 1 for s in stable)

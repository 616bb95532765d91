"""The README's demo trains an ensemble: every member's loss must fall."""

import sys
from pathlib import Path

import jax

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments.demo import Config, main  # noqa: E402


def test_demo_trains_every_member():
    # optax's Adam mixes its int32 step count with floats, which the suite's strict
    # promotion rejects; the demo is user code, so it runs with JAX's default.
    cfg = Config(n_members=3, n_hidden=8, n_trials=8, n_steps=20, n_iterations=60)
    with jax.numpy_dtype_promotion("standard"):
        out = main(cfg)
    assert len(out["loss_after"]) == 3
    for before, after in zip(out["loss_before"], out["loss_after"], strict=True):
        assert after < 0.5 * before
    assert all(out["noisy_run_ok"])
    assert out["noisy_output_spread_at_end"] > 0.0

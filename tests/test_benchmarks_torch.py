"""The PyTorch benchmarks run (--small) and their methods agree before timing.

The scripts assert, before anything is timed, that every method's outputs (forward)
or first two losses (training) match dynax's to float32 tolerance; these tests run
them in a subprocess and check the JSON they print. No timing is asserted.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def run_benchmark(script: str, *args: str) -> dict:
    """Run ``experiments/benchmarks/<script> --small`` on CPU; its JSON."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "experiments" / "benchmarks" / script), "--small",
         "--device", "cpu", "--torch-threads", "1", "--repeats", "1", *args],
        capture_output=True, text=True, env=env, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_torch_forward_small():
    out = run_benchmark("torch_forward.py", "--sizes", "2")
    assert out["benchmark"] == "torch_forward" and out["torch_num_threads"] == 1
    assert out["jax_platform"] == "cpu" and out["torch_device"] == "cpu"
    (size,) = out["sizes"]
    assert size["E"] == 2 and size["outputs_agree"] is True
    methods = {"dynax", "dynax_all_states", "scan", "torch_batched", "torch_loop"}
    assert set(size["results"]) == methods
    assert set(size["speedup_of_dynax_vs"]) == methods - {"dynax"}
    assert max(size["max_abs_diff_vs_dynax"].values()) <= 1e-3
    for name, row in size["results"].items():
        assert row["run_s"] > 0 and row["first_call_s"] > 0
        assert ("compile_s" in row) == (not name.startswith("torch"))


def test_torch_training_small():
    out = run_benchmark("torch_training.py", "--sizes", "2")
    assert out["benchmark"] == "torch_training" and out["torch_num_threads"] == 1
    (size,) = out["sizes"]
    assert size["E"] == 2 and size["losses_agree"] is True
    diffs = size["loss_max_rel_diff_vs_fit_first_2_steps"]
    assert set(diffs) == {"torch_batched", "torch_loop"}
    assert max(diffs.values()) <= 1e-4
    assert set(size["results"]) == {"fit", "torch_batched", "torch_loop"}
    assert set(size["speedup_of_fit_vs"]) == {"torch_batched", "torch_loop"}
    assert size["results"]["torch_loop"]["measured_members"] == 2
    assert "compile_s" in size["results"]["fit"]
    for row in size["results"].values():
        assert row["network_iterations_per_s"] > 0

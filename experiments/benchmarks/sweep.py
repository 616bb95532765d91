"""Benchmark: a sweep packed into vmapped groups against one process per member.

The workload (issue 18): ``--n-members`` (256) flip-flop CTRNNs with 32 units (2 bits,
50-step trials, batch 32, ``--steps`` Adam steps), 2 learning rates x seeds, trained and
evaluated on 256 held-out trials.

- ``packed``: ``python -m experiments.sweep CONFIG --out DIR`` (local backend): one
  process; the members that share shapes train as one vmapped group.
- ``per_member``: the Ray-/submitit-per-seed pattern: one fresh process per member,
  each running the same CLI on a one-member config (its own import of JAX,
  compilation and training), ``--parallel`` processes at a time (default: the CPU
  count). Running all 256 this way takes tens of minutes on 2 cores, so by default
  ``--sample`` members (16) are run and the total is extrapolated linearly; the JSON
  says which.

Both are timed as wall clock from process start to exit, and the packed members'
metrics are checked against the per-member ones (the same member, trained alone, has
the same numbers: the sweep's keys do not depend on the group). One JSON object is
printed.

Usage: ``python experiments/benchmarks/sweep.py [--n-members 256] [--sample 16]``.
"""

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def config(n_members: int, steps: int) -> dict:
    return {
        "name": "bench",
        "task": "FlipFlop",
        "task_args": {"n_bits": 2, "n_steps": 50},
        "model_args": {"n_hidden": 32, "tau": 0.5, "g": 1.2},
        "train": {"n_steps": steps, "batch_size": 32, "log_every": steps},
        "evaluate": {"n_trials": 256},
        "grid": {"train.learning_rate": [1e-3, 3e-3]},
        "seeds": n_members // 2,
        "memory_budget": "8GB",
    }


def run_cli(cfg: dict, out: Path) -> float:
    path = out.with_suffix(".json")
    path.write_text(json.dumps(cfg))
    start = time.perf_counter()
    env = dict(os.environ, TQDM_DISABLE="1")
    cmd = [sys.executable, "-m", "experiments.sweep", str(path), "--out", str(out)]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def rows(out: Path) -> dict[tuple, dict]:
    found = {}
    for f in (out / "rows").glob("*.csv"):
        with f.open(newline="") as fh:
            for r in csv.DictReader(fh):
                lr = r.get("train.learning_rate") or r["learning_rate"]
                found[(lr, r["seed"])] = r
    return found


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-members", type=int, default=256)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument(
        "--sample", type=int, default=16, help="per-member runs (0: all)"
    )
    parser.add_argument("--parallel", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    cfg = config(args.n_members, args.steps)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        packed_s = run_cli(cfg, tmp / "packed")
        packed = rows(tmp / "packed")
        assert len(packed) == args.n_members
        n_groups = len(list((tmp / "packed" / "rows").glob("*.csv")))
        members = [(lr, s) for lr in cfg["grid"]["train.learning_rate"]
                   for s in range(cfg["seeds"])]  # fmt: skip
        n_run = (
            len(members) if args.sample in (0, None) else min(args.sample, len(members))
        )
        # spread the sample over both learning rates
        chosen = members[:: max(1, len(members) // n_run)][:n_run]
        start = time.perf_counter()
        running: list = []
        max_diff = 0.0
        for i, (lr, seed) in enumerate(chosen):
            one = dict(cfg, grid={}, seeds=[seed])
            one["train"] = dict(cfg["train"], learning_rate=lr)
            path = tmp / f"one{i}.json"
            path.write_text(json.dumps(one))
            cmd = [sys.executable, "-m", "experiments.sweep", str(path), "--out",
                   str(tmp / f"one{i}")]  # fmt: skip
            env = dict(os.environ, TQDM_DISABLE="1")
            proc = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            running.append((proc, i, lr, seed))
            while len(running) >= args.parallel or (i == len(chosen) - 1 and running):
                proc, j, lr_j, seed_j = running.pop(0)
                if proc.wait() != 0:
                    raise RuntimeError(f"per-member run {j} failed")
                (r,) = rows(tmp / f"one{j}").values()
                ref = packed[(str(lr_j), str(seed_j))]
                for key in ("eval_loss", "eval_score", "final_loss"):
                    a, b = float(r[key]), float(ref[key])
                    max_diff = max(max_diff, abs(a - b) / max(abs(b), 1e-12))
        per_member_s = time.perf_counter() - start
    total = per_member_s * len(members) / n_run
    result = {
        "benchmark": "sweep",
        "workload": f"{args.n_members} flip-flop CTRNNs (32 units, 2 bits, 50-step "
        f"trials, batch 32, {args.steps} Adam steps) + held-out evaluation",
        "packed_seconds": round(packed_s, 2),
        "packed_groups": n_groups,
        "per_member_processes_run": n_run,
        "per_member_parallel": args.parallel,
        "per_member_seconds_measured": round(per_member_s, 2),
        "per_member_seconds_per_member": round(per_member_s / n_run * args.parallel, 2),
        "per_member_seconds_total": round(total, 1),
        "per_member_total_is": "measured" if n_run == len(members) else "extrapolated",
        "ratio": round(total / packed_s, 1),
        "max_relative_metric_difference": max_diff,
        "machine": {"cpu_count": os.cpu_count(), "processor": platform.processor()},
    }
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()

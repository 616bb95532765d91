"""Benchmark: all-pairs DSA of an ensemble with dynax against dsa-metric.

The workload (issue 15): 10 autonomous tanh RNNs (64 units, 20 trials x 100 steps),
5 with gain 0.9 and 5 with gain 1.5; all 45 pairs scored with the angular DSA score,
``n_delays=10``, ``rank=20``. In one process and on the same data:

- ``dynax``: ``dx.analysis.dsa_matrix`` (first call = compile + run; then a timed
  second call on the same shapes);
- ``dsa_metric``: PyPI ``dsa-metric``'s ``DSA(X, n_delays=10, rank=20,
  score_method="angular", iters=1500, lr=5e-3).fit_score()`` (its defaults apart from
  the score), when installed; ``--no-peer`` skips it.

Reported for each: times, within-group and between-group mean scores, and the
nearest-neighbour grouping accuracy (the fraction of systems whose nearest other
system has the same gain); plus the per-pair difference (dynax minus dsa-metric: at
most 0 when dynax's minimiser reaches the lower minimum). One JSON object is printed.

Usage: ``python experiments/benchmarks/dsa.py [--no-peer] [--n-systems 10]``.
"""

import argparse
import json
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np

import dynax as dx


def trajectories(n_systems: int, n_units: int, n_trials: int, n_steps: int, seed=0):
    """Autonomous tanh rate RNNs (Euler, dt/tau = 0.1), half gain 0.9, half 1.5."""
    rng = np.random.default_rng(seed)
    gains = np.where(np.arange(n_systems) < n_systems // 2, 0.9, 1.5)
    out = []
    for g in gains:
        w = g * rng.normal(size=(n_units, n_units)) / np.sqrt(n_units)
        x = rng.normal(size=(n_trials, n_units))
        xs = []
        for _ in range(n_steps):
            xs.append(x)
            x = x + 0.1 * (-x + np.tanh(x @ w.T))
        out.append(np.stack(xs, axis=1))
    return np.stack(out), gains


def groups(scores: np.ndarray, gains: np.ndarray) -> dict:
    n = len(gains)
    same = gains[:, None] == gains[None, :]
    off = ~np.eye(n, dtype=bool)
    d = np.where(off, scores, np.inf)
    nearest = np.argmin(d, axis=1)
    return {
        "within_mean": float(scores[same & off].mean()),
        "between_mean": float(scores[~same].mean()),
        "nn_accuracy": float(np.mean(gains[nearest] == gains)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--n-systems", type=int, default=10)
    parser.add_argument("--n-units", type=int, default=64)
    parser.add_argument("--n-trials", type=int, default=20)
    parser.add_argument("--n-steps", type=int, default=100)
    parser.add_argument("--n-delays", type=int, default=10)
    parser.add_argument("--rank", type=int, default=20)
    args = parser.parse_args()
    xs, gains = trajectories(args.n_systems, args.n_units, args.n_trials, args.n_steps)
    opts = dict(n_delays=args.n_delays, rank=args.rank, score="angular")
    out = {
        "workload": vars(args) | {"pairs": args.n_systems * (args.n_systems - 1) // 2},
        "platform": platform.processor() or platform.machine(),
        "backend": jax.default_backend(),
        "jax": jax.__version__,
    }
    t0 = time.perf_counter()
    res = dx.analysis.dsa_matrix(jnp.asarray(xs), **opts)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = dx.analysis.dsa_matrix(jnp.asarray(xs), **opts)
    run = time.perf_counter() - t0
    ours = np.asarray(res.scores)
    iu = np.triu_indices(len(gains), 1)
    out["dynax"] = {
        "first_call_s": first,
        "run_s": run,
        "compile_s_estimate": first - run,
        "iterations_max": int(np.asarray(res.n_iter)[iu].max()),
        "iterations_median": float(np.median(np.asarray(res.n_iter)[iu])),
        "all_converged": bool(np.asarray(res.converged).all()),
        **groups(ours, gains),
    }
    if not args.no_peer:
        try:
            from DSA import DSA
        except ImportError:
            out["dsa_metric"] = "not installed (pip install torch==2.13.0 dsa-metric)"
        else:
            import importlib.metadata

            t0 = time.perf_counter()
            peer = DSA(
                list(xs.astype(np.float32)),
                n_delays=args.n_delays,
                rank=args.rank,
                score_method="angular",
                iters=1500,
                lr=5e-3,
            ).fit_score()
            peer_s = time.perf_counter() - t0
            peer = np.asarray(peer)
            out["dsa_metric"] = {
                "version": importlib.metadata.version("dsa-metric"),
                "run_s": peer_s,
                **groups(peer, gains),
            }
            diff = ours[iu] - peer[iu]
            out["per_pair_dynax_minus_peer"] = {
                "max": float(diff.max()),
                "mean": float(diff.mean()),
                "min": float(diff.min()),
                "fraction_dynax_lower_or_equal": float(np.mean(diff <= 1e-6)),
            }
            out["speedup_first_call"] = peer_s / first
            out["speedup_run"] = peer_s / run
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

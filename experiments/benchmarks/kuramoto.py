"""Benchmark: dynax Kuramoto against the ``kuramoto`` package, and scaling in N.

1. Side by side (one process, same initial phases, frequencies and coupling): N =
   1000 all-to-all oscillators for 1000 output steps, as in the package's usage
   ``Kuramoto(coupling=K, dt=0.01, T=10).run(adj_mat=ones)`` (scipy ``odeint``,
   LSODA, on ``t = linspace(0, T, int(T / dt))``; its coupling is K / M_i with M_i
   the in-degree, K / N for an all-ones matrix). dynax runs on the same grid, one
   fixed step per interval, with Euler, Heun and Tsit5 (dense: Euler and Heun),
   through the all-to-all mean field (O(N)) and the dense (N, N) coupling matrix.
   Reported: both final order parameters, the largest difference of r(t) from
   the package, dynax's compile time, run times and ``speedup = t_package /
   t_dynax``.
2. Throughput: Euler steps per second of the mean-field path for N up to 10^6 and
   of the sparse edge-list path on a small-world graph of 10^5 nodes (10 neighbours
   each, 10% rewired: 10^6 directed edges), float32 and float64; each timed call
   takes min(500, 5e7 / work) steps, work = N or the number of edges.

Timings: one warm-up call (compile time = first call - median run), then the
median of ``repeats`` calls with ``block_until_ready``; the package is timed once
per repeat too. One JSON object is printed.

Usage: ``python experiments/benchmarks/kuramoto.py [--repeats 3] [--quick]``.
"""

import argparse
import importlib
import importlib.metadata
import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import scipy

import dynax as dx

jax.config.update("jax_enable_x64", True)


@dataclass
class Config:
    """Sizes (the issue's workload by default)."""

    n: int = 1000
    coupling: float = 2.0
    dt: float = 0.01
    t_final: float = 10.0
    repeats: int = 3
    mean_field_sizes: list[int] = field(
        default_factory=lambda: [1_000, 10_000, 100_000, 1_000_000]
    )
    sparse_nodes: int = 100_000
    sparse_neighbours: int = 10
    max_steps: int = 500
    work_per_call: float = 5e7  # oscillator (or edge) steps per timed call
    seed: int = 0


def timed(fn, *args, repeats):
    """(first-call seconds, median seconds of ``repeats`` further calls, result)."""
    start = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    first = time.perf_counter() - start
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = jax.block_until_ready(fn(*args))
        samples.append(time.perf_counter() - start)
    return first, float(np.median(samples)), out


def order_parameter_series(phases: np.ndarray) -> np.ndarray:
    """r(t) of a (time, n) phase array."""
    return np.abs(np.exp(1j * phases).mean(axis=-1))


def import_peer():
    """Import the ``kuramoto`` package, not this script of the same name."""
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    return importlib.import_module("kuramoto")


def side_by_side(cfg: Config) -> dict:
    kuramoto = import_peer()
    rng = np.random.default_rng(cfg.seed)
    omega = rng.normal(size=cfg.n)
    theta0 = rng.uniform(0, 2 * np.pi, cfg.n)
    adj = np.ones((cfg.n, cfg.n))
    peer = kuramoto.Kuramoto(
        coupling=cfg.coupling, dt=cfg.dt, T=cfg.t_final, natfreqs=omega
    )
    peer_times, act = [], None
    for _ in range(max(cfg.repeats, 1)):
        start = time.perf_counter()
        act = peer.run(adj_mat=adj, angles_vec=theta0)
        peer_times.append(time.perf_counter() - start)
    assert act is not None
    r_peer = order_parameter_series(act.T)
    t_peer = float(np.median(peer_times))
    ts = jnp.linspace(0.0, cfg.t_final, act.shape[1])
    models = {
        "mean_field": dx.models.Kuramoto(omega, cfg.coupling),
        "dense": dx.models.Kuramoto(
            omega, np.full((cfg.n, cfg.n), cfg.coupling / cfg.n)
        ),
    }
    rows = []
    solvers = (diffrax.Euler(), diffrax.Heun(), diffrax.Tsit5())
    for (name, model), solver in [
        (m, s)
        for m in models.items()
        for s in solvers
        if not (m[0] == "dense" and isinstance(s, diffrax.Tsit5))
    ]:

        @eqx.filter_jit
        def run(model, y0, solver=solver):
            return dx.simulate(model, y0, ts, solver=solver).ys

        first, run_s, ys = timed(run, model, jnp.asarray(theta0), repeats=cfg.repeats)
        r = order_parameter_series(np.asarray(ys))
        rows.append({
            "coupling_path": name,
            "solver": type(solver).__name__,
            "compile_s": round(max(first - run_s, 0.0), 3),
            "run_s": round(run_s, 5),
            "speedup_vs_package": round(t_peer / run_s, 1),
            "final_r": round(float(r[-1]), 6),
            "max_abs_r_difference_vs_package": float(f"{np.abs(r - r_peer).max():.3g}"),
        })  # fmt: skip
    return {
        "n": cfg.n,
        "output_steps": int(act.shape[1]),
        "package_run_s": round(t_peer, 3),
        "package_final_r": round(float(r_peer[-1]), 6),
        "package_integrator": "scipy.integrate.odeint (LSODA, rtol=atol=1.49e-8)",
        "dynax": rows,
    }


def small_world_edges(n: int, neighbours: int, p: float, rng) -> tuple:
    """Ring lattice (neighbours/2 on each side), each edge rewired with prob. p."""
    half = neighbours // 2
    u = np.repeat(np.arange(n), half)
    v = (u + np.tile(np.arange(1, half + 1), n)) % n
    rewire = rng.uniform(size=u.size) < p
    v = np.where(rewire, rng.integers(0, n, u.size), v)
    keep = u != v
    u, v = u[keep], v[keep]
    return np.concatenate([u, v]).astype(np.int32), np.concatenate([v, u]).astype(
        np.int32
    )


def throughput(cfg: Config, model, n: int, work: int, dtype, label: str) -> dict:
    steps = int(min(cfg.max_steps, max(10, cfg.work_per_call / work)) // 10 * 10)
    ts = jnp.linspace(0.0, steps * cfg.dt, 11, dtype=dtype)

    @eqx.filter_jit
    def run(model, y0):
        return dx.simulate(model, y0, ts, dt=cfg.dt).ys[-1]

    y0 = jnp.asarray(np.random.default_rng(1).uniform(0, 2 * np.pi, n), dtype)
    first, run_s, _ = timed(run, model, y0, repeats=cfg.repeats)
    return {
        "path": label,
        "n": n,
        "dtype": jnp.dtype(dtype).name,
        "steps": steps,
        "compile_s": round(max(first - run_s, 0.0), 3),
        "run_s": round(run_s, 4),
        "steps_per_s": round(steps / run_s, 1),
        "oscillator_steps_per_s": float(f"{n * steps / run_s:.3g}"),
    }


def scaling(cfg: Config) -> list[dict]:
    rows = []
    rng = np.random.default_rng(cfg.seed)
    for dtype in (jnp.float32, jnp.float64):
        for n in cfg.mean_field_sizes:
            omega = jnp.asarray(rng.normal(size=n), dtype)
            model = dx.models.Kuramoto(omega, jnp.asarray(cfg.coupling, dtype))
            rows.append(throughput(cfg, model, n, n, dtype, "mean_field"))
        n = cfg.sparse_nodes
        s, r = small_world_edges(n, cfg.sparse_neighbours, 0.1, rng)
        omega = jnp.asarray(rng.normal(size=n), dtype)
        weight = jnp.asarray(cfg.coupling / cfg.sparse_neighbours, dtype)
        model = dx.models.Kuramoto(omega, weight, edges=(s, r))
        row = throughput(cfg, model, n, s.size, dtype, "sparse_small_world")
        rows.append(row | {"edges": int(s.size)})
    return rows


def main(cfg: Config) -> dict:
    return {
        "benchmark": "kuramoto",
        "speedup_definition": "t(kuramoto package, N=1000, 1000 steps) / t(dynax run)",
        "device": str(jax.devices()[0]),
        "platform": platform.platform(),
        "load_average_1min_at_start": round(os.getloadavg()[0], 2),
        "versions": {
            "jax": jax.__version__,
            "equinox": eqx.__version__,
            "diffrax": diffrax.__version__,
            "dynax": dx.__version__,
            "kuramoto": importlib.metadata.version("kuramoto"),
            "scipy": scipy.__version__,
            "numpy": np.__version__,
        },
        "config": asdict(cfg),
        "side_by_side": side_by_side(cfg),
        "throughput": scaling(cfg),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=Config().repeats)
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    a = parser.parse_args()
    cfg = Config(repeats=a.repeats)
    if a.quick:
        cfg = Config(
            n=200, repeats=1, mean_field_sizes=[1000], sparse_nodes=1000,
            max_steps=50,
        )  # fmt: skip
    print(json.dumps(main(cfg), indent=1))

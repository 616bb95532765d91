"""Synchronisation and redundancy: noisy coupled gradient systems vs the prediction.

n redundant copies of a noisy gradient system, f(x) = lam/2 |x - x*|^2 per copy,
are coupled diffusively on a graph (Bouvrie & Slotine 2011, Neural Comput.
23:2915):

    dx_i = [-lam (x_i - x*) - k sum_j L_ij x_j] dt + sigma dW_i.

For every topology (ring, Watts-Strogatz small world, complete, Erdos-Renyi
random), coupling strength k and noise sigma, an ensemble of runs is simulated
with ``dx.simulate`` (Euler-Maruyama; all configurations and runs are one vmapped
ensemble) and the stationary dispersion sum_i |x_i - xbar|^2, the error of the
centre of mass |xbar - x*|^2 and the per-copy error (1/n) sum_i |x_i - x*|^2 are
averaged over time and runs. They are compared with ``dx.analysis.consensus_noise``:
the SDE's closed form (a function of the Laplacian eigenvalues, k, lam and sigma)
and the exact stationary moments of the Euler-Maruyama chain at the step used.

With ``--out DIR``, writes ``sync_redundancy.csv`` (one row per topology x k x
sigma) and ``sync_redundancy.json`` (config, versions, rows, timings) there;
``analysis/sync_redundancy.py DIR`` draws the figure. Run:
``python experiments/sync_redundancy.py [--small] [--out DIR]`` (the default takes
about a minute on 2 CPU cores; every config field is a flag, see ``--help``).
"""

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np

if not __package__:  # run as a file: put the repository root (this checkout) first
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dynax as dx  # noqa: E402
from experiments._common import enable_x64, run_cli, write_results  # noqa: E402

TOPOLOGIES = ("ring", "small_world", "complete", "random")


@dataclass
class Config:
    """Sizes of the sweep (defaults: the full run; ``small()`` for tests)."""

    n: int = 10
    dim: int = 4
    contraction: float = 1.0
    target: float = 0.5
    couplings: list[float] = field(default_factory=lambda: [0.0, 0.3, 1.0, 3.0, 10.0])
    sigmas: list[float] = field(default_factory=lambda: [0.25, 0.5, 1.0])
    topologies: list[str] = field(default_factory=lambda: list(TOPOLOGIES))
    small_world_k: int = 4
    small_world_p: float = 0.2
    random_p: float = 0.3
    dt: float = 0.01
    n_runs: int = 32
    chunk_time: float = 2.5
    n_burn_chunks: int = 2
    n_chunks: int = 24
    save_every: float = 0.1
    x64: bool = True
    seed: int = 0

    @classmethod
    def small(cls) -> "Config":
        """A configuration that runs in a few seconds (for tests)."""
        return cls(
            n=6, dim=2, couplings=[0.0, 1.0, 5.0], sigmas=[0.5], n_runs=8,
            chunk_time=1.0, n_burn_chunks=2, n_chunks=3, save_every=0.1,
        )  # fmt: skip


def make_graph(cfg: Config, topology: str, key) -> np.ndarray:
    """The adjacency of one topology; random graphs are redrawn until connected."""
    n = cfg.n
    if topology == "ring":
        return np.asarray(dx.models.ring_graph(n))
    if topology == "complete":
        return np.asarray(dx.models.complete_graph(n))
    for attempt in range(100):
        k = jr.fold_in(key, attempt)
        if topology == "small_world":
            A = dx.models.watts_strogatz_graph(
                n, cfg.small_world_k, cfg.small_world_p, key=k
            )
        elif topology == "random":
            A = dx.models.erdos_renyi_graph(n, cfg.random_p, key=k)
        else:
            raise ValueError(
                f"topology: expected one of {TOPOLOGIES}, got {topology!r}."
            )
        if float(dx.analysis.algebraic_connectivity(A)) > 1e-9:
            return np.asarray(A)
    raise RuntimeError(f"no connected {topology} graph in 100 draws; raise p.")


def simulate_grid(cfg: Config, laplacians: np.ndarray, grid: list[tuple]):
    """Time- and run-averaged (dispersion, centre error) per grid point and run."""
    n_members = len(grid) * cfg.n_runs
    members = [g for g in grid for _ in range(cfg.n_runs)]
    lap = jnp.asarray(np.stack([laplacians[g[0]] for g in members]))
    ks = jnp.asarray([g[1] for g in members])
    sigmas = jnp.asarray([g[2] for g in members])
    lam, target = jnp.asarray(cfg.contraction), jnp.asarray(cfg.target)

    def potential(x):
        return 0.5 * lam * jnp.sum((x - target) ** 2)

    ens = eqx.filter_vmap(
        lambda L, k, s: dx.models.CoupledGradientNetwork(
            potential, L, coupling=k, sigma=s, dim=cfg.dim
        )
    )(lap, ks, sigmas)
    n_saves = int(round(cfg.chunk_time / cfg.save_every))
    ts = jnp.linspace(0.0, cfg.chunk_time, n_saves + 1)

    @eqx.filter_jit
    def chunk(ens, x0, keys):
        def one(model, x, key):
            traj = dx.simulate(model, x, ts, key=key, dt=cfg.dt)
            disp = dx.analysis.sync_error(traj.ys[1:])
            centre = jnp.sum((traj.outputs[1:] - target) ** 2, axis=-1)
            return traj.ys[-1], jnp.stack([jnp.mean(disp), jnp.mean(centre)])

        return eqx.filter_vmap(one)(ens, x0, keys)

    x = jnp.full((n_members, cfg.n, cfg.dim), cfg.target, dtype=float)
    key = jr.PRNGKey(cfg.seed + 1)
    total = np.zeros((n_members, 2))
    start, compile_s = time.perf_counter(), None
    for c in range(cfg.n_burn_chunks + cfg.n_chunks):
        x, stats = chunk(ens, x, jr.split(jr.fold_in(key, c), n_members))
        stats = np.asarray(stats)
        if compile_s is None:
            compile_s = time.perf_counter() - start
        if c >= cfg.n_burn_chunks:
            total += stats
    averages = (total / cfg.n_chunks).reshape(len(grid), cfg.n_runs, 2)
    return averages, compile_s, time.perf_counter() - start


def main(cfg: Config, out_dir: Path | None = None) -> dict:
    """Run the sweep; write sync_redundancy.json/.csv to ``out_dir``; the summary."""
    enable_x64(cfg)
    start = time.perf_counter()
    graph_keys = jr.split(jr.PRNGKey(cfg.seed), len(cfg.topologies))
    pairs = zip(cfg.topologies, graph_keys, strict=True)
    adjacency = {t: make_graph(cfg, t, k) for t, k in pairs}
    laplacians = {t: np.asarray(dx.analysis.laplacian(a)) for t, a in adjacency.items()}
    grid = [
        (t, k, s) for t in cfg.topologies for k in cfg.couplings for s in cfg.sigmas
    ]
    averages, compile_s, total_s = simulate_grid(cfg, laplacians, grid)
    rows = []
    for (topology, k, sigma), runs in zip(grid, averages, strict=True):
        kw = dict(coupling=k, contraction=cfg.contraction, sigma=sigma, dim=cfg.dim)
        sde = dx.analysis.consensus_noise(laplacians[topology], **kw)
        chain = dx.analysis.consensus_noise(laplacians[topology], **kw, dt=cfg.dt)
        mean, se = runs.mean(axis=0), runs.std(axis=0, ddof=1) / np.sqrt(cfg.n_runs)
        rows.append({
            "topology": topology,
            "coupling": k,
            "sigma": sigma,
            "algebraic_connectivity": float(sde.eigenvalues[1]),
            "kirchhoff_index": float(dx.analysis.kirchhoff_index(adjacency[topology])),
            "n_edges": int(adjacency[topology].sum() / 2),
            "dispersion_sim": float(mean[0]),
            "dispersion_se": float(se[0]),
            "dispersion_pred": float(sde.dispersion),
            "dispersion_pred_euler": float(chain.dispersion),
            "dispersion_bound": float(sde.dispersion_bound),
            "center_error_sim": float(mean[1]),
            "center_error_se": float(se[1]),
            "center_error_pred": float(sde.center_error),
            "center_error_pred_euler": float(chain.center_error),
            "unit_error_sim": float(mean[1] + mean[0] / cfg.n),
            "unit_error_pred": float(sde.unit_error),
        })  # fmt: skip
    z = [
        (r["dispersion_sim"] - r["dispersion_pred_euler"]) / r["dispersion_se"]
        for r in rows
    ]
    summary = {
        "n_members": len(grid) * cfg.n_runs,
        "n_rows": len(rows),
        "compile_seconds": round(compile_s, 2),
        "total_seconds": round(total_s, 2),
        "max_abs_z_dispersion_vs_euler_prediction": round(float(np.max(np.abs(z))), 2),
    }
    if out_dir is not None:
        write_results(
            out_dir, "sync_redundancy", config=cfg, rows=rows, summary=summary,
            seed=cfg.seed, wall_seconds=time.perf_counter() - start,
        )  # fmt: skip
    return summary


if __name__ == "__main__":
    run_cli(main, Config, __doc__)

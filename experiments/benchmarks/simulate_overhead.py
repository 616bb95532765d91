"""Benchmark: the cost of dynax.simulate against a hand-written lax.scan and diffrax.

E continuous-time RNNs (N=128 units, 64 trials, 100 steps) are run forward and
differentiated (the gradient of an MSE loss on the readout with respect to every
parameter of every network), three ways in one process:

- ``scan``: a hand-written Euler ``lax.scan`` (the baseline a researcher would write);
- ``dynax``: ``dynax.simulate`` on its fixed-step fast path;
- ``diffeqsolve``: ``diffrax.diffeqsolve`` with ``ConstantStepSize``;

for the Euler, Heun and Tsit5 solvers. Higher-order solvers evaluate the vector field
``stages`` times per step, so their ratio is taken against ``stages x`` the hand-written
Euler cost: ``ratio = stages * t_scan_euler / t_method`` (1.0 = no overhead beyond the
extra stages; the goal is >= 0.9 for dynax). Compile and run times are reported
separately; one JSON object is printed.

Usage: ``python experiments/benchmarks/simulate_overhead.py [--sizes 1 64 1024]``.
"""

import argparse
import json
import platform
import time
from dataclasses import asdict, dataclass, field

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

import dynax as dx

SOLVERS = {
    "euler": (diffrax.Euler(), 1),
    "heun": (diffrax.Heun(), 2),
    "tsit5": (diffrax.Tsit5(), 6),
}


@dataclass
class Config:
    """Benchmark sizes (the issue's workload; smaller ensembles on CPU)."""

    sizes: list[int] = field(default_factory=lambda: [1, 16, 64])
    n_hidden: int = 128
    n_trials: int = 64
    n_steps: int = 100
    n_in: int = 3
    n_out: int = 2
    dt: float = 0.1
    repeats: int = 5
    unroll: int = 1
    solvers: list[str] = field(default_factory=lambda: list(SOLVERS))


def handwritten_euler(model, u, dt, unroll):
    """The loop a researcher writes by hand: Euler steps of the CTRNN in lax.scan."""
    tau = jnp.exp(model.log_tau)

    def step(x, u_k):
        drive = model.W @ jnp.tanh(x) + model.W_in @ u_k + model.b
        x = x + dt * (drive - x) / tau
        return x, x

    x0 = jnp.zeros(model.n_hidden, u.dtype)
    _, xs = jax.lax.scan(step, x0, u[:-1], unroll=unroll)
    xs = jnp.concatenate([x0[None], xs])
    return jnp.tanh(xs) @ model.W_out.T + model.b_out


def dynax_outputs(solver, ts, unroll):
    def run(model, u):
        return dx.simulate(
            model, model.init_state(), ts, inputs=u, solver=solver, unroll=unroll
        ).outputs

    return run


def diffeqsolve_outputs(solver, ts):
    def run(model, u):
        sol = diffrax.diffeqsolve(
            diffrax.ODETerm(model),
            solver,
            ts[0],
            ts[-1],
            ts[1] - ts[0],
            model.init_state(),
            dx.PiecewiseConstantInput(ts, u),
            saveat=diffrax.SaveAt(ts=ts),
            stepsize_controller=diffrax.ConstantStepSize(),
        )
        return jax.vmap(model.readout)(sol.ys)

    return run


def loss_and_grad(run_one):
    """Forward + gradient over an ensemble: vmap over networks and over trials."""

    def loss(ens, u, target):
        per_net = eqx.filter_vmap(lambda m: jax.vmap(lambda x: run_one(m, x))(u))
        out = per_net(ens)
        return jnp.mean((out - target[None]) ** 2)

    return eqx.filter_jit(eqx.filter_value_and_grad(loss))


def measure(cfg: Config, n_nets: int) -> list[dict]:
    key = jr.PRNGKey(0)
    k_ens, k_u, k_y = jr.split(key, 3)
    ens = dx.make_ensemble(
        lambda k: dx.models.CTRNN(cfg.n_in, cfg.n_hidden, cfg.n_out, key=k),
        jr.split(k_ens, n_nets),
    )
    ts = jnp.arange(cfg.n_steps + 1, dtype=jnp.float32) * cfg.dt
    u = jr.normal(k_u, (cfg.n_trials, cfg.n_steps + 1, cfg.n_in))
    target = jr.normal(k_y, (cfg.n_trials, cfg.n_steps + 1, cfg.n_out))
    methods = {
        ("euler", "scan"): lambda m, x: handwritten_euler(m, x, cfg.dt, cfg.unroll)
    }
    for name in cfg.solvers:
        solver = SOLVERS[name][0]
        methods[(name, "dynax")] = dynax_outputs(solver, ts, cfg.unroll)
        methods[(name, "diffeqsolve")] = diffeqsolve_outputs(solver, ts)
    fns, first_call = {}, {}
    for name, run_one in methods.items():
        fns[name] = loss_and_grad(run_one)
        start = time.perf_counter()
        jax.block_until_ready(fns[name](ens, u, target))
        first_call[name] = time.perf_counter() - start
    # Round-robin repeats: every method is timed once per round, so slow drifts of a
    # shared machine hit all methods alike instead of biasing one block of repeats.
    # The order is shuffled every round: what ran just before a method (a long
    # diffeqsolve, say) measurably changes its time on a shared CPU.
    times = {name: [] for name in fns}
    order = list(fns)
    rng = np.random.default_rng(0)
    for _ in range(cfg.repeats):
        rng.shuffle(order)
        for name in order:
            fn = fns[name]
            start = time.perf_counter()
            jax.block_until_ready(fn(ens, u, target))
            times[name].append(time.perf_counter() - start)
    rows = []
    for (solver_name, method), samples in times.items():
        run_s = float(np.median(samples))
        compile_s = first_call[(solver_name, method)] - run_s
        rows.append(
            {
                "E": n_nets,
                "solver": solver_name,
                "method": method,
                "compile_s": round(max(compile_s, 0.0), 4),
                "run_s": round(run_s, 6),
                "network_gradients_per_s": round(n_nets / run_s, 1),
            }
        )
    return rows


def ratios(rows: list[dict]) -> dict:
    out = {}
    for n_nets in sorted({r["E"] for r in rows}):
        by = {(r["solver"], r["method"]): r["run_s"] for r in rows if r["E"] == n_nets}
        scan = by[("euler", "scan")]
        entry = {}
        for name, (_, stages) in SOLVERS.items():
            if (name, "dynax") not in by:
                continue
            for method in ("dynax", "diffeqsolve"):
                entry[f"{method}_{name}"] = round(stages * scan / by[(name, method)], 3)
        out[str(n_nets)] = entry
    return out


def main(cfg: Config) -> dict:
    rows = []
    for n_nets in cfg.sizes:
        rows.extend(measure(cfg, n_nets))
    return {
        "benchmark": "simulate_overhead",
        "ratio_definition": "stages * t(scan, euler) / t(method, solver); goal >= 0.9",
        "device": str(jax.devices()[0]),
        "platform": platform.platform(),
        "versions": {
            "jax": jax.__version__,
            "equinox": eqx.__version__,
            "diffrax": diffrax.__version__,
            "dynax": dx.__version__,
        },
        "config": asdict(cfg),
        "ratios": ratios(rows),
        "results": rows,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=Config().sizes)
    parser.add_argument("--repeats", type=int, default=Config().repeats)
    parser.add_argument("--steps", type=int, default=Config().n_steps)
    parser.add_argument("--unroll", type=int, default=Config().unroll)
    parser.add_argument("--solvers", nargs="+", default=list(SOLVERS), choices=SOLVERS)
    a = parser.parse_args()
    cfg = Config(
        sizes=a.sizes,
        repeats=a.repeats,
        n_steps=a.steps,
        unroll=a.unroll,
        solvers=a.solvers,
    )
    print(json.dumps(main(cfg), indent=1))

"""Benchmark: training an ensemble of CTRNNs with dx.train.fit vs the alternatives.

E CTRNNs (N=128 units, 64 trials per step, 100 Euler steps per trial, Adam) learn the
3-bit flip-flop. In one process, and on the same trials:

- ``fit``: ``dx.train.fit`` on the stacked ensemble (one compiled program);
- ``one_at_a_time``: ``dx.train.fit`` on each network in turn (the usual research
  loop, minus PyTorch): measured on up to 4 members, reported per network;
- ``handwritten``: a hand-written ``lax.scan`` Euler loop with optax, vmapped over the
  ensemble, one jitted step per iteration (the baseline a JAX user writes);
- variants of the hand-written loop and of ``fit``: ``lax.scan`` unrolling,
  rematerialisation of the scan body (``jax.checkpoint``), buffer donation.

Throughput is network-iterations per second (E x optimiser steps / run time);
compile times are reported separately. Ratios are against ``handwritten`` (goal for
``fit``: >= 0.9). One JSON object is printed.

Usage: ``python experiments/benchmarks/ensemble_training.py [--sizes 1 8 32]``.
"""

import argparse
import json
import platform
import time
from dataclasses import asdict, dataclass, field

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import optax

import dynax as dx


@dataclass
class Config:
    """Benchmark sizes (the issue's workload; smaller ensembles on CPU)."""

    sizes: list[int] = field(default_factory=lambda: [1, 8, 32])
    n_hidden: int = 128
    batch_size: int = 64
    n_steps_trial: int = 100
    iterations: int = 10
    learning_rate: float = 1e-3
    one_at_a_time_max: int = 4


def _handwritten(task, cfg: Config, unroll=1, remat=False, donate=False):
    """Return ``(init, step)`` of a hand-written vmapped scan + optax training loop."""
    dt = task.dt
    optimizer = optax.adam(cfg.learning_rate)

    def run(p, u):
        tau = jnp.exp(p["log_tau"])

        def body(x, u_k):
            drive = p["W"] @ jnp.tanh(x) + p["W_in"] @ u_k + p["b"]
            x = x + dt * (drive - x) / tau
            return x, x

        if remat:
            body = jax.checkpoint(body)
        x0 = jnp.zeros(cfg.n_hidden, u.dtype)
        _, xs = jax.lax.scan(body, x0, u[:-1], unroll=unroll)
        xs = jnp.concatenate([x0[None], xs])
        return jnp.tanh(xs) @ p["W_out"].T + p["b_out"]

    def loss(p, batch):
        out = jax.vmap(lambda u: run(p, u))(batch.inputs)
        return dx.train.masked_mse(out, batch.targets, batch.mask)

    def member(p, s, batch):
        value, grads = jax.value_and_grad(loss)(p, batch)
        updates, s = optimizer.update(grads, s, p)
        return optax.apply_updates(p, updates), s, value

    def step(p, s, key, i):
        keys = jr.split(jr.fold_in(key, i), cfg.batch_size)
        batch = jax.vmap(task.sample)(keys)
        return jax.vmap(member, in_axes=(0, 0, None))(p, s, batch)

    init = jax.vmap(optimizer.init)
    return init, jax.jit(step, donate_argnums=(0, 1) if donate else ())


def _params(ens) -> dict:
    names = ("W", "W_in", "b", "W_out", "b_out", "log_tau")
    return {n: getattr(ens, n) for n in names}


def _time_handwritten(ens, task, cfg, key, **variant) -> dict:
    init, step = _handwritten(task, cfg, **variant)
    p = jax.tree.map(jnp.copy, _params(ens))
    s = init(p)
    start = time.perf_counter()
    p, s, _ = jax.block_until_ready(step(p, s, key, 0))
    first = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(1, cfg.iterations + 1):
        p, s, _ = step(p, s, key, i)
    jax.block_until_ready(p)
    run = time.perf_counter() - start
    return {"compile_s": first - run / cfg.iterations, "run_s": run}


def _time_fit(model, task, cfg, key, ensemble, unroll=1, optimizer=None) -> dict:
    kw = dict(
        optimizer=optimizer or optax.adam(cfg.learning_rate),
        n_steps=cfg.iterations,
        batch_size=cfg.batch_size,
        key=key,
        ensemble=ensemble,
        unroll=unroll,
    )
    start = time.perf_counter()
    jax.block_until_ready(dx.train.fit(model, task, **kw)[0])
    first = time.perf_counter() - start
    start = time.perf_counter()
    jax.block_until_ready(dx.train.fit(model, task, **kw)[0])
    run = time.perf_counter() - start
    return {"compile_s": first - run, "run_s": run}


def measure(cfg: Config, n_nets: int) -> dict:
    """Time every method at ensemble size ``n_nets``."""
    task = dx.tasks.FlipFlop(n_bits=3, n_steps=cfg.n_steps_trial, dt=0.1)
    ens = dx.make_ensemble(
        lambda k: dx.models.CTRNN(3, cfg.n_hidden, 3, tau=0.3, g=0.9, key=k),
        jr.split(jr.PRNGKey(0), n_nets),
    )
    key = jr.PRNGKey(1)
    rows = {
        "handwritten": _time_handwritten(ens, task, cfg, key),
        "handwritten_unroll5": _time_handwritten(ens, task, cfg, key, unroll=5),
        "handwritten_remat": _time_handwritten(ens, task, cfg, key, remat=True),
        "handwritten_donate": _time_handwritten(ens, task, cfg, key, donate=True),
        "fit": _time_fit(ens, task, cfg, key, True),
        "fit_unroll5": _time_fit(ens, task, cfg, key, True, unroll=5),
    }
    m = min(n_nets, cfg.one_at_a_time_max)
    optimizer = optax.adam(cfg.learning_rate)  # one object: one compilation
    single = _time_fit(dx.member(ens, 0), task, cfg, key, False, optimizer=optimizer)
    start = time.perf_counter()
    for i in range(m):
        jax.block_until_ready(
            dx.train.fit(
                dx.member(ens, i),
                task,
                optimizer=optimizer,
                n_steps=cfg.iterations,
                batch_size=cfg.batch_size,
                key=key,
            )[0]
        )
    # Per-network time, scaled to the whole ensemble (compilation excluded).
    rows["one_at_a_time"] = {
        "compile_s": single["compile_s"],
        "run_s": (time.perf_counter() - start) / m * n_nets,
        "measured_members": m,
    }
    for row in rows.values():
        row["network_iterations_per_s"] = round(
            n_nets * cfg.iterations / row["run_s"], 1
        )
        row["run_s"] = round(row["run_s"], 4)
        row["compile_s"] = round(row["compile_s"], 2)
    base = rows["handwritten"]["run_s"]
    ratios = {name: round(base / row["run_s"], 3) for name, row in rows.items()}
    return {"E": n_nets, "ratios_vs_handwritten": ratios, "results": rows}


def main(cfg: Config) -> dict:
    """Run every size; return the JSON-ready summary."""
    return {
        "benchmark": "ensemble_training",
        "ratio_definition": "t(handwritten) / t(method); goal for fit >= 0.9",
        "device": str(jax.devices()[0]),
        "platform": platform.platform(),
        "versions": {
            "jax": jax.__version__,
            "equinox": eqx.__version__,
            "optax": optax.__version__,
            "dynax": dx.__version__,
        },
        "config": asdict(cfg),
        "sizes": [measure(cfg, n) for n in cfg.sizes],
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=Config().sizes)
    parser.add_argument("--iterations", type=int, default=Config().iterations)
    a = parser.parse_args()
    out = main(Config(sizes=a.sizes, iterations=a.iterations))
    print(json.dumps(out, indent=1))

"""Benchmark: training an ensemble of CTRNNs with dx.train.fit vs the alternatives.

E CTRNNs (N=128 units, 64 trials per step, 100 Euler steps per trial, Adam) learn the
3-bit flip-flop. In one process, and on the same trials:

- ``fit``: ``dx.train.fit`` on the stacked ensemble (one compiled program);
- ``one_at_a_time``: ``dx.train.fit`` on each network in turn (the usual research
  loop, minus PyTorch): measured on up to 4 members, reported per network;
- ``handwritten``: a hand-written ``lax.scan`` Euler loop with optax, vmapped over the
  ensemble, one jitted step per iteration (the baseline a JAX user writes);
- variants of the hand-written loop and of ``fit``: ``lax.scan`` unrolling,
  rematerialisation of the scan body (``jax.checkpoint``;
  ``fit(..., options=dx.SimulateOptions(remat=True))``),
  buffer donation.

Throughput is network-iterations per second (E x optimiser steps / run time);
compile times (first call minus a timed call) are reported separately. Methods are
timed in a shuffled round-robin (``repeats`` rounds, median). Ratios are against
``handwritten`` (goal for ``fit``: >= 0.9). One JSON object is printed.

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
import numpy as np
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
    repeats: int = 3


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


def _handwritten_runner(ens, task, cfg, key, **variant):
    init, step = _handwritten(task, cfg, **variant)

    def go():
        p = jax.tree.map(jnp.copy, _params(ens))
        s = init(p)
        for i in range(cfg.iterations):
            p, s, _ = step(p, s, key, i)
        return jax.block_until_ready(p)

    return go


def _fit_runner(models, task, cfg, key, ensemble, optimizer, unroll=1, remat=False):
    """Run ``fit`` on each of ``models`` in turn (one model: the ensemble)."""
    kw = dict(
        optimizer=optimizer,
        n_steps=cfg.iterations,
        batch_size=cfg.batch_size,
        key=key,
        ensemble=ensemble,
        options=dx.SimulateOptions(unroll=unroll, remat=remat),
    )

    def go():
        for model in models:
            jax.block_until_ready(dx.train.fit(model, task, **kw)[0])

    return go


def measure(cfg: Config, n_nets: int) -> dict:
    """Time every method at ensemble size ``n_nets`` (shuffled round-robin)."""
    task = dx.tasks.FlipFlop(n_bits=3, n_steps=cfg.n_steps_trial, dt=0.1)
    ens = dx.make_ensemble(
        lambda k: dx.models.CTRNN(3, cfg.n_hidden, 3, tau=0.3, g=0.9, key=k),
        jr.split(jr.PRNGKey(0), n_nets),
    )
    key = jr.PRNGKey(1)
    opt = optax.adam(cfg.learning_rate)  # one object: fit compiles once per shape
    m = min(n_nets, cfg.one_at_a_time_max)
    singles = [dx.member(ens, i) for i in range(m)]
    runners = {
        "handwritten": _handwritten_runner(ens, task, cfg, key),
        "handwritten_unroll5": _handwritten_runner(ens, task, cfg, key, unroll=5),
        "handwritten_remat": _handwritten_runner(ens, task, cfg, key, remat=True),
        "handwritten_donate": _handwritten_runner(ens, task, cfg, key, donate=True),
        "fit": _fit_runner([ens], task, cfg, key, True, opt),
        "fit_unroll5": _fit_runner([ens], task, cfg, key, True, opt, unroll=5),
        "fit_remat": _fit_runner([ens], task, cfg, key, True, opt, remat=True),
        # One network at a time: m members, scaled to the ensemble below.
        "one_at_a_time": _fit_runner(singles, task, cfg, key, False, opt),
    }
    first = {}
    for name, go in runners.items():
        start = time.perf_counter()
        go()
        first[name] = time.perf_counter() - start
    times = {name: [] for name in runners}
    order, rng = list(runners), np.random.default_rng(0)
    for _ in range(cfg.repeats):
        rng.shuffle(order)
        for name in order:
            start = time.perf_counter()
            runners[name]()
            times[name].append(time.perf_counter() - start)
    rows = {}
    for name, samples in times.items():
        run = float(np.median(samples))
        scale = n_nets / m if name == "one_at_a_time" else 1.0
        rows[name] = {
            "compile_s": round(first[name] - run, 2),
            "run_s": round(run * scale, 4),
            "network_iterations_per_s": round(
                n_nets * cfg.iterations / (run * scale), 1
            ),
        }
    rows["one_at_a_time"]["measured_members"] = m
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
    parser.add_argument("--repeats", type=int, default=Config().repeats)
    a = parser.parse_args()
    out = main(Config(sizes=a.sizes, iterations=a.iterations, repeats=a.repeats))
    print(json.dumps(out, indent=1))

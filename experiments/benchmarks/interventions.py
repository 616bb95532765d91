"""Benchmark: the cost of interventions inside dynax.simulate.

Two measurements in one process, on a CTRNN of ``n_hidden`` units (Euler steps):

- ``clamp_overhead``: ``simulate`` of a batch of trials on the plain network against
  the same with one ``Clamp`` of 8 units over the middle third of the trial
  (``ratio = t_clamp / t_plain``; goal <= 1.2).
- ``ablation_sweep``: ablating every unit in turn, one trajectory each, as one
  ``jax.vmap`` over the units (one compiled call) against a Python loop over units
  (one call each to the same compiled ``simulate``): ``ratio = t_loop / t_vmap``.

Compile and run times are reported separately (median of ``repeats`` runs after a
warm-up call); one JSON object is printed.

Usage: ``python experiments/benchmarks/interventions.py [--small]``.
"""

import argparse
import json
import platform
import time
from dataclasses import asdict, dataclass

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

import dynax as dx


@dataclass
class Config:
    """Sizes (the issue's: 128 units)."""

    n_hidden: int = 128
    n_trials: int = 64
    n_steps: int = 1000
    dt: float = 0.01
    repeats: int = 5


def timed(fn, repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn())
    first = time.perf_counter() - start
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        samples.append(time.perf_counter() - start)
    run = float(np.median(samples))
    return {"compile_s": round(max(first - run, 0.0), 4), "run_s": round(run, 6)}


def main(cfg: Config) -> dict:
    net = dx.models.CTRNN(2, cfg.n_hidden, 2, g=1.5, key=jr.key(0))
    ts = jnp.arange(cfg.n_steps + 1) * cfg.dt
    u = 0.3 * jr.normal(jr.key(1), (cfg.n_trials, cfg.n_steps + 1, 2))
    y0 = net.init_state()
    t_end = float(ts[-1])
    clamp = dx.analysis.Clamp(jnp.arange(8), 0.5, (t_end / 3, 2 * t_end / 3))
    clamped = dx.analysis.intervene(net, clamp)

    def run(model):
        return dx.simulate(model, y0, ts, inputs=u, trials=True).ys

    plain_t = timed(lambda: run(net), cfg.repeats)
    clamp_t = timed(lambda: run(clamped), cfg.repeats)

    @eqx.filter_jit
    def sweep(units):
        def one(i):
            m = dx.analysis.intervene(net, dx.analysis.Ablate(units=i[None]))
            return dx.simulate(m, y0, ts, inputs=u[0]).ys

        return jax.vmap(one)(units)

    units = jnp.arange(cfg.n_hidden)
    vmap_t = timed(lambda: sweep(units), cfg.repeats)

    def loop():
        out = []
        for i in range(cfg.n_hidden):
            m = dx.analysis.intervene(net, dx.analysis.Ablate(units=[i]))
            out.append(dx.simulate(m, y0, ts, inputs=u[0]).ys)
        return out

    loop_t = timed(loop, max(1, cfg.repeats // 2))
    return {
        "benchmark": "interventions",
        "device": str(jax.devices()[0]),
        "platform": platform.platform(),
        "versions": {
            "jax": jax.__version__,
            "equinox": eqx.__version__,
            "diffrax": diffrax.__version__,
            "dynax": dx.__version__,
        },
        "config": asdict(cfg),
        "clamp_overhead": {
            "plain": plain_t,
            "clamp": clamp_t,
            "ratio": round(clamp_t["run_s"] / plain_t["run_s"], 3),
            "goal": "<= 1.2",
        },
        "ablation_sweep": {
            "vmap": vmap_t,
            "loop": loop_t,
            "ratio": round(loop_t["run_s"] / vmap_t["run_s"], 3),
            "ratio_definition": "t(Python loop over units) / t(one vmapped call)",
        },
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a quick CPU check")
    opts = parser.parse_args()
    cfg = Config(n_trials=8, n_steps=200, repeats=3) if opts.small else Config()
    print(json.dumps(main(cfg), indent=1))

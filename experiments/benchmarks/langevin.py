"""Benchmark: one training step of LangevinFlow (SDE latent) vs deterministic vs GRU.

One Adam step on a batch of ``batch_size`` trials (``n_bins`` observed + ``n_forward``
forward bins, ``n_neurons`` neurons) for three models of the same size, in one
process:

- ``sde``: ``dx.models.LangevinFlow`` (default decoder), the ELBO of
  ``dx.train.langevin_flow_loss`` with a key: a posterior sample, a Brownian path
  per trial (Euler-Maruyama, ``n_substeps`` per bin) and coordinated dropout;
- ``deterministic``: the same model and loss with ``key=None``: posterior mean and
  the latent's drift only (noise off, no Brownian path), and no dropout (the
  public loss ties dropout to the key; dropout is a mask multiply);
- ``gru``: the discrete-time GRU latent model of ``experiments/langevin_lorenz.py``
  (GRU encoder, GRU generator of ``2 * n_latents`` units, linear log-rates) on the
  Poisson NLL.

Compile time (first call minus the median of the timed calls) and run time (median
of ``repeats`` calls, after one warm-up) are reported separately; ``sde_overhead``
is t(sde) / t(deterministic). One JSON object is printed.

Usage: ``python experiments/benchmarks/langevin.py [--batch-size 32] [--repeats 20]``.
"""

import argparse
import json
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import dynax as dx  # noqa: E402
from experiments.langevin_lorenz import (  # noqa: E402
    Config as ExpConfig,  # noqa: E402
    gru_nll,
    make_gru,
)


@dataclass
class Config:
    """Sizes (those of experiments/langevin_lorenz.py's default run)."""

    batch_size: int = 32
    n_neurons: int = 30
    n_heldout: int = 8
    n_bins: int = 40
    n_forward: int = 10
    n_latents: int = 4
    hidden: int = 16
    n_substeps: int = 2
    repeats: int = 20


def make_step(loss_fn, optimizer):
    @eqx.filter_jit
    def step(model, state, batch, key):
        loss, grads = eqx.filter_value_and_grad(loss_fn)(model, batch, key)
        updates, state = optimizer.update(
            grads, state, eqx.filter(model, eqx.is_inexact_array)
        )
        return eqx.apply_updates(model, updates), state, loss

    return step


def timed(step, model, state, batch, key, repeats) -> dict:
    t0 = time.perf_counter()
    out = step(model, state, batch, key)
    jax.block_until_ready(out)
    first = time.perf_counter() - t0
    jax.block_until_ready(step(model, state, batch, key))  # warm-up
    times = []
    for i in range(repeats):
        k = jr.fold_in(key, i)
        t0 = time.perf_counter()
        jax.block_until_ready(step(model, state, batch, k))
        times.append(time.perf_counter() - t0)
    run = float(np.median(times))
    return {"compile_s": first - run, "run_s": run, "run_min_s": float(min(times))}


def main(cfg: Config) -> dict:
    k_data, k_model, k_gru, k_step = jr.split(jr.key(0), 4)
    n_in = cfg.n_neurons - cfg.n_heldout
    n_time = cfg.n_bins + cfg.n_forward
    batch = jr.poisson(k_data, 0.3, (cfg.batch_size, n_time, cfg.n_neurons)).astype(
        jnp.float32
    )
    optimizer = optax.adam(1e-3)
    flow = dx.models.LangevinFlow(
        n_in, cfg.n_heldout, n_forward=cfg.n_forward, n_latents=cfg.n_latents,
        hidden=cfg.hidden, n_substeps=cfg.n_substeps, key=k_model,
    )  # fmt: skip
    exp = ExpConfig(
        n_neurons=cfg.n_neurons, n_heldout=cfg.n_heldout, n_bins=cfg.n_bins,
        n_forward=cfg.n_forward, n_latents=cfg.n_latents, hidden=cfg.hidden,
    )  # fmt: skip
    gru = make_gru(exp, n_in, k_gru)

    def sde_loss(m, b, k):
        return dx.train.langevin_flow_loss(m, b, key=k, dropout=0.3)

    def det_loss(m, b, k):
        del k
        return dx.train.langevin_flow_loss(m, b, key=None, dropout=0.0)

    def gru_loss(m, b, k):
        del k
        return gru_nll(m, b, cfg.n_bins)

    results = {}
    for name, model, loss in (
        ("sde", flow, sde_loss),
        ("deterministic", flow, det_loss),
        ("gru", gru, gru_loss),
    ):
        state = optimizer.init(eqx.filter(model, eqx.is_inexact_array))
        step = make_step(loss, optimizer)
        results[name] = timed(step, model, state, batch, k_step, cfg.repeats)
    n_params = {
        name: int(sum(x.size for x in jax.tree_util.tree_leaves(
            eqx.filter(m, eqx.is_inexact_array))))
        for name, m in (("langevin_flow", flow), ("gru", gru))
    }  # fmt: skip
    return {
        "benchmark": "langevin",
        "device": str(jax.devices()[0]),
        "platform": platform.platform(),
        "versions": {
            "jax": jax.__version__,
            "equinox": eqx.__version__,
            "dynax": dx.__version__,
        },  # fmt: skip
        "config": asdict(cfg),
        "n_params": n_params,
        "sde_overhead": results["sde"]["run_s"] / results["deterministic"]["run_s"],
        "sde_vs_gru": results["sde"]["run_s"] / results["gru"]["run_s"],
        "results": results,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=Config().batch_size)
    parser.add_argument("--repeats", type=int, default=Config().repeats)
    parser.add_argument("--substeps", type=int, default=Config().n_substeps)
    a = parser.parse_args()
    cfg = Config(batch_size=a.batch_size, repeats=a.repeats, n_substeps=a.substeps)
    print(json.dumps(main(cfg), indent=1))

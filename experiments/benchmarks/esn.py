"""Benchmark: echo-state networks on Mackey-Glass, dynax against reservoirpy.

Two workloads, one process, one JSON object printed:

1. ``single``: fit + one-step prediction of a 500-unit ESN (leak 0.3, spectral radius
   0.99, density 0.1, ridge 1e-4) on 2,000 Mackey-Glass steps (1,500 to train with a
   100-step warm-up, 500 to test). reservoirpy (``Reservoir >> Ridge``) gets the very
   same ``W``, ``W_in`` and bias as the dynax ``ESN``, so the NRMSEs are comparable.
   dynax's work (``simulate`` + ``ridge_readout`` + ``predict``) is one jitted
   function; its compile time is reported separately.
2. ``sweep``: E reservoirs x 8 ridge values (each reservoir a different key) in one
   jitted call (``lax.map`` over chunks of 8 vmapped reservoirs; every reservoir's
   8 ridge values from one eigendecomposition), against a Python loop over
   reservoirs and ridge values calling the compiled single-network fit, and against
   reservoirpy looped over a subset (scaled to E x 8).

Usage: ``python experiments/benchmarks/esn.py [--sweep-size 256] [--repeats 5]``.
"""

import argparse
import json
import platform
import time
from dataclasses import asdict, dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import reservoirpy
from reservoirpy.nodes import Reservoir, Ridge
from reservoirpy.observables import nrmse as rpy_nrmse

import dynax as dx

jax.config.update("jax_enable_x64", True)


@dataclass
class Config:
    """Workload sizes (the issue's; the sweep uses smaller reservoirs on CPU)."""

    n_hidden: int = 500
    n_steps: int = 2000
    n_train: int = 1500
    warmup: int = 100
    leak: float = 0.3
    spectral_radius: float = 0.99
    density: float = 0.1
    ridge: float = 1e-4
    sweep_size: int = 256
    sweep_hidden: int = 100
    sweep_ridges: tuple[float, ...] = (1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
    sweep_chunk: int = 8
    rpy_subset: int = 4
    repeats: int = 5


def make_esn(cfg: Config, n_hidden: int, key):
    return dx.models.ESN(
        1,
        n_hidden,
        spectral_radius=cfg.spectral_radius,
        leak=cfg.leak,
        density=cfg.density,
        key=key,
    )


def dynax_fit_predict(cfg: Config):
    """ys[k] has seen s[0..k-1] and predicts s[k]: targets are the series itself."""

    def run(esn, s, alpha):
        ts = jnp.arange(s.shape[0], dtype=s.dtype)
        ys = dx.simulate(esn, esn.init_state(), ts, inputs=s[:, None]).ys
        readout = dx.train.ridge_readout(
            ys[: cfg.n_train], s[: cfg.n_train], alpha=alpha, washout=cfg.warmup + 1
        )
        if readout.weights.ndim == 3:  # one readout per ridge value
            return jax.vmap(lambda r: r.predict(ys[cfg.n_train :])[:, 0])(readout)
        return readout.predict(ys[cfg.n_train :])[:, 0]

    return eqx.filter_jit(run)


def rpy_fit_predict(cfg: Config, esn, s_np, ridge):
    """Fit u -> next u: reservoirpy's x(k) (made with u(k)) is dynax's ys[k + 1]."""
    res = Reservoir(
        W=np.asarray(esn.W), Win=np.asarray(esn.W_in), bias=np.asarray(esn.b)
    )
    res.lr = cfg.leak
    model = res >> Ridge(ridge=ridge)
    x = s_np[:, None]
    model.fit(x[: cfg.n_train - 1], x[1 : cfg.n_train], warmup=cfg.warmup)
    return model.run(x[cfg.n_train - 1 : -1])[:, 0]


def timed(fn, repeats):
    samples = []
    out = None
    for _ in range(repeats):
        start = time.perf_counter()
        out = jax.block_until_ready(fn())
        samples.append(time.perf_counter() - start)
    return out, float(np.median(samples))


def single(cfg: Config, s, s_np) -> dict:
    esn = make_esn(cfg, cfg.n_hidden, jr.PRNGKey(0))
    fit = dynax_fit_predict(cfg)
    alpha = jnp.asarray(cfg.ridge)
    start = time.perf_counter()
    jax.block_until_ready(fit(esn, s, alpha))
    first = time.perf_counter() - start
    pred, run_s = timed(lambda: fit(esn, s, alpha), cfg.repeats)
    rpy_fit_predict(cfg, esn, s_np, cfg.ridge)  # warm-up
    pred_rp, rpy_s = timed(
        lambda: rpy_fit_predict(cfg, esn, s_np, cfg.ridge), cfg.repeats
    )
    test = s_np[cfg.n_train :]
    pred = np.asarray(pred)
    return {
        "dynax_compile_s": round(max(first - run_s, 0.0), 4),
        "dynax_run_s": round(run_s, 5),
        "reservoirpy_run_s": round(rpy_s, 5),
        "speedup_vs_reservoirpy": round(rpy_s / run_s, 2),
        "nrmse_std_dynax": float(dx.analysis.nrmse(pred, test)),
        "nrmse_std_reservoirpy": float(dx.analysis.nrmse(pred_rp, test)),
        "nrmse_minmax_dynax": float(rpy_nrmse(test, pred)),
        "nrmse_minmax_reservoirpy": float(rpy_nrmse(test, pred_rp)),
        "max_abs_prediction_difference": float(np.max(np.abs(pred - pred_rp))),
    }


def sweep(cfg: Config, s, s_np) -> dict:
    keys = jr.split(jr.PRNGKey(1), cfg.sweep_size)
    ens = dx.make_ensemble(lambda k: make_esn(cfg, cfg.sweep_hidden, k), keys)
    alphas = jnp.asarray(cfg.sweep_ridges)
    fit = dynax_fit_predict(cfg)
    test = s[cfg.n_train :]
    score = jax.vmap(jax.vmap(lambda p: dx.analysis.nrmse(p, test)))

    params, static = eqx.partition(ens, eqx.is_array)

    @jax.jit
    def all_at_once(params):
        # lax.map over chunks of `chunk` vmapped members: the states of all 256
        # reservoirs at once (410 MB in float64) made the plain vmap slower
        def one(p):
            return fit(eqx.combine(p, static), s, alphas)[None]

        preds = jax.lax.map(one, params, batch_size=cfg.sweep_chunk)[:, 0]
        return score(preds)  # (E, n_ridges)

    start = time.perf_counter()
    jax.block_until_ready(all_at_once(params))
    first = time.perf_counter() - start
    errs, vmapped_s = timed(lambda: all_at_once(params), max(cfg.repeats // 2, 2))

    members = [dx.member(ens, i) for i in range(cfg.sweep_size)]
    fit(members[0], s, alphas[0])  # compiled once for scalar alpha

    def loop():
        out = []
        for m in members:
            for a in alphas:
                out.append(dx.analysis.nrmse(fit(m, s, a), test))
        return jnp.stack(out)

    loop_errs, loop_s = timed(loop, 1)
    n_rp = cfg.rpy_subset
    start = time.perf_counter()
    for m in members[:n_rp]:
        for a in cfg.sweep_ridges:
            rpy_fit_predict(cfg, m, s_np, a)
    rpy_s = (time.perf_counter() - start) * cfg.sweep_size / n_rp
    diff = np.max(np.abs(np.asarray(loop_errs).reshape(errs.shape) - np.asarray(errs)))
    return {
        "E": cfg.sweep_size,
        "n_ridges": len(cfg.sweep_ridges),
        "n_hidden": cfg.sweep_hidden,
        "vmapped_compile_s": round(max(first - vmapped_s, 0.0), 3),
        "vmapped_run_s": round(vmapped_s, 4),
        "python_loop_dynax_run_s": round(loop_s, 4),
        "reservoirpy_loop_s_scaled": round(rpy_s, 3),
        "reservoirpy_loop_measured_on": n_rp,
        "speedup_vs_loop": round(loop_s / vmapped_s, 2),
        "speedup_vs_reservoirpy": round(rpy_s / vmapped_s, 2),
        "best_nrmse_std": float(jnp.min(errs)),
        "median_nrmse_std": float(jnp.median(errs)),
        "max_abs_nrmse_difference_vmapped_vs_loop": float(diff),
    }


def main(cfg: Config) -> dict:
    s = dx.data.mackey_glass(cfg.n_steps, washout=100)
    s_np = np.asarray(s)
    return {
        "benchmark": "esn",
        "task": "one-step Mackey-Glass (tau 17, sampled every 1) prediction",
        "nrmse_definitions": {
            "std": "dx.analysis.nrmse: RMSE / std(target)",
            "minmax": "reservoirpy.observables.nrmse default: RMSE / (max - min)",
        },
        "device": str(jax.devices()[0]),
        "platform": platform.platform(),
        "versions": {
            "jax": jax.__version__,
            "equinox": eqx.__version__,
            "reservoirpy": reservoirpy.__version__,
            "numpy": np.__version__,
            "dynax": dx.__version__,
        },
        "config": asdict(cfg),
        "single": single(cfg, s, s_np),
        "sweep": sweep(cfg, s, s_np),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep-size", type=int, default=Config().sweep_size)
    parser.add_argument("--sweep-hidden", type=int, default=Config().sweep_hidden)
    parser.add_argument("--repeats", type=int, default=Config().repeats)
    a = parser.parse_args()
    cfg = Config(
        sweep_size=a.sweep_size, sweep_hidden=a.sweep_hidden, repeats=a.repeats
    )
    print(json.dumps(main(cfg), indent=1))

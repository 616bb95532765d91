"""Globally tuned vs locally adapted E/I reservoirs (Srinivasan, Plenz & Girvan 2025).

Three kinds of ``dx.models.EIAdaptiveReservoir``, at equal size, on the same seeds
(network weights) and the same input streams:

- **global**: one scalar inhibitory gain g for every unit, from a grid; the best g
  is picked per task on a validation split and reported on the test split;
- **adapted (homogeneous)**: gains set per unit by ``dx.train.adapt_inhibition``
  towards one target rate, for a grid of target rates; the best target is picked on
  the validation split in the same way (equal tuning effort for both);
- **adapted (heterogeneous)**: the same rule towards lognormal targets whose mean
  is each of those target rates (``dx.models.lognormal_rates``).

Tasks: linear memory capacity (``dx.analysis.memory_capacity``, i.i.d. uniform
input) and Mackey-Glass (tau = 17) ``horizon``-step-ahead prediction with a ridge
readout (NRMSE). Each condition is one vmapped ensemble over seeds (and gains).
The adaptation runs on an input stream of the task's kind that the readouts never
see. Returns (and, from the command line, prints) the summary; with ``--out DIR``
writes ``ei_reservoir.json`` (with the rate traces of the adaptation) and
``ei_reservoir.csv`` (one row per task x condition x knob) there, and
``analysis/ei_reservoir.py DIR`` draws the figure. Run:
``python experiments/ei_reservoir.py [--small] [--out DIR]`` (every config field is
a flag, see ``--help``).
"""

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

if not __package__:  # run as a file: put the repository root (this checkout) first
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dynax as dx  # noqa: E402
from experiments._common import enable_x64, run_cli, write_results  # noqa: E402


@dataclass
class Config:
    """Sizes and hyper-parameters (defaults: the full run; ``small()`` for tests)."""

    n_hidden: int = 200
    n_seeds: int = 8
    leak: float = 0.5
    exc_scaling: float = 2.0
    inh_scaling: float = 2.0
    input_scaling: float = 0.5
    density: float = 0.3
    global_gains: list[float] = field(
        default_factory=lambda: [0.0, 1.0, 2.0, 4.0, 8.0, 12.0, 16.0, 24.0, 32.0, 48.0]
    )
    initial_gain: float = 1.0
    target_rates: list[float] = field(default_factory=lambda: [0.05, 0.1, 0.2, 0.3])
    hetero_sigma: float = 0.5
    eta: float = 0.02
    tau_rate: float = 100.0
    n_adapt: int = 20000
    record_every: int = 500
    max_delay: int = 100
    mc_washout: int = 200
    mc_length: int = 4000
    mg_washout: int = 200
    mg_train: int = 2000
    mg_val: int = 1000
    mg_test: int = 1000
    horizon: int = 1
    alpha: float = 1e-6
    chunk: int = 16
    n_trace_units: int = 20
    x64: bool = True
    seed: int = 0

    @classmethod
    def small(cls) -> "Config":
        """A configuration that runs in a few seconds (for tests)."""
        return cls(
            n_hidden=30, n_seeds=2, global_gains=[0.0, 4.0], target_rates=[0.2, 0.3],
            n_adapt=1500,
            eta=0.02, tau_rate=50.0, record_every=300, max_delay=10, mc_washout=30,
            mc_length=300, mg_washout=30, mg_train=300, mg_val=100, mg_test=100,
        )  # fmt: skip


def build(cfg: Config, keys, gains, targets):
    """One reservoir per (key, initial gain, target rates): a vmapped ensemble."""

    def make(key, g, rho):
        return dx.models.EIAdaptiveReservoir(
            1, cfg.n_hidden, exc_scaling=cfg.exc_scaling, inh_scaling=cfg.inh_scaling,
            inhibitory_gain=g, target_rate=rho, leak=cfg.leak,
            input_scaling=cfg.input_scaling, density=cfg.density, key=key,
        )  # fmt: skip

    return eqx.filter_jit(eqx.filter_vmap(make))(keys, gains, targets)


def make_inputs(cfg: Config, key):
    """Task inputs: adaptation streams and evaluation streams for both tasks."""
    k_ad, k_mc, k_mg = jr.split(key, 3)
    u_adapt_mc = jr.uniform(k_ad, (cfg.n_adapt, 1), minval=-1.0, maxval=1.0)
    u_mc = jr.uniform(k_mc, (cfg.mc_washout + 2 * cfg.mc_length, 1), minval=-1.0)
    n_mg = cfg.mg_washout + cfg.mg_train + cfg.mg_val + cfg.mg_test + cfg.horizon
    s = dx.data.mackey_glass(cfg.n_adapt + n_mg, washout=500, key=k_mg)
    s = (s - jnp.mean(s)) / jnp.std(s)
    return {
        "mc": (u_adapt_mc, u_mc),
        "mg": (s[: cfg.n_adapt, None], s[cfg.n_adapt :]),
    }


def evaluate(cfg: Config, task: str, ens, stream):
    """(validation, test) score of every member: MC, or NRMSE for Mackey-Glass."""
    n_t = stream.shape[0] if task == "mc" else stream.shape[0] - cfg.horizon
    u = stream if task == "mc" else stream[:n_t, None]
    ts = jnp.arange(n_t, dtype=u.dtype)

    def one(model):
        ys = dx.simulate(model, model.init_state(), ts, inputs=u).ys
        if task == "mc":
            cut, kw = cfg.mc_washout + cfg.mc_length, {"max_delay": cfg.max_delay}
            val = dx.analysis.memory_capacity(
                ys[:cut], u[:cut], washout=cfg.mc_washout, **kw
            )
            test = dx.analysis.memory_capacity(ys[cut:], u[cut:], **kw)
            return val.total, test.total, jnp.mean(ys[cfg.mc_washout :])
        target = stream[cfg.horizon - 1 : cfg.horizon - 1 + n_t]
        a, b = cfg.mg_washout + cfg.mg_train, cfg.mg_washout + cfg.mg_train + cfg.mg_val
        readout = dx.train.ridge_readout(
            ys[:a], target[:a], alpha=cfg.alpha, washout=cfg.mg_washout
        )
        pred = readout.predict(ys)[:, 0]
        return (
            dx.analysis.nrmse(pred[a:b], target[a:b]),
            dx.analysis.nrmse(pred[b:], target[b:]),
            jnp.mean(ys[cfg.mg_washout :]),
        )

    # Members in vmapped chunks of ``chunk`` inside one program (lax.map): the
    # stored trajectories of every member at once (8,200 steps x 200 units x 144
    # members in float64) would need ~2 GB.
    params, static = eqx.partition(ens, eqx.is_array)
    scores = jax.jit(
        lambda p: jax.lax.map(
            lambda q: one(eqx.combine(q, static)), p, batch_size=cfg.chunk
        )
    )
    val, test, rate = scores(params)
    return np.asarray(val), np.asarray(test), np.asarray(rate)


def adapt(cfg: Config, ens, u_adapt):
    """Run the local rule on every member (vmapped); return models and records."""
    run = eqx.filter_vmap(
        lambda m: dx.train.adapt_inhibition(
            m, u_adapt, eta=cfg.eta, tau_rate=cfg.tau_rate,
            record_every=cfg.record_every,
        )
    )  # fmt: skip
    return run(ens)


def scores(val, test) -> dict:
    """Mean and standard deviation over seeds of the validation and test scores."""
    return {
        "val_mean": float(np.mean(val)), "val_std": float(np.std(val)),
        "test_mean": float(np.mean(test)), "test_std": float(np.std(test)),
    }  # fmt: skip


def rate_error(rates, targets) -> dict:
    """|mean rate estimate - target| over the last quarter of the adaptation."""
    tail = rates[:, -max(1, rates.shape[1] // 4) :].mean(axis=1)
    err = np.abs(tail - np.asarray(targets))
    return {"rate_error_mean": float(err.mean()), "rate_error_max": float(err.max())}


def rate_trace(cfg: Config, rates, targets, rho: float) -> dict:
    """Adaptation record of one picked condition, for the figure (JSON-sized)."""
    k = cfg.n_trace_units
    return {
        "target_rate": rho,
        "steps": (cfg.record_every * np.arange(1, rates.shape[1] + 1)).tolist(),
        "abs_error_per_seed": np.abs(rates - targets[:, None, :]).mean(-1).tolist(),
        "seed0_rates": rates[0, :, :k].T.tolist(),
        "seed0_targets": targets[0, :k].tolist(),
    }


def concat(*ensembles):
    """Stack ensembles of the same model along the member axis."""
    return jax.tree.map(lambda *a: jnp.concatenate(a), *ensembles)


def run_task(cfg: Config, task: str, nets: dict, streams) -> tuple[list, dict]:
    """All conditions on one task (one adaptation, one evaluation): rows, traces.

    Every condition has one tuning knob, picked on the validation split: the global
    gain, or the (mean) target rate of the adapted reservoirs.
    """
    u_adapt, stream = streams
    n_g, n_r, n_s = len(cfg.global_gains), len(cfg.target_rates), cfg.n_seeds
    adapted, history = adapt(cfg, nets["adapted"], u_adapt)
    val, test, rate = evaluate(cfg, task, concat(nets["global"], adapted), stream)
    sign = 1.0 if task == "mc" else -1.0  # larger MC, smaller NRMSE is better
    g_val, g_test, g_rate = (
        a[: n_g * n_s].reshape(n_g, n_s) for a in (val, test, rate)
    )
    best = int(np.argmax(sign * g_val.mean(axis=1)))
    rows = [
        {"task": task, "condition": "global", "gain": g, "target_rate": None,
         **scores(v, t), "mean_rate": float(r.mean()), "picked": i == best}
        for i, (g, v, t, r) in enumerate(
            zip(cfg.global_gains, g_val, g_test, g_rate, strict=True))
    ]  # fmt: skip
    traces = {}
    gains, rates = np.asarray(adapted.g), np.asarray(history.rates)
    targets = np.asarray(nets["adapted"].target_rate)
    a_val, a_test, a_rate = (
        a[n_g * n_s :].reshape(2, n_r, n_s) for a in (val, test, rate)
    )
    for j, name in enumerate(("homogeneous", "heterogeneous")):
        best_r = int(np.argmax(sign * a_val[j].mean(axis=1)))
        for i, rho in enumerate(cfg.target_rates):
            sl = slice((j * n_r + i) * n_s, (j * n_r + i + 1) * n_s)
            g = gains[sl]
            rows.append({
                "task": task, "condition": f"adapted_{name}", "gain": float(g.mean()),
                "target_rate": rho, **scores(a_val[j, i], a_test[j, i]),
                "mean_rate": float(a_rate[j, i].mean()), "picked": i == best_r,
                **rate_error(rates[sl], targets[sl]),
                "gain_min": float(g.min()), "gain_max": float(g.max()),
            })  # fmt: skip
            if i == best_r:
                traces[f"adapted_{name}"] = rate_trace(cfg, rates[sl], targets[sl], rho)
    return rows, traces


def improvement(task: str, best_global: float, adapted: float) -> float:
    """Relative improvement: MC gain, or NRMSE reduction, in percent."""
    if task == "mc":
        return 100.0 * (adapted - best_global) / best_global
    return 100.0 * (best_global - adapted) / best_global


def summarise(task: str, rows: list[dict]) -> dict:
    """The picked global gain and the picked adapted conditions of one task."""
    test = [{"mean": r["test_mean"], "std": r["test_std"]} for r in rows]
    picked = [i for i, r in enumerate(rows) if r["picked"]]
    best = picked[0]  # the global rows come first
    entry = {"best_global_gain": rows[best]["gain"], "best_global": test[best],
             "best_global_mean_rate": rows[best]["mean_rate"]}  # fmt: skip
    for i in picked[1:]:
        r, name = rows[i], rows[i]["condition"]
        entry[name] = test[i]
        entry[f"{name}_target_rate"] = r["target_rate"]
        entry[f"{name}_mean_rate"] = r["mean_rate"]
        entry[f"{name}_rate_error"] = {
            "mean": r["rate_error_mean"], "max": r["rate_error_max"]
        }  # fmt: skip
        entry[f"improvement_pct_{name}"] = improvement(
            task, test[best]["mean"], test[i]["mean"]
        )
    return entry


def make_nets(cfg: Config, k_net, k_rho) -> dict:
    """The global-gain ensemble and the to-be-adapted ensemble (same seeds)."""
    keys = jr.split(k_net, cfg.n_seeds)
    n_g, n, n_r = len(cfg.global_gains), cfg.n_hidden, len(cfg.target_rates)
    rhos = jnp.repeat(jnp.asarray(cfg.target_rates), cfg.n_seeds)  # (n_r * seeds,)
    hetero = jax.vmap(
        lambda k, m: dx.models.lognormal_rates(k, n, mean=m, sigma=cfg.hetero_sigma)
    )(jr.split(k_rho, n_r * cfg.n_seeds), rhos)
    same = jnp.broadcast_to(rhos[:, None], (n_r * cfg.n_seeds, n))
    return {
        "global": build(
            cfg, jnp.tile(keys, (n_g, 1)),
            jnp.repeat(jnp.asarray(cfg.global_gains), cfg.n_seeds),
            jnp.full((n_g * cfg.n_seeds, n), cfg.target_rates[0]),  # unused
        ),
        "adapted": build(
            cfg, jnp.tile(keys, (2 * n_r, 1)),
            jnp.full((2 * n_r * cfg.n_seeds,), cfg.initial_gain),
            jnp.concatenate([same, hetero]),
        ),
    }  # fmt: skip


def main(cfg: Config, out_dir: Path | None = None) -> dict:
    """Run every condition on both tasks; write ei_reservoir.json/.csv to ``out_dir``.

    Returns:
        The summary: per task, the picked global gain and adapted conditions with
        their test scores (mean and standard deviation over seeds).
    """
    enable_x64(cfg)
    start = time.perf_counter()
    k_net, k_rho, k_in = jr.split(jr.PRNGKey(cfg.seed), 3)
    nets = make_nets(cfg, k_net, k_rho)
    summary: dict = {
        "metrics": {"mc": "memory capacity (higher is better)",
                    "mg": f"Mackey-Glass {cfg.horizon}-step NRMSE (lower is better)"},
    }  # fmt: skip
    rows, traces = [], {}
    for task, streams in make_inputs(cfg, k_in).items():
        task_rows, traces[task] = run_task(cfg, task, nets, streams)
        rows += task_rows
        summary[task] = summarise(task, task_rows)
    wall = time.perf_counter() - start
    summary["seconds"] = round(wall, 1)
    if out_dir is not None:
        write_results(
            out_dir, "ei_reservoir", config=cfg, rows=rows, summary=summary,
            seed=cfg.seed, wall_seconds=wall, extra={"rate_traces": traces},
        )  # fmt: skip
    return summary


if __name__ == "__main__":
    run_cli(main, Config, __doc__)

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
see. Writes ``results.json``, ``results.csv`` and ``ei_reservoir.png`` to the
output folder and returns (and, from the command line, prints) the summary.
Run: ``python experiments/ei_reservoir.py OUT_DIR [--small]``.
"""

import argparse
import csv
import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import matplotlib
import numpy as np

import dynax as dx

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


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


def stats(x) -> dict:
    """Mean and standard deviation over seeds."""
    return {"mean": float(np.mean(x)), "std": float(np.std(x))}


def rate_error(rates, targets) -> dict:
    """|mean rate estimate - target| over the last quarter of the adaptation."""
    tail = rates[:, -max(1, rates.shape[1] // 4) :].mean(axis=1)
    err = np.abs(tail - np.asarray(targets))
    return {"mean": float(err.mean()), "max": float(err.max())}


def concat(*ensembles):
    """Stack ensembles of the same model along the member axis."""
    return jax.tree.map(lambda *a: jnp.concatenate(a), *ensembles)


def run_task(cfg: Config, task: str, nets: dict, streams) -> tuple[list, dict]:
    """All conditions on one task (one adaptation, one evaluation): rows, records.

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
         "val": stats(v), "test": stats(t), "mean_rate": float(r.mean()),
         "picked": i == best}
        for i, (g, v, t, r) in enumerate(
            zip(cfg.global_gains, g_val, g_test, g_rate, strict=True))
    ]  # fmt: skip
    records = {"global_test": g_test}
    gains, rates = np.asarray(adapted.g), np.asarray(history.rates)
    targets = np.asarray(nets["adapted"].target_rate)
    a_val, a_test, a_rate = (
        a[n_g * n_s :].reshape(2, n_r, n_s) for a in (val, test, rate)
    )
    for j, name in enumerate(("homogeneous", "heterogeneous")):
        best_r = int(np.argmax(sign * a_val[j].mean(axis=1)))
        records[f"{name}_test"] = a_test[j]
        for i, rho in enumerate(cfg.target_rates):
            sl = slice((j * n_r + i) * n_s, (j * n_r + i + 1) * n_s)
            g = gains[sl]
            rows.append({
                "task": task, "condition": f"adapted_{name}", "gain": float(g.mean()),
                "target_rate": rho, "val": stats(a_val[j, i]),
                "test": stats(a_test[j, i]), "mean_rate": float(a_rate[j, i].mean()),
                "picked": i == best_r,
                "rate_error": rate_error(rates[sl], targets[sl]),
                "gain_range": [float(g.min()), float(g.max())],
            })  # fmt: skip
            if i == best_r:
                records[name] = rates[sl]
    return rows, records


def improvement(task: str, best_global: float, adapted: float) -> float:
    """Relative improvement: MC gain, or NRMSE reduction, in percent."""
    if task == "mc":
        return 100.0 * (adapted - best_global) / best_global
    return 100.0 * (best_global - adapted) / best_global


def figure(cfg: Config, rows: list, records: dict, path: Path) -> None:
    """Scores vs global gain with the adapted results, and rate convergence."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    labels = {"mc": "memory capacity (test)", "mg": "Mackey-Glass NRMSE (test)"}
    for ax, task in zip(axes[:2], ("mc", "mg"), strict=True):
        t = records[task]["global_test"]
        ax.errorbar(cfg.global_gains, t.mean(1), t.std(1), marker="o", label="global")
        for name, color in (("homogeneous", "C1"), ("heterogeneous", "C2")):
            r = next(
                r for r in rows
                if r["task"] == task and name in r["condition"] and r["picked"]
            )  # fmt: skip
            ax.axhline(
                r["test"]["mean"], color=color,
                label=f"adapted, {name} (target {r['target_rate']})",
            )  # fmt: skip
        ax.set_xlabel("global inhibitory gain g")
        ax.set_ylabel(labels[task])
        if task == "mg":
            ax.set_yscale("log")
        ax.legend(fontsize=8)
    rates = records["mc"]["heterogeneous"]
    steps = cfg.record_every * np.arange(1, rates.shape[1] + 1)
    axes[2].plot(steps, rates[0, :, :20], lw=0.8)
    axes[2].set_xlabel("adaptation step")
    axes[2].set_ylabel("running rate (20 units, seed 0)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(cfg: Config, out_dir: str | Path) -> dict:
    """Run every condition on both tasks; write results and the figure."""
    jax.config.update("jax_enable_x64", True)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    k_net, k_rho, k_in = jr.split(jr.PRNGKey(cfg.seed), 3)
    keys = jr.split(k_net, cfg.n_seeds)
    n_g, n, n_r = len(cfg.global_gains), cfg.n_hidden, len(cfg.target_rates)
    rhos = jnp.repeat(jnp.asarray(cfg.target_rates), cfg.n_seeds)  # (n_r * seeds,)
    hetero = jax.vmap(
        lambda k, m: dx.models.lognormal_rates(k, n, mean=m, sigma=cfg.hetero_sigma)
    )(jr.split(k_rho, n_r * cfg.n_seeds), rhos)
    same = jnp.broadcast_to(rhos[:, None], (n_r * cfg.n_seeds, n))
    nets = {
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
    rows, records, summary = [], {}, {}
    for task, streams in make_inputs(cfg, k_in).items():
        task_rows, records[task] = run_task(cfg, task, nets, streams)
        rows += task_rows
        best = next(r for r in task_rows if r["picked"])
        entry = {"best_global_gain": best["gain"], "best_global": best["test"],
                 "best_global_mean_rate": best["mean_rate"]}  # fmt: skip
        for r in (r for r in task_rows[n_g:] if r["picked"]):
            name = r["condition"]
            entry[name] = r["test"]
            entry[f"{name}_target_rate"] = r["target_rate"]
            entry[f"{name}_mean_rate"] = r["mean_rate"]
            entry[f"{name}_rate_error"] = r["rate_error"]
            entry[f"improvement_pct_{name}"] = improvement(
                task, best["test"]["mean"], r["test"]["mean"]
            )
        summary[task] = entry
    figure(cfg, rows, records, out / "ei_reservoir.png")
    result = {
        "config": asdict(cfg),
        "metrics": {"mc": "memory capacity (higher is better)",
                    "mg": f"Mackey-Glass {cfg.horizon}-step NRMSE (lower is better)"},
        "summary": summary,
        "seconds": round(time.perf_counter() - start, 1),
        "device": jax.devices()[0].device_kind,
    }  # fmt: skip
    (out / "results.json").write_text(json.dumps({**result, "rows": rows}, indent=1))
    with open(out / "results.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["task", "condition", "gain", "target_rate", "val_mean",
                         "val_std", "test_mean", "test_std", "mean_rate",
                         "picked"])  # fmt: skip
        for r in rows:
            val, test = r["val"], r["test"]
            writer.writerow([r["task"], r["condition"], r["gain"], r["target_rate"],
                             val["mean"], val["std"], test["mean"], test["std"],
                             r["mean_rate"], r["picked"]])  # fmt: skip
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", help="folder for the results and the figure")
    parser.add_argument("--small", action="store_true", help="the small test config")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    config = Config.small() if args.small else Config()
    if args.seed is not None:
        config = replace(config, seed=args.seed)
    print(json.dumps(main(config, args.out_dir), indent=1))

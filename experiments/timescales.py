"""Timescales: trained per-neuron tau and network tau under two curricula.

The setting of Khajehabdollahi, Zeraati, Giannakakis, Schaefer, Martius & Levina
(ICLR 2024, arXiv 2309.12927), small: rate RNNs (``dx.models.CTRNN``, tanh,
Euler with dt = 1, so one step is h <- (1 - 1/tau) h + (W tanh(h) + W_in u + b)/tau
as in the paper's update) learn their recurrent weights *and* per-neuron time
constants tau_i (initialised 1 + U(0, 1); kept >= ``tau_min`` = 1, the paper's
clamp, by projecting every optimiser update) on N-parity and N-DMS
(``dx.tasks.NParity``, ``dx.tasks.NDelayedMatch``, one +-1 bit per step), with

- the single-head curriculum: one readout, trained on N = n_min, then n_min + 1,
  ... (the same head is kept and retrained, so earlier N can be forgotten);
- the multi-head curriculum: stage N trains heads for 1..N together (parity of
  the last 1..N bits, or DMS lags 1..N); the readout grows by one freshly drawn
  row per stage, the other parameters carry over (``dx.tasks.curriculum``).

**Stage rule: a fixed budget of ``steps_per_stage`` optimiser steps per stage**
(no accuracy threshold): every member of an ensemble then trains the same
stages, so one vmapped ``dx.train.fit`` (``ensemble=True``) per stage trains all
seeds. "Reached N" is read off afterwards: the largest N such that every stage up
to N ended with accuracy >= ``threshold`` on its own N.

After each stage, per member:

- the accuracy (sign of the output, ``dx.tasks`` scoring) on every trained N,
  on fresh trials; for multi-head each N is its own head, for single-head the
  one head on the single-head task of that N (forgetting shows here);
- the mean trained tau_i;
- the network timescale tau_net: the network is driven by random +-1 bits
  (``n_drive_trials`` trials of ``drive_len`` steps after a ``burn_in``), and
  ``dx.analysis.autocorrelation_timescale`` (single vs double exponential by
  AIC, lags 1..``max_lag``, bias-corrected) is fitted to every unit's activity
  tanh(h); tau_net is the median over units of the chosen model's (slowest)
  tau, and ``tau_net_bad`` counts units whose fit is not finite or not
  positive (excluded from the median).

Differences from the paper: 64 units instead of 500, tanh rate units instead of
LeakyReLU, diag(W) is not forced to 0, Adam with gradient clipping instead of SGD,
a fixed step budget instead of 98 % thresholds, fixed trial length, bits +-1 with
p = 0.5 for both tasks, and drives of 10^3-10^4 instead of 10^5 steps.

With ``--out DIR``, writes ``timescales.csv`` (one row per task x curriculum x
stage x member) and ``timescales.json``; ``analysis/timescales.py DIR`` draws the
figure. Run: ``python experiments/timescales.py [--small] [--out DIR]`` (the
default took 274 s on 2 shared CPU cores; every config field is a flag).
"""

import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax

if not __package__:  # run as a file: put the repository root (this checkout) first
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dynax as dx  # noqa: E402
from experiments._common import enable_x64, run_cli, write_results  # noqa: E402

TASKS = {"parity": dx.tasks.NParity, "dms": dx.tasks.NDelayedMatch}
CURRICULA = ("single", "multi")


@dataclass
class Config:
    """Sizes of the run (defaults: the full run; ``small()`` for tests)."""

    tasks: list[str] = field(default_factory=lambda: ["parity", "dms"])
    curricula: list[str] = field(default_factory=lambda: ["single", "multi"])
    n_min: int = 2
    n_max: int = 6
    n_hidden: int = 64
    n_members: int = 3
    g: float = 1.0
    tau_min: float = 1.0
    trial_len: int = 30
    steps_per_stage: int = 400
    batch_size: int = 64
    learning_rate: float = 3e-3
    clip: float = 2.0
    threshold: float = 0.9
    n_eval: int = 256
    n_drive_trials: int = 10
    drive_len: int = 1000
    burn_in: int = 100
    max_lag: int = 30
    x64: bool = False
    seed: int = 0

    @classmethod
    def small(cls) -> "Config":
        """A configuration that runs in seconds (for tests)."""
        return cls(
            tasks=["parity"],
            n_min=2, n_max=3, n_hidden=16, n_members=2, trial_len=12,
            steps_per_stage=20, batch_size=16, n_eval=32, n_drive_trials=2,
            drive_len=200, burn_in=20, max_lag=10,
        )  # fmt: skip


def make_ensemble(cfg: Config, n_out: int, key) -> dx.models.CTRNN:
    """CTRNNs with learnable tau_i = tau_min + U(0, 1), one per member."""

    def one(k):
        k_tau, k_net = jr.split(k)
        tau = cfg.tau_min + jr.uniform(k_tau, (cfg.n_hidden,))
        return dx.models.CTRNN(
            1, cfg.n_hidden, n_out, g=cfg.g, tau=tau, learn_tau=True, key=k_net
        )

    return dx.make_ensemble(one, jr.split(key, cfg.n_members))


def grow_readout(ens: dx.models.CTRNN, cfg: Config, n_out: int, key):
    """The ensemble with ``n_out`` readout rows: the old ones kept, new ones fresh."""
    fresh = make_ensemble(cfg, n_out, key)
    k = ens.W_out.shape[-2]
    W_out = fresh.W_out.at[:, :k].set(ens.W_out)
    b_out = fresh.b_out.at[:, :k].set(ens.b_out)
    return eqx.tree_at(
        lambda m: (m.W, m.log_tau, m.W_in, m.b, m.sigma_rec, m.W_out, m.b_out),
        fresh,
        (ens.W, ens.log_tau, ens.W_in, ens.b, ens.sigma_rec, W_out, b_out),
    )


def clamp_tau(tau_min: float) -> optax.GradientTransformation:
    """Project every update so that the new tau stays >= ``tau_min``."""
    log_min = math.log(tau_min)

    def update(updates, state, params=None):
        floor = jnp.asarray(log_min, params.log_tau.dtype) - params.log_tau
        updates = eqx.tree_at(
            lambda u: u.log_tau, updates, jnp.maximum(updates.log_tau, floor)
        )
        return updates, state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


def outputs(ens, task, batch):
    """Outputs (members, trials, time, n_out) of the ensemble on a batch."""
    traj = dx.simulate(
        ens, ens.init_state(), task.ts, inputs=batch.inputs, trials=True, ensemble=True
    )
    return traj.outputs


def accuracies(ens, cfg, task_cls, curriculum, n_now, key) -> dict[int, np.ndarray]:
    """Per-member accuracy on every trained N (``n_min..n_now``)."""
    acc = {}
    if curriculum == "multi":
        task = task_cls(n=n_now, heads="multi", n_steps=cfg.trial_len)
        batch = jax.vmap(task.sample)(jr.split(key, cfg.n_eval))
        out = outputs(ens, task, batch)
        for m in range(cfg.n_min, n_now + 1):
            h = m - 1  # head h: parity of h + 1 bits / DMS lag h + 1
            one = dx.tasks.TaskBatch(
                inputs=batch.inputs,
                targets=batch.targets[..., h : h + 1],
                mask=batch.mask[..., h : h + 1],
            )
            acc[m] = np.asarray(
                jax.vmap(lambda o, b=one, t=task, h=h: t.score(o[..., h : h + 1], b))(
                    out
                )
            )
        return acc
    for m in range(cfg.n_min, n_now + 1):
        task = task_cls(n=m, heads="single", n_steps=cfg.trial_len)
        batch = jax.vmap(task.sample)(jr.split(jr.fold_in(key, m), cfg.n_eval))
        out = outputs(ens, task, batch)
        acc[m] = np.asarray(jax.vmap(lambda o, b=batch, t=task: t.score(o, b))(out))
    return acc


def network_tau(ens, cfg: Config, key) -> tuple[np.ndarray, np.ndarray]:
    """Median per-unit autocorrelation timescale under random +-1 drive; bad fits."""
    T = cfg.burn_in + cfg.drive_len
    ts = jnp.arange(T, dtype=ens.b.dtype)
    bits = jr.rademacher(key, (cfg.n_drive_trials, T, 1), dtype=ens.b.dtype)
    ys = dx.simulate(ens, ens.init_state(), ts, inputs=bits, trials=True, ensemble=True)
    rates = jnp.tanh(ys.ys[:, :, cfg.burn_in :])  # (members, trials, time, n)
    # every member's units side by side: one call fits them all (the per-unit fits
    # are independent), no loop over members
    n_members, n = rates.shape[0], rates.shape[-1]
    units = jnp.moveaxis(rates, 0, -2).reshape(*rates.shape[1:-1], n_members * n)
    fit = dx.analysis.autocorrelation_timescale(
        units, dt=1.0, max_lag=cfg.max_lag, reduce="unit"
    )
    tau = np.asarray(fit.tau).reshape(n_members, n)
    ok = np.isfinite(tau) & (tau > 0)
    medians = [
        float(np.median(t[o])) if o.any() else math.nan
        for t, o in zip(tau, ok, strict=True)
    ]
    return np.asarray(medians), (~ok).sum(axis=1)


def run_curriculum(cfg: Config, task_name: str, curriculum: str, key) -> dict:
    """Train one ensemble through one curriculum; rows per stage and member."""
    task_cls = TASKS[task_name]
    stages = dx.tasks.curriculum(
        task_cls, cfg.n_max, n_min=cfg.n_min, heads=curriculum, n_steps=cfg.trial_len
    )
    k_net, k_rest = jr.split(key)
    ens = make_ensemble(cfg, stages[0].n_out, k_net)
    optimizer = optax.chain(
        optax.clip_by_global_norm(cfg.clip),
        optax.adam(cfg.learning_rate),
        clamp_tau(cfg.tau_min),
    )
    rows, losses, fit_seconds = [], [], 0.0
    for s, task in enumerate(stages):
        k_grow, k_fit, k_acc, k_drive = jr.split(jr.fold_in(k_rest, s), 4)
        if task.n_out != ens.W_out.shape[-2]:
            ens = grow_readout(ens, cfg, task.n_out, k_grow)
        ens, hist = dx.train.fit(
            ens, task, ensemble=True, key=jr.split(k_fit, cfg.n_members),
            optimizer=optimizer, n_steps=cfg.steps_per_stage,
            batch_size=cfg.batch_size, progress=False,
        )  # fmt: skip
        fit_seconds += hist.seconds
        loss = np.asarray(hist.loss)
        losses.append(loss[-max(1, len(loss) // 10) :].mean(axis=0))
        acc = accuracies(ens, cfg, task_cls, curriculum, task.n, k_acc)
        tau = np.exp(np.asarray(ens.log_tau))  # (members, n_hidden)
        tau_net, bad = network_tau(ens, cfg, k_drive)
        failed = np.asarray(hist.failed)
        for i in range(cfg.n_members):
            rows.append({
                "task": task_name,
                "curriculum": curriculum,
                "stage_n": task.n,
                "member": i,
                "accuracy": float(acc[task.n][i]),
                "accuracy_by_n": {str(m): float(a[i]) for m, a in acc.items()},
                "mean_accuracy_trained": float(np.mean([a[i] for a in acc.values()])),
                "mean_tau": float(tau[i].mean()),
                "min_tau": float(tau[i].min()),
                "max_tau": float(tau[i].max()),
                "tau_net": float(tau_net[i]),
                "tau_net_bad": int(bad[i]),
                "final_loss": float(losses[-1][i]),
                "failed": bool(failed[i]),
            })  # fmt: skip
    return {"rows": rows, "fit_seconds": fit_seconds}


def reached(rows: list[dict], threshold: float) -> dict:
    """Per (task, curriculum): the largest N reached by each member (see module doc)."""
    out = {}
    for key in sorted({(r["task"], r["curriculum"]) for r in rows}):
        members = sorted(
            {r["member"] for r in rows if (r["task"], r["curriculum"]) == key}
        )
        best = []
        for i in members:
            mine = sorted(
                (r for r in rows
                 if (r["task"], r["curriculum"], r["member"]) == (*key, i)),
                key=lambda r: r["stage_n"],
            )  # fmt: skip
            n = None
            for r in mine:
                if r["accuracy"] < threshold:
                    break
                n = r["stage_n"]
            best.append(n)
        out[f"{key[0]}/{key[1]}"] = best
    return out


def main(cfg: Config, out_dir: Path | None = None) -> dict:
    """Run every task x curriculum; write timescales.json/.csv to ``out_dir``."""
    enable_x64(cfg)
    for t in cfg.tasks:
        if t not in TASKS:
            raise ValueError(f"tasks: expected names from {sorted(TASKS)}, got {t!r}.")
    for c in cfg.curricula:
        if c not in CURRICULA:
            raise ValueError(f"curricula: expected names from {CURRICULA}, got {c!r}.")
    start = time.perf_counter()
    rows, timing = [], {}
    for a, task_name in enumerate(cfg.tasks):
        for b, curriculum in enumerate(cfg.curricula):
            t0 = time.perf_counter()
            key = jr.fold_in(jr.PRNGKey(cfg.seed), 10 * a + b)
            res = run_curriculum(cfg, task_name, curriculum, key)
            rows += res["rows"]
            timing[f"{task_name}/{curriculum}"] = {
                "total_seconds": round(time.perf_counter() - t0, 2),
                "fit_seconds": round(res["fit_seconds"], 2),
            }
    summary = {
        "n_rows": len(rows),
        "reached_n": reached(rows, cfg.threshold),
        "timing": timing,
        "total_seconds": round(time.perf_counter() - start, 2),
    }
    if out_dir is not None:
        write_results(
            out_dir, "timescales", config=cfg, rows=rows, summary=summary,
            seed=cfg.seed, wall_seconds=time.perf_counter() - start,
        )  # fmt: skip
    return summary


if __name__ == "__main__":
    run_cli(main, Config, __doc__)

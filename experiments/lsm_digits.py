"""Liquid state machine on 8x8 digits: no plasticity vs STDP vs astrocyte STDP (NALSM).

scikit-learn's 8x8 digits (1797 images, shipped with the package) are encoded as
Poisson spike trains: pixel p (0..16) fires with probability ``rate * p / 16`` per
1-ms step for ``n_steps`` steps. A ``dx.models.LIFReservoir`` (E/I, Dale's law)
sees them. Two starting liquids are used, one with recurrent excitation
(``w_exc_starts[0]``, branching factor above 1) and one without (below 1). From
each, per seed (vmapped ensemble, no Python loop over networks) three conditions
are compared:

- ``none``: the random liquid, no plasticity;
- ``stdp``: unsupervised pair STDP (``dx.train.stdp``, A- = A+) on the first
  ``n_stdp`` training images;
- ``astro``: the same with NALSM's astrocyte setting the depression rate.

Then a ridge classifier (``dx.train.ridge_classifier``) is fitted on the
standardised per-neuron spike counts of the training images and scored on held-out
images, and ``dx.analysis.branching_factor`` (window 4, buffer 25) is averaged
over ``n_bf`` test rasters. A ridge classifier on the raw pixels is the reference.

Returns (and, from the command line, prints) a summary; with ``--out DIR`` writes
``lsm_digits.json`` (with the plasticity phase's traces) and ``lsm_digits.csv`` (one
row per start x condition x seed) there, and ``analysis/lsm_digits.py DIR`` draws
the figure. Run: ``python experiments/lsm_digits.py [--small] [--out DIR]`` (the
default takes a few minutes on 2 CPU cores; every config field is a flag, see
``--help``).
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
from experiments._common import run_cli, write_results  # noqa: E402

CONDITIONS = ("none", "stdp", "astro")


@dataclass
class Config:
    """Sizes and parameters (defaults: the full run; ``small()`` for tests)."""

    n: int = 300
    n_steps: int = 150
    rate: float = 0.1
    frac_exc: float = 0.8
    density: float = 0.1
    input_density: float = 0.2
    w_exc_starts: list[float] = field(default_factory=lambda: [0.3, 0.0])
    w_inh: float = 2.0
    w_in: float = 0.5
    w_max: float = 3.0
    a_plus: float = 0.015
    astro_tau: float = 100.0
    astro_weight: float = 0.003
    astro_bias: float = 0.018
    n_stdp: int = 200
    n_test: int = 597
    n_train: int | None = None
    n_bf: int = 50
    n_seeds: int = 5
    alpha: float = 1.0
    batch_size: int = 128
    seed: int = 0

    @classmethod
    def small(cls) -> "Config":
        """A configuration that runs in seconds (for tests)."""
        return cls(
            n=40, n_steps=60, n_stdp=5, n_test=50, n_train=150, n_bf=4, n_seeds=2,
            density=0.25, batch_size=50, w_exc_starts=[0.3],
        )  # fmt: skip


def load_data(cfg: Config):
    """Digits split into train/test (fixed permutation) and encoded as spikes."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    perm = np.random.default_rng(cfg.seed).permutation(len(y))
    X, y = X[perm], y[perm]
    n_train = len(y) - cfg.n_test
    n_use = n_train if cfg.n_train is None else min(cfg.n_train, n_train)
    p = jnp.asarray(X / 16.0 * cfg.rate, jnp.float32)
    key = jr.PRNGKey(cfg.seed + 1)
    spikes = jr.bernoulli(key, p[:, None, :], (len(y), cfg.n_steps, X.shape[1]))
    spikes = spikes.astype(jnp.float32)
    return (X[:n_use], y[:n_use], spikes[:n_use]), (
        X[n_train:],
        y[n_train:],
        spikes[n_train:],
    )


def make_liquid(cfg: Config, w_exc: float, key):
    """One random liquid."""
    return dx.models.LIFReservoir(
        64, cfg.n, frac_exc=cfg.frac_exc, density=cfg.density,
        input_density=cfg.input_density, w_exc=w_exc, w_inh=cfg.w_inh,
        w_in=cfg.w_in, w_max=cfg.w_max, dtype=jnp.float32, key=key,
    )  # fmt: skip


def ridge_accuracy(f_train, y_train, f_test, y_test, alpha):
    """Test accuracy of a ridge classifier on standardised features."""
    mean, std = f_train.mean(0)[None, :], f_train.std(0)[None, :] + 1e-3
    readout = dx.train.ridge_classifier(
        (f_train - mean) / std, y_train, n_classes=10, alpha=alpha
    )
    pred = dx.train.predict_labels(readout, (f_test - mean) / std)
    return jnp.mean((pred == y_test).astype(jnp.float32))


@eqx.filter_jit
def evaluate(ens, u_train, y_train, u_test, y_test, *, n_bf, batch_size, alpha):
    """Accuracy, branching factor and firing rate of every member (vmapped)."""
    n_steps = u_train.shape[1]
    ts = jnp.arange(n_steps + 1, dtype=jnp.float32)

    def raster(model, u):
        u = jnp.concatenate([u, jnp.zeros_like(u[:1])])
        return dx.simulate(model, model.init_state(), ts, inputs=u).ys.spikes[1:]

    def one(model):
        def counts(u):
            return dx.train.spike_counts(model, u, batch_size=batch_size)

        f_train, f_test = counts(u_train), counts(u_test)
        acc = ridge_accuracy(f_train, y_train, f_test, y_test, alpha)
        rasters = jax.vmap(lambda u: raster(model, u))(u_test[:n_bf])
        bf = jax.vmap(
            lambda s: dx.analysis.branching_factor(s, model.W, window=4, buffer=25)
        )(rasters)
        return acc, jnp.nanmean(bf.value), jnp.mean(f_test) / n_steps

    return eqx.filter_vmap(one)(ens)


def train(ens, cfg: Config, u_stdp, condition: str):
    """Unsupervised plasticity phase of one condition, vmapped over the seeds."""
    if condition == "none":
        return ens, None
    rule = dx.train.STDP(a_plus=cfg.a_plus)
    astro = None
    if condition == "astro":
        astro = dx.train.Astrocyte(
            tau=cfg.astro_tau, weight=cfg.astro_weight, bias=cfg.astro_bias,
            initial=cfg.a_plus,
        )  # fmt: skip

    def run(model):
        return dx.train.stdp(model, u_stdp, rule=rule, astrocyte=astro)

    return eqx.filter_vmap(run)(ens)


def traces(hist, n_points: int = 200) -> dict:
    """Depression rate (sampled) and liquid spikes per ms (binned), every seed."""
    rate = np.asarray(hist.rate).reshape(hist.rate.shape[0], -1)  # (seeds, time)
    liq = np.asarray(hist.n_liquid).reshape(rate.shape)
    k = max(liq.shape[1] // n_points, 1)
    m = liq.shape[1] // k
    return {
        "step_ms": (np.arange(m) * k).tolist(),
        "depression_rate": rate[:, : m * k : k].tolist(),
        "liquid_spikes_per_ms": liq[:, : m * k].reshape(-1, m, k).mean(-1).tolist(),
    }


def run_start(cfg: Config, w_exc: float, data) -> tuple[dict, list, dict, dict]:
    """All conditions from one starting liquid (vmapped over the seeds).

    Returns:
        Per condition the scores over seeds, one row per condition and seed, per
        plastic condition its traces, and per condition the seconds it took.
    """
    u_tr, y_tr, u_te, y_te = data
    keys = jr.split(jr.PRNGKey(cfg.seed), cfg.n_seeds)
    ens = dx.make_ensemble(lambda k: make_liquid(cfg, w_exc, k), keys)
    conditions, rows, histories, timings = {}, [], {}, {}
    for cond in CONDITIONS:
        t0 = time.perf_counter()
        trained, hist = train(ens, cfg, u_tr[: cfg.n_stdp], cond)
        scores = evaluate(
            trained, u_tr, y_tr, u_te, y_te,
            n_bf=cfg.n_bf, batch_size=cfg.batch_size, alpha=cfg.alpha,
        )  # fmt: skip
        acc, bf, rate = (np.asarray(a) for a in scores)
        timings[cond] = round(time.perf_counter() - t0, 1)
        finals = [None] * cfg.n_seeds
        if hist is not None:
            histories[cond] = traces(hist)
            finals = np.asarray(hist.rate)[:, -1, -1].tolist()
        conditions[cond] = {
            "accuracy": acc.tolist(),
            "accuracy_mean": float(acc.mean()),
            "branching_factor": bf.tolist(),
            "branching_factor_mean": float(bf.mean()),
            "spikes_per_neuron_per_ms": float(rate.mean()),
            "final_depression_rate": None if hist is None else float(np.mean(finals)),
        }
        rows += [
            {"w_exc": w_exc, "condition": cond, "seed_index": i,
             "accuracy": float(acc[i]), "branching_factor": float(bf[i]),
             "spikes_per_neuron_per_ms": float(rate[i]),
             "final_depression_rate": finals[i]}
            for i in range(cfg.n_seeds)
        ]  # fmt: skip
    return conditions, rows, histories, timings


def main(cfg: Config, out_dir: Path | None = None) -> dict:
    """Run the comparison; write lsm_digits.json/.csv to ``out_dir``; the summary."""
    start = time.perf_counter()
    (x_tr, y_tr, u_tr), (x_te, y_te, u_te) = load_data(cfg)
    y_tr, y_te = jnp.asarray(y_tr), jnp.asarray(y_te)
    pixels = ridge_accuracy(
        jnp.asarray(x_tr, jnp.float32), y_tr, jnp.asarray(x_te, jnp.float32), y_te,
        cfg.alpha,
    )  # fmt: skip
    data = (u_tr, y_tr, u_te, y_te)
    starts, rows, histories, timings = [], [], {}, {}
    for w_exc in cfg.w_exc_starts:
        conditions, start_rows, histories[str(w_exc)], timings[str(w_exc)] = run_start(
            cfg, w_exc, data
        )
        starts.append({"w_exc": w_exc, "conditions": conditions})
        rows += start_rows
    wall = time.perf_counter() - start
    summary = {
        "n_train": int(len(y_tr)),
        "n_test": int(len(y_te)),
        "pixels_ridge_accuracy": float(pixels),
        "starts": starts,
        "seconds_per_condition": timings,
        "total_seconds": round(wall, 1),
    }
    if out_dir is not None:
        write_results(
            out_dir, "lsm_digits", config=cfg, rows=rows, summary=summary,
            seed=cfg.seed, wall_seconds=wall, extra={"traces": histories},
        )  # fmt: skip
    return summary


if __name__ == "__main__":
    run_cli(main, Config, __doc__)

"""LangevinFlow on Lorenz spikes, against an ablation and two baselines.

Issue 17, part 5. One Lorenz-latent Poisson population (``dx.data.lorenz_spikes``:
held-in and held-out neurons, forward-prediction bins, train and validation trials)
and four models, each trained on the training trials and scored on the validation
trials:

- ``langevin``: ``dx.models.LangevinFlow`` with its default decoder (latent and
  encoder features), trained by ``dx.train.fit_spikes``;
- ``encoder_only``: the same with ``decoder_input="encoder"``: the decoder never
  sees the Langevin latent (z, v), so any gap to ``langevin`` is what the latent
  carries;
- ``gru``: a discrete-time GRU latent model of equal size, LFADS-like without the
  variational parts: a bidirectional GRU encoder (``hidden`` units per direction)
  gives the generator's initial state; an autonomous GRU generator
  (``dx.models.GRU``, ``2 * n_latents`` units, as many as the Langevin state
  (z, v)) runs over the observed and forward bins; its readout gives
  ``n_latents`` factors and a linear map the log-rates. Trained on the Poisson
  NLL of every neuron and bin with Adam, as a vmapped ``lax.scan`` loop here;
- ``glm``: NLB's spike-smoothing baseline: Gaussian-smoothed held-in counts and
  one Poisson GLM per neuron (held-in and held-out) fitted on the training
  trials. Its kernel width and penalty are the best on the validation trials
  themselves (an optimistic, stronger baseline). It predicts no forward bins
  (``fp_bps`` is ``None``) and has no latent.

The three trained models are ensembles of ``n_seeds`` members (one compiled
program each). Reported per model and member (one CSV row each): co-bps
(``dx.analysis.co_bps``), fp-bps (``dx.analysis.fp_bps``, held-in and held-out
neurons), and the R² of the inferred against the true rates on held-in and
held-out neurons over the observed bins (and on the forward bins), over every
validation trial and bin. ``latent_r2``: the R²
of the true (standardised) Lorenz latents against the best affine map of the
model's latent (z of the Langevin models, the factors of the GRU), fitted by least
squares on the validation trials themselves (an in-sample fit; ``encoder_only``'s z
never reaches its decoder). The summary has the mean and range over members, and
the co-bps and fp-bps of the true rates (the ceiling).
The R² of rates is variance-weighted over neurons (see :func:`rate_r2`).

With ``--out DIR``, writes ``langevin_lorenz.csv`` and ``langevin_lorenz.json``
(with the rates and latents of one validation trial per model, member 0, for the
figure); ``analysis/langevin_lorenz.py DIR`` draws the figure. Run:
``python experiments/langevin_lorenz.py [--small] [--out DIR]``.
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
import optax
import scipy.ndimage

if not __package__:  # run as a file: put the repository root (this checkout) first
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dynax as dx  # noqa: E402
from experiments._common import enable_x64, run_cli, write_results  # noqa: E402

MODELS = ("langevin", "encoder_only", "gru", "glm")


@dataclass
class Config:
    """Sizes of the run (defaults: the full run; ``small()`` for tests)."""

    n_conditions: int = 32
    n_trials: int = 10
    n_neurons: int = 30
    n_bins: int = 40
    n_forward: int = 10
    n_heldout: int = 8
    base_rate: float = 10.0
    n_latents: int = 4
    hidden: int = 16
    n_substeps: int = 2
    n_seeds: int = 5
    n_steps: int = 1000
    batch_size: int = 32
    learning_rate: float = 5e-3
    beta: float = 1.0
    dropout: float = 0.3
    glm_widths: list[float] = field(default_factory=lambda: [1.0, 2.0, 3.0])
    glm_alphas: list[float] = field(default_factory=lambda: [1e-3, 1e-2, 1e-1])
    x64: bool = False
    seed: int = 0

    @classmethod
    def small(cls) -> "Config":
        """A configuration that runs in seconds (for tests)."""
        return cls(
            n_conditions=4, n_trials=5, n_neurons=10, n_bins=12, n_forward=3,
            n_heldout=3, n_latents=2, hidden=6, n_seeds=2, n_steps=20,
            batch_size=8, glm_widths=[2.0], glm_alphas=[1e-2],
        )  # fmt: skip


# --------------------------------------------------------------- smoothing + GLM


def poisson_glm(x, y, alpha, n_iter=50):
    """A Poisson GLM (log link, L2 on the weights) by Newton's method, in NumPy.

    Minimises mean(exp(eta) - y eta) + alpha/2 |w|^2 with eta = w.x + b on
    standardised inputs (scikit-learn's PoissonRegressor objective); returns the
    predictor of rates.
    """
    mu, sd = x.mean(0), x.std(0) + 1e-12
    design = np.hstack([(x - mu) / sd, np.ones((len(x), 1))])
    w = np.zeros(design.shape[1])
    w[-1] = np.log(max(y.mean(), 1e-9))
    reg = np.full(design.shape[1], alpha)
    reg[-1] = 0.0
    for _ in range(n_iter):
        r = np.exp(np.clip(design @ w, -30, 30))
        grad = design.T @ (r - y) / len(y) + reg * w
        hess = (design * r[:, None]).T @ design / len(y) + np.diag(reg)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-10:
            break
    return lambda xn: np.exp(np.hstack([(xn - mu) / sd, np.ones((len(xn), 1))]) @ w)


def smoothing_glm(cfg: Config, train, val) -> tuple[np.ndarray, dict]:
    """NLB's smoothing baseline: rates ``(val trials, T, neurons)`` (held-in first).

    Gaussian-smoothed held-in counts, one Poisson GLM per neuron fitted on the
    training trials; the kernel width and penalty with the best co-bps on the
    validation trials are kept (returned as ``{"width", "alpha"}``).
    """
    y = np.concatenate([np.asarray(train.heldin), np.asarray(train.heldout)], -1)
    y = y.reshape(-1, y.shape[-1]).astype(np.float64)
    n_in = train.heldin.shape[-1]
    shape = (*val.heldin.shape[:2], y.shape[-1])
    best, best_rates, chosen = -np.inf, None, {}
    for width in cfg.glm_widths:
        x_tr, x_va = (
            scipy.ndimage.gaussian_filter1d(np.asarray(a.heldin, np.float64), width, 1)
            for a in (train, val)
        )
        x_tr, x_va = (a.reshape(-1, a.shape[-1]) for a in (x_tr, x_va))
        for alpha in cfg.glm_alphas:
            fits = [poisson_glm(x_tr, y[:, j], alpha) for j in range(y.shape[1])]
            rates = np.stack([f(x_va) for f in fits], -1).reshape(shape)
            score = float(dx.analysis.co_bps(rates[..., n_in:], val.heldout))
            if score > best:
                best, best_rates, chosen = (
                    score,
                    rates,
                    {"width": width, "alpha": alpha},
                )
    assert best_rates is not None
    return best_rates, chosen


# ------------------------------------------------------------------ GRU baseline


class GRULatentModel(eqx.Module):
    """LFADS-like without the VAE: GRU encoder -> GRU generator -> log-rates."""

    encoder_forward: eqx.nn.GRUCell
    encoder_backward: eqx.nn.GRUCell
    initial: eqx.nn.Linear
    generator: dx.models.GRU
    readout: eqx.nn.Linear
    n_forward: int = eqx.field(static=True)

    def __init__(self, n_in, n_neurons, n_forward, hidden, n_gen, n_factors, *, key):
        k = jr.split(key, 5)
        self.encoder_forward = eqx.nn.GRUCell(n_in, hidden, key=k[0])
        self.encoder_backward = eqx.nn.GRUCell(n_in, hidden, key=k[1])
        self.initial = eqx.nn.Linear(2 * hidden, n_gen, key=k[2])
        self.generator = dx.models.GRU(0, n_gen, n_factors, key=k[3])
        self.readout = eqx.nn.Linear(n_factors, n_neurons, key=k[4])
        self.n_forward = n_forward

    def __call__(self, x):
        """Log-rates ``(T + F, neurons)`` and factors ``(T + F, n_factors)``."""
        h0 = jnp.zeros(self.encoder_forward.hidden_size, x.dtype)
        h_last, _ = jax.lax.scan(
            lambda h, xk: (self.encoder_forward(xk, h), None), h0, x
        )
        h_first, _ = jax.lax.scan(
            lambda h, xk: (self.encoder_backward(xk, h), None), h0, x, reverse=True
        )
        g0 = jnp.tanh(self.initial(jnp.concatenate([h_last, h_first])))

        def gen(g, t):
            g = self.generator(t, g, None)
            return g, self.generator.readout(g)

        steps = jnp.arange(x.shape[0] + self.n_forward, dtype=x.dtype)
        _, factors = jax.lax.scan(gen, g0, steps)
        log_rates = jnp.clip(jax.vmap(self.readout)(factors), -8.0, 8.0)
        return log_rates, factors


def make_gru(cfg: Config, n_in: int, key) -> GRULatentModel:
    return GRULatentModel(
        n_in, cfg.n_neurons, cfg.n_forward, cfg.hidden, 2 * cfg.n_latents,
        cfg.n_latents, key=key,
    )  # fmt: skip


def gru_nll(model, spikes, n_bins):
    """Mean Poisson NLL (up to the constant) of every neuron and bin."""
    log_r, _ = jax.vmap(
        lambda s: model(s[:n_bins, : model.encoder_forward.input_size])
    )(spikes)
    return jnp.mean(jnp.exp(log_r) - spikes * log_r)


def train_gru(cfg: Config, spikes, n_in: int, keys):
    """Train one GRU model per key (vmapped), Adam on minibatches; (models, losses)."""
    spikes = jnp.asarray(spikes)
    n_train = spikes.shape[0]
    optimizer = optax.adam(cfg.learning_rate)
    static = eqx.partition(make_gru(cfg, n_in, jr.key(0)), eqx.is_inexact_array)[1]

    def one(key):
        k_init, k_train = jr.split(key)
        params = eqx.filter(make_gru(cfg, n_in, k_init), eqx.is_inexact_array)
        state = optimizer.init(params)

        def loss(p, batch):
            return gru_nll(eqx.combine(p, static), batch, cfg.n_bins)

        def step(carry, k):
            p, s = carry
            idx = jr.choice(k, n_train, (cfg.batch_size,), replace=False)
            value, grads = jax.value_and_grad(loss)(p, spikes[idx])
            updates, s = optimizer.update(grads, s, p)
            return (eqx.apply_updates(p, updates), s), value

        (params, _), losses = jax.lax.scan(
            step, (params, state), jr.split(k_train, cfg.n_steps)
        )
        return params, losses

    # optax's bias correction raises a float to an int step count, which the
    # tests' strict dtype promotion refuses
    with jax.numpy_dtype_promotion("standard"):
        params, losses = eqx.filter_jit(jax.vmap(one))(keys)
    return eqx.combine(params, static), np.asarray(losses)


# ----------------------------------------------------------------------- metrics


def rate_r2(pred, true) -> float:
    """Variance-weighted R² over neurons: 1 - sum SS_res / sum SS_tot.

    Each neuron's sums run over every trial and bin, around its own mean (as
    scikit-learn's ``r2_score(..., multioutput="variance_weighted")``): a neuron
    whose true rate barely varies does not dominate the mean.
    """
    pred = np.asarray(pred, np.float64).reshape(-1, pred.shape[-1])
    true = np.asarray(true, np.float64).reshape(-1, true.shape[-1])
    ss_res = np.sum((true - pred) ** 2)
    ss_tot = np.sum((true - true.mean(0)) ** 2)
    return float(1.0 - ss_res / ss_tot)


def latent_fit(latent, true) -> tuple[float, np.ndarray]:
    """R² of the best affine map from a latent to the true latents, and its output.

    The map is fitted by least squares on the given trials (in sample); the
    output has the shape of ``true``.
    """
    x = np.asarray(latent, np.float64).reshape(-1, latent.shape[-1])
    y = np.asarray(true, np.float64).reshape(-1, true.shape[-1])
    design = np.hstack([x, np.ones((len(x), 1))])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    pred = design @ coef
    r2 = 1.0 - np.sum((y - pred) ** 2, 0) / np.sum((y - y.mean(0)) ** 2, 0)
    return float(np.mean(r2)), pred.reshape(true.shape)


def flow_latents(model: dx.models.LangevinFlow, heldin):
    """Posterior-mean, noise-free positions z ``(trials, T + F, n_latents)``."""

    def one(x):
        mean, _, _, inputs = model.encode(x)
        u = model.latent_inputs(inputs) if model.n_inputs else None
        traj = dx.simulate(
            model.latent, mean, model.time_grid(x.shape[0]), inputs=u,
            save=dx.Save(every=model.n_substeps),
        )  # fmt: skip
        return traj.ys[1:, : model.n_latents]

    return eqx.filter_jit(jax.vmap(one))(heldin)


def scores(cfg: Config, rates, val, truth, n_in: int) -> dict:
    """co-bps, fp-bps and rate R² of rates ``(trials, T [+ F], neurons)``."""
    rates = np.asarray(rates)
    t = cfg.n_bins
    out = {
        "co_bps": float(dx.analysis.co_bps(rates[:, :t, n_in:], val.heldout)),
        "fp_bps": None,
        "rate_r2_heldin": rate_r2(rates[:, :t, :n_in], truth.heldin),
        "rate_r2_heldout": rate_r2(rates[:, :t, n_in:], truth.heldout),
        "rate_r2_forward": None,
    }
    if rates.shape[1] > t:
        fwd = np.concatenate([val.heldin_forward, val.heldout_forward], -1)
        true_fwd = np.concatenate([truth.heldin_forward, truth.heldout_forward], -1)
        out["fp_bps"] = float(dx.analysis.fp_bps(rates[:, t:], fwd))
        out["rate_r2_forward"] = rate_r2(rates[:, t:], true_fwd)
    return out


# -------------------------------------------------------------------------- main


def main(cfg: Config, out_dir: Path | None = None) -> dict:
    """Fit the four models, score them; write the results to ``out_dir``."""
    enable_x64(cfg)
    start = time.perf_counter()
    k_data, k_flow, k_ablate, k_gru, k_fit = jr.split(jr.key(cfg.seed), 5)
    data = dx.data.lorenz_spikes(
        k_data, n_conditions=cfg.n_conditions, n_trials=cfg.n_trials,
        n_neurons=cfg.n_neurons, n_bins=cfg.n_bins, n_forward=cfg.n_forward,
        n_heldout=cfg.n_heldout, base_rate=cfg.base_rate,
    )  # fmt: skip
    train, val = data.split("train"), data.split("val")
    truth = data.split("val", of="rates")
    n_in = int(train.heldin.shape[-1])
    train_idx, val_idx = np.flatnonzero(data.train), np.flatnonzero(~data.train)
    held = np.asarray(data.heldout)
    order = np.concatenate([np.flatnonzero(~held), np.flatnonzero(held)])
    true_latents = np.asarray(data.latents)[val_idx]
    fit_keys = jr.split(k_fit, cfg.n_seeds)

    results, seconds, hists, latents = {}, {}, {}, {}
    for name, k_model, decoder in (
        ("langevin", k_flow, "latent_and_encoder"),
        ("encoder_only", k_ablate, "encoder"),
    ):
        t0 = time.perf_counter()

        def make(k, decoder=decoder):
            return dx.models.LangevinFlow(
                n_in, cfg.n_heldout, n_forward=cfg.n_forward,
                n_latents=cfg.n_latents, hidden=cfg.hidden,
                n_substeps=cfg.n_substeps, decoder_input=decoder, key=k,
            )  # fmt: skip

        ens = dx.make_ensemble(make, jr.split(k_model, cfg.n_seeds))
        trained, hist = dx.train.fit_spikes(
            ens, data.spikes[train_idx], heldout=data.heldout, ensemble=True,
            optimizer=optax.adam(cfg.learning_rate), n_steps=cfg.n_steps,
            batch_size=cfg.batch_size, key=fit_keys, beta=cfg.beta,
            dropout=cfg.dropout, progress=False,
        )  # fmt: skip
        results[name] = np.asarray(
            dx.train.langevin_flow_rates(trained, val.heldin, ensemble=True)
        )
        latents[name] = np.stack(
            [
                np.asarray(flow_latents(dx.member(trained, i), val.heldin))
                for i in range(cfg.n_seeds)
            ]
        )
        hists[name] = (np.asarray(hist.loss), np.asarray(hist.failed).reshape(-1))
        seconds[name] = time.perf_counter() - t0

    t0 = time.perf_counter()
    spikes_ordered = np.asarray(data.spikes)[:, :, order]
    gru, gru_loss = train_gru(cfg, spikes_ordered[train_idx], n_in, fit_keys)
    log_r, factors = eqx.filter_jit(
        jax.vmap(lambda m, x: jax.vmap(m)(x), in_axes=(0, None))
    )(gru, val.heldin)
    results["gru"], latents["gru"] = np.exp(np.asarray(log_r)), np.asarray(factors)
    hists["gru"] = (gru_loss.T, ~np.all(np.isfinite(gru_loss), axis=1))
    seconds["gru"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    glm_rates, glm_choice = smoothing_glm(cfg, train, val)
    results["glm"] = glm_rates[None]
    seconds["glm"] = time.perf_counter() - t0

    rows = []
    for name in MODELS:
        for i in range(results[name].shape[0]):
            row = {"model": name, "member": i}
            row.update(scores(cfg, results[name][i], val, truth, n_in))
            if name in latents:
                row["latent_r2"] = latent_fit(latents[name][i], true_latents)[0]
                loss, failed = hists[name]
                row["failed"] = bool(failed[i])
                row["final_loss"] = float(np.mean(loss[-20:, i]))
            else:
                row.update(latent_r2=None, failed=False, final_loss=None)
            row["train_seconds"] = seconds[name]
            rows.append(row)

    true_rates = np.asarray(data.rates)[val_idx][:, :, order]
    ceiling = scores(cfg, true_rates, val, truth, n_in)
    summary: dict = {
        "n_rows": len(rows),
        "n_failed": sum(r["failed"] for r in rows),
        "true_rates_co_bps": ceiling["co_bps"],
        "true_rates_fp_bps": ceiling["fp_bps"],
        "glm_choice": glm_choice,
    }
    for name in MODELS:
        mine = [r for r in rows if r["model"] == name]
        for metric in ("co_bps", "fp_bps", "rate_r2_heldin", "rate_r2_heldout",
                       "rate_r2_forward", "latent_r2"):  # fmt: skip
            values = [r[metric] for r in mine if r[metric] is not None]
            if values:
                summary[f"{name}_{metric}"] = {
                    "mean": float(np.mean(values)),
                    "min": float(np.min(values)),
                    "max": float(np.max(values)),
                }
        summary[f"{name}_seconds"] = seconds[name]

    # one validation trial for the figure (member 0)
    trial = 0
    figure = {
        "trial": int(val_idx[trial]),
        "n_heldin": n_in,
        "n_bins": cfg.n_bins,
        "true_rates": true_rates[trial],
        "true_latents": true_latents[trial],
        "rates": {name: results[name][0, trial] for name in MODELS},
        "latents_fit": {
            name: latent_fit(latents[name][0], true_latents)[1][trial]
            for name in latents
        },
        "loss": {name: hists[name][0][:, 0] for name in latents},
    }
    summary["total_seconds"] = time.perf_counter() - start
    if out_dir is not None:
        write_results(
            out_dir, "langevin_lorenz", config=cfg, rows=rows, summary=summary,
            seed=cfg.seed, wall_seconds=summary["total_seconds"],
            extra={"figure": figure},
        )  # fmt: skip
    return summary


if __name__ == "__main__":
    run_cli(main, Config, __doc__)

"""HMM emulation: noise-driven ReLU RNNs trained to emit an HMM's sequences.

The setting of Torre, Viscione, Pompe, Grewe & Mante (NeurIPS 2025, arXiv
2510.25674): a ReLU RNN without biases, driven only by Gaussian noise, reads out
logits that a hard Gumbel-softmax turns into one symbol per step; it is trained on
the Sinkhorn divergence between batches of whole emitted sequences and batches of
HMM sequences (``dx.train.SinkhornLoss``, blur 0.2 as the paper). For each HMM (a
topology and a number of hidden states of ``dx.tasks.HMMEmission``) an ensemble of
networks (one per seed) trains as one vmapped ``dx.train.fit``. Reported per
network, against the HMM's closed forms and against the same network untrained:

- the emission statistics: per-symbol frequencies, volatility (how often the
  symbol changes) and the symbol transition matrix (``dx.analysis.
  emission_statistics``; errors are maxima of absolute differences);
- the fixed points of the noise-free network (zero input), found by
  ``dx.analysis.find_fixed_points`` from states the noise-driven network visits,
  and the fraction of those states from which the noise-free network decays to
  the origin within ``quiet_len`` steps (the paper reports that activity collapses
  to a single fixed point without noise);
- the orbits: a long noise-driven trajectory (``orbit_len`` steps, longer than the
  training sequences) projected on its first two principal components
  (``dx.analysis.pca``), with the emitted symbols, for the figure; a network whose
  long run blows up (ReLU has no ceiling) is reported as ``orbit_diverged``;
- the kick neurons: ``dx.analysis.kick_neurons`` ablates each unit in one vmapped
  call on the same noise and scores how much of the fast transitions it removes
  (not reported for a diverged orbit).

Differences from the paper: the HMMs are ``dx.tasks.HMMEmission``'s
parameterisation (stay probability, emission purity, symbol ``i mod n_emissions``
for state ``i``), not the paper's exact matrices; the networks are smaller (50
units, 10 noise channels) and train for fewer steps on CPU.

With ``--out DIR``, writes ``hmm_emulation.csv`` (one row per HMM and network) and
``hmm_emulation.json`` (config, versions, rows, summary, trajectories for the
figure); ``analysis/hmm_emulation.py DIR`` draws the figure. Run:
``python experiments/hmm_emulation.py [--small] [--out DIR]`` (the default takes
about 25 minutes on 2 CPU cores; every config field is a flag, see ``--help``).
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

if not __package__:  # run as a file: put the repository root (this checkout) first
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dynax as dx  # noqa: E402
from experiments._common import enable_x64, run_cli, write_results  # noqa: E402


@dataclass
class Config:
    """Sizes of the run (defaults: the full run; ``small()`` for tests)."""

    hmms: list[str] = field(
        default_factory=lambda: [
            "linear:2",
            "linear:3",
            "linear:4",
            "full:3",
            "cyclic:4",
        ]
    )
    n_emissions: int = 3
    stay: float = 0.95
    purity: float = 0.9
    seq_len: int = 30
    noise_dim: int = 10
    n_hidden: int = 50
    n_members: int = 3
    train_steps: int = 1500
    batch_size: int = 256
    learning_rate: float = 3e-3
    blur: float = 0.2
    n_eval: int = 2000
    n_candidates: int = 256
    orbit_len: int = 400
    quiet_len: int = 200
    x64: bool = False
    seed: int = 0

    @classmethod
    def small(cls) -> "Config":
        """A configuration that runs in well under a minute (for tests)."""
        return cls(
            hmms=["linear:2", "cyclic:3"], n_hidden=16, n_members=2, train_steps=20,
            batch_size=32, n_eval=100, n_candidates=32, orbit_len=60, quiet_len=50,
        )  # fmt: skip


def parse_hmm(spec: str) -> tuple[str, int]:
    """``"topology:n_states"`` -> (topology, n_states)."""
    try:
        topology, n = spec.split(":")
        return topology, int(n)
    except ValueError:
        raise ValueError(
            "hmms: expected entries 'topology:n_states' such as 'linear:3', "
            f"got {spec!r}."
        ) from None


def make_task(cfg: Config, spec: str) -> dx.tasks.HMMEmission:
    topology, n_states = parse_hmm(spec)
    return dx.tasks.HMMEmission(
        n_states=n_states, n_emissions=cfg.n_emissions, topology=topology,
        stay=cfg.stay, purity=cfg.purity, n_steps=cfg.seq_len, dt=1.0,
        noise_dim=cfg.noise_dim,
    )  # fmt: skip


def make_ensemble(cfg: Config, key) -> dx.models.VanillaRNN:
    """One ReLU RNN per member; biases stay zero (not trained)."""

    def one(k):
        return dx.models.VanillaRNN(
            cfg.noise_dim, cfg.n_hidden, cfg.n_emissions, activation=jax.nn.relu, key=k
        )

    return dx.make_ensemble(one, jr.split(key, cfg.n_members))


def weights_only(model):
    """Train W, W_in and W_out; keep b and b_out at zero (no biases)."""
    spec = jax.tree_util.tree_map(lambda _: False, model)
    return eqx.tree_at(lambda m: (m.W, m.W_in, m.W_out), spec, (True, True, True))


def emitted(ens, task, key, n: int):
    """Sampled symbol sequences (members, n, time, symbols) and the states."""
    batch = jax.vmap(task.sample)(jr.split(key, n))
    traj = dx.simulate(
        ens, ens.init_state(), task.ts, inputs=batch.inputs, trials=True, ensemble=True
    )
    symbols = dx.train.gumbel_softmax(jr.fold_in(key, 1), traj.outputs)
    return symbols, traj.ys


def errors(stats, task) -> dict:
    """Per-member errors of the statistics against the HMM's closed forms."""
    freq = np.abs(
        np.asarray(stats.frequencies) - np.asarray(task.stationary_emissions())
    )
    trans = np.abs(
        np.asarray(stats.transitions) - np.asarray(task.output_transition_matrix())
    )
    return {
        "frequency_error": freq.max(axis=-1),
        "volatility": np.asarray(stats.volatility),
        "volatility_error": np.abs(
            np.asarray(stats.volatility) - float(task.volatility())
        ),
        "transition_error": trans.max(axis=(-2, -1)),
    }


def run_hmm(cfg: Config, spec: str, key) -> tuple[list[dict], dict]:
    """Train one ensemble on one HMM; rows per member and figure data."""
    k_net, k_fit, k_eval, k_orbit = jr.split(key, 4)
    task = make_task(cfg, spec)
    ens = make_ensemble(cfg, k_net)
    start = time.perf_counter()
    trained, hist = dx.train.fit(
        ens, task, ensemble=True, key=jr.split(k_fit, cfg.n_members),
        optimizer=optax.adam(cfg.learning_rate), n_steps=cfg.train_steps,
        batch_size=cfg.batch_size, loss=dx.train.SinkhornLoss(blur=cfg.blur),
        filter_spec=weights_only(ens), progress=False,
    )  # fmt: skip
    train_seconds = time.perf_counter() - start
    before_syms, _ = emitted(ens, task, k_eval, cfg.n_eval)
    after_syms, states = emitted(trained, task, k_eval, cfg.n_eval)
    before = errors(dx.analysis.emission_statistics(before_syms, ensemble=True), task)
    after_stats = dx.analysis.emission_statistics(after_syms, ensemble=True)
    after = errors(after_stats, task)

    # fixed points of the noise-free map, from visited states
    visited = states.reshape(cfg.n_members, -1, cfg.n_hidden)
    pick = jr.choice(k_orbit, visited.shape[1], (cfg.n_candidates,), replace=False)
    fps = dx.analysis.find_fixed_points(
        trained, visited[:, pick], inputs=jnp.zeros(cfg.noise_dim, visited.dtype),
        ensemble=True,
    )  # fmt: skip
    found = np.asarray(fps.unique & fps.converged)
    n_fixed = found.sum(axis=-1)
    n_stable = (found & np.asarray(fps.stable)).sum(axis=-1)
    # the direct test of "activity collapses without noise": run the noise-free map
    # from the visited states (the Jacobian at a ReLU kink, such as the origin, is
    # one-sided, so stability there is also checked this way)
    quiet = jnp.arange(cfg.quiet_len, dtype=visited.dtype)
    ends = jax.vmap(
        lambda y0: dx.simulate(trained, y0, quiet, ensemble=True).ys[:, -1],
        in_axes=1, out_axes=1,
    )(visited[:, pick])  # fmt: skip
    end_norm = np.asarray(jnp.linalg.norm(ends, axis=-1))  # inf, no NumPy warning
    collapse = np.mean(np.nan_to_num(end_norm, nan=np.inf) < 1e-3, axis=-1)

    # one long noise-driven trajectory per member: orbits and kick neurons
    ts = jnp.arange(cfg.orbit_len, dtype=visited.dtype)
    noise = jr.normal(k_orbit, (cfg.orbit_len, cfg.noise_dim), visited.dtype)
    orbit = dx.simulate(trained, trained.init_state(), ts, inputs=noise, ensemble=True)
    kicks = eqx.filter_vmap(
        lambda m: dx.analysis.kick_neurons(m, m.init_state(), ts, inputs=noise)
    )(trained)
    effect = np.asarray(kicks.effect)
    # a ReLU network trained on short sequences can blow up over a long run: such
    # a member's orbit and kick scores are not reported (simulate flags it)
    orbit_ok = np.asarray(orbit.ok)

    rows, figure = [], {"hmm": spec}
    for i in range(cfg.n_members):
        order = np.argsort(-effect[i])
        ok = bool(orbit_ok[i])
        rows.append(
            {
                "hmm": spec,
                "member": i,
                "failed": bool(np.asarray(hist.failed)[i]),
                "final_loss": float(np.nanmean(hist.loss[-20:, i])),
                **{f"{k}_before": float(v[i]) for k, v in before.items()},
                **{f"{k}_after": float(v[i]) for k, v in after.items()},
                "hmm_volatility": float(task.volatility()),
                "n_fixed_points": int(n_fixed[i]),
                "n_stable_fixed_points": int(n_stable[i]),
                "fraction_collapsing_to_origin": float(collapse[i]),
                "orbit_diverged": not ok,
                "kick_units": [int(u) for u in order[:3]] if ok else [],
                "kick_effect_top": float(effect[i, order[0]]) if ok else None,
                "kick_effect_median": float(np.median(effect[i])) if ok else None,
                "train_seconds": train_seconds,
            }
        )
    # the first member whose orbit stayed finite, on its first two principal
    # components (member 0 if every orbit diverged: the figure says so)
    shown = int(np.argmax(orbit_ok)) if orbit_ok.any() else 0
    ys = orbit.ys[shown]
    proj = dx.analysis.pca(ys, n_components=2).project(ys) if orbit_ok.any() else None
    figure.update(
        member=shown,
        orbit_ok=bool(orbit_ok[shown]),
        pcs=None if proj is None else np.asarray(proj),
        symbols=np.argmax(np.asarray(orbit.outputs[shown]), axis=-1),
        loss=np.asarray(hist.loss[:, shown]),
        transitions=np.asarray(after_stats.transitions[shown]),
        hmm_transitions=np.asarray(task.output_transition_matrix()),
        kick_effect=effect[shown] if orbit_ok.any() else None,
    )
    return rows, figure


def main(cfg: Config, out_dir: Path | None = None) -> dict:
    """Train and analyse every HMM's ensemble; write the results to ``out_dir``."""
    enable_x64(cfg)
    start = time.perf_counter()
    key = jr.PRNGKey(cfg.seed)
    rows, figures = [], []
    for i, spec in enumerate(cfg.hmms):
        r, f = run_hmm(cfg, spec, jr.fold_in(key, i))
        rows += r
        figures.append(f)

    def mean(col):
        return float(np.mean([r[col] for r in rows]))

    summary = {
        "n_rows": len(rows),
        "n_failed": sum(r["failed"] for r in rows),
        **{
            f"mean_{name}_{when}": mean(f"{name}_{when}")
            for name in ("frequency_error", "volatility_error", "transition_error")
            for when in ("before", "after")
        },
        "networks_with_one_stable_fixed_point": sum(
            r["n_stable_fixed_points"] == 1 for r in rows
        ),
        "networks_collapsing_to_origin_from_every_state": sum(
            r["fraction_collapsing_to_origin"] == 1.0 for r in rows
        ),
        "networks_whose_long_orbit_diverged": sum(r["orbit_diverged"] for r in rows),
        "total_seconds": time.perf_counter() - start,
    }
    if out_dir is not None:
        write_results(
            out_dir, "hmm_emulation", config=cfg, rows=rows, summary=summary,
            seed=cfg.seed, wall_seconds=summary["total_seconds"],
            extra={"figures": figures},
        )  # fmt: skip
    return summary


if __name__ == "__main__":
    run_cli(main, Config, __doc__)

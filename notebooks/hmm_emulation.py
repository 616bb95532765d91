# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Noise-driven RNNs that emulate a hidden Markov model
#
# Torre, Viscione, Pompe, Grewe & Mante (NeurIPS 2025) trained ReLU RNNs without
# biases, driven only by noise, to emit the symbol sequences of a hidden Markov
# model. The network's logits are sampled to one symbol per step by a hard
# Gumbel-softmax, and the loss is the **Sinkhorn divergence between batches of whole
# sequences**: the noise carries no information about the targets, so a per-step
# loss can only teach how often each symbol appears, not how long it lasts.
# This notebook shows that difference, then looks inside the trained network: its
# fixed points without noise, its noise-driven orbit and its kick neurons.
#
# Set the environment variable `DYNAX_SMALL=1` for a quick run (the tests do).

# %%
import os

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import matplotlib.pyplot as plt
import numpy as np
import optax

import dynax as dx

SMALL = os.environ.get("DYNAX_SMALL", "0") == "1"
n_steps = 60 if SMALL else 600
n_hidden = 24 if SMALL else 50
n_eval = 300 if SMALL else 2000

# %% [markdown]
# ## The HMM and its emission statistics
# Three hidden states on a linear chain, each mostly emitting its own symbol.
# `HMMEmission` gives the statistics of its symbol sequence in closed form; the
# empirical statistics of sampled sequences agree.

# %%
task = dx.tasks.HMMEmission(
    n_states=3, n_emissions=3, topology="linear", stay=0.95, purity=0.9,
    n_steps=30, dt=1.0, noise_dim=10,
)  # fmt: skip
hmm_batch = jax.vmap(task.sample)(jr.split(jr.PRNGKey(0), n_eval))
sampled = dx.analysis.emission_statistics(hmm_batch.targets)
print("symbol frequencies: closed form", np.round(task.stationary_emissions(), 3),
      "sampled", np.round(sampled.frequencies, 3))  # fmt: skip
print(f"volatility: closed form {float(task.volatility()):.3f}, "
      f"sampled {float(sampled.volatility):.3f}")  # fmt: skip

# %% [markdown]
# ## Two networks, two losses
# Two copies of the same ReLU network (biases held at zero: only `W`, `W_in` and
# `W_out` train), one trained with per-step cross-entropy, one with
# `dx.train.SinkhornLoss()` (blur 0.2 and Gumbel temperature 1, as the paper).

# %%
net = dx.models.VanillaRNN(10, n_hidden, 3, activation=jax.nn.relu, key=jr.PRNGKey(1))
weights = eqx.tree_at(
    lambda m: (m.W, m.W_in, m.W_out),
    jax.tree_util.tree_map(lambda _: False, net),
    (True, True, True),
)
common = dict(
    optimizer=optax.adam(3e-3), n_steps=n_steps, batch_size=256, key=jr.PRNGKey(2),
    filter_spec=weights, progress=False,
)  # fmt: skip
per_step, _ = dx.train.fit(net, task, **common)  # cross-entropy: task.loss_kind
sinkhorn, history = dx.train.fit(net, task, loss=dx.train.SinkhornLoss(), **common)


def emitted(model, key):
    """Symbol sequences sampled from the network's logits, and its states."""
    batch = jax.vmap(task.sample)(jr.split(key, n_eval))
    traj = dx.simulate(
        model, model.init_state(), task.ts, inputs=batch.inputs, trials=True
    )
    return dx.train.gumbel_softmax(jr.fold_in(key, 1), traj.outputs), traj.ys


stats = {"HMM": sampled}
for name, model in [("cross-entropy", per_step), ("Sinkhorn", sinkhorn)]:
    stats[name] = dx.analysis.emission_statistics(emitted(model, jr.PRNGKey(3))[0])
for name, s in stats.items():
    print(f"{name:>13}: frequencies {np.round(s.frequencies, 3)}, "
          f"volatility {float(s.volatility):.3f}")  # fmt: skip

# %% [markdown]
# Both networks get the frequencies about right. The cross-entropy network emits
# every step independently (volatility near that of i.i.d. symbols); only the
# Sinkhorn loss sees whole sequences, so only it pushes the network towards the
# HMM's dwell times (the diagonal of the transition matrix). On a 3-state chain
# the default 600 steps get part of the way (full run: volatility 0.64 for
# cross-entropy, 0.47 for Sinkhorn, 0.22 for the HMM); a 2-state chain is matched
# closely (`experiments/hmm_emulation.py`).

# %%
fig, axes = plt.subplots(1, 4, figsize=(14, 3.4), layout="constrained")
for ax, (name, s) in zip(axes[:3], stats.items(), strict=True):
    im = ax.imshow(np.asarray(s.transitions), vmin=0, vmax=1, cmap="viridis")
    ax.set_title(f"{name}: next-symbol law")
    ax.set_xlabel("next symbol")
    ax.set_ylabel("symbol")
fig.colorbar(im, ax=axes[:3], shrink=0.8)
axes[3].bar(list(stats), [float(s.volatility) for s in stats.values()],
            color=["k", "tab:orange", "tab:green"])  # fmt: skip
axes[3].set_ylabel("volatility (symbol changes per step)")
plt.show()

# %% [markdown]
# ## Without noise: activity collapses
# Torre et al. found that without input a trained network's activity collapses to
# a single fixed point. A ReLU network without biases always has the origin as a
# fixed point; the question is whether everything else flows there. Fixed points
# are searched from states the noise-driven network visits, and the same states
# are run forward with the noise switched off.

# %%
_, states = emitted(sinkhorn, jr.PRNGKey(4))
candidates = dx.analysis.sample_candidates(states, 128, noise=0.1, key=jr.PRNGKey(5))
fps = dx.analysis.find_fixed_points(sinkhorn, candidates, inputs=jnp.zeros(10))
u = dx.analysis.unique_fixed_points(fps)
print(f"{len(u.points)} fixed point(s); largest |x| among them "
      f"{float(np.abs(u.points).max()):.1e}")  # fmt: skip
quiet = jax.vmap(lambda y0: dx.simulate(sinkhorn, y0, jnp.arange(200.0)).ys[-1])(
    candidates
)
print("noise-free runs ending within 1e-3 of the origin:",
      f"{float(jnp.mean(jnp.linalg.norm(quiet, axis=1) < 1e-3)):.0%}")  # fmt: skip

# %% [markdown]
# ## With noise: an orbit, and the units that kick it along
# A noise-driven run four training sequences long, projected on its first two
# principal components and coloured by the most probable symbol.
# `dx.analysis.kick_neurons` ablates every unit in one vmapped call, on the same
# noise, and scores how much of the fast transitions (the top quarter of the
# speed) each ablation removes. A ReLU network has no ceiling: trained on short
# sequences, it can blow up on long runs, which `simulate` flags (`run.ok`).

# %%
ts = jnp.arange(120.0)
noise = jr.normal(jr.PRNGKey(6), (120, 10))
run = dx.simulate(sinkhorn, sinkhorn.init_state(), ts, inputs=noise)
print("the run stayed finite:", bool(run.ok))
finite = int(np.argmin(np.all(np.isfinite(run.ys), axis=1))) if not run.ok else 120
ys, ts, noise = run.ys[:finite], ts[:finite], noise[:finite]
pcs = dx.analysis.pca(ys, n_components=2).project(ys)
symbol = np.asarray(jnp.argmax(run.outputs[:finite], axis=-1))
kicks = dx.analysis.kick_neurons(sinkhorn, sinkhorn.init_state(), ts, inputs=noise)
order = np.argsort(-np.asarray(kicks.effect))
print(
    "strongest kick units:", order[:3], np.round(np.asarray(kicks.effect)[order[:3]], 2)
)

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
ax1.plot(pcs[:, 0], pcs[:, 1], color="0.8", lw=0.6)
for s in range(3):
    ax1.scatter(pcs[symbol == s, 0], pcs[symbol == s, 1], s=6, label=f"symbol {s}")
ax1.set_xlabel("PC 1")
ax1.set_ylabel("PC 2")
ax1.legend()
ax1.set_title("noise-driven trajectory")
ax2.bar(np.arange(n_hidden), np.asarray(kicks.effect)[order], color="tab:purple")
ax2.set_xlabel("unit (sorted)")
ax2.set_ylabel("ablation effect on fast transitions")
ax2.set_title("kick neurons")
plt.show()

# %% [markdown]
# `experiments/hmm_emulation.py` runs this for ensembles on several HMM topologies
# (linear chains of 2-4 states, fully connected, cyclic) and
# `analysis/hmm_emulation.py` draws the summary figure.

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
# # Fixed points of a whole ensemble of trained RNNs
#
# Sussillo & Barak (2013) reverse-engineered an RNN trained on the 3-bit flip-flop by
# finding its fixed points: one stable point per memory (the 8 corners of a cube in
# output space) and saddles between neighbouring memories. This notebook trains an
# ensemble of continuous-time RNNs with `dx.train.fit`, finds the fixed points of
# **every member in one call** of `dx.analysis.find_fixed_points`, plots them in
# each member's PCA space, and checks the memories' stability with the Lyapunov
# spectrum.
#
# Set the environment variable `DYNAX_SMALL=1` for a quick run (the tests do).

# %%
import os

import jax
import jax.numpy as jnp
import jax.random as jr
import matplotlib.pyplot as plt
import numpy as np
import optax

import dynax as dx

SMALL = os.environ.get("DYNAX_SMALL", "0") == "1"
n_members = 2 if SMALL else 8
n_steps = 150 if SMALL else 500
n_candidates = 128 if SMALL else 1024

# %% [markdown]
# ## Train the ensemble
# All members train at once (one compiled program). A member that fails to learn
# the task is reported, not dropped. Private noise during training (`sigma_rec`)
# pushes the state off anything that is not an attractor, so the networks learn
# eight true memories rather than slow drifts that happen to pass the score.

# %%
task = dx.tasks.FlipFlop(n_bits=3, n_steps=150, p_pulse=0.04, dt=0.1, settle_steps=2)
ensemble = dx.make_ensemble(
    lambda k: dx.models.CTRNN(3, 32, 3, tau=0.3, g=0.9, sigma_rec=0.1, key=k),
    jr.split(jr.PRNGKey(0), n_members),
)
ensemble, history = dx.train.fit(
    ensemble,
    task,
    optimizer=optax.chain(optax.clip_by_global_norm(1.0), optax.adam(1e-2)),
    n_steps=n_steps,
    batch_size=32,
    key=jr.PRNGKey(1),
    ensemble=True,
    progress=False,
)
accuracy = dx.train.evaluate(ensemble, task, key=jr.PRNGKey(2), ensemble=True).score
print("held-out accuracy per member:", np.round(np.asarray(accuracy), 4))

# %% [markdown]
# ## Does each member really hold eight memories?
# The sign score pools every time step of ordinary trials, where a bit rarely has
# to be held for long: a network can score 1.000 with a memory that slowly drifts
# away. `dx.train.memory_retention` sets each of the 8 patterns and holds the input
# at zero for 1 and 16 trial lengths.

# %%
retention = dx.train.memory_retention(
    ensemble, task, hold_steps=(150, 16 * 150), ensemble=True
)
for i in range(n_members):
    held = np.asarray(retention.held[i, :, -1])
    lost = [
        "".join("+" if b > 0 else "-" for b in p)
        for p in np.asarray(retention.patterns)[~held]
    ]
    print(
        f"member {i}: holds {int(retention.n_held[i])}/8 patterns for 16 trials"
        + (f" (loses {', '.join(lost)})" if lost else "")
    )

# %% [markdown]
# ## Candidates and fixed points
# Candidates are states the networks visit on held-out trials, plus noise
# (FixedPointFinder's recipe). The input is held at zero: the memory periods.

# %%
trials = jax.vmap(task.sample)(jr.split(jr.PRNGKey(3), 64))
states = dx.simulate(  # every member on every trial: (members, trials, time, units)
    ensemble,
    ensemble.init_state(),
    task.ts,
    inputs=trials.inputs,
    ensemble=True,
    trials=True,
).ys
candidates = jax.vmap(
    lambda ys, k: dx.analysis.sample_candidates(ys, n_candidates, noise=0.5, key=k)
)(states, jr.split(jr.PRNGKey(4), n_members))
fps = dx.analysis.find_fixed_points(
    ensemble, candidates, inputs=jnp.zeros(3), ensemble=True, max_points=64
)
per_member = dx.analysis.unique_fixed_points(fps, ensemble=True)
for i, u in enumerate(per_member):
    counts = np.bincount(u.n_unstable, minlength=3)
    print(
        f"member {i}: {len(u.points)} fixed points, {counts[0]} stable, "
        f"{counts[1]} saddles with one unstable mode, "
        f"{int(fps.n_unique[i]) - len(u.points)} slow points; "
        f"{int(retention.n_held[i])}/8 patterns held for 16 trials"
    )

# %% [markdown]
# Each stable point should hold one memory: its readout has a distinct sign
# pattern.

# %%
for i, u in enumerate(per_member):
    member = dx.member(ensemble, i)
    outputs = np.asarray(jax.vmap(member.readout)(u.points[u.stable]))
    patterns = {tuple(np.sign(o).astype(int)) for o in outputs}
    print(f"member {i}: {len(patterns)} distinct memories among the stable points")

# %% [markdown]
# ## The fixed points in PCA space (Sussillo & Barak's picture)
# Firing rates `tanh(x)` on held-out trials, projected onto their top three principal
# components: the stable points (filled) sit at the corners of a cube, one per
# memory, with the saddles (open) between neighbouring corners. Beside it, the memory
# test: how many of the 8 patterns each member holds with the input at zero.

# %%
best = int(np.argmax(np.asarray(retention.n_held)))
u = per_member[best]
fig = plt.figure(figsize=(12, 5), layout="constrained")
ax3 = fig.add_subplot(1, 2, 1, projection="3d")
dx.plot.trajectories_pca(
    np.tanh(np.asarray(states[best])[:24]),
    np.tanh(np.asarray(u.points)),
    stable=np.asarray(u.stable),
    n_components=3,
    ax=ax3,
    title=f"member {best}: firing rates and fixed points",
)
ax = fig.add_subplot(1, 2, 2)
holds = np.asarray(retention.held).sum(axis=1)  # (members, hold lengths)
width = 0.38
for j, (label, hold) in enumerate(zip(("1 trial", "16 trials"), holds.T, strict=True)):
    ax.bar(np.arange(n_members) + (j - 0.5) * width, hold, width, label=f"held {label}")
ax.axhline(8, color="k", ls=":", lw=0.8)
ax.set_xlabel("member")
ax.set_ylabel("patterns held (of 8)")
ax.set_xticks(np.arange(n_members))
ax.set_ylim(0, 8.5)
ax.set_title("memory test at zero input")
ax.legend(loc="lower right", fontsize="small")
fig.savefig("fixed_points.png", dpi=120)
plt.show()

# %% [markdown]
# ## Linearisation and Lyapunov spectra
# The slowest mode of a memory sets how long it lasts without input; the saddles'
# single unstable mode is what a pulse kicks the state along.


# %%
def a_memory(u):
    """A stable point (or, for a member that has none, its slowest point)."""
    stable = np.flatnonzero(u.stable)
    return u.points[stable[0] if len(stable) else 0]


u = per_member[0]
memory = a_memory(u)
lin = dx.analysis.linearise(dx.member(ensemble, 0), memory, inputs=jnp.zeros(3))
print("slowest time constants at a memory:", np.round(lin.time_constants[:3], 3))
saddle_index = np.flatnonzero(u.n_unstable == 1)
if len(saddle_index):
    saddle = dx.analysis.linearise(
        dx.member(ensemble, 0), u.points[saddle_index[0]], inputs=jnp.zeros(3)
    )
    print("a saddle's unstable growth time:", np.round(-saddle.time_constants[0], 3))

# From a memory (nudged off it) the autonomous network's Lyapunov exponents are the
# real parts of the Jacobian's leading eigenvalues there: one call for all members.
memories = jnp.stack([a_memory(u) for u in per_member])
n_lyap = 200 if SMALL else 2000
spectrum = dx.analysis.lyapunov_spectrum(
    ensemble,
    memories + 1e-3,
    dt=0.05,
    n_steps=n_lyap,
    n_transient=n_lyap,
    n_exponents=3,
    inputs=jnp.zeros((2 * n_lyap, 3)),
    ensemble=True,
)
for i in range(n_members):
    lin_i = dx.analysis.linearise(
        dx.member(ensemble, i), memories[i], inputs=jnp.zeros(3)
    )
    print(
        f"member {i}: Lyapunov {np.round(spectrum.exponents[i], 3)}, "
        f"Re eigenvalues {np.round(np.real(lin_i.eigvals[:3]), 3)}"
    )

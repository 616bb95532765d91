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
# # Solution degeneracy: how different are networks that solve the same task?
#
# Networks trained on one task from different initialisations reach the same score
# with different solutions. Huang, Singh, Martinelli & Rajan (NeurIPS 2025) measure
# how different at three levels:
#
# - **behaviour**: the spread across networks of the error on out-of-distribution
#   trials, where the solutions are pushed beyond what training constrained;
# - **dynamics**: Dynamical Similarity Analysis (DSA; Ostrow et al., NeurIPS 2023)
#   between the networks' hidden-state trajectories on the same trials: the angle
#   between their fitted linear operators after the best orthogonal change of
#   coordinates (0 for the same dynamics seen in other coordinates, at most $\pi$);
# - **weights**: the distance between recurrent matrices after the best relabelling
#   (and, for tanh units, sign flip) of the hidden units, since the order of the units
#   is arbitrary.
#
# This notebook trains a small ensemble of continuous-time RNNs on a flip-flop task in
# one call, measures all three levels (plus the representational baselines, linear
# CKA and the Procrustes shape distance) with one call of
# `dx.analysis.degeneracy_report`, and, in the same call, two controls whose answers
# are known: a relabelled copy of a trained network (the same solution: every
# distance should be zero) and that network's own untrained initialisation (a
# different system).
#
# Set the environment variable `DYNAX_SMALL=1` for a quick run (the tests do): 4
# networks of 16 units on a 1-bit flip-flop, briefly trained. Read its numbers as a
# demonstration of the method; the full size (8 networks of 64 units, 3 bits, 1500
# training steps; about 8 minutes on 2 busy CPU cores) is where the comparisons
# below are made.

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
n_members = 4 if SMALL else 8
n_hidden = 16 if SMALL else 64
n_bits = 1 if SMALL else 3
n_steps = 200 if SMALL else 1500  # a multiple of fit's 100-step chunks
trial_steps = 40 if SMALL else 100
n_trials, n_ood_trials = (8, 32) if SMALL else (32, 128)
n_delays, rank = (5, 8) if SMALL else (10, 16)  # DSA's delay embedding and rank

# %% [markdown]
# ## Train the ensemble
# Every member has its own initialisation and, with `independent_batches=True`, its
# own training trials; all of them train in one compiled program. The time constants
# are fixed (`learn_tau=False`): a learned $\tau$ is free to fall below half the
# integration step ($\Delta t = 0.1$ here), where the Euler-discretised network is
# no longer an approximation of the ODE, and in a trial run one member of this
# ensemble did exactly that (one unit with $\tau = 0.04$, whose state then
# alternated in sign and grew without bound).

# %%
task = dx.tasks.FlipFlop(n_bits=n_bits, n_steps=trial_steps)


def make_net(key):
    return dx.models.CTRNN(
        n_bits,
        n_hidden,
        n_bits,
        tau=0.5,
        g=1.2,
        sigma_rec=0.05,
        learn_tau=False,
        key=key,
    )


initial = dx.make_ensemble(make_net, jr.split(jr.PRNGKey(0), n_members))
trained, history = dx.train.fit(
    initial,
    task,
    optimizer=optax.chain(optax.clip_by_global_norm(1.0), optax.adam(1e-2)),
    n_steps=n_steps,
    batch_size=16,
    key=jr.PRNGKey(1),
    ensemble=True,
    independent_batches=True,
    progress=False,
)
fig = dx.plot.loss_curves(
    history.loss, title=f"{n_members} CTRNNs, {n_bits}-bit flip-flop"
)
plt.show()

# %% [markdown]
# ## Two controls with known answers
# - **"0 relabelled"**: member 0 with its hidden units shuffled and some of them
#   sign-flipped (for tanh units, negating a unit's state, its incoming weights and
#   bias, and its outgoing weights computes the same function). It is the same
#   solution, so its behaviour is identical, DSA should be ~0, and the weight distance
#   after matching should be ~0, although the raw weight matrices differ.
# - **"0 at init"**: member 0's own initialisation before training: a different
#   dynamical system that starts from the same random weights.
#
# Both are appended to the trained ensemble (array leaves concatenated along the
# member axis), so one report measures everything.


# %%
def relabel(net, perm, signs):
    """Unit i of the result is unit perm[i] of net, times signs[i]."""
    q = signs[:, None] * np.eye(len(perm))[perm]  # a signed permutation matrix
    return eqx.tree_at(
        lambda m: (m.W, m.W_in, m.b, m.W_out, m.log_tau),
        net,
        (
            jnp.asarray(q @ np.asarray(net.W) @ q.T),
            jnp.asarray(q @ np.asarray(net.W_in)),
            jnp.asarray(q @ np.asarray(net.b)),
            jnp.asarray(np.asarray(net.W_out) @ q.T),
            jnp.asarray(np.asarray(net.log_tau)[perm]),
        ),
    )


def concatenate(*nets):
    """Stack ensembles (or single networks, given a leading axis) into one."""
    arrays = [eqx.filter(n, eqx.is_array) for n in nets]
    stacked = jax.tree.map(lambda *xs: jnp.concatenate(xs), *arrays)
    return eqx.combine(stacked, eqx.filter(nets[0], eqx.is_array, inverse=True))


def as_ensemble(net):
    return jax.tree.map(lambda x: x[None] if eqx.is_array(x) else x, net)


rng = np.random.default_rng(0)
perm = rng.permutation(n_hidden)
signs = np.where(rng.random(n_hidden) < 0.5, -1.0, 1.0)
member0 = dx.member(trained, 0)
copy0 = relabel(member0, perm, signs)
init0 = dx.member(initial, 0)
nets = concatenate(trained, as_ensemble(copy0), as_ensemble(init0))
labels = [str(i) for i in range(n_members)] + ["0 relabelled", "0 at init"]
print("members in the report:", labels, " W:", nets.W.shape)

# %% [markdown]
# ## One call: behaviour, dynamics, weights
# `degeneracy_report` runs every member on `n_ood_trials` out-of-distribution trials
# (`task.ood()`: 4x longer trials with half the pulse rate, so memories must be held
# for longer than in training) and on `n_trials` shared in-distribution trials
# (without noise), then computes DSA between every pair of state trajectories, the
# permutation-invariant weight distance between every pair, and CKA and Procrustes
# on the same states.

# %%
report = dx.analysis.degeneracy_report(
    nets,
    task,
    key=jr.PRNGKey(2),
    n_trials=n_trials,
    n_ood_trials=n_ood_trials,
    n_delays=n_delays,
    rank=rank,
)
ood_error = np.asarray(report.ood_error)
dsa = np.asarray(report.dsa.scores)
weights = np.asarray(report.weight_distance.distance)
cka = np.asarray(report.cka)
procrustes = np.asarray(report.procrustes)

# The three summary numbers over the trained members only (the numbers that
# `degeneracy_report(trained, ...).summary()` gives for the ensemble alone):
n = n_members
pairs = ~np.eye(n, dtype=bool)
print(f"behaviour: SD of the OOD error     {ood_error[:n].std():.4f}", end="")
print(f"  (mean OOD error {ood_error[:n].mean():.4f})")
print(f"dynamics:  mean pairwise DSA angle {dsa[:n, :n][pairs].mean():.4f} rad")
print(f"weights:   mean pairwise distance  {weights[:n, :n][pairs].mean():.4f}")
print(f"(mean CKA {cka[:n, :n][pairs].mean():.3f},", end=" ")
print(f"mean Procrustes angle {procrustes[:n, :n][pairs].mean():.3f} rad)")
converged = np.asarray(report.dsa.converged)[np.triu_indices(len(labels), 1)]
print(
    f"DSA's minimiser met its tolerance on {converged.sum()} of {converged.size} pairs"
)

# %% [markdown]
# ## The controls: do the measures say what they should?

# %%
c, z = n, n + 1  # rows of the relabelled copy and of the initialisation
match = dx.analysis.permutation_distance(member0, copy0)
print("units of the copy matched back to their original labels:",
      np.array_equal(np.asarray(match.permutation), np.argsort(perm)))  # fmt: skip
raw = np.linalg.norm(member0.W - copy0.W) / np.linalg.norm(member0.W)
print(f"raw |W_0 - W_copy| / |W_0| before matching: {raw:.3f}\n")


def spread(v):
    return f"{v.min():.3f}-{v.max():.3f}"


print("member 0 against        OOD error   DSA (rad)   weights   CKA    Procrustes")
for name, j in (("itself, relabelled", c), ("its initialisation", z)):
    print(
        f"{name:22s} {ood_error[j]:9.3f} {dsa[0, j]:11.2e} {weights[0, j]:9.2e}",
        f"{cka[0, j]:6.3f} {procrustes[0, j]:9.2e}",
    )
others = slice(1, n)
print(
    f"{'members 1-' + str(n - 1):22s} {spread(ood_error[others]):>9s}",
    f"{spread(dsa[0, others]):>11s} {spread(weights[0, others]):>9s}",
    f"{spread(cka[0, others]):>6s} {spread(procrustes[0, others]):>9s}",
)
print(f"\nmember 0 itself: OOD error {ood_error[0]:.3f}")
print(
    f"member 0's initialisation vs members 1-{n - 1}: weight distance",
    f"{weights[z, others].mean():.3f}; unrelated random matrices of equal norm:",
    f"about sqrt(2) = {np.sqrt(2):.3f}",
)

# %% [markdown]
# ## The distance matrices
# Trained members first, then the two controls (outlined). Each matrix is symmetric
# with a zero (or, for CKA, a one) diagonal.


# %%
def heatmap(ax, m, title, cmap, fmt=".2f"):
    im = ax.imshow(m, cmap=cmap)
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize="small")
    ax.set_yticks(range(len(labels)), labels, fontsize="small")
    ax.axhline(n - 0.5, color="k", lw=1.5)
    ax.axvline(n - 0.5, color="k", lw=1.5)
    for i in range(len(labels)):
        for j in range(len(labels)):
            r, g, b, _ = im.cmap(im.norm(m[i, j]))
            ink = "k" if 0.3 * r + 0.6 * g + 0.1 * b > 0.5 else "w"
            ax.text(j, i, format(m[i, j], fmt), ha="center", va="center",
                    fontsize=6, color=ink)  # fmt: skip
    ax.set_title(title, fontsize="medium")
    return im


fig, axes = plt.subplots(2, 3, figsize=(14, 9), layout="constrained")
ax = axes[0, 0]
colours = ["C0"] * n + ["C2", "C3"]
ax.bar(range(len(labels)), ood_error, color=colours)
ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize="small")
ax.set_ylabel("OOD error (1 − sign accuracy)")
ax.set_title("behaviour: out-of-distribution error")
panels = [
    (axes[0, 1], dsa, "dynamics: DSA angle (rad)", "viridis"),
    (axes[0, 2], weights, "weights: distance after matching units", "viridis"),
    (axes[1, 0], cka, "representation: linear CKA (similarity)", "viridis_r"),
    (axes[1, 1], procrustes, "representation: Procrustes angle (rad)", "viridis"),
]
for ax, m, title, cmap in panels:
    fig.colorbar(heatmap(ax, m, title, cmap), ax=ax, shrink=0.8)
ax = axes[1, 2]
ops = np.asarray(report.dsa.A)  # every member's DMD operator, (members, rank, rank)
eig = np.linalg.eigvals(ops[[0, z, c]])
dx.plot.eigenvalues(
    eig[:2],
    kind="map",
    ax=ax,
    labels=["member 0", "0 at init"],
    title=f"eigenvalues of the DMD operators (rank {report.dsa.rank})",
)
ax.scatter(
    eig[2].real,
    eig[2].imag,
    s=60,
    facecolors="none",
    edgecolors="k",
    label="0 relabelled",
)
ax.legend(loc="lower left", fontsize="small")
fig.suptitle(f"Degeneracy of {n_members} trained CTRNNs ({n_hidden} units)")
plt.show()

# %% [markdown]
# How to read it:
#
# - **The relabelled copy** is at ~0 from member 0 on every measure (DSA to float32
#   round-off, weights exactly), although its raw weight matrix is as far from member
#   0's as an unrelated one: the weight distance does not see the order or sign of
#   the units, and DSA, CKA and Procrustes do not see an orthogonal change of
#   coordinates of the states. Its DMD eigenvalues (circles) sit on member 0's.
# - **Member 0's initialisation** fails the task (an OOD error near chance, 0.5).
#   At the small size it is member 0's nearest neighbour in weight space, since
#   brief training moves the weights little, and DSA puts it only a little farther
#   than the trained members. In our full-size run training moved the weights as
#   far as the distance between two trained members (1.13 against 1.04-1.10), and
#   the initialisation was ten times farther from member 0 in DSA (0.46 rad) than
#   any trained member (0.02-0.05 rad), with a CKA of 0.14 against 0.97-0.99.
# - **Weights against dynamics.** Trained members are far apart in weight space
#   even after matching their units (about 1.07 in our full-size run; unrelated
#   random matrices of equal norm are at about $\sqrt 2$, the value the
#   initialisation shows against members 1 to 7), while their dynamics are close:
#   the same task solved by the same dynamics in very different weights.
#   Behaviourally they are nearly interchangeable here (OOD errors 0.006-0.017 in our
#   full-size run); longer trials or harder tasks stress the solutions more.
# - **Convergence.** DSA's Procrustes minimiser stops at `max_iter` (500) on pairs
#   where its angle still falls by more than `tol` per 25 iterations; the score of
#   such a pair is the best angle found, an upper bound (pass
#   `dsa_options={"max_iter": 2000}` to push further).
#
# `experiments/degeneracy.py` trains a grid of task complexity x network size x L2
# regularisation, and `analysis/degeneracy.py` draws how the three levels change
# with them (Huang et al.'s trends).

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
# # Quickstart: one RNN, then an ensemble trained in one call
#
# This page walks through the basics of dynax:
#
# 1. build a continuous-time RNN and simulate it;
# 2. train a small **ensemble** of them on the 2-bit flip-flop task with a single
#    call of `dx.train.fit` (all members in one compiled program, no Python loop);
# 3. look at the loss curves, score the networks on held-out trials and plot what
#    they do;
# 4. take one network out of the ensemble, and see how a member that fails is
#    reported without harming the others.
#
# Set the environment variable `DYNAX_SMALL=1` for a quick run (the tests do).

# %%
import os

import jax.numpy as jnp
import jax.random as jr
import matplotlib.pyplot as plt
import numpy as np
import optax

import dynax as dx

SMALL = os.environ.get("DYNAX_SMALL", "0") == "1"
n_members = 3 if SMALL else 8
n_hidden = 24 if SMALL else 64
n_train_steps = 200 if SMALL else 1000

# %% [markdown]
# ## One network
# `dx.models.CTRNN` is the rate network
# $\tau \dot x = -x + W \tanh(x) + W_\text{in} u(t) + b$ with readout
# $y = W_\text{out} \tanh(x) + b_\text{out}$, and $W_{ij} \sim \mathcal N(0, g^2/N)$
# at initialisation. A model is an [equinox](https://docs.kidger.site/equinox/)
# module: its parameters are its fields.
#
# `dx.simulate(model, y0, ts, inputs=...)` integrates it (Euler steps on the grid
# `ts` by default; any diffrax solver via `solver=`). Inputs are sampled on `ts`
# and held constant over each step. Below, the network starts from a random state,
# and input channel 0 gets a pulse between t = 10 and t = 12.

# %%
net = dx.models.CTRNN(n_in=2, n_hidden=64, n_out=2, tau=1.0, g=1.5, key=jr.PRNGKey(0))
ts = jnp.linspace(0.0, 30.0, 301)  # time in units of tau
u = jnp.zeros((301, 2)).at[100:120, 0].set(1.0)
traj = dx.simulate(net, jr.normal(jr.PRNGKey(1), (64,)), ts, inputs=u)
print("states", traj.ys.shape, "outputs", traj.outputs.shape)
print("the solve stayed finite:", bool(traj.ok))

fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), layout="constrained")
axes[0].plot(ts, np.tanh(np.asarray(traj.ys[:, :8])), lw=1)
axes[0].axvspan(10, 12, color="0.85", label="input pulse (channel 0)")
axes[0].set(xlabel="time (τ)", ylabel="rate tanh(x)", title="8 of 64 units")
axes[0].legend(loc="upper right", fontsize="small")
axes[1].plot(ts, np.asarray(traj.outputs), label=["y₁", "y₂"])
axes[1].axvspan(10, 12, color="0.85")
axes[1].set(xlabel="time (τ)", ylabel="output", title="readout (untrained)")
axes[1].legend(loc="upper right", fontsize="small")
plt.show()

# %% [markdown]
# ## The task: a 2-bit flip-flop
# Each of the two input channels carries occasional +1 or -1 pulses; the matching
# output must hold the sign of the last pulse until the next one (Sussillo & Barak
# 2013). `task.sample(key)` returns one trial as a `TaskBatch(inputs, targets,
# mask)` on the time grid `task.ts`; the mask leaves out the two steps after each
# pulse, when the output is still switching. We keep one trial aside for a plot
# below (its key is not used in training).

# %%
task = dx.tasks.FlipFlop(n_bits=2, n_steps=40 if SMALL else 100, p_pulse=0.1, dt=0.1)
test = task.sample(jr.PRNGKey(2))
print("inputs", test.inputs.shape, "targets", test.targets.shape, "dt", task.dt)

# %% [markdown]
# ## Train an ensemble in one call
# `dx.make_ensemble` builds one network per key and stacks them into a single
# PyTree: every array gets a leading member axis. `dx.train.fit(...,
# ensemble=True)` then trains all members at once. Optimiser settings can differ
# per member: here each member gets its own Adam learning rate.

# %%
nets = dx.make_ensemble(
    lambda k: dx.models.CTRNN(2, n_hidden, 2, tau=0.3, g=0.9, key=k),  # tau: 3 steps
    jr.split(jr.PRNGKey(3), n_members),
)
print("W of all members:", nets.W.shape)
learning_rates = jnp.logspace(-2.5, -1.75, n_members)  # 3.2e-3 to 1.8e-2
trained, history = dx.train.fit(
    nets,
    task,
    optimizer=optax.adam,
    hyperparams={"learning_rate": learning_rates},
    n_steps=n_train_steps,
    batch_size=16,
    key=jr.PRNGKey(4),
    ensemble=True,
)
print("loss curves:", history.loss.shape, "| failed members:", history.failed)

dx.plot.loss_curves(
    history.loss,
    failed=history.failed,
    labels=[f"lr {lr:.1e}" for lr in np.asarray(learning_rates)],
    title="training loss per member (masked MSE)",
)
plt.show()

# %% [markdown]
# ## Evaluate on held-out trials
# `dx.train.evaluate` scores every member on the same fresh trials (from a key not
# used in training). For the flip-flop the score is the fraction of time steps
# and bits (outside the mask, after a bit's first pulse) where the output has the
# target's sign; chance is 0.5.

# %%
result = dx.train.evaluate(
    trained, task, key=jr.PRNGKey(5), n_trials=64 if SMALL else 256, ensemble=True
)
for i in range(n_members):
    print(
        f"member {i} (lr {float(learning_rates[i]):.1e}): "
        f"accuracy {float(result.score[i]):.3f}, loss {float(result.loss[i]):.4f}"
    )

# %% [markdown]
# One held-out trial, every member at once: `dx.simulate(..., ensemble=True)`
# returns outputs of shape (members, time, outputs). Each panel is one bit: its
# input pulses, the target, and each member's output.

# %%
outputs = dx.simulate(
    trained, trained.init_state(), task.ts, inputs=test.inputs, ensemble=True
).outputs
print("outputs:", outputs.shape)

t = np.asarray(task.ts)
fig, axes = plt.subplots(2, 1, figsize=(9, 5), sharex=True, layout="constrained")
for bit, ax in enumerate(axes):
    ax.bar(t, np.asarray(test.inputs[:, bit]), width=task.dt, align="edge",
           color="0.7", label="input pulses")  # fmt: skip
    ax.step(t, np.asarray(test.targets[:, bit]), where="post", color="k", lw=2,
            ls="--", label="target")  # fmt: skip
    for i in range(n_members):
        ax.plot(t, np.asarray(outputs[i, :, bit]), lw=1, label=f"member {i}")
    ax.set(ylabel=f"bit {bit + 1}", ylim=(-1.5, 1.5))
axes[0].set_title("a held-out trial: inputs, target and every member's output")
axes[-1].set_xlabel(f"time (same units as τ; one step is dt = {task.dt})")
axes[0].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
plt.show()

# %% [markdown]
# ## One member on its own
# `dx.member(ensemble, i)` returns member `i` as an ordinary `CTRNN`; everything
# that takes one network (simulation, training, analysis) takes it.

# %%
best = int(np.argmax(np.asarray(result.score)))
one = dx.member(trained, best)
alone = dx.simulate(one, one.init_state(), task.ts, inputs=test.inputs).outputs
print(f"member {best} is a {type(one).__name__}; its W has shape {one.W.shape}")
print("same outputs as inside the ensemble:", np.allclose(alone, outputs[best]))

# %% [markdown]
# ## When a member fails
# If a member's loss, gradients or parameters become NaN or infinite, `fit`
# freezes that member at its last good parameters, flags it in `history.failed`
# (with the step in `history.failed_step`) and carries on with the others. To
# show this, we break the last member on purpose (an infinite learning rate) and
# rerun 100 steps: it fails at step 0 and stays at its initial parameters (its
# curve is the loss of the untrained network), while the other members' loss
# curves are the same as in the healthy run above. (Too large a learning rate can
# do this by itself: in one of our full-size runs, a member trained at 3.2e-2
# blew up partway through and was flagged the same way.)

# %%
broken = learning_rates.at[-1].set(jnp.inf)
_, bad = dx.train.fit(
    nets,
    task,
    optimizer=optax.adam,
    hyperparams={"learning_rate": broken},
    n_steps=100,
    batch_size=16,
    key=jr.PRNGKey(4),
    ensemble=True,
)
print("failed:", bad.failed, "at step", bad.failed_step)
same = np.allclose(bad.loss[:, :-1], history.loss[:100, :-1])
print("other members' losses unchanged:", same)
dx.plot.loss_curves(
    bad.loss, failed=bad.failed, title="one member broken on purpose (red)"
)
plt.show()

# %% [markdown]
# ## Next
# - [`fixed_points.py`](fixed_points.py): what a trained ensemble computes with, in
#   depth: the 3-bit flip-flop's fixed points (memories and saddles) for every
#   member in one call, a memory test, linearisation and Lyapunov exponents.
# - [`lyapunov.py`](lyapunov.py): Lyapunov spectra, from the Lorenz system to the
#   transition to chaos in random RNNs.
# - [`sweeps.py`](sweeps.py): grids of hyper-parameters and seeds, run locally or
#   on a SLURM cluster.

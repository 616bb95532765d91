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
# # Sweeps: a grid of networks, packed, run, read back and plotted
#
# A sweep trains one network per grid point and seed. `dynax.sweep` packs the members
# that can share one compiled program into vmapped groups, runs the groups (here, in
# this process; `backend="slurm"` sends them to a cluster as a job array), writes one
# row per member and the trained networks to a folder, and reads it all back. On a
# command line the same is `python -m experiments.sweep CONFIG --out DIR`.
#
# Set `DYNAX_SMALL=1` for a quick run (the tests do).

# %%
import os
import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp
import jax.random as jr
import matplotlib.pyplot as plt
import numpy as np

import dynax as dx
from dynax.sweep import plan_sweep, run_sweep

SMALL = os.environ.get("DYNAX_SMALL", "0") == "1"

# %% [markdown]
# ## The config
# A task, a model, training settings, a grid and the seeds. The grid below has two
# network sizes and two learning rates; sizes change the shapes (two programs),
# learning rates do not (they become per-member optimiser settings).

# %%
config = {
    "name": "tutorial",
    "task": "FlipFlop",
    "task_args": {"n_bits": 2, "n_steps": 40 if SMALL else 100},
    "model": "CTRNN",
    "model_args": {"n_hidden": 16, "tau": 0.5, "g": 1.2, "sigma_rec": 0.05},
    "train": {"n_steps": 150 if SMALL else 1500, "batch_size": 16, "log_every": 50},
    "evaluate": {"n_trials": 64 if SMALL else 256},
    "grid": {
        "model_args.n_hidden": [8, 16] if SMALL else [16, 32],
        "train.learning_rate": [3e-3, 1e-2],
    },
    "seeds": 3 if SMALL else 8,
}
plan = plan_sweep(config)
print(plan.describe())

# %% [markdown]
# ## Run it
# Each group is one `dx.train.fit` call on its stacked members. Running the same call
# again on the same folder skips finished groups and resumes an interrupted one from
# its last checkpoint.

# %%
out = Path(tempfile.mkdtemp()) / "tutorial"
run_sweep(config, out, progress=False)
sweep = dx.load_sweep(out)
table = sweep.table
table[["member", "seed", "model_args.n_hidden", "train.learning_rate", "eval_score",
       "eval_loss", "failed", "group"]]  # fmt: skip

# %% [markdown]
# Every member's numbers come from its own key, so the members do not depend on how
# they were grouped. Summaries are one pandas call away:

# %%
table.groupby(["model_args.n_hidden", "train.learning_rate"]).eval_score.agg(
    ["median", "min", "max"]
)

# %% [markdown]
# ## Loss curves and held-out scores

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
failed = table.set_index("member").failed
losses = sweep.losses()
dx.plot.loss_curves(losses, failed=[failed[m] for m in losses], ax=axes[0],
                    title=f"{len(losses)} members")  # fmt: skip
dx.plot.metric_by(table, "train.learning_rate", "eval_score", hue="model_args.n_hidden",
                  ax=axes[1], title="held-out score")  # fmt: skip
plt.show()

# %% [markdown]
# ## The best member, reverse-engineered
# Load the trained network back and find its fixed points from states it visits on
# held-out trials; plot the trajectories and the points in PCA space.

# %%
best = table.member[table.eval_score.idxmax()]
net = sweep.load_member(best)
task = sweep.task(best)
batch = jax.vmap(task.sample)(jr.split(jr.PRNGKey(1), 32))
traj = dx.simulate(net, net.init_state(), task.ts, inputs=batch.inputs, trials=True)
candidates = dx.analysis.sample_candidates(traj.ys, 256, noise=0.05, key=jr.PRNGKey(2))
fps = dx.analysis.find_fixed_points(net, candidates, inputs=jnp.zeros(task.n_in))
found = dx.analysis.unique_fixed_points(fps)
print(f"{best}: {int(found.stable.sum())} stable and {int((~found.stable).sum())} "
      "unstable fixed points")  # fmt: skip
dx.plot.trajectories_pca(np.tanh(traj.ys), np.tanh(found.points), stable=found.stable,
                         title=f"{best}: firing rates, held-out trials")  # fmt: skip
plt.show()

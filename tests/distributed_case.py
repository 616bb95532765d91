"""The ensemble, task and training of tests/test_distributed.py (both sides)."""

import jax.random as jr
import optax

import dynax as dx


def ensemble():
    keys = jr.split(jr.PRNGKey(0), 4)
    return dx.make_ensemble(
        lambda k: dx.models.CTRNN(2, 8, 2, tau=0.5, sigma_rec=0.1, key=k), keys
    )


def task():
    return dx.tasks.FlipFlop(n_bits=2, n_steps=11)


def fit_kwargs():
    return dict(
        optimizer=optax.adam(1e-2), n_steps=6, batch_size=4, log_every=3,
        key=jr.split(jr.PRNGKey(1), 4), ensemble=True, progress=False,
    )  # fmt: skip

"""The compiled part of :func:`dynax.train.fit`: a chunk of training steps as a scan.

Everything here is written for one network (``member_step``) and vmapped over the
ensemble axis; failure isolation is a per-member select, so a member whose loss,
gradient or new parameters are non-finite keeps its previous parameters and
optimiser state from that step on, and the other members never see it.
"""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import jax.tree_util as jtu

from .._simulate import simulate


class Carry(eqx.Module):
    """The training state carried from step to step (every leaf has a member axis)."""

    params: Any
    opt_state: Any
    failed: jax.Array
    failed_step: jax.Array


class StepSpec(eqx.Module):
    """Static description of one training step (hashable: no arrays)."""

    task: Any
    loss: Callable
    regularizer: Any
    optimizer: Any
    batch_size: int = eqx.field(static=True)
    noise: bool = eqx.field(static=True)
    independent_batches: bool = eqx.field(static=True)
    sim_kwargs: tuple = eqx.field(static=True)


def make_optimizer(optimizer, hp):
    """``optimizer`` itself, or ``optimizer(**hp)`` for per-member hyper-parameters."""
    return optimizer if hp is None else optimizer(**hp)


def _all_finite(tree) -> jax.Array:
    leaves = [jnp.all(jnp.isfinite(x)) for x in jtu.tree_leaves(tree)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.asarray(True)


def _select(pred, on_true, on_false):
    return jtu.tree_map(lambda a, b: jnp.where(pred, a, b), on_true, on_false)


def cast_floats(batch, like):
    """Give the task's float arrays the dtype of the model's state.

    Tasks sample in JAX's default float (float64 under x64); a float32 network then
    trains in float32 instead of failing strict promotion or silently upcasting.
    """
    dtype = jtu.tree_leaves(like)[0].dtype
    return jtu.tree_map(
        lambda a: a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a,
        batch,
    )


def member_loss(params, frozen, batch, keys, spec: StepSpec):
    """The task loss (plus regulariser) of one network on a batch of trials.

    Returns ``(loss, ok)``: ``ok`` is False when any trial's solve diverged.
    """
    model = eqx.combine(params, frozen)
    ts = spec.task.ts
    batch = cast_floats(batch, model.init_state())

    def run(inputs, key):
        traj = simulate(
            model,
            model.init_state(),
            ts,
            inputs=inputs,
            key=key,
            throw=False,
            **dict(spec.sim_kwargs),
        )
        return traj.outputs, traj.ys, traj.ok

    outputs, ys, ok = jax.vmap(run, in_axes=(0, None if keys is None else 0))(
        batch.inputs, keys
    )
    value = spec.loss(outputs, batch.targets, batch.mask)
    if spec.regularizer is not None:
        value = value + spec.regularizer(params, model, ys).astype(value.dtype)
    return value, jnp.all(ok)


def member_step(carry: Carry, hp, frozen, batch, keys, step, spec: StepSpec):
    """One optimiser step of one network, skipped (and flagged) if anything diverges."""
    grad_fn = eqx.filter_value_and_grad(member_loss, has_aux=True)
    (value, ok), grads = grad_fn(carry.params, frozen, batch, keys, spec)
    tx = make_optimizer(spec.optimizer, hp)
    # optax mixes weakly typed Python scalars with its int32 step count, which a
    # user's strict dtype-promotion setting rejects; scope the default to it.
    with jax.numpy_dtype_promotion("standard"):
        updates, opt_state = tx.update(grads, carry.opt_state, carry.params)
    params = eqx.apply_updates(carry.params, updates)
    good = ok & jnp.isfinite(value) & _all_finite(grads) & _all_finite(params)
    keep = carry.failed | ~good
    new = Carry(
        params=_select(keep, carry.params, params),
        opt_state=_select(keep, carry.opt_state, opt_state),
        failed=keep,
        failed_step=jnp.where(~carry.failed & ~good, step, carry.failed_step),
    )
    return new, value


def _batches(spec: StepSpec, key, n_members: int):
    """Trials for one step: shared by all members, or one batch per member."""
    sample = jax.vmap(spec.task.sample)
    if spec.independent_batches:
        member_keys = jr.split(key, n_members)
        keys = jax.vmap(lambda k: jr.split(k, spec.batch_size))(member_keys)
        return jax.vmap(sample)(keys), 0
    return sample(jr.split(key, spec.batch_size)), None


@eqx.filter_jit
def run_chunk(carry: Carry, hp, frozen, start, key, n_steps: int, spec: StepSpec):
    """Run ``n_steps`` training steps from step number ``start``.

    The data of step ``s`` come from ``fold_in(key, s)`` alone, so how the run is cut
    into chunks (or resumed from a checkpoint) does not change any number.

    Returns:
        ``(carry, losses)`` with ``losses`` of shape ``(n_steps, n_members)``.
    """
    n_members = carry.failed.shape[0]

    def body(c, step):
        k_batch, k_noise = jr.split(jr.fold_in(key, step))
        batch, batch_axis = _batches(spec, k_batch, n_members)
        keys = None
        if spec.noise:
            per_member = jr.split(k_noise, n_members)
            keys = jax.vmap(lambda k: jr.split(k, spec.batch_size))(per_member)
        one = lambda c1, h, f, b, k: member_step(c1, h, f, b, k, step, spec)  # noqa: E731
        axes = (0, 0, 0, batch_axis, None if keys is None else 0)
        return eqx.filter_vmap(one, in_axes=axes)(c, hp, frozen, batch, keys)

    steps = start + jnp.arange(n_steps, dtype=start.dtype)
    return jax.lax.scan(body, carry, steps)

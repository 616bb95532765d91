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
import numpy as np

from .._checks import check_ts
from .._ensemble import Plan, run
from .._save import Save
from .._simulate import SimulateOptions, simulate
from .._validate import ArgumentTypeError, is_concrete
from ._data import step_batch


class Carry(eqx.Module):
    """The training state carried from step to step (every leaf has a member axis)."""

    params: Any
    opt_state: Any
    failed: jax.Array
    failed_step: jax.Array


class HostTimes:
    """A task's times as a NumPy array, hashable (a static field of StepSpec)."""

    def __init__(self, ts):
        self.value = np.asarray(ts)
        self._key = (self.value.dtype.str, self.value.shape, self.value.tobytes())
        self._hash = hash(self._key)  # every compiled chunk's cache lookup hashes it

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other) -> bool:
        return isinstance(other, HostTimes) and self._key == other._key


def host_times(source) -> HostTimes | None:
    """``source.ts`` checked on the host, or ``None`` if it is not concrete."""
    if not is_concrete(source.ts):
        return None
    return HostTimes(check_ts(source.ts))


def concrete_times(source, host: HostTimes | None):
    """The times to simulate on inside jit: the host's as a constant, if known.

    A constant ``ts`` lets ``simulate`` fix the sub-steps of a finer ``dt`` and skip
    its in-jit check of a traced ``ts`` (a host callback, ``eqx.error_if``, which
    keeps a program out of JAX's persistent compilation cache).
    """
    if host is None:
        return source.ts
    with jax.ensure_compile_time_eval():  # a concrete array, not a tracer
        return jnp.asarray(host.value)


class StepSpec(eqx.Module):
    """Static description of one training step (hashable: no arrays).

    ``objective(params, frozen, batch, ts, key, spec, loss_key) -> (loss, ok)`` is
    what one member minimises on one batch (``ok``: no solve diverged; ``loss_key``:
    the key of a loss that samples, else ``None``): :func:`member_loss`
    for :func:`dynax.train.fit`, the LangevinFlow ELBO for
    :func:`dynax.train.fit_spikes`. Everything else (optimiser, failure isolation,
    ensembles, chunks) is shared.
    """

    objective: Callable
    loss: Callable
    regularizer: Any
    optimizer: Any
    options: SimulateOptions
    batch_size: int = eqx.field(static=True)
    noise: bool = eqx.field(static=True)
    loss_key: bool = eqx.field(static=True)
    independent_batches: bool = eqx.field(static=True)
    member_keys: bool = eqx.field(static=True)
    how: Plan = eqx.field(static=True)
    host_ts: HostTimes | None = eqx.field(default=None, static=True)


def check_options(options) -> SimulateOptions:
    """``options`` or the defaults; a ``TypeError`` for anything else."""
    if options is None:
        return SimulateOptions()
    if not isinstance(options, SimulateOptions):
        raise ArgumentTypeError(
            "options: expected a dx.SimulateOptions (e.g. dx.SimulateOptions("
            f"solver=diffrax.Heun(), dt=0.05)) or None, got {type(options).__name__}."
        )
    return options


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


# The stream of keys for losses that sample (``loss.needs_key``): step ``s`` of a
# run keyed ``k`` uses ``fold_in(fold_in(k, s), _LOSS_STREAM)``, independent of the
# trials' and the noise's keys (which stay what they were without such a loss).
_LOSS_STREAM = 0x1055


def loss_needs_key(loss) -> bool:
    """Whether ``loss`` is called with ``key=`` (its ``needs_key`` attribute)."""
    return bool(getattr(loss, "needs_key", False))


def step_loss_key(key, step):
    """The loss key of training step ``step`` of a run keyed ``key``."""
    return jr.fold_in(jr.fold_in(key, step), _LOSS_STREAM)


def member_loss(params, frozen, batch, ts, key, spec: StepSpec, loss_key=None):
    """The task loss (plus regulariser) of one network on a batch of trials.

    Every trial gets its own noise from ``key`` (``None``: no noise); a loss that
    samples gets ``loss_key``.
    Returns ``(loss, ok)``: ``ok`` is False when any trial's solve diverged.
    """
    model = eqx.combine(params, frozen)
    batch = cast_floats(batch, model.init_state())
    # The loss reads the outputs only; the states are kept for a regulariser.
    save = Save(states=False) if spec.regularizer is None else None
    traj = simulate(
        model,
        model.init_state(),
        ts,
        inputs=batch.inputs,
        key=key,
        throw=False,
        trials=True,
        save=save,
        **spec.options.kwargs(),
    )
    outputs, ys, ok = traj.outputs, traj.ys, traj.ok
    if spec.loss_key:
        value = spec.loss(outputs, batch.targets, batch.mask, key=loss_key)
    else:
        value = spec.loss(outputs, batch.targets, batch.mask)
    if spec.regularizer is not None:
        value = value + spec.regularizer(params, model, ys).astype(value.dtype)
    return value, jnp.all(ok)


def member_step(
    carry: Carry, hp, frozen, batch, ts, key, step, spec: StepSpec, loss_key=None
):
    """One optimiser step of one network, skipped (and flagged) if anything diverges."""
    grad_fn = eqx.filter_value_and_grad(spec.objective, has_aux=True)
    (value, ok), grads = grad_fn(carry.params, frozen, batch, ts, key, spec, loss_key)
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


@eqx.filter_jit
def run_chunk(
    carry: Carry, hp, frozen, source, start, key, n_steps: int, spec: StepSpec
):
    """Run ``n_steps`` training steps from step number ``start``.

    The data of step ``s`` come from ``fold_in(key, s)`` alone (a data set's epoch
    order from ``key``), so how the run is cut into chunks (or resumed from a
    checkpoint) does not change any number. One network, or every member at once
    through :func:`dynax._ensemble.map_members` (each member its own noise key).

    Returns:
        ``(carry, losses)`` with ``losses`` of shape ``(n_steps, *members)``.
    """
    ts = concrete_times(source, spec.host_ts)
    if spec.member_keys:  # every member's trials and noise from its own key
        how_keys = spec.how.with_axes(eqx.if_array(0), eqx.if_array(0), 0)

        def body_keys(c, step):
            def one(c1, h, f, k, _):
                batch = step_batch(source, k, step, spec.batch_size)
                k_noise = jr.split(jr.fold_in(k, step))[1] if spec.noise else None
                k_loss = step_loss_key(k, step) if spec.loss_key else None
                return member_step(c1, h, f, batch, ts, k_noise, step, spec, k_loss)

            return run(one, c, (hp, frozen, key), how_keys)

        steps = start + jnp.arange(n_steps, dtype=start.dtype)
        return jax.lax.scan(body_keys, carry, steps)
    independent = spec.how.n if spec.independent_batches else None
    # every member's training state, parameters and frozen part are its own; the
    # batch is shared unless each member draws its own
    # (and so is the loss key, one per member, when the loss samples)
    how = spec.how.with_axes(
        eqx.if_array(0), eqx.if_array(0), None if independent is None else 0, 0
    )

    def body(c, step):
        batch = step_batch(source, key, step, spec.batch_size, independent)
        k_noise = jr.split(jr.fold_in(key, step))[1] if spec.noise else None
        k_loss = step_loss_key(key, step) if spec.loss_key else None
        if k_loss is not None and spec.how.ensemble:
            k_loss = jr.split(k_loss, spec.how.n)

        def one(c1, h, f, b, lk, k):
            return member_step(c1, h, f, b, ts, k, step, spec, lk)

        return run(one, c, (hp, frozen, batch, k_loss), how, k_noise)

    steps = start + jnp.arange(n_steps, dtype=start.dtype)
    return jax.lax.scan(body, carry, steps)

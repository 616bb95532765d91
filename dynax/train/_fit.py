"""``fit``: train one network or a stacked ensemble on a task (the host loop)."""

import math
import time
from collections.abc import Callable
from typing import Any, TypeVar

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import jax.tree_util as jtu
import numpy as np
import optax
from jaxtyping import Key, UInt32

from .._custom_types import Array, Bool, Float, Int, PRNGKeyArray
from .._ensemble import plan, run
from .._hosts import local, to_host
from .._simulate import SimulateOptions
from .._validate import (
    check_bool,
    check_callable,
    check_instance,
    check_int,
    check_key,
    describe,
    fail,
)
from ..models._base import AbstractStochasticDynamics
from ._checkpoint import CheckpointManager
from ._data import check_source
from ._loss import choose_loss
from ._progress import make_progress
from ._step import (
    Carry,
    StepSpec,
    check_options,
    host_times,
    loss_needs_key,
    make_optimizer,
    member_loss,
    run_chunk,
)

M = TypeVar("M")


class History(eqx.Module):
    """What happened during :func:`fit`, per member.

    Attributes:
        loss: the training loss of every step, shape ``(n_steps,)`` for one network
            or ``(n_steps, n_members)`` for an ensemble (NaN for steps not run).
        failed: whether the member hit a non-finite loss, gradient, parameter or
            diverging solve (it is then frozen at its last good parameters).
        failed_step: the step at which it failed (-1 if it never did).
        steps_done: how many steps have run (``n_steps`` unless interrupted).
        resumed_from: the checkpoint step the run started from (0 for a fresh run).
        seconds: wall-clock time of this call's training loop (compile included).
        first_chunk_seconds: time of the first compiled chunk (mostly compilation).
    """

    loss: Float[Array, " n_steps *members"]
    failed: Bool[Array, "*members"]
    failed_step: Int[Array, "*members"]
    steps_done: int = eqx.field(static=True)
    resumed_from: int = eqx.field(static=True)
    seconds: float = eqx.field(static=True)
    first_chunk_seconds: float = eqx.field(static=True)


def trainable(model) -> Any:
    """The default filter spec of :func:`fit`: floating arrays a model does not freeze.

    Models may name array fields that are not weights in ``frozen_fields()`` (the
    rate RNNs freeze ``sigma_rec``, and ``log_tau`` when ``learn_tau=False``).
    """
    spec = jtu.tree_map(eqx.is_inexact_array, model)
    names = getattr(model, "frozen_fields", lambda: ())()
    for name in names:
        leaf = getattr(model, name)
        spec = eqx.tree_at(
            lambda m, n=name: getattr(m, n), spec, jtu.tree_map(lambda _: False, leaf)
        )
    return spec


def member_keys(key, ensemble: bool) -> bool:
    """Whether ``key`` is one key per member (``ensemble=True`` only), else one key.

    Raises like ``check_key`` for anything that is neither.
    """
    shape, dtype = getattr(key, "shape", None), getattr(key, "dtype", None)
    if ensemble and shape is not None and dtype is not None:
        typed = jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)
        if (typed and len(shape) == 1) or (
            not typed and dtype == jnp.uint32 and len(shape) == 2
        ):
            return True
    check_key("key", key)
    return False


def _check_optimizer(optimizer, hyperparams, n_steps, batch_size, keep) -> None:
    """The optimiser and the arguments that size the run."""
    check_int("n_steps", n_steps, 1)
    check_int("batch_size", batch_size, 1)
    check_int("max_to_keep", keep, 1)
    if hyperparams is None:
        if not isinstance(optimizer, optax.GradientTransformation):
            what = (
                "an optax.GradientTransformation such as optax.adam(1e-3) (or, with "
                "hyperparams=, a function such as optax.adam)"
            )
            fail("optimizer", what, describe(optimizer), error=TypeError)
    elif not callable(optimizer) or isinstance(optimizer, optax.GradientTransformation):
        what = (
            "with hyperparams=, a function returning an optax transformation (e.g. "
            "optax.adamw), called per member as optimizer(**hyperparams)"
        )
        fail("optimizer", what, describe(optimizer), error=TypeError)


def _check_options(regularizer, callback, noise, progress, batches) -> None:
    """The keyword options of :func:`fit` that are passed on, not used by it."""
    for name, value in (("regularizer", regularizer), ("callback", callback)):
        if value is not None:
            check_callable(name, value)
    check_bool("noise", noise, optional=True)
    check_bool("progress", progress, optional=True)
    check_bool("independent_batches", batches)


def check_model_io(model, task) -> None:
    """The network's input and output channels are the task's."""
    for size in ("n_in", "n_out"):
        want, have = getattr(task, size, None), getattr(model, size, None)
        if isinstance(want, int) and isinstance(have, int) and want != have:
            fail("model", f"{size} = {want} (task.{size})", f"{size} = {have}")


def _member_hyperparams(hyperparams, shape: tuple[int, ...]):
    """Per-member arrays for an ensemble (``shape = (n,)``), scalars for one."""
    if hyperparams is None:
        return None
    check_instance("hyperparams", hyperparams, dict, "a dict")
    out = {}
    for name, value in hyperparams.items():
        value = jnp.asarray(value)
        if value.ndim == 0:
            value = jnp.broadcast_to(value, shape)
        if value.shape != shape:
            what = "a scalar" if not shape else "a scalar or one value per member"
            fail(
                f"hyperparams[{name!r}]",
                f"{what}, shape {shape}",
                f"shape {value.shape}",
            )
        out[name] = value
    return out


def _partition(model, filter_spec):
    spec = trainable(model) if filter_spec is None else filter_spec
    try:
        params, frozen = eqx.partition(model, spec)
    except (ValueError, TypeError) as error:
        what = (
            "a PyTree of bools with the model's structure (or a prefix), or a callable"
        )
        fail("filter_spec", what, f"one that does not match the model ({error})")
    if not any(eqx.is_inexact_array(x) for x in jtu.tree_leaves(params)):
        what = "a spec that selects a floating-point array to train"
        fail("filter_spec", what, "one that selects none")
    return params, frozen


def _wants_noise(model, noise) -> bool:
    if noise is not None:
        return bool(noise)
    if not isinstance(model, AbstractStochasticDynamics):
        return False
    sigma = getattr(model, "sigma_rec", None)
    return sigma is None or bool(np.any(to_host(sigma) != 0))


def _key_data(key) -> np.ndarray:
    typed = jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
    return np.asarray(jr.key_data(key) if typed else key)


def default_log_every(n_steps: int) -> int:
    """Steps per chunk: all chunks the same length where possible (one program)."""
    if n_steps <= 100:
        return n_steps
    for d in range(100, 24, -1):
        if n_steps % d == 0:
            return d
    return 100


class _Run:
    """The host loop of :func:`fit`: chunks, progress, checkpoints, callback."""

    def __init__(self, spec, hp, frozen, source, key, n_members, n_steps, every):
        self.spec, self.hp, self.frozen, self.key = spec, hp, frozen, key
        self.source, self.n_members = source, n_members
        self.log_every, self.checkpoint_every = every
        self.n_steps = n_steps
        self.step = 0

    def _state(self, carry: Carry, losses, step: int) -> dict:
        return {
            "params": carry.params,
            "opt_state": carry.opt_state,
            "failed": carry.failed,
            "failed_step": carry.failed_step,
            "loss": losses,
            "step": np.asarray(step),
            "key": _key_data(self.key),
        }

    def _meta(self, carry: Carry) -> dict:
        return {
            "n_steps": self.n_steps,
            "n_members": self.n_members,
            "batch_size": self.spec.batch_size,
            "log_every": self.log_every,
        }

    def _resume(self, manager, carry, losses):
        steps = manager.complete_steps()
        if not steps:
            return carry, losses, 0
        meta = manager.metadata(steps[-1])
        for name, value in self._meta(carry).items():
            if meta.get(name) != value:
                raise ValueError(
                    f"checkpoint_dir: the checkpoint in {manager.directory} was "
                    f"written with {name}={meta.get(name)}, this call has {value}; "
                    "use a new folder for a different run."
                )
        state, _, step = manager.restore(self._state(carry, losses, 0))
        if not np.array_equal(np.asarray(state["key"]), _key_data(self.key)):
            raise ValueError(
                f"key: the checkpoint in {manager.directory} was written with a "
                "different key; pass the same key to resume, or use a new folder."
            )
        carry = Carry(
            params=state["params"],
            opt_state=state["opt_state"],
            failed=jnp.asarray(state["failed"]),
            failed_step=jnp.asarray(state["failed_step"]),
        )
        return carry, np.array(state["loss"]), int(step)

    def loop(self, carry, losses, checkpoint_dir, max_to_keep, progress, callback):
        manager = None
        if checkpoint_dir is not None:
            manager = CheckpointManager(checkpoint_dir, max_to_keep=max_to_keep)
        start = time.perf_counter()
        first = math.nan
        try:
            resumed = 0
            if manager is not None:
                carry, losses, resumed = self._resume(manager, carry, losses)
            step = self.step = resumed
            bar = make_progress(
                progress,
                total=self.n_steps,
                initial=step,
                n_members=self.n_members,
                chunk=self.log_every,
            )
            try:
                while step < self.n_steps:
                    n = min(self.log_every, self.n_steps - step)
                    t0 = time.perf_counter()
                    carry, chunk = run_chunk(
                        carry,
                        self.hp,
                        self.frozen,
                        self.source,
                        jnp.asarray(step, jnp.int32),
                        self.key,
                        n,
                        self.spec,
                    )
                    losses[step : step + n] = to_host(chunk).reshape(n, -1)
                    if math.isnan(first):
                        first = time.perf_counter() - t0
                    step = self.step = step + n
                    n_failed = int(np.sum(to_host(carry.failed)))
                    bar.update(step, losses[step - 1], n_failed)
                    save = step % self.checkpoint_every == 0 or step == self.n_steps
                    if manager is not None and save:
                        manager.save(
                            step, self._state(carry, losses, step), self._meta(carry)
                        )
                    if callback is not None:
                        if manager is not None:
                            manager.wait()
                        seconds = time.perf_counter() - start
                        callback(
                            step,
                            self.history(carry, losses, resumed, seconds, first),
                        )
            finally:
                bar.close()
        finally:
            if manager is not None:
                manager.close()
        return carry, losses, resumed, time.perf_counter() - start, first

    def history(self, carry, losses, resumed, seconds, first) -> History:
        loss = jnp.asarray(losses.reshape(losses.shape[:1] + self.spec.how.shape))
        return History(
            loss=loss,
            failed=local(carry.failed),
            failed_step=local(carry.failed_step),
            steps_done=self.step,
            resumed_from=resumed,
            seconds=float(seconds),
            first_chunk_seconds=float(first),
        )


def fit(
    model: M,
    task,
    *,
    optimizer,
    n_steps: int,
    batch_size: int,
    key: PRNGKeyArray | Key[Array, " members"] | UInt32[Array, "members 2"],
    filter_spec=None,
    ensemble: bool = False,
    hyperparams: dict | None = None,
    loss: Callable | None = None,
    regularizer: Callable | None = None,
    noise: bool | None = None,
    options: SimulateOptions | None = None,
    independent_batches: bool = False,
    chunk_size: int | None = None,
    log_every: int | None = None,
    checkpoint_dir=None,
    checkpoint_every: int | None = None,
    max_to_keep: int = 2,
    progress: bool | None = None,
    callback: Callable[[int, History], None] | None = None,
) -> tuple[M, History]:
    r"""Train one network, or every member of a stacked ensemble at once, on a task.

    Each step samples ``batch_size`` trials with ``task.sample`` (or takes a
    minibatch of a :class:`Dataset`), runs ``dx.simulate(model, model.init_state(),
    task.ts, inputs=batch.inputs, trials=True, **options.kwargs())``, compares
    ``outputs`` with ``batch.targets`` under ``batch.mask`` and takes one optimiser
    step. An ensemble is trained by one compiled program (the members vmapped by
    the ensemble helper; no Python loop), ``log_every`` steps per call (a
    ``lax.scan``).

    **Failure isolation.** A member whose loss, gradient or updated parameters are
    non-finite, or whose solve diverges, keeps its last good parameters and
    optimiser state for the rest of the run and is flagged in ``history.failed``
    (with ``history.failed_step``); the other members are unaffected.

    **Determinism and resuming.** The trials and noise of step ``s`` come from
    ``fold_in(key, s)``. With ``checkpoint_dir``, the trainable parameters,
    optimiser state, step, key, flags and loss curve are saved through orbax every
    ``checkpoint_every`` steps (atomically; a partly written checkpoint is never
    loaded), and a call with a folder that holds a checkpoint resumes from it: the
    result equals an uninterrupted run. Pass the same initial model, task and
    settings to resume (the key must match).

    Args:
        model: one network, or a stacked ensemble (``ensemble=True``).
        task: a :mod:`dynax.tasks` task (``.sample(key)``, ``.ts``, ``.loss_kind``),
            or a :class:`Dataset` of fixed trials (minibatched; a task whose
            samples are the data set's trials in order gives the same run).
        optimizer: an ``optax.GradientTransformation`` shared by all members, or,
            with ``hyperparams``, a function such as ``optax.adamw`` called per
            member as ``optimizer(**hyperparams_of_member)``.
        n_steps: number of optimiser steps.
        batch_size: trials per step (per member).
        key: PRNG key for trials and noise. With ``ensemble=True`` it may also be
            one key per member (e.g. ``jr.split(key, n)``, or raw keys of shape
            ``(n, 2)``): member ``i`` then draws its trials and noise from
            ``key[i]`` exactly as ``fit(dx.member(model, i), ..., key=key[i])``
            would, so its run does not depend on which members it was trained
            with (sweeps pack members into groups this way).
        filter_spec: which leaves to train (a PyTree of bools or a callable, as in
            ``eqx.partition``); default :func:`trainable`.
        ensemble: whether ``model`` is a stacked ensemble.
        hyperparams: per-member optimiser hyper-parameters, e.g.
            ``{"learning_rate": lrs}`` with ``lrs`` of shape ``(n_members,)``
            (scalars are shared). Per-member initial gains are set when the
            ensemble is built, e.g. ``eqx.filter_vmap(lambda k, g: CTRNN(..., g=g,
            key=k))(keys, gains)``.
        loss: ``loss(outputs, targets, mask) -> scalar`` over a batch; default
            from ``task.loss_kind`` (:func:`masked_mse` or :func:`cross_entropy`).
            A loss that samples (attribute ``needs_key = True``, e.g.
            :class:`SinkhornLoss`) is called as ``loss(outputs, targets, mask,
            key=key)`` with a fresh key per step and member, from a stream of
            ``key`` separate from the trials' and the noise's.
        regularizer: ``regularizer(params, model, ys) -> scalar`` added to the
            loss, e.g. :class:`Regularizer`.
        noise: simulate with private noise (a key per trial). Default: on for a
            stochastic model whose ``sigma_rec`` is nonzero.
        options: how ``simulate`` integrates (solver, dt, step-size controller,
            unroll, remat), handed to it unchanged; default
            ``dx.SimulateOptions()`` (Euler, one step per sample of ``task.ts``).
        independent_batches: give every member its own trials instead of sharing
            one batch per step.
        chunk_size: train the members in groups of this size inside each step
            (bounds memory; same numbers).
        log_every: steps per compiled chunk, loss report and callback (default:
            ``n_steps`` up to 100, else the largest divisor of ``n_steps`` from 25
            to 100, else 100; a divisor makes every chunk one compiled program,
            where a shorter last chunk would compile a second one).
        checkpoint_dir: folder for orbax checkpoints; resumes from it if it holds
            one.
        checkpoint_every: steps between checkpoints, a multiple of ``log_every``
            (default ``10 * log_every``); the final step is always saved.
        max_to_keep: how many checkpoints to keep.
        progress: report progress on stderr: a tqdm bar on an interactive
            terminal; elsewhere (pipes, logs, notebooks) a line about every 10 s
            (step, median loss, failed members, elapsed time, steps per second;
            printed between chunks, and once if the first chunk, mostly
            compilation, takes longer) and one at the end; nothing for a run
            shorter than 10 s. ``False`` or the environment variable
            ``TQDM_DISABLE=1`` turn it off.
        callback: ``callback(step, history)`` called on the host after every chunk
            (and after its checkpoint is written); raising stops training.

    Returns:
        ``(model, history)``: the trained network(s) and a :class:`History`.
    """
    check_source(task, batch_size)
    return run_training(
        model,
        task,
        objective=member_loss,
        check_model=lambda one: check_model_io(one, task),
        optimizer=optimizer,
        n_steps=n_steps,
        batch_size=batch_size,
        key=key,
        filter_spec=filter_spec,
        ensemble=ensemble,
        hyperparams=hyperparams,
        loss=loss,
        regularizer=regularizer,
        noise=noise,
        options=options,
        independent_batches=independent_batches,
        chunk_size=chunk_size,
        log_every=log_every,
        checkpoint_dir=checkpoint_dir,
        checkpoint_every=checkpoint_every,
        max_to_keep=max_to_keep,
        progress=progress,
        callback=callback,
    )


def run_training(
    model: M,
    source,
    *,
    objective: Callable,
    check_model: Callable,
    optimizer,
    n_steps: int,
    batch_size: int,
    key,
    filter_spec,
    ensemble: bool,
    hyperparams: dict | None,
    loss: Callable | None,
    regularizer: Callable | None,
    noise: bool | None,
    options: SimulateOptions | None,
    independent_batches: bool,
    chunk_size: int | None,
    log_every: int | None,
    checkpoint_dir,
    checkpoint_every: int | None,
    max_to_keep: int,
    progress: bool | None,
    callback: Callable[[int, History], None] | None,
) -> tuple[M, History]:
    """The body of :func:`fit`, shared by every fit loop (``fit_spikes`` too).

    ``source`` is a checked task or :class:`Dataset`; ``objective`` is the
    per-member loss of one batch (:class:`~dynax.train._step.StepSpec`);
    ``check_model(one_network)`` checks the network against the source. The
    arguments after them are :func:`fit`'s, with its meaning and checks: keys per
    member, optimiser and hyper-parameters, chunks, checkpoints and resuming,
    progress, callback, and per-member failure isolation (flag and freeze).
    """
    per_member_keys = member_keys(key, ensemble)
    _check_optimizer(optimizer, hyperparams, n_steps, batch_size, max_to_keep)
    _check_options(regularizer, callback, noise, progress, independent_batches)
    log_every = default_log_every(n_steps) if log_every is None else log_every
    check_int("log_every", log_every, 1)
    checkpoint_every = 10 * log_every if checkpoint_every is None else checkpoint_every
    check_int("checkpoint_every", checkpoint_every, 1)
    if checkpoint_every % log_every:
        what = f"a multiple of log_every={log_every}"
        fail("checkpoint_every", what, f"{checkpoint_every}")
    how = plan(model, ensemble, chunk_size=chunk_size)
    if per_member_keys and len(key) != how.n:
        fail("key", f"one key, or one key per member ({how.n})", f"{len(key)} keys")
    check_model(how.one(model))
    options = check_options(options)
    params, frozen = _partition(model, filter_spec)
    hp = _member_hyperparams(hyperparams, how.shape)
    spec_loss = choose_loss(loss, source)
    spec = StepSpec(
        objective=objective,
        loss=spec_loss,
        regularizer=regularizer,
        optimizer=optimizer,
        options=options,
        batch_size=batch_size,
        noise=_wants_noise(model, noise),
        loss_key=loss_needs_key(spec_loss),
        independent_batches=independent_batches and how.ensemble,
        member_keys=per_member_keys,
        how=how,
        host_ts=host_times(source),
    )

    def init(p, h, key):
        return make_optimizer(optimizer, h).init(p)

    with jax.numpy_dtype_promotion("standard"):  # see _step.member_step
        opt_state = run(init, params, (hp,), how.with_axes(eqx.if_array(0)))
    carry = Carry(
        params=params,
        opt_state=opt_state,
        failed=jnp.zeros(how.shape, bool),
        failed_step=jnp.full(how.shape, -1, jnp.int32),
    )
    losses = np.full((n_steps, how.n), np.nan)
    every = (log_every, checkpoint_every)
    run_ = _Run(spec, hp, frozen, source, key, how.n, n_steps, every)
    carry, losses, start, seconds, first = run_.loop(
        carry, losses, checkpoint_dir, max_to_keep, progress, callback
    )
    trained = eqx.combine(carry.params, frozen)
    return trained, run_.history(carry, losses, start, seconds, first)

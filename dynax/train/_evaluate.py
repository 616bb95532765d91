"""Held-out evaluation of one network or an ensemble on a task."""

from collections.abc import Callable

import equinox as eqx

from .._custom_types import Array, Float, PRNGKeyArray
from .._ensemble import plan, run
from .._save import Save
from .._simulate import SimulateOptions, simulate
from .._validate import check_int, check_key
from ._data import check_source, eval_batch
from ._fit import check_model_io
from ._loss import choose_loss
from ._step import (
    cast_floats,
    check_options,
    concrete_times,
    host_times,
    loss_needs_key,
    step_loss_key,
)


class Evaluation(eqx.Module):
    """Loss and task score on fresh trials (one value per member for an ensemble).

    Attributes:
        loss: the task loss (``task.loss_kind``) on the trials.
        score: ``task.score`` on the trials (e.g. sign accuracy; higher is better).
    """

    loss: Float[Array, "*members"]
    score: Float[Array, "*members"]


@eqx.filter_jit
def _evaluate(model, task, key, n_trials, how, loss, options, host_ts):
    batch = eval_batch(task, key, n_trials)
    ts = concrete_times(task, host_ts)

    def one(m, b, k):
        b = cast_floats(b, m.init_state())
        outputs = simulate(
            m,
            m.init_state(),
            ts,
            inputs=b.inputs,
            throw=False,
            trials=True,
            save=Save(states=False),
            **options.kwargs(),
        ).outputs
        if k is not None:  # a loss that samples, with a key per member
            return loss(outputs, b.targets, b.mask, key=k), task.score(outputs, b)
        return loss(outputs, b.targets, b.mask), task.score(outputs, b)

    loss_key = step_loss_key(key, 0) if loss_needs_key(loss) else None
    values, scores = run(one, model, (batch,), how, loss_key)
    return Evaluation(loss=values, score=scores)


def evaluate(
    model,
    task,
    *,
    key: PRNGKeyArray,
    n_trials: int = 256,
    ensemble: bool = False,
    loss: Callable | None = None,
    options: SimulateOptions | None = None,
    chunk_size: int | None = None,
) -> Evaluation:
    """Score a trained network (or every member of an ensemble) on fresh trials.

    All members see the same ``n_trials`` trials, drawn from ``key`` (use a key
    not used in training for held-out trials, and ``task.ood()`` for the
    out-of-distribution variant); a :class:`Dataset` is scored on all its trials.
    Runs without private noise.

    Args:
        model: one network, or a stacked ensemble (``ensemble=True``).
        task: a :mod:`dynax.tasks` task, or a :class:`Dataset`.
        key: PRNG key of the trials (unused for a data set).
        n_trials: number of trials (ignored for a data set).
        ensemble: whether ``model`` is a stacked ensemble.
        loss: the loss to report (default from ``task.loss_kind``); a loss that
            samples (``needs_key``, e.g. :class:`SinkhornLoss`) gets a key derived
            from ``key``, one per member.
        options: how ``simulate`` integrates (a ``dx.SimulateOptions``; default
            Euler on the task's grid), as in :func:`fit`.
        chunk_size: evaluate the members in groups of this size (bounds memory).

    Returns:
        An :class:`Evaluation` with one loss and score per member.
    """
    check_source(task)
    how = plan(model, ensemble, (("trials", None, None),), chunk_size)
    check_model_io(how.one(model), task)
    check_key("key", key)
    check_int("n_trials", n_trials, 1)
    loss = choose_loss(loss, task)
    options = check_options(options)
    host_ts = host_times(task)
    return _evaluate(model, task, key, n_trials, how, loss, options, host_ts)

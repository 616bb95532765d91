"""Held-out evaluation of one network or an ensemble on a task."""

from collections.abc import Callable

import diffrax
import equinox as eqx
import jax
import jax.random as jr

from .._custom_types import Array, Float, PRNGKeyArray
from .._simulate import simulate
from .._validate import (
    check_float,
    check_instance,
    check_int,
    check_key,
)
from ._fit import check_model_and_task
from ._loss import choose_loss
from ._step import cast_floats


class Evaluation(eqx.Module):
    """Loss and task score on fresh trials (one value per member for an ensemble).

    Attributes:
        loss: the task loss (``task.loss_kind``) on the trials.
        score: ``task.score`` on the trials (e.g. sign accuracy; higher is better).
    """

    loss: Float[Array, "*members"]
    score: Float[Array, "*members"]


@eqx.filter_jit
def _evaluate(model, task, keys, ensemble, loss, sim_kwargs):
    batch = jax.vmap(task.sample)(keys)

    def one(m):
        b = cast_floats(batch, m.init_state())

        def run(inputs):
            return simulate(
                m, m.init_state(), task.ts, inputs=inputs, throw=False, **sim_kwargs
            ).outputs

        outputs = jax.vmap(run)(b.inputs)
        return loss(outputs, b.targets, b.mask), task.score(outputs, b)

    values, scores = eqx.filter_vmap(one)(model) if ensemble else one(model)
    return Evaluation(loss=values, score=scores)


def evaluate(
    model,
    task,
    *,
    key: PRNGKeyArray,
    n_trials: int = 256,
    ensemble: bool = False,
    loss: Callable | None = None,
    solver=None,
    dt: float | None = None,
) -> Evaluation:
    """Score a trained network (or every member of an ensemble) on fresh trials.

    All members see the same ``n_trials`` trials, drawn from ``key`` (use a key
    not used in training for held-out trials, and ``task.ood()`` for the
    out-of-distribution variant). Runs without private noise.

    Args:
        model: one network, or a stacked ensemble (``ensemble=True``).
        task: a :mod:`dynax.tasks` task.
        key: PRNG key of the trials.
        n_trials: number of trials.
        ensemble: whether ``model`` is a stacked ensemble.
        loss: the loss to report (default from ``task.loss_kind``).
        solver: diffrax solver for ``simulate`` (default Euler).
        dt: integration step (default: the task's spacing).

    Returns:
        An :class:`Evaluation` with one loss and score per member.
    """
    check_model_and_task(model, task, ensemble)
    check_key("key", key)
    check_int("n_trials", n_trials, 1)
    what = "None or a diffrax solver"
    check_instance("solver", solver, diffrax.AbstractSolver, what, optional=True)
    if dt is not None:
        check_float("dt", dt, low=0.0, low_open=True)
    loss = choose_loss(loss, task)
    keys = jr.split(key, n_trials)
    return _evaluate(model, task, keys, ensemble, loss, {"solver": solver, "dt": dt})

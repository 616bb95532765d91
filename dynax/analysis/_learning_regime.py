r"""The learning-regime report: weight change, ranks and alignments in one call.

:func:`learning_regime` puts together :func:`~dynax.analysis.weight_change`,
:func:`~dynax.analysis.effective_rank` (of $W_0$, $W_1$ and $\Delta W$) and
:func:`~dynax.analysis.kernel_alignment` of the states before and after training
(centred: linear CKA; uncentred: the representation alignment of Liu et al. 2024)
and of each with the targets (the task alignment $A(K, yy^\top)$ of Cristianini et
al. 2001). Definitions and references: :mod:`dynax.analysis._regime` and
:mod:`dynax.analysis._similarity`.
"""

from typing import Any

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from .._custom_types import Array, ArrayLike, Float, PRNGKeyArray
from .._ensemble import map_members
from .._validate import check_array, check_finite, check_int, check_key, describe, fail
from ._regime import (
    EffectiveRank,
    WeightChange,
    Weights,
    _effective_rank,
    _one_matrix,
    _pair,
    _weight_change,
)
from ._similarity import _alignment


class LearningRegime(eqx.Module):
    r"""Weight, rank and representation changes of training (:func:`learning_regime`).

    Lazy learning reads as a small ``weight_change.relative`` and alignments near
    1 (the states hardly moved); rich learning as a large change, lower
    ``cka``, and a low-rank change (small ``rank_change.entropy``). An
    alignment is NaN where a representation is zero (e.g. trials in which no
    input reached the network). For an ensemble every array has a leading member
    axis.

    Attributes:
        weight_change: the :class:`WeightChange` of the chosen matrix.
        rank_before: :class:`EffectiveRank` of $W_0$.
        rank_after: of $W_1$.
        rank_change: of $\Delta W = W_1 - W_0$.
        cka: linear CKA of the states before versus after (centred kernel
            alignment), over all samples (trials and time).
        representation_alignment: the same, uncentred (Liu et al. 2024).
        task_alignment_before: uncentred $A(K_0, yy^\top)$ of the states before
            training with the targets, over the scored samples (``None`` without
            targets).
        task_alignment_after: the same after training.
    """

    weight_change: WeightChange
    rank_before: EffectiveRank
    rank_after: EffectiveRank
    rank_change: EffectiveRank
    cka: Float[Array, "*ens"]
    representation_alignment: Float[Array, "*ens"]
    task_alignment_before: Float[Array, "*ens"] | None
    task_alignment_after: Float[Array, "*ens"] | None

    def summary(self) -> dict[str, Any]:
        """The headline numbers: floats for one network, lists for an ensemble."""
        values = {
            "relative_weight_change": self.weight_change.relative,
            "relative_spectral_change": self.weight_change.relative_spectral,
            "rank_before": self.rank_before.entropy,
            "rank_after": self.rank_after.entropy,
            "rank_change": self.rank_change.entropy,
            "cka": self.cka,
            "representation_alignment": self.representation_alignment,
            "task_alignment_before": self.task_alignment_before,
            "task_alignment_after": self.task_alignment_after,
        }
        return {k: np.asarray(v).tolist() for k, v in values.items() if v is not None}


def _alignments(states, targets, mask):
    """CKA, uncentred alignment and task alignments of one network's states."""
    sb, sa = (x.reshape(-1, x.shape[-1]) for x in states)
    ones = jnp.ones(sb.shape[:1], sb.dtype)
    cka = _alignment(sb, sa, ones, True)
    rep = _alignment(sb, sa, ones, False)
    if targets is None:
        return cka, rep, None, None
    y = targets.reshape(-1, targets.shape[-1])
    w = ones if mask is None else mask.reshape(-1).astype(bool).astype(sb.dtype)
    return cka, rep, _alignment(sb, y, w, False), _alignment(sa, y, w, False)


def _from_task(before, after, task, key, n_trials, how):
    """States of both models on shared trials of ``task``; targets, sample mask."""
    from .._simulate import simulate
    from ..tasks import AbstractTask
    from ._degeneracy import _trials

    if not isinstance(task, AbstractTask):
        what = "a dynax.tasks task, or a tuple (states_before, states_after)"
        fail("data", what, describe(task), error=TypeError)
    one = how.one(before)
    if not callable(getattr(one, "init_state", None)):
        fail("model_before", "a model to simulate on the task", describe(one))
    if getattr(one, "n_in", task.n_in) != task.n_in:
        fail("data", f"a task with n_in={one.n_in} (the model's)", f"{task.n_in}")
    if key is None:
        fail("key", "a PRNG key to sample the task's trials", "None")
    check_key("key", key)
    n_trials = check_int("n_trials", n_trials, 2)
    y0 = one.init_state()
    if not eqx.is_array(y0):
        fail("model_before", "a model whose state is one array", describe(y0))
    batch = _trials(task, key, n_trials, y0.dtype)
    states = tuple(
        simulate(
            m, y0, task.ts, inputs=batch.inputs, trials=True, ensemble=how.ensemble
        ).ys
        for m in (before, after)
    )
    return states, batch.targets * batch.mask, jnp.any(batch.mask != 0, axis=-1)


def _sample_axis(name: str, value, samples: tuple, how) -> int | None:
    """``None`` (shared) or 0 (per member) for targets/mask over ``samples``."""
    shape = jnp.shape(value)
    if shape == samples:
        return None
    if how.ensemble and shape == (how.n, *samples):
        return 0
    per = f" or ({how.n}, *{samples}) per member" if how.ensemble else ""
    fail(name, f"the samples axes of the states, {samples}{per}", f"shape {shape}")


def _from_states(data, targets, mask, how):
    """Checked ``(states_before, states_after)``, targets and mask."""
    if not (isinstance(data, tuple | list) and len(data) == 2):
        what = "a dynax.tasks task, or a tuple (states_before, states_after)"
        fail("data", what, describe(data), error=TypeError)
    lead = int(how.ensemble)
    what = "states (members, *samples, n)" if lead else "states (*samples, n)"
    sb = check_array("data", data[0], min_ndim=2 + lead, what=what)
    sa = check_array("data", data[1], shape=sb.shape, what=f"shape {sb.shape}")
    if lead and sb.shape[0] != how.n:
        fail("data", f"states of the {how.n} members", f"shape {sb.shape}")
    check_finite("data", sb)
    check_finite("data", sa)
    samples = sb.shape[lead:-1]
    if targets is not None:
        targets = check_array("targets", targets, min_ndim=1)
        check_finite("targets", targets)
        _sample_axis("targets", targets[..., 0], samples, how)
    if mask is not None:
        mask = check_array("mask", mask)
        _sample_axis("mask", mask, samples, how)
    return (sb, sa), targets, mask


@eqx.filter_jit
def _align(states, targets, mask, how):
    if not how.ensemble:
        return _alignments(states, targets, mask)
    samples = states[0].shape[1:-1]
    axes = (
        None
        if targets is None
        else _sample_axis("targets", targets[..., 0], samples, how),
        None if mask is None else _sample_axis("mask", mask, samples, how),
    )
    return map_members(
        lambda s, y, m, key: _alignments(s, y, m), states, (targets, mask), axes
    )


def learning_regime(
    model_before,
    model_after,
    data,
    *,
    key: PRNGKeyArray | None = None,
    n_trials: int = 32,
    targets: Float[ArrayLike, "*samples n_out"] | None = None,
    mask: ArrayLike | None = None,
    weights: Weights = None,
    ensemble: bool = False,
) -> LearningRegime:
    r"""Rich versus lazy: weight change, ranks and alignments in one report.

    The states compared come from ``data``: either a ``dynax.tasks`` task, on
    whose ``n_trials`` trials (sampled with ``key``, shared by both models and all
    members) both models are simulated without noise from ``init_state()``
    (``dx.simulate(...).ys``; targets and scored time steps from the task's
    batch, unscored target entries set to 0), or a tuple
    ``(states_before, states_after)`` recorded on the same samples, with
    optional ``targets`` and ``mask``.

    Args:
        model_before: the network before training; with ``ensemble=True`` a
            stacked ensemble.
        model_after: the same network after training.
        data: a task, or ``(states_before, states_after)``, each
            ``(*samples, n)`` (ensemble: ``(members, *samples, n)``).
        key: PRNG key for the task's trials (with a task only).
        n_trials: trials sampled from the task.
        targets: with states: targets on the same samples, ``(*samples, n_out)``
            (shared by all members, or per member with a leading member axis).
        mask: with states: which samples the task alignment counts, shape
            ``samples`` (nonzero: counted).
        weights: the one matrix whose change and ranks are reported (module
            docstring); default the recurrent matrix.
        ensemble: both models are stacked ensembles; results per member.

    Returns:
        A :class:`LearningRegime`; ``.summary()`` gives the headline numbers.
    """
    names = ("model_before", "model_after")
    leaves, w0, w1, how = _pair(model_before, model_after, weights, ensemble, names)
    what = "learning_regime's effective ranks"
    m0 = _one_matrix(leaves, w0, ensemble, what, "model_before")
    m1 = _one_matrix(leaves, w1, ensemble, what, "model_after")
    if isinstance(data, tuple | list):
        if key is not None:
            fail("key", "None with states (it samples a task's trials)", "a key")
        states, targets, mask = _from_states(data, targets, mask, how)
    else:
        for name, value in (("targets", targets), ("mask", mask)):
            if value is not None:
                fail(name, "None with a task (the task's batch gives it)", "an array")
        states, targets, mask = _from_task(
            model_before, model_after, data, key, n_trials, how
        )
    cka, rep, task_before, task_after = _align(states, targets, mask, how)
    return LearningRegime(
        weight_change=_weight_change(w0, w1, leaves, how),
        rank_before=_effective_rank(m0, how),
        rank_after=_effective_rank(m1, how),
        rank_change=_effective_rank(m1 - m0, how),
        cka=cka,
        representation_alignment=rep,
        task_alignment_before=task_before,
        task_alignment_after=task_after,
    )

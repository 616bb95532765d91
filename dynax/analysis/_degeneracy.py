r"""Solution degeneracy of a trained ensemble at three levels, in one call.

Networks trained on the same task reach the same performance with different
solutions (Huang, Singh, Martinelli & Rajan, NeurIPS 2025). :func:`degeneracy_report`
measures how different, at the paper's three levels, with dynax's definitions (the
paper's code and exact definitions are not public):

- **Behaviour**: each member's error $1 - s$ on out-of-distribution trials
  (``task.ood()``; $s$ is ``task.score``, e.g. sign accuracy or $R^2$), the same
  number as ``1 - dx.train.evaluate(ensemble, task.ood(), key=k_ood,
  n_trials=n_trials, ensemble=True).score``. The summary is the standard deviation
  of the error across members.
- **Dynamics**: DSA (:func:`dsa_matrix`) between the members' hidden-state
  trajectories on one shared batch of in-distribution trials, run without noise. The
  summary is the mean over pairs.
- **Weights**: :func:`permutation_distance_matrix` of the members. The summary is the
  mean over pairs.

The representational baselines, linear CKA and the Procrustes shape distance on the
same states, come with it.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from .._custom_types import Array, Bool, Float, PRNGKeyArray
from .._ensemble import member
from .._simulate import simulate
from .._validate import check_int, check_key, fail
from ..models._coupling import cast_floats
from ._dsa import DSAMatrix, Score, dsa_matrix
from ._similarity import linear_cka_matrix, procrustes_matrix
from ._weights import (
    PermutationDistanceMatrix,
    _ensemble_members,
    permutation_distance_matrix,
)


class DegeneracyReport(eqx.Module):
    """Degeneracy of an ensemble's solutions (:func:`degeneracy_report`).

    Attributes:
        behaviour: standard deviation across members of the OOD error.
        dynamics: mean pairwise DSA score.
        weights: mean pairwise permutation-invariant weight distance.
        ood_error: each member's OOD error $1 - $ ``task.score``.
        dsa: the :class:`DSAMatrix` behind ``dynamics``.
        weight_distance: the :class:`PermutationDistanceMatrix` behind ``weights``.
        cka: ``(n, n)`` linear CKA of the members' states (similarity).
        procrustes: ``(n, n)`` angular Procrustes distance of the same states.
        states: the hidden states compared, ``(members, trials, time, n_hidden)``.
        ok: per member, whether every trial of both simulations (OOD and shared)
            stayed finite. A member with ``ok`` False diverged and was frozen at its
            last finite state (``dx.simulate``); its numbers in every matrix are
            not meaningful, and ``summary()`` counts it.
    """

    behaviour: Float[Array, ""]
    dynamics: Float[Array, ""]
    weights: Float[Array, ""]
    ood_error: Float[Array, " n"]
    dsa: DSAMatrix
    weight_distance: PermutationDistanceMatrix
    cka: Float[Array, "n n"]
    procrustes: Float[Array, "n n"]
    states: Float[Array, "n trials time n_hidden"]
    ok: Bool[Array, " n"]

    def summary(self) -> dict[str, float]:
        """The three summary numbers, plus the mean CKA and Procrustes distance."""
        n = self.cka.shape[0]
        off = ~np.eye(n, dtype=bool)
        return {
            "behaviour": float(self.behaviour),
            "dynamics": float(self.dynamics),
            "weights": float(self.weights),
            "mean_ood_error": float(np.mean(np.asarray(self.ood_error))),
            "cka": float(np.asarray(self.cka)[off].mean()),
            "procrustes": float(np.asarray(self.procrustes)[off].mean()),
            "n_diverged": int(np.sum(~np.asarray(self.ok))),
        }


def _trials(task, key, n_trials, dtype):
    """``n_trials`` trials, floats in the model's dtype (as ``dx.train.evaluate``)."""
    return cast_floats(jax.vmap(task.sample)(jr.split(key, n_trials)), dtype)


@eqx.filter_jit
def _run(ensemble, task, batch, y0):
    traj = simulate(
        ensemble,
        y0,
        task.ts,
        inputs=batch.inputs,
        ensemble=True,
        trials=True,
    )
    ok = jnp.reshape(traj.ok, (traj.ok.shape[0], -1)).all(axis=1)  # per member
    return traj.ys, traj.outputs, ok


def _check_task(task, n_out: int, n_in: int) -> None:
    from ..tasks import AbstractTask

    if not isinstance(task, AbstractTask):
        fail("task", "a dynax.tasks task", f"a {type(task).__name__}", error=TypeError)
    if task.n_in != n_in or task.n_out != n_out:
        fail(
            "task",
            f"a task with n_in={n_in} and n_out={n_out} (the ensemble's)",
            f"n_in={task.n_in}, n_out={task.n_out}",
        )


def degeneracy_report(
    ensemble,
    task,
    *,
    key: PRNGKeyArray,
    n_trials: int = 32,
    n_ood_trials: int = 256,
    n_delays: int = 10,
    rank: int = 16,
    score: Score = "angular",
    dsa_options: dict | None = None,
    sign_flips: bool | None = None,
) -> DegeneracyReport:
    """Behaviour, dynamics and weight degeneracy of a trained ensemble (module doc).

    Args:
        ensemble: a stacked ensemble of rate RNNs trained on ``task``.
        task: the task (a ``dynax.tasks`` task with ``ood()``).
        key: PRNG key; split into the OOD trials' key (the first of
            ``jr.split(key, 2)``) and the shared trials' key (the second).
        n_trials: trials whose hidden states DSA, CKA and Procrustes compare.
        n_ood_trials: out-of-distribution trials per member.
        n_delays: DSA's delays (dynax default, as DSA's ring-attractor notebook).
        rank: DSA's rank (dynax default, as DSA's ring-attractor notebook).
        score: DSA's score.
        dsa_options: further keyword arguments of :func:`dsa_matrix`.
        sign_flips: as :func:`permutation_distance`.

    Returns:
        A :class:`DegeneracyReport`; ``.summary()`` gives the numbers.
    """
    n = _ensemble_members("ensemble", ensemble)
    one = member(ensemble, 0)
    _check_task(task, one.n_out, one.n_in)
    check_key("key", key)
    n_trials = check_int("n_trials", n_trials, 1)
    n_ood_trials = check_int("n_ood_trials", n_ood_trials, 1)
    options = dict(dsa_options or {})
    for name in ("n_delays", "rank", "score"):
        if name in options:
            fail("dsa_options", f"no {name!r} (it is an argument of its own)", name)
    k_ood, k_states = jr.split(key)
    ood = task.ood()
    y0 = one.init_state()
    batch = _trials(ood, k_ood, n_ood_trials, y0.dtype)
    _, outputs, ok_ood = _run(ensemble, ood, batch, y0)
    ood_score = jax.vmap(lambda o: ood.score(o, batch))(outputs)
    error = 1.0 - ood_score
    shared = _trials(task, k_states, n_trials, y0.dtype)
    states, _, ok_states = _run(ensemble, task, shared, y0)
    d = dsa_matrix(states, n_delays=n_delays, rank=rank, score=score, **options)
    w = permutation_distance_matrix(ensemble, sign_flips=sign_flips)
    off = ~np.eye(n, dtype=bool)
    return DegeneracyReport(
        behaviour=jnp.std(error),
        dynamics=jnp.asarray(np.asarray(d.scores)[off].mean()),
        weights=jnp.asarray(np.asarray(w.distance)[off].mean()),
        ood_error=error,
        dsa=d,
        weight_distance=w,
        cka=linear_cka_matrix(states),
        procrustes=procrustes_matrix(states),
        states=states,
        ok=ok_ood & ok_states,
    )

r"""Packing members into vmapped groups, sized to a memory budget.

**Which members share a group.** Members are packed together when they train as one
compiled program: the same task (class and arguments), the same model structure
(equinox PyTree structure, static fields included, and every leaf's shape and
dtype, from ``eqx.filter_eval_shape`` of the constructor), and the same training
and evaluation settings apart from ``learning_rate``, which becomes a per-member
optimiser hyper-parameter. Seeds, learning rates and model arguments that only
change array values (a gain, a time constant) vary inside a group.

**How big a group is.** The estimated bytes of one member during training are

.. math::

    b = s \big[P\,(2\,(1 + O) + 2) + B\,T\,(c\,(S + Y) + U + 2Y)\big]

with ``s`` the bytes per number (the model's dtype), ``P`` the number of parameters
(the model's floating array leaves), ``O`` the optimiser's state per parameter (from
``jax.eval_shape`` of the optimiser's ``init``: 2 for Adam), counted twice (the
parameters and optimiser state a step reads and the ones it writes) plus 2 for the
gradient and the update, ``B`` the batch size, ``T`` the saved time points
(``len(task.ts)``; ``simulate`` saves every one while training), ``S`` the state
size (``model.init_state()``), ``Y`` and ``U`` the output and input channels, and
``c = 6`` for what the forward and backward passes keep per saved step and trial;
the last terms are the batch's inputs, targets and mask.

``c`` and the parameter terms are calibrated against XLA's own accounting: the
argument, output and temporary bytes of ``fit``'s compiled training program
(``memory_analysis()``, CPU, jax 0.10) for ensembles of 8 float32 CTRNNs of 16-256
units, batches of 16-128 and 50-400 steps are 0.79-0.96 of ``b`` (``b`` over-states
them by 4-26%); tests/test_sweep.py checks two other shapes in float64. The rule
bounds what XLA allocates for the program; it does not count JAX's own buffers
between steps or the evaluation after training (smaller: no backward pass).
A group holds ``min(max_group_size, budget // b)`` members (at least 1);
a signature's members are split into that many groups of nearly equal size, so
the groups of one signature share a compiled program.
"""

import dataclasses
import functools
import inspect
import json
import math
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import jax.tree_util as jtu
import numpy as np
import optax

from ._config import Member, SweepConfig, parse_bytes, resolve

BACKWARD_FACTOR = 6  # c above


def build_task(cfg: SweepConfig, m: Member):
    return resolve("task", cfg.task)(**m.task_args)


def model_kwargs(cfg: SweepConfig, m: Member, task) -> dict:
    """The model's keyword arguments: ``model_args`` plus the task's n_in/n_out."""
    kwargs = dict(m.model_args)
    params = inspect.signature(resolve("model", cfg.model)).parameters
    for size in ("n_in", "n_out"):
        if size in params and size not in kwargs and hasattr(task, size):
            kwargs[size] = getattr(task, size)
    return kwargs


def build_model(cfg: SweepConfig, m: Member, task, key):
    return resolve("model", cfg.model)(**model_kwargs(cfg, m, task), key=key)


def member_keys(cfg: SweepConfig, seed: int):
    """(init, train) keys of a member with this seed: ``fold_in(key(seed), s)``."""
    k_init, k_train = jr.split(jr.fold_in(jr.PRNGKey(cfg.seed), seed))
    return k_init, k_train


def eval_key(cfg: SweepConfig):
    """The held-out trials' key: one for the whole sweep (members compare)."""
    return jr.fold_in(jr.PRNGKey(cfg.seed), 2**31 - 1)


def _frozen(d: dict) -> str:
    return json.dumps(d, sort_keys=True, default=repr)


@functools.lru_cache(maxsize=4096)
def _structure(model: str, task: str, task_args: str, model_args: str, x64: bool):
    """(treedef, leaf shapes/dtypes, n_params, itemsize, state size) of a model."""
    cfg = SweepConfig(name="s", task=task, model=model)
    m = Member(0, 0, {}, json.loads(task_args), json.loads(model_args), {}, {})
    t = build_task(cfg, m)

    def make(key):
        net = build_model(cfg, m, t, key)
        return net, net.init_state()

    try:
        net, state = eqx.filter_eval_shape(make, jr.PRNGKey(0))
    except Exception as error:  # the user's arguments: say which call failed
        raise ValueError(
            f"model_args: {model}(**{model_args}) with the task {task}(**{task_args})"
            f" failed to build a network: {type(error).__name__}: {error}"
        ) from error
    leaves, treedef = jtu.tree_flatten(net)
    shapes = tuple(
        (tuple(x.shape), str(x.dtype)) if hasattr(x, "shape") else None for x in leaves
    )
    floats = [
        x
        for x in leaves
        if hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.inexact)
    ]
    n_params = sum(math.prod(x.shape) for x in floats)
    itemsize = max((np.dtype(x.dtype).itemsize for x in floats), default=4)
    n_state = sum(math.prod(x.shape) for x in jtu.tree_leaves(state))
    return treedef, shapes, n_params, itemsize, n_state


def structure(cfg: SweepConfig, m: Member):
    return _structure(
        cfg.model, cfg.task, _frozen(m.task_args), _frozen(m.model_args),
        bool(jax.config.read("jax_enable_x64")),
    )  # fmt: skip


def signature(cfg: SweepConfig, m: Member) -> tuple:
    """What members of one group share (see the module docstring)."""
    treedef, shapes, *_ = structure(cfg, m)
    train = {k: v for k, v in m.train.items() if k != "learning_rate"}
    return (_frozen(m.task_args), treedef, shapes, _frozen(train), _frozen(m.evaluate))


def optimizer_slots(name: str) -> int:
    """Optimiser state arrays per parameter (``jax.eval_shape`` of its init)."""
    make: Any = getattr(optax, name, None)
    if not callable(make):
        raise ValueError(
            f"train.optimizer: expected an optax optimiser name, got {name!r}."
        )
    params = jax.ShapeDtypeStruct((1000,), jnp.float32)
    opt: Any = make(1e-3)
    state = jax.eval_shape(opt.init, params)
    return round(sum(x.size for x in jtu.tree_leaves(state) if x.size >= 1000) / 1000)


def member_bytes(cfg: SweepConfig, m: Member) -> int:
    """The estimated bytes of one member in training (module docstring)."""
    _, _, n_params, itemsize, n_state = structure(cfg, m)
    task = build_task(cfg, m)
    steps, n_in, n_out = len(task.ts), int(task.n_in), int(task.n_out)
    per_trial = steps * (BACKWARD_FACTOR * (n_state + n_out) + n_in + 2 * n_out)
    slots = optimizer_slots(m.train["optimizer"])
    return itemsize * (
        n_params * (2 * (1 + slots) + 2) + m.train["batch_size"] * per_trial
    )


@dataclasses.dataclass(frozen=True)
class Group:
    """Members trained together in one vmapped program."""

    id: str
    members: tuple[int, ...]  # member indices
    member_bytes: int

    @property
    def bytes(self) -> int:
        return self.member_bytes * len(self.members)


def pack(cfg: SweepConfig, members: list[Member]) -> list[Group]:
    """Split members into groups: one signature each, within the memory budget."""
    budget = parse_bytes("memory_budget", cfg.memory_budget)
    by_signature: dict[tuple, list[Member]] = {}
    for m in members:
        by_signature.setdefault(signature(cfg, m), []).append(m)
    groups: list[Group] = []
    for same in by_signature.values():
        b = member_bytes(cfg, same[0])
        size = max(1, min(cfg.max_group_size, budget // b))
        n_groups = -(-len(same) // size)
        for part in np.array_split(np.arange(len(same)), n_groups):
            ids = tuple(same[i].index for i in part)
            groups.append(Group(f"g{len(groups):04d}", ids, b))
    return groups

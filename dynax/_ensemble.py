r"""Ensembles: one stacked PyTree of networks, and the one rule for calling on them.

An ensemble is one network's PyTree whose array leaves carry a leading **member
axis** (:func:`make_ensemble`). Every public entry point is written for one network;
``ensemble=True`` is one call into the helpers here, which check the model, decide
which arguments are per member, split keys and ``vmap``.

**The rule for arguments** (every entry point, documented once here). In a call with
``ensemble=True``:

- the model carries the member axis (``n`` members);
- every other array argument has a known rank for one network (its *core rank*: a
  state ``(n_units,)`` has 1, a trial's inputs ``(time, n_in)`` have 2): with the core
  rank it is **shared** by all members; with one more leading axis of length ``n`` it
  is **per member**; anything else is a ``ValueError`` naming the argument;
- a PRNG ``key`` is split into one key per member (members never share noise);
- results carry a leading member axis.

Where an entry point also takes a **trials axis** (``simulate(..., trials=True)``), the
trials axis comes after the member axis: per-member inputs are
``(members, trials, time, n_in)``, shared ones ``(trials, time, n_in)``.

``chunk_size`` bounds memory: members are run in groups of that size, one group after
the other (``lax.map`` over ``vmap``), with the same results as one ``vmap``.

A stacked ensemble passed without ``ensemble=True``, or one network with it, is a
``ValueError`` naming ``ensemble``, raised on the host before anything is traced
(:func:`check_ensemble`).
"""

from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import jax.tree_util as jtu
from jaxtyping import Array, Key, PRNGKeyArray, UInt32

from ._validate import (
    ArgumentTypeError,
    check_callable,
    check_ensemble as check_declared,
    fail,
    message,
)

_M = TypeVar("_M")


def make_ensemble(
    make: Callable[[PRNGKeyArray], _M], keys: Key[Array, " n"] | UInt32[Array, "n 2"]
) -> _M:
    """Build a stacked ensemble: ``eqx.filter_vmap(make)(keys)``.

    Every array leaf of the result carries a leading ensemble axis of length
    ``len(keys)``; non-array leaves (sizes, activation functions) are shared.

    Args:
        make: a function of one PRNG key returning one network.
        keys: a batch of keys, e.g. ``jax.random.split(key, 512)``.

    Returns:
        The stacked ensemble, one PyTree with the structure of a single network.

    Example:
        ```python
        ens = dx.make_ensemble(lambda k: dx.models.CTRNN(1, 64, 1, key=k),
                               jax.random.split(key, 256))
        ```
    """
    check_callable("make", make, "a function of one PRNG key returning one network")
    shape = getattr(keys, "shape", None)
    typed = shape is not None and jax.dtypes.issubdtype(keys.dtype, jax.dtypes.prng_key)
    if shape is None or len(shape) != (1 if typed else 2):
        what = (
            "a batch of PRNG keys with a leading ensemble axis, e.g. jr.split(key, n)"
        )
        fail("keys", what, f"shape {shape}")
    if shape[0] == 0:
        fail("keys", "at least one key", "an empty batch")
    return eqx.filter_vmap(make)(keys)


def member(ensemble: _M, i: int) -> _M:
    """Return member ``i`` of a stacked ensemble (index every array leaf)."""
    n = ensemble_size(ensemble)
    if not -n <= i < n:
        fail("i", f"an index in [-{n}, {n})", repr(i), error=IndexError)
    return jtu.tree_map(lambda x: x[i] if eqx.is_array(x) else x, ensemble)


def ensemble_size(ensemble) -> int:
    """The length of the leading ensemble axis of a stacked ensemble."""
    leaves = [x for x in jtu.tree_leaves(ensemble) if eqx.is_array(x)]
    if not leaves or leaves[0].ndim == 0:
        what = "a stacked ensemble (array leaves with a leading ensemble axis)"
        fail("ensemble", what, "a PyTree with no batched array leaves")
    return leaves[0].shape[0]


# --- the host-side check of `ensemble` ---------------------------------------------


def _signature(model) -> tuple:
    leaves, treedef = jtu.tree_flatten(model)
    shapes = tuple((x.shape, str(x.dtype)) if eqx.is_array(x) else None for x in leaves)
    return treedef, shapes


def _leading_sizes(model) -> set:
    return {
        x.shape[:1] for x in jtu.tree_leaves(model) if eqx.is_array(x)
    }  # () for a 0-d leaf


def _acts_as_one_network(model) -> bool | None:
    """Whether ``model(t, model.init_state(), None)`` keeps the state's shapes.

    ``None`` when it cannot tell (no ``init_state``, or not callable). A stacked
    ensemble evaluated as one network broadcasts its member axis into the result (or
    fails to), so the shapes differ.
    """
    if not (callable(model) and callable(getattr(model, "init_state", None))):
        return None

    def run(m):
        y = m.init_state()
        return y, m(jnp.zeros(()), y, None)

    try:
        with jax.numpy_rank_promotion("allow"), jax.numpy_dtype_promotion("standard"):
            y, out = eqx.filter_eval_shape(run, model)
    except Exception:  # any failure means: not one network
        return False
    if jtu.tree_structure(y) != jtu.tree_structure(out):
        return False
    return all(
        a.shape == b.shape
        for a, b in zip(jtu.tree_leaves(y), jtu.tree_leaves(out), strict=True)
    )


def _stacked_verdict(model) -> str | None:
    """A message if ``model`` behaves as a stacked ensemble (for ``ensemble=False``).

    Models whose fields declare their axes are judged by those declarations
    (:func:`dynax._validate.check_ensemble`); this catches the rest: every array
    leaf shares one leading axis, the model does not run as one network, and its
    member 0 does.
    """
    sizes = _leading_sizes(model)
    if len(sizes) == 1 and () not in sizes and _acts_as_one_network(model) is False:
        if _acts_as_one_network(member(model, 0)):
            n = next(iter(sizes))[0]
            return message(
                "ensemble",
                f"True for a stacked ensemble of {n} members",
                "False",
                hint=(
                    f"Every array leaf has a leading axis of {n}, and member 0 runs "
                    "as one network. Pass ensemble=True, or dx.member(model, i)."
                ),
            )
    return None


_VERDICTS: dict = {}  # (structure and leaf shapes, ensemble) -> message or None


def check_ensemble(model, ensemble: bool, name: str = "model") -> None:
    """Raise ``ValueError`` naming ``ensemble`` when it does not match ``model``.

    Runs on the host, before tracing: the declared-axes rule of
    :func:`dynax._validate.check_ensemble`, then, for ``ensemble=False``, a
    behavioural check for models without declared axes (cached per model structure
    and leaf shapes, so repeated calls cost a dictionary lookup).
    """
    check_declared(model, ensemble, name=name)
    if ensemble:
        return
    cache_key = _signature(model)
    if cache_key not in _VERDICTS:
        if len(_VERDICTS) > 1024:
            _VERDICTS.clear()
        _VERDICTS[cache_key] = _stacked_verdict(model)
    if _VERDICTS[cache_key] is not None:
        raise ValueError(_VERDICTS[cache_key])


# --- shared versus per-member arguments ---------------------------------------------


def member_axis(name: str, value, core_rank: int, n: int) -> int | None:
    """The one rule: ``None`` (shared) or ``0`` (per member) for an argument.

    ``value`` may be a PyTree; ``core_rank`` is the rank of its leaves for one
    network (all leaves alike). Raises ``ValueError`` naming ``name`` otherwise.
    """
    leaves = [x for x in jtu.tree_leaves(value) if eqx.is_array(x)]
    if not leaves:
        return None
    ranks = {jnp.ndim(x) for x in leaves}
    if ranks == {core_rank}:
        return None
    if ranks == {core_rank + 1} and all(jnp.shape(x)[0] == n for x in leaves):
        return 0
    got = [tuple(jnp.shape(x)) for x in leaves]
    raise ValueError(
        f"{name}: expected rank {core_rank} (shared by all {n} members) or a leading "
        f"member axis of {n} on top of it (one per member), got shape"
        f"{'s' if len(got) > 1 else ''} {got if len(got) > 1 else got[0]}."
    )


def state_axis(name: str, value, model, n: int) -> int | None:
    """:func:`member_axis` for a state: core ranks from ``model.init_state()``."""
    init = getattr(member(model, 0), "init_state", None)
    if init is None:
        return None
    ref = eqx.filter_eval_shape(init)
    if jtu.tree_structure(ref) != jtu.tree_structure(value):
        return None  # the caller's own structure check reports it
    axes = {
        member_axis(name, v, r.ndim, n)
        for v, r in zip(jtu.tree_leaves(value), jtu.tree_leaves(ref), strict=True)
    }
    if len(axes) > 1:
        raise ValueError(
            f"{name}: expected every leaf shared or every leaf per member, got a mix."
        )
    return axes.pop() if axes else None


def map_members(
    fn: Callable,
    model,
    args: tuple,
    axes: tuple,
    key: PRNGKeyArray | None = None,
    chunk_size: int | None = None,
) -> Any:
    """``fn(member, *args, key)`` for every member at once (use inside ``jit``).

    ``axes[i]`` is ``None`` (shared) or a member axis for ``args[i]``: ``0`` (from
    :func:`member_axis`) or ``eqx.if_array(0)`` for a PyTree with static leaves; the
    key is split into one key per member. With ``chunk_size``, members run in groups
    of that size (``lax.map`` over ``vmap``; the last group is padded with copies of
    member 0, whose results are dropped).
    """
    n = ensemble_size(model)
    keys = None if key is None else jr.split(key, n)
    in_axes = (eqx.if_array(0), *axes, None if keys is None else 0)
    run = eqx.filter_vmap(fn, in_axes=in_axes)
    if chunk_size is None or chunk_size >= n:
        return run(model, *args, keys)
    n_chunks = -(-n // chunk_size)
    pad = n_chunks * chunk_size - n

    def chunked(x):
        x = jnp.concatenate([x, jnp.repeat(x[:1], pad, axis=0)]) if pad else x
        return x.reshape((n_chunks, chunk_size) + x.shape[1:])

    batched = [True, *(a is not None for a in axes), keys is not None]
    values = [model, *args, keys]
    dynamic, static = eqx.partition(
        [v if b else None for v, b in zip(values, batched, strict=True)], eqx.is_array
    )
    dynamic = jtu.tree_map(chunked, dynamic)
    shared = [None if b else v for v, b in zip(values, batched, strict=True)]

    def group(d):
        parts = eqx.combine(d, static)
        full = [p if b else s for p, s, b in zip(parts, shared, batched, strict=True)]
        return run(*full)

    out = jax.lax.map(group, dynamic)
    return jtu.tree_map(
        lambda x: x.reshape((-1,) + x.shape[2:])[:n] if eqx.is_array(x) else x, out
    )


def check_chunk_size(chunk_size, ensemble: bool) -> int | None:
    """``chunk_size`` is ``None`` or a positive int, and only with ``ensemble``."""
    if chunk_size is None:
        return None
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int):
        raise ArgumentTypeError(
            f"chunk_size: expected a positive int or None, got "
            f"{type(chunk_size).__name__}."
        )
    if chunk_size < 1:
        raise ValueError(f"chunk_size: expected an int >= 1, got {chunk_size}.")
    if not ensemble:
        raise ValueError(
            f"chunk_size: expected None for one network (ensemble=False), got "
            f"{chunk_size}; it groups the members of an ensemble."
        )
    return chunk_size


# --- one plan per call: every entry point's only contact with `ensemble` -----------


class Plan(NamedTuple):
    """How one call treats its arguments: one network, or members (static, hashable).

    Built on the host by :func:`plan`; :func:`run` carries it out inside ``jit``.
    """

    ensemble: bool
    n: int  # members (1 for one network)
    axes: tuple  # per argument: None (shared) or 0 (per member)
    chunk_size: int | None

    @property
    def shape(self) -> tuple[int, ...]:
        """The leading shape of per-member results: ``(n,)``, or ``()``."""
        return (self.n,) if self.ensemble else ()

    def first(self, i: int, value):
        """Argument ``i`` as one member sees it (for shape checks on the host)."""
        if self.axes[i] is None or value is None:
            return value
        return jtu.tree_map(lambda x: x[0] if eqx.is_array(x) else x, value)

    def one(self, model):
        """One network of ``model`` (member 0 of an ensemble): for checks."""
        return member(model, 0) if self.ensemble else model

    def with_axes(self, *axes) -> "Plan":
        """The same plan for other arguments (e.g. per-member training state)."""
        return self._replace(axes=tuple(axes))


def plan(
    model,
    ensemble: bool,
    args: tuple = (),
    chunk_size: int | None = None,
    default_chunk: int | None = None,
    name: str = "model",
) -> Plan:
    """Check ``ensemble`` against ``model`` and apply the rule to ``args``.

    ``args`` is a tuple of ``(name, value, core_rank)``; a ``core_rank`` of
    ``None`` means always shared, ``"state"`` takes the ranks from
    ``model.init_state()``, and a ``value`` of ``None`` is shared.
    ``default_chunk`` is the entry point's ``chunk_size`` when the user gives none;
    ``name`` is the model's argument name in the caller.
    """
    check_ensemble(model, ensemble, name)
    chunk_size = check_chunk_size(chunk_size, ensemble)
    if not ensemble:
        return Plan(False, 1, (None,) * len(args), None)
    chunk_size = default_chunk if chunk_size is None else chunk_size
    n = ensemble_size(model)
    axes = []
    for name, value, rank in args:
        if value is None or rank is None:
            axes.append(None)
        elif rank == "state":
            axes.append(state_axis(name, value, model, n))
        else:
            axes.append(member_axis(name, value, rank, n))
    return Plan(True, n, tuple(axes), chunk_size)


def run(fn: Callable, model, args: tuple, how: Plan, key=None) -> Any:
    """``fn(model, *args, key)`` for one network, or for every member at once."""
    if not how.ensemble:
        return fn(model, *args, key)
    return map_members(fn, model, args, how.axes, key, how.chunk_size)

"""Argument checks shared by dynax's public API (a leaf module: imports no dynax code).

Every argument error reads ``"<name>: expected <what>, got <what>."``, sometimes
followed by one sentence saying what to do. The rules:

- ``TypeError`` for the wrong kind of object (a float where an integer belongs, a
  string where a solver belongs), ``ValueError`` for the right kind with a wrong
  value, shape or dtype. The ``TypeError`` raised here is :class:`ArgumentTypeError`,
  which is also a ``ValueError``: ``except ValueError`` catches every argument error
  dynax raises, as it did before wrong types were told apart.
- Checks run on the host, before anything is traced. A traced value (inside
  ``jit``, ``vmap`` or ``grad``) cannot be read there; :func:`check_elements` then
  puts an ``eqx.error_if`` into the computation, which raises when it runs.
- Ensembles: :func:`check_ensemble` (the rule is in its docstring).
"""

import dataclasses
import functools
import numbers
import typing
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type: a ``TypeError`` that is also a ``ValueError``."""


def message(name: str, expected: str, got: str, hint: str | None = None) -> str:
    """Return ``"<name>: expected <expected>, got <got>."`` (and the hint after it)."""
    text = f"{name}: expected {expected}, got {got.rstrip('.')}."
    return text if hint is None else f"{text} {hint}"


def fail(
    name: str,
    expected: str,
    got: str,
    *,
    hint: str | None = None,
    error: type[Exception] = ValueError,
) -> NoReturn:
    """Raise ``error`` (``TypeError`` becomes :class:`ArgumentTypeError`)."""
    error = ArgumentTypeError if error is TypeError else error
    raise error(message(name, expected, got, hint))


def describe(value: Any) -> str:
    """How ``value`` reads after "got": a repr, an array's shape and dtype, a type."""
    if isinstance(value, bool | int | float | complex | str | np.generic | type(None)):
        return repr(value)
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return f"an array of shape {tuple(value.shape)} and dtype {value.dtype}"
    kind = type(value).__name__
    return f"{'an' if kind[:1].lower() in 'aeiou' else 'a'} {kind}"


def is_concrete(x) -> bool:
    """Whether ``x`` holds concrete values (not a tracer under jit/vmap/grad)."""
    try:
        np.asarray(x)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return False
    return True


# --- Python scalars and objects (static options, read on the host) -----------------


def _interval(low, high, low_open: bool, high_open: bool) -> str:
    low, high = (f"{x:g}" if isinstance(x, float) else x for x in (low, high))
    if high is None:
        return f"{'>' if low_open else '>='} {low}"
    if low is None:
        return f"{'<' if high_open else '<='} {high}"
    return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"


def check_int(
    name: str, value: Any, minimum: int | None = None, maximum: int | None = None
) -> int:
    """Return ``value`` as an ``int`` after checking it is an integer in bounds."""
    bounds = (
        ""
        if minimum is None and maximum is None
        else " " + _interval(minimum, maximum, False, False)
    )
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        fail(name, f"an integer{bounds}", describe(value), error=TypeError)
    out = int(value)
    if (minimum is not None and out < minimum) or (
        maximum is not None and out > maximum
    ):
        fail(name, f"an integer{bounds}", repr(value))
    return out


def check_float(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    what: str | None = None,
) -> float:
    """Return ``value`` (a concrete real number) as a ``float`` within the bounds.

    ``low_open``/``high_open`` exclude the bound itself; NaN is never in bounds.
    ``what`` replaces the description of the bounds in the message.
    """
    if what is None:
        what = "a number"
        if low is not None or high is not None:
            what += " " + _interval(low, high, low_open, high_open)
    is_real = isinstance(value, numbers.Real) or (
        hasattr(value, "dtype") and np.ndim(value) == 0
    )
    if isinstance(value, bool) or not is_real:
        fail(name, what, describe(value), error=TypeError)
    if not is_concrete(value):
        fail(name, f"{what}, known outside jit", "a traced value", error=TypeError)
    x = float(np.asarray(value))
    ok = low is None or (x > low if low_open else x >= low)
    ok = ok and (high is None or (x < high if high_open else x <= high))
    if not ok:
        fail(name, what, repr(value) if not hasattr(value, "dtype") else repr(x))
    return x


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """Return ``value`` after checking it is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        fail(name, f"one of {tuple(choices)}", describe(value))
    return value


def check_bool(name: str, value: Any, *, optional: bool = False) -> None:
    """Check that ``value`` is a bool (or ``None`` when ``optional``)."""
    if optional and value is None:
        return
    if not isinstance(value, bool | np.bool_):
        what = "a bool or None" if optional else "a bool"
        fail(name, what, describe(value), error=TypeError)


def check_callable(name: str, value: Any, what: str = "a callable") -> None:
    """Check that ``value`` is callable (``what`` describes the expected call)."""
    if not callable(value):
        fail(name, what, describe(value), error=TypeError)


def check_instance(
    name: str, value: Any, types, what: str, *, optional: bool = False
) -> None:
    """Check that ``value`` is an instance of ``types`` (or ``None`` if optional)."""
    if not ((optional and value is None) or isinstance(value, types)):
        fail(name, what, describe(value), error=TypeError)


def check_attrs(name: str, value: Any, attrs: Sequence[str], what: str) -> None:
    """Check that ``value`` has every attribute in ``attrs`` (duck typing)."""
    for attr in attrs:
        if not hasattr(value, attr):
            got = f"{describe(value)} without .{attr}"
            fail(name, what, got, error=TypeError)


def check_key(name: str, key: Any, *, optional: bool = False) -> None:
    """Check that ``key`` is one PRNG key: typed (shape ``()``) or raw uint32."""
    if optional and key is None:
        return
    dtype, shape = getattr(key, "dtype", None), getattr(key, "shape", None)
    if dtype is None or shape is None:
        what = "a jax PRNG key such as jax.random.key(0)"
        what += " or None" if optional else ""
        fail(name, what, describe(key), error=TypeError)
    typed = jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)
    if (typed and shape != ()) or (
        not typed and (dtype != jnp.uint32 or len(shape) != 1)
    ):
        fail(name, "one PRNG key such as jax.random.key(0)", describe(key))


def check_float_dtype(name: str, dtype: Any) -> np.dtype:
    """Return ``dtype`` as a floating NumPy dtype (``None``: JAX's default float)."""
    if dtype is None:
        return np.dtype(jnp.result_type(float))
    try:
        out = np.dtype(dtype)
    except TypeError:
        what = "a floating dtype such as jnp.float32"
        fail(name, what, describe(dtype), error=TypeError)
    if not jnp.issubdtype(out, jnp.floating):
        fail(name, "a floating dtype such as jnp.float32", str(out))
    return out


# --- arrays -------------------------------------------------------------------------


def as_array(name: str, value: Any, dtype=None) -> jax.Array:
    """Return ``jnp.asarray(value, dtype)``; a value that is no array is a TypeError."""
    if isinstance(value, str) or value is None:
        fail(name, "an array", describe(value), error=TypeError)
    try:
        return jnp.asarray(value, dtype)
    except (TypeError, ValueError):
        fail(name, "an array", describe(value), error=TypeError)


def check_array(
    name: str,
    value: Any,
    *,
    ndim: int | Sequence[int] | None = None,
    min_ndim: int | None = None,
    shape: Sequence[int | None] | None = None,
    dtype=None,
    what: str | None = None,
) -> jax.Array:
    """Return ``value`` as an array (of ``dtype``) after checking its ndim and shape.

    ``shape`` may hold ``None`` for an axis of any length; ``what`` describes the
    expected array in the message (default: built from the other arguments).
    """
    arr = as_array(name, value, dtype)
    ndims = (ndim,) if isinstance(ndim, int) else ndim
    if what is None:
        what = _array_what(ndims, min_ndim, shape)
    bad_shape = shape is not None and (
        arr.ndim != len(shape)
        or any(s is not None and s != a for s, a in zip(shape, arr.shape, strict=True))
    )
    if (
        bad_shape
        or (ndims is not None and arr.ndim not in ndims)
        or (min_ndim is not None and arr.ndim < min_ndim)
    ):
        fail(name, what, f"shape {arr.shape}")
    return arr


def _array_what(ndims, min_ndim, shape) -> str:
    if shape is not None:
        return (
            "shape ("
            + ", ".join("_" if s is None else str(s) for s in shape)
            + (",)" if len(shape) == 1 else ")")
        )
    if ndims is not None:
        return " or ".join(f"{k}-d" for k in ndims) + " array"
    if min_ndim is not None:
        return f"an array with at least {min_ndim} axes"
    return "an array"


def check_unit_shape(name: str, value: Any, n: int, axis: str = "n_hidden") -> None:
    """Check that ``value`` is a scalar or has shape ``(n,)`` (one per unit)."""
    if jnp.shape(value) not in ((), (n,)):
        fail(name, f"a scalar or shape ({axis},) = ({n},)", f"shape {jnp.shape(value)}")


def check_elements(
    name: str, value: Any, dtype, is_bad: Callable, condition: str
) -> jax.Array:
    """Return ``value`` as an array of ``dtype``; fail where ``is_bad`` holds.

    ``condition`` (e.g. ``"> 0"``) says what each element must satisfy. A value
    known on the host (a Python number or a NumPy or concrete JAX array, also inside
    ``jit``) is checked there and raises ``ValueError`` at once. Only a traced value
    (e.g. a hyper-parameter swept with ``vmap``) is checked with ``eqx.error_if``,
    which raises when the computation runs.
    """
    arr = as_array(name, value, dtype)
    expected = f"{'a value' if arr.ndim == 0 else 'every element'} {condition}"
    if not is_concrete(value):
        msg = message(name, expected, "a traced value that is not")
        return eqx.error_if(arr, jnp.any(is_bad(arr)), msg)
    host = np.asarray(value).astype(np.dtype(dtype))
    if np.any(is_bad(host)):
        fail(name, expected, repr(value) if arr.ndim == 0 else repr(host))
    return arr


def check_positive(name: str, value: Any, dtype, *, strict: bool) -> jax.Array:
    """Return ``value`` as an array of ``dtype``: every element ``> 0`` (strict).

    With ``strict=False`` every element must be ``>= 0``. NaN fails both. Traced
    values are checked with ``eqx.error_if`` (see :func:`check_elements`).
    """
    if strict:
        return check_elements(name, value, dtype, lambda a: ~(a > 0), "> 0")
    return check_elements(name, value, dtype, lambda a: ~(a >= 0), ">= 0")


def check_finite(name: str, value: jax.Array, what: str = "finite values") -> None:
    """Raise for a concrete array holding NaN or inf (traced values pass)."""
    if is_concrete(value):
        bad = ~np.isfinite(np.asarray(value))
        if np.any(bad):
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            shown = index[0] if len(index) == 1 else index
            fail(name, what, f"{np.asarray(value)[index]} at {name}[{shown}]")


def check_counts(name: str, spikes: Any) -> None:
    """Spike counts: non-negative whole numbers or NaN (host check if concrete)."""
    if not is_concrete(spikes):
        return
    s = np.asarray(spikes, np.float64)
    seen = s[~np.isnan(s)]
    bad = ~np.isfinite(seen) | (seen < 0) | (seen != np.round(seen))
    if np.any(bad):
        what = "spike counts: whole numbers >= 0 (NaN marks missing bins)"
        fail(name, what, f"the value {seen[np.argmax(bad)]!r}")


def check_like(name: str, value: Any, like: Any, what: str) -> None:
    """Check that ``value`` has the PyTree structure and leaf shapes of ``like``.

    ``like`` holds arrays or ``jax.ShapeDtypeStruct`` (e.g. from ``eval_shape``);
    ``what`` names where the expected shapes come from.
    """
    got_struct, want_struct = jtu.tree_structure(value), jtu.tree_structure(like)
    if got_struct != want_struct:
        fail(name, f"the structure of {what}, {want_struct}", str(got_struct))
    for got, want in zip(jtu.tree_leaves(value), jtu.tree_leaves(like), strict=True):
        if jnp.shape(got) != want.shape:
            fail(name, f"shape {want.shape} ({what})", f"shape {jnp.shape(got)}")


# --- ensembles ----------------------------------------------------------------------


def _declared_ndim(annotation: Any) -> int | None:
    """The number of axes a jaxtyping annotation fixes; ``None`` if it fixes none."""
    options = typing.get_args(annotation) or (annotation,)
    ndims = {
        len(a.dims)
        for a in options
        if isinstance(a, type) and hasattr(a, "dims") and a.index_variadic is None
    }
    return ndims.pop() if len(ndims) == 1 else None


@functools.lru_cache(maxsize=256)
def _type_hints(cls: type) -> dict:
    try:
        return typing.get_type_hints(cls)
    except Exception:  # unresolvable forward references: fall back to field.type
        return {}


def _declared_leaves(module: Any, prefix: str = "") -> list[tuple[str, tuple, int]]:
    """``(path, shape, declared ndim)`` of each array field with a fixed ndim."""
    out = []
    if not dataclasses.is_dataclass(module) or not isinstance(module, eqx.Module):
        return out
    hints = _type_hints(type(module))
    for field in dataclasses.fields(module):
        value = getattr(module, field.name, None)
        path = prefix + field.name
        children = value if isinstance(value, list | tuple) else (value,)
        for i, child in enumerate(children):
            child_path = path if len(children) == 1 else f"{path}[{i}]"
            if isinstance(child, eqx.Module):
                out += _declared_leaves(child, child_path + ".")
            elif eqx.is_array(child) and len(children) == 1:
                k = _declared_ndim(hints.get(field.name, field.type))
                if k is not None:
                    out.append((child_path, tuple(child.shape), k))  # pyright: ignore
    return out


def _member_count(model: Any, name: str) -> int | None:
    """Members of a stacked ensemble, ``None`` for one network (see check_ensemble)."""
    leaves = _declared_leaves(model)
    if not leaves:
        arrays = [x for x in jtu.tree_leaves(model) if eqx.is_array(x)]
        sizes = {x.shape[:1] for x in arrays}
        return sizes.pop()[0] if len(sizes) == 1 and () not in sizes else None
    if min(len(shape) - k for _, shape, k in leaves) <= 0:
        return None  # a field without a member axis: one network
    sizes = {shape[0] for _, shape, _ in leaves}
    if len(sizes) == 1:
        return sizes.pop()
    fail(
        name,
        "one network, or a stacked ensemble with one leading member axis of the "
        "same length on every array field",
        f"leading axes of lengths {sorted(sizes)}",
    )


def check_ensemble(
    model: Any, ensemble: Any, *, name: str = "model", flag: str | None = "ensemble"
) -> int | None:
    """Check that ``ensemble`` says whether ``model`` is a stacked ensemble.

    The rule: a dynax model declares each array field's axes with jaxtyping (e.g.
    ``W: Float[Array, "n_hidden n_hidden"]``; fields typed ``"..."`` or ``"*name"``
    are skipped, sub-modules are searched). ``model`` is a stacked ensemble
    (:func:`dynax.make_ensemble`) when every such field has more axes than declared,
    all with one leading length (the members); it is one network when some field
    has no more than declared (so a network that stores, say, a per-unit value in a
    field declared scalar still counts as one). A PyTree without such annotations
    (a plain function, a user module) counts as an ensemble when all its array
    leaves share one leading axis; only ``ensemble=True`` is checked for it (one
    network with arrays of any shape cannot be told from an ensemble).

    Args:
        model: the network(s).
        ensemble: the caller's ``ensemble`` flag.
        name: the argument name of ``model`` in the caller.
        flag: the argument name of the flag; ``None`` for a function that takes one
            network only (a stacked ensemble is then an error naming ``name``).

    Returns:
        The number of members, or ``None`` for one network.
    """
    if flag is not None:
        check_bool(flag, ensemble)
    n = _member_count(model, name)
    leaves = _declared_leaves(model)
    seen = f"The array leaves of {name} share no leading axis. "
    if leaves:
        path, shape, k = leaves[0]
        axes = "axis" if k == 1 else "axes"
        seen = f"{name}.{path} has shape {shape}; one network's has {k} {axes}. "
    if flag is None and n is not None and leaves:
        hint = "Vmap over the members (eqx.filter_vmap) or pick one (dx.member)."
        fail(
            name, "one network", f"a stacked ensemble of {n} members", hint=seen + hint
        )
    if flag is None:
        return None
    if ensemble and n is None:
        hint = seen + "Build an ensemble with dx.make_ensemble."
        fail(flag, "False for one network", "True", hint=hint)
    if not ensemble and n is not None and leaves:
        hint = seen + "Pass ensemble=True, or dx.member(model, i) for one member."
        fail(flag, f"True for a stacked ensemble of {n} members", "False", hint=hint)
    return n if ensemble else None

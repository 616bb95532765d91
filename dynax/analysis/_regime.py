r"""Learning regime: how far training moved the weights, in how many directions.

In the *lazy* (kernel) regime training barely moves the weights and the
representation, so the network behaves as its linearisation around the start
(Chizat, Oyallon & Bach 2019); in the *rich* (feature-learning) regime weights and
representations change a lot, and in recurrent networks the change $\Delta W$ is
typically low rank (Schuessler et al. 2020). Large initial weights favour lazy
learning, small ones rich learning; for RNNs Liu et al. (2024, ICLR, "How
connectivity structure shapes rich and lazy learning in neural circuits") find
high-rank initial connectivity lazier than low-rank. The measures here:

- :func:`weight_change`: $\lVert W_1 - W_0\rVert_F / \lVert W_0\rVert_F$ and the
  spectral-norm ratio $\lVert W_1 - W_0\rVert_2 / \lVert W_0\rVert_2$, for the
  recurrent matrix or any chosen leaves (also per leaf).
- :func:`effective_rank`: the entropy effective rank of Roy & Vetterli (2007),
  $\exp(-\sum_i p_i \log p_i)$ with $p_i = \sigma_i / \sum_j \sigma_j$ over the
  singular values $\sigma$, and the participation ratio
  $(\sum_i \sigma_i^2)^2 / \sum_i \sigma_i^4$; of $W$ or of $\Delta W$
  (``change_from=``).
- :func:`~dynax.analysis.kernel_alignment` (``_similarity``): kernel alignment
  and linear CKA of states, before versus after, and against the targets.
- :func:`~dynax.analysis.learning_regime` (``_learning_regime``): all of these in
  one report.

Weights are chosen by ``weights``: ``None`` (default) is the recurrent matrix, the
attribute ``W`` of a model that has one (``CTRNN``; the signed ``W`` of an
``EIRNN``; ``ESN``, ``VanillaRNN``, ``LIFReservoir``) or else ``J`` (the dense
$mn^\top/N$ of a ``LowRankRNN``); an attribute name or a sequence of names (also
properties); ``"all"`` for every floating-point array leaf; or a function of one
network returning an array or a PyTree of arrays. An array passed in place of a
model is its own weight.
"""

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import equinox as eqx
import jax.numpy as jnp
import jax.scipy.special as jss
import jax.tree_util as jtu
import numpy as np

from .._custom_types import Array, Float
from .._ensemble import plan, run
from .._validate import describe, fail, is_concrete

Weights = str | Sequence[str] | Callable[[Any], Any] | None


# --- choosing the weights ------------------------------------------------------------


def _named(tree, prefix: str) -> dict[str, Any]:
    leaves = jtu.tree_flatten_with_path(tree)[0]
    return {
        (prefix + jtu.keystr(p)).lstrip(".") or prefix or "array": x for p, x in leaves
    }


def _pick(model, weights: Weights) -> dict[str, Any]:
    """The chosen weights of one network (or, under vmap, of each member)."""
    if weights is None:
        if eqx.is_array(model):
            return {"array": model}
        for attr in ("W", "J"):
            value = getattr(model, attr, None)
            if eqx.is_array(value):
                return {attr: value}
        fail(
            "weights",
            "a choice of weights for a model without a recurrent matrix .W or .J "
            '(an attribute name, "all", or a function of the model)',
            f"None for a {type(model).__name__}",
        )
    if isinstance(weights, str) and weights == "all":
        return _named(eqx.filter(model, eqx.is_inexact_array), "")
    if callable(weights):
        return _named(weights(model), "weights(model)")
    names = (weights,) if isinstance(weights, str) else tuple(weights)
    out = {}
    for name in names:
        if not isinstance(name, str) or not hasattr(model, name):
            fail(
                "weights",
                f"attribute names of the model ({type(model).__name__})",
                repr(name),
            )
        out[name] = getattr(model, name)
    return out


def _check_picked(picked: dict[str, Any], name: str) -> None:
    if not picked:
        fail("weights", "at least one floating-point array", f"none in {name}")
    for leaf, value in picked.items():
        if not (eqx.is_array(value) and jnp.issubdtype(value.dtype, jnp.floating)):
            fail("weights", "floating-point arrays", f"{leaf}: {describe(value)}")


def _finite(picked: dict[str, Array], name: str) -> None:
    for leaf, value in picked.items():
        if not is_concrete(value):
            continue
        bad = ~np.isfinite(np.asarray(value))
        if np.any(bad):
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            where = name if leaf == "array" else f"{name}.{leaf}"
            got = f"{np.asarray(value)[index]} at {where}[{', '.join(map(str, index))}]"
            fail(name, "finite weights", got)


def _weights(model, weights: Weights, how, name: str):
    """Checked weights of ``model`` (stacked per member for an ensemble).

    Returns ``(names, arrays)`` in the order of the choice.
    """
    one = _pick(how.one(model), weights)
    _check_picked(one, name)
    if how.ensemble:
        picked = eqx.filter_vmap(lambda m: _pick(m, weights))(model)
    else:
        picked = one
    _finite(picked, name)
    return tuple(one), [picked[k] for k in one]


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _difference(before, after, names) -> str:
    """What differs between two PyTrees of different structure (for the message)."""
    if type(before) is not type(after):
        a, b = type(after).__name__, type(before).__name__
        return f"{_article(a)} {a} ({names[0]}: {_article(b)} {b})"
    if dataclasses.is_dataclass(before):
        for field in dataclasses.fields(before):
            a, b = getattr(before, field.name, None), getattr(after, field.name, None)
            if field.metadata.get("static", False) and a != b:
                return f"{field.name}={b!r} ({names[0]}: {a!r})"
    return "a different PyTree structure"


def _same_structure(before, after, names=("model_before", "model_after")) -> None:
    if jtu.tree_structure(before) != jtu.tree_structure(after):
        what = f"a model of the same structure as {names[0]}"
        fail(names[1], what, _difference(before, after, names))
    for x, y in zip(jtu.tree_leaves(before), jtu.tree_leaves(after), strict=True):
        if jnp.shape(x) != jnp.shape(y):
            fail(
                names[1],
                f"the leaf shapes of {names[0]} ({jnp.shape(x)})",
                f"shape {jnp.shape(y)}",
            )


def _pair(before, after, weights, ensemble, names):
    """Both models checked (ensemble flag, structure, finite values).

    Returns ``(leaf names, weights before, weights after, plan)``.
    """
    how = plan(before, ensemble, name=names[0])
    plan(after, ensemble, name=names[1])
    _same_structure(before, after, names)
    leaves, w0 = _weights(before, weights, how, names[0])
    _, w1 = _weights(after, weights, how, names[1])
    return leaves, w0, w1, how


# --- weight change -------------------------------------------------------------------


class WeightChange(eqx.Module):
    r"""How far training moved the chosen weights (:func:`weight_change`).

    The chosen leaves are taken together as one block-diagonal operator, so the
    totals are $\lVert \Delta W\rVert_F^2 = \sum_\ell \lVert \Delta W_\ell\rVert_F^2$
    and $\lVert \Delta W\rVert_2 = \max_\ell \lVert \Delta W_\ell\rVert_2$ (for one
    matrix: its own norms). A ratio $x/0$ is ``inf`` and $0/0$ is 0 (an unchanged
    zero leaf, e.g. a bias that stayed at zero). For an ensemble each field has a
    leading member axis.

    Attributes:
        relative: $\lVert W_1 - W_0\rVert_F / \lVert W_0\rVert_F$.
        relative_spectral: $\lVert W_1 - W_0\rVert_2 / \lVert W_0\rVert_2$.
        norm_before: $\lVert W_0\rVert_F$.
        norm_change: $\lVert W_1 - W_0\rVert_F$ (the absolute change Liu et al.
            report).
        leaf_relative: ``relative`` of each leaf, shape ``(..., leaves)``.
        leaf_relative_spectral: ``relative_spectral`` of each leaf. A leaf with
            more than two axes is read as a matrix ``(shape[0], -1)``; a vector's
            spectral norm is its Euclidean norm.
        leaf_norm_before: $\lVert W_0\rVert_F$ of each leaf.
        leaf_norm_change: $\lVert W_1 - W_0\rVert_F$ of each leaf.
        leaves: the leaves' names, in the order of the trailing axis.
    """

    relative: Float[Array, "*ens"]
    relative_spectral: Float[Array, "*ens"]
    norm_before: Float[Array, "*ens"]
    norm_change: Float[Array, "*ens"]
    leaf_relative: Float[Array, "*ens leaves"]
    leaf_relative_spectral: Float[Array, "*ens leaves"]
    leaf_norm_before: Float[Array, "*ens leaves"]
    leaf_norm_change: Float[Array, "*ens leaves"]
    leaves: tuple[str, ...] = eqx.field(static=True)


def _ratio(num: Array, den: Array) -> Array:
    safe = jnp.where(den > 0, den, 1.0)
    return jnp.where(den > 0, num / safe, jnp.where(num > 0, jnp.inf, 0.0))


def _spectral(x: Array) -> Array:
    if x.size == 0:
        return jnp.zeros((), x.dtype)
    if x.ndim < 2:
        return jnp.linalg.norm(x)
    s = jnp.linalg.svd(x.reshape(x.shape[0], -1), compute_uv=False)
    return s[0]


def _change(w0: list, w1: list, leaves: tuple[str, ...]) -> WeightChange:
    """The weight change of one network (leaves in the same order)."""
    d = [b - a for b, a in zip(w1, w0, strict=True)]
    fro0 = jnp.stack([jnp.linalg.norm(x.reshape(-1)) for x in w0])
    frod = jnp.stack([jnp.linalg.norm(x.reshape(-1)) for x in d])
    spec0 = jnp.stack([_spectral(x) for x in w0])
    specd = jnp.stack([_spectral(x) for x in d])
    total0, totald = jnp.linalg.norm(fro0), jnp.linalg.norm(frod)
    return WeightChange(
        relative=_ratio(totald, total0),
        relative_spectral=_ratio(jnp.max(specd), jnp.max(spec0)),
        norm_before=total0,
        norm_change=totald,
        leaf_relative=_ratio(frod, fro0),
        leaf_relative_spectral=_ratio(specd, spec0),
        leaf_norm_before=fro0,
        leaf_norm_change=frod,
        leaves=leaves,
    )


@eqx.filter_jit
def _weight_change(w0: list, w1: list, leaves: tuple[str, ...], how) -> WeightChange:
    def one(b, a, key):
        del key
        return _change(b, a, leaves)

    return run(one, w0, (w1,), how.with_axes(0))


def weight_change(
    model_before,
    model_after,
    *,
    weights: Weights = None,
    ensemble: bool = False,
) -> WeightChange:
    r"""Relative change of the weights from ``model_before`` to ``model_after``.

    Args:
        model_before: the network before training (a dynax model, any PyTree of
            arrays, or a weight array); with ``ensemble=True`` a stacked
            ensemble (``dx.make_ensemble``).
        model_after: the same network after training: the same structure and leaf
            shapes.
        weights: which weights (module docstring); default the recurrent matrix.
        ensemble: both models are stacked ensembles; results per member (one
            ``vmap``, no loop over members).

    Returns:
        A :class:`WeightChange`.

    Example:
        ```python
        trained, _ = dx.train.fit(net, task, ...)
        dx.analysis.weight_change(net, trained).relative      # |dW|_F / |W0|_F
        dx.analysis.weight_change(net, trained, weights="all").leaf_relative
        ```
    """
    names = ("model_before", "model_after")
    leaves, w0, w1, how = _pair(model_before, model_after, weights, ensemble, names)
    return _weight_change(w0, w1, leaves, how)


# --- effective rank ------------------------------------------------------------------


class EffectiveRank(eqx.Module):
    r"""Effective ranks of a matrix from its singular values $\sigma_i$.

    Both are 0 for the zero matrix, and for a nonzero one lie in
    $[1, \min(m, n)]$: ``min(m, n)`` for equal singular values, 1 for rank one.
    For an ensemble each field has a leading member axis.

    Attributes:
        entropy: $\exp(-\sum_i p_i\log p_i)$, $p_i = \sigma_i/\sum_j\sigma_j$
            (Roy & Vetterli 2007; $0 \log 0 = 0$).
        participation_ratio: $(\sum_i\sigma_i^2)^2 / \sum_i\sigma_i^4$, the
            participation ratio of the eigenvalues $\sigma_i^2$ of $W^\top W$.
        singular_values: $\sigma$ in decreasing order, ``(..., min(m, n))``.
    """

    entropy: Float[Array, "*ens"]
    participation_ratio: Float[Array, "*ens"]
    singular_values: Float[Array, "*ens k"]


def _rank(w: Array) -> EffectiveRank:
    s = jnp.linalg.svd(w, compute_uv=False)
    total, s2 = jnp.sum(s), s**2
    nonzero = total > 0
    p = s / jnp.where(nonzero, total, 1.0)
    entropy = jnp.where(nonzero, jnp.exp(jnp.sum(jss.entr(p))), 0.0)
    fourth = jnp.sum(s2**2)
    pr = jnp.where(nonzero, jnp.sum(s2) ** 2 / jnp.where(nonzero, fourth, 1.0), 0.0)
    return EffectiveRank(entropy, pr, s)


@eqx.filter_jit
def _effective_rank(w: Array, how) -> EffectiveRank:
    return run(lambda x, key: _rank(x), w, (), how)


def _one_matrix(
    leaves: tuple[str, ...], picked: list, ensemble: bool, what: str, arg: str
) -> Array:
    """The one matrix chosen (an error naming ``weights``, or ``arg`` for arrays)."""
    name = arg if leaves == ("array",) else "weights"
    if len(picked) != 1:
        fail(name, f"one matrix for {what}", f"{len(picked)} leaves {list(leaves)}")
    w, lead = picked[0], int(ensemble)
    if w.ndim != 2 + lead:
        expected = "a stack of matrices (members, m, n)" if ensemble else "a matrix"
        got = f"shape {w.shape}" if name == arg else f"{leaves[0]} of shape {w.shape}"
        hint = "For a stack of matrices pass ensemble=True." if w.ndim == 3 else None
        fail(name, f"{expected} for {what}", got, hint=hint)
    return w


def effective_rank(
    W,
    *,
    weights: Weights = None,
    change_from=None,
    ensemble: bool = False,
) -> EffectiveRank:
    r"""Entropy effective rank and participation ratio of a weight matrix.

    Args:
        W: a matrix ``(m, n)``, or a model whose chosen weight is one; with
            ``ensemble=True`` a stack ``(members, m, n)`` or a stacked ensemble.
        weights: which weight of a model (module docstring); default the
            recurrent matrix.
        change_from: the same network at another time (e.g. before training):
            the rank is then that of the change ``W - W(change_from)``, as
            rich-versus-lazy analyses report it.
        ensemble: ``W`` (and ``change_from``) carry a leading member axis;
            results per member.

    Returns:
        An :class:`EffectiveRank`.

    Example:
        ```python
        dx.analysis.effective_rank(trained, change_from=net).entropy  # rank of dW
        ```
    """
    what = "effective_rank"
    if change_from is None:
        how = plan(W, ensemble, name="W")
        leaves, picked = _weights(W, weights, how, "W")
        return _effective_rank(_one_matrix(leaves, picked, ensemble, what, "W"), how)
    leaves, w0, w1, how = _pair(change_from, W, weights, ensemble, ("change_from", "W"))
    base = _one_matrix(leaves, w0, ensemble, what, "change_from")
    w = _one_matrix(leaves, w1, ensemble, what, "W")
    return _effective_rank(w - base, how)

"""Pure losses and regularisers (no model code, no optimiser state)."""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np

from .._custom_types import Array, Float, PyTree
from .._validate import check_callable, fail, is_concrete


def _masked_mean(values: Array, mask: Array) -> Array:
    weight = jnp.broadcast_to(mask, values.shape).astype(values.dtype)
    return jnp.sum(values * weight) / jnp.maximum(jnp.sum(weight), 1.0)


def masked_mse(
    outputs: Float[Array, "*shape"],
    targets: Float[Array, "*shape"],
    mask: Float[Array, "*shape"],
) -> Float[Array, ""]:
    r"""Mean squared error over the entries where ``mask`` is nonzero.

    $$L = \frac{\sum m\,(y - \hat y)^2}{\max(\sum m, 1)}$$

    ``mask`` holds weights (usually 0/1); a batch whose mask is all zero has loss 0.

    Args:
        outputs: network outputs, any leading batch axes.
        targets: targets with the shape of ``outputs``.
        mask: weights broadcastable to ``outputs``.

    Returns:
        The scalar loss.
    """
    return _masked_mean((outputs - targets) ** 2, mask)


def cross_entropy(
    logits: Float[Array, "*batch time n_classes"],
    targets: Float[Array, "*batch time n_classes"],
    mask: Float[Array, "*batch time n_classes"],
) -> Float[Array, ""]:
    r"""Softmax cross-entropy against one-hot (or probability) targets, masked.

    $$L = -\frac{\sum_{t} m_t \sum_c p_{tc} \log\operatorname{softmax}(z_t)_c}
    {\max(\sum_t m_t, 1)},$$

    where $m_t$ is the mask of time step $t$ (the maximum of ``mask`` over classes,
    so a class-wise mask of the task's shape works).

    Args:
        logits: unnormalised log-probabilities over the last axis.
        targets: one-hot classes or probability vectors, shape of ``logits``.
        mask: weights broadcastable to ``logits``.

    Returns:
        The scalar loss.
    """
    nll = -jnp.sum(targets * jax.nn.log_softmax(logits, axis=-1), axis=-1)
    per_step = jnp.max(jnp.broadcast_to(mask, logits.shape), axis=-1)
    return _masked_mean(nll, per_step)


def choose_loss(loss: Callable | None, task) -> Callable:
    """``loss`` if given, else the loss that ``task.loss_kind`` names.

    ``"mse"`` (the default for tasks without ``loss_kind``) gives
    :func:`masked_mse`, ``"cross_entropy"`` gives :func:`cross_entropy`.
    """
    if loss is not None:
        check_callable("loss", loss, "a callable loss(outputs, targets, mask)")
        return loss
    kind = getattr(task, "loss_kind", "mse")
    if kind == "mse":
        return masked_mse
    if kind == "cross_entropy":
        return cross_entropy
    fail("task.loss_kind", "'mse' or 'cross_entropy'", repr(kind))


def weight_penalty(
    params: PyTree, *, p: int = 2, filter_spec=eqx.is_inexact_array
) -> Float[Array, ""]:
    r"""$\sum |w|^p$ over the array leaves selected by ``filter_spec`` (p = 1 or 2).

    Args:
        params: a model or any PyTree of parameters.
        p: 1 (L1, sparsity) or 2 (L2, weight decay as a loss term).
        filter_spec: which leaves count (default: every floating array).

    Returns:
        The scalar penalty.
    """
    if p not in (1, 2):
        fail("p", "1 or 2", repr(p))
    leaves = jtu.tree_leaves(eqx.filter(params, filter_spec))
    terms = [jnp.sum(jnp.abs(x) if p == 1 else x**2) for x in leaves]
    # the parameters' own float type (a float64 zero would not add to float32
    # terms under strict dtype promotion)
    dtype = jnp.result_type(*terms) if terms else jnp.result_type(float)
    return sum(terms, start=jnp.zeros((), dtype))  # pyright: ignore[reportReturnType]


class Regularizer(eqx.Module):
    r"""Weight and firing-rate penalties added to the task loss by :func:`fit`.

    $$R = \lambda_{w1}\sum|W| + \lambda_{w2}\sum W^2
    + \lambda_{r1}\langle|r|\rangle + \lambda_{r2}\langle r^2\rangle,$$

    with the weight sums over the trainable parameters and the rate averages over
    trials, time and units. Rates are ``model.activation(ys)`` for models with an
    ``activation`` (the rate RNNs), else the states themselves. Coefficients are
    array leaves, so an ensemble can carry one value per member.

    Args:
        l1_weights: coefficient of the L1 weight penalty.
        l2_weights: coefficient of the L2 weight penalty.
        l1_rates: coefficient of the mean absolute rate.
        l2_rates: coefficient of the mean squared rate.
    """

    l1_weights: Float[Array, ""]
    l2_weights: Float[Array, ""]
    l1_rates: Float[Array, ""]
    l2_rates: Float[Array, ""]

    def __init__(self, l1_weights=0.0, l2_weights=0.0, l1_rates=0.0, l2_rates=0.0):
        values = dict(
            l1_weights=l1_weights,
            l2_weights=l2_weights,
            l1_rates=l1_rates,
            l2_rates=l2_rates,
        )
        for name, value in values.items():
            if is_concrete(value) and not np.all(np.asarray(value) >= 0):
                fail(name, "a coefficient >= 0", f"{value}")
        self.l1_weights = jnp.asarray(l1_weights)
        self.l2_weights = jnp.asarray(l2_weights)
        self.l1_rates = jnp.asarray(l1_rates)
        self.l2_rates = jnp.asarray(l2_rates)

    def __call__(self, params: PyTree, model, ys: PyTree) -> Float[Array, ""]:
        """Return the penalty for trainable ``params`` of ``model`` and states ``ys``.

        Args:
            params: the trainable part of the model (what the weights terms sum).
            model: the whole model (its ``activation`` turns states into rates).
            ys: states of a batch of trials.
        """
        activation = getattr(model, "activation", lambda x: x)
        rates = jtu.tree_leaves(jtu.tree_map(activation, ys))
        dtype = rates[0].dtype
        n = sum(r.size for r in rates)
        terms = (
            (self.l1_weights, weight_penalty(params, p=1)),
            (self.l2_weights, weight_penalty(params, p=2)),
            (self.l1_rates, sum(jnp.sum(jnp.abs(r)) for r in rates) / n),
            (self.l2_rates, sum(jnp.sum(r**2) for r in rates) / n),
        )
        return sum(
            (c.astype(dtype) * jnp.asarray(v).astype(dtype) for c, v in terms),
            start=jnp.zeros((), dtype),
        )

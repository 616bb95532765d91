r"""Linear readouts of reservoir states: ridge regression and FORCE (online RLS)."""

import equinox as eqx
import jax
import jax.numpy as jnp

from .._custom_types import Array, ArrayLike, Float
from .._linalg import cho_solve
from .._validate import (
    as_array,
    check_array,
    check_attrs,
    check_bool,
    check_ensemble,
    check_int,
    check_positive,
    fail,
)


class Readout(eqx.Module):
    r"""A linear readout $y = W x + c$.

    Attributes:
        weights: $W$, shape ``(n_out, n_features)`` (with a leading axis per ridge
            value when :func:`ridge_readout` was given an array of ``alpha``).
        bias: $c$, shape ``(n_out,)`` (same leading axis).
    """

    weights: Float[Array, "*batch n_out n_features"]
    bias: Float[Array, "*batch n_out"]

    def __call__(self, x: Float[Array, " n_features"]) -> Float[Array, " n_out"]:
        """Return the output for one state."""
        return self.weights @ x + self.bias

    def predict(
        self, states: Float[Array, "time n_features"]
    ) -> Float[Array, "time n_out"]:
        """Return the outputs for a sequence of states (leading time axis)."""
        return states @ self.weights.T + self.bias[None, :]


def _check_alpha(alpha: ArrayLike, dtype) -> Array:
    what = "a scalar or a 1-d array of ridge values"
    check_array("alpha", alpha, ndim=(0, 1), dtype=dtype, what=what)
    return check_positive("alpha", alpha, dtype, strict=False)


def _check_data(states, targets, washout):
    what = "shape (time, n_features)"
    states = check_array("states", states, ndim=2, what=what)
    targets = as_array("targets", targets)
    if targets.ndim == 1:
        targets = targets[:, None]
    if targets.ndim != 2 or targets.shape[0] != states.shape[0]:
        what = f"shape (time, n_out) or (time,) with time = {states.shape[0]}"
        fail("targets", what, f"shape {targets.shape}")
    check_int("washout", washout, 0, states.shape[0] - 1)
    return states[washout:], targets[washout:].astype(states.dtype)


def ridge_readout(
    states: Float[ArrayLike, "time n_features"],
    targets: Float[ArrayLike, "time ..."],
    *,
    alpha: Float[ArrayLike, "*n_alpha"],
    washout: int = 0,
    bias: bool = True,
) -> Readout:
    r"""Fit a linear readout by ridge regression (Tikhonov), in closed form.

    Solves $\min_{W, c} \sum_t \lVert W x_t + c - y_t \rVert^2 + \alpha
    \lVert W \rVert_F^2$ over the rows $t \ge$ ``washout``. **The bias $c$ is not
    penalised**: states and targets are centred, $W^\top = (X_c^\top X_c + \alpha
    I)^{-1} X_c^\top Y_c$ and $c = \bar y - W \bar x$ (as reservoirpy's ``Ridge``
    does). Each ``alpha`` is solved with a blocked Cholesky factorisation in plain XLA
    operations, an array of them as one batch: jaxlib's batched LAPACK kernels
    (Cholesky and ``eigh``) can stall two concurrent fits forever on a small CPU
    thread pool; see ``dynax/_linalg.py``.
    ``alpha = 0`` is ordinary least squares and needs $X_c^\top X_c$ of full
    rank. Works under ``vmap`` over an ensemble of reservoirs (stacked ``states``).

    With states from :func:`dynax.simulate` (``ys[k]`` has seen ``inputs[0..k-1]``),
    ``targets[k]`` is what ``ys[k]`` should output, e.g. the series itself for
    one-step-ahead prediction.

    Args:
        states: features $x_t$, shape ``(time, n_features)``.
        targets: $y_t$, shape ``(time, n_out)`` or ``(time,)`` (then ``n_out = 1``).
        alpha: ridge value $\alpha \ge 0$, or a 1-d array of them.
        washout: number of leading rows to discard (a Python int < time).
        bias: fit the unpenalised bias $c$ (otherwise $c = 0$).

    Returns:
        A :class:`Readout`; with an array ``alpha`` its fields carry a leading axis
        of length ``len(alpha)``.
    """
    X, Y = _check_data(states, targets, washout)
    check_bool("bias", bias)
    return _ridge(X, Y, _check_alpha(alpha, X.dtype), bias)


@eqx.filter_jit
def _ridge(X, Y, alpha, bias):
    if bias:
        x_mean, y_mean = jnp.mean(X, axis=0), jnp.mean(Y, axis=0)
        X, Y = X - x_mean[None, :], Y - y_mean[None, :]
    else:
        x_mean = jnp.zeros(X.shape[1], X.dtype)
        y_mean = jnp.zeros(Y.shape[1], X.dtype)
    gram, cross = X.T @ X, X.T @ Y
    eye = jnp.eye(gram.shape[0], dtype=X.dtype)
    solve = lambda a: cho_solve(gram + a * eye, cross).T  # noqa: E731
    if alpha.ndim == 0:
        weights = solve(alpha)
        return Readout(weights, y_mean - weights @ x_mean)
    weights = jax.vmap(solve)(alpha)
    return Readout(weights, y_mean[None, :] - weights @ x_mean)


class ForceResult(eqx.Module):
    """The outcome of :func:`force_readout`.

    Attributes:
        readout: the learned :class:`Readout` (zero bias).
        outputs: the output $z_k$ at every step, before that step's update.
        state: the reservoir state after the last step.
    """

    readout: Readout
    outputs: Float[Array, "time n_out"]
    state: Float[Array, " n_hidden"]


def force_readout(
    model,
    x0: Float[Array, " n_hidden"],
    targets: Float[ArrayLike, "time n_out"],
    *,
    inputs: Float[ArrayLike, "time n_in"] | None = None,
    alpha: Float[ArrayLike, ""] = 1.0,
) -> ForceResult:
    r"""Learn a readout online with FORCE (recursive least squares; Sussillo & Abbott).

    The network runs in **closed loop**: its own output $z_k = w_k x_k$ is fed back
    (``model.step(x, u, z)``, e.g. an :class:`dynax.models.ESN` with
    ``feedback=True``), while RLS keeps the error small from the first step:

    $$e_k = w_{k} x_k - f_k,\quad P_{k+1} = P_k - \frac{P_k x_k x_k^\top P_k}{1 +
    x_k^\top P_k x_k},\quad w_{k+1} = w_k - e_k (P_{k+1} x_k)^\top,$$

    $$x_{k+1} = \text{step}(x_k, u_k, w_{k+1} x_k),$$

    with $P_0 = I/\alpha$ and $w_0 = 0$; one ``lax.scan`` over time. Reference:
    D. Sussillo & L. F. Abbott (2009), "Generating coherent patterns of activity
    from chaotic neural networks", Neuron 63:544.

    Args:
        model: a reservoir with ``step(x, u, y)`` and ``n_in`` (e.g. an ESN with
            feedback).
        x0: the initial reservoir state.
        targets: $f_k$, shape ``(time, n_out)``.
        inputs: $u_k$, shape ``(time, n_in)``; zeros when ``None``.
        alpha: $\alpha > 0$, the inverse initial learning rate ($P_0 = I/\alpha$).

    Returns:
        A :class:`ForceResult`.
    """
    what = "a reservoir with step(x, u, y) and n_in, e.g. an ESN with feedback"
    check_attrs("model", model, ("step", "n_in"), what)
    check_ensemble(model, False, flag=None)
    x0 = check_array("x0", x0, ndim=1, what="one state of shape (n_hidden,)")
    targets = check_array(
        "targets", targets, ndim=2, dtype=x0.dtype, what="shape (time, n_out)"
    )
    n_t = targets.shape[0]
    if inputs is None:
        inputs = jnp.zeros((n_t, model.n_in), x0.dtype)
    what = f"shape (time, n_in) = ({n_t}, {model.n_in})"
    inputs = check_array(
        "inputs", inputs, shape=(n_t, model.n_in), dtype=x0.dtype, what=what
    )
    check_array("alpha", alpha, ndim=0, what="a scalar")
    alpha = check_positive("alpha", alpha, x0.dtype, strict=True)
    return _force(model, x0, targets, inputs, alpha)


@eqx.filter_jit
def _force(model, x0, targets, inputs, alpha):
    n = x0.shape[0]

    def one(carry, data):
        x, w, P = carry
        f, u = data
        z = w @ x
        Px = P @ x
        P = P - jnp.outer(Px, Px) / (1 + x @ Px)
        w = w - jnp.outer(z - f, P @ x)
        return (model.step(x, u, w @ x), w, P), z

    w0 = jnp.zeros((targets.shape[1], n), x0.dtype)
    P0 = jnp.eye(n, dtype=x0.dtype) / alpha
    (x, w, _), outputs = jax.lax.scan(one, (x0, w0, P0), (targets, inputs))
    bias = jnp.zeros(targets.shape[1], x0.dtype)
    return ForceResult(Readout(w, bias), outputs, x)

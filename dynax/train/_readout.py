r"""Linear readouts of reservoir states: ridge regression and FORCE (online RLS)."""

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from .._custom_types import Array, ArrayLike, Float
from .._linalg import ridge
from .._validate import (
    as_array,
    check_array,
    check_bool,
    check_ensemble,
    check_instance,
    check_int,
    check_positive,
    fail,
    is_concrete,
)
from ..models._base import AbstractFeedbackReservoir, AbstractReservoir
from ..models._online import run_online


class Readout(eqx.Module):
    r"""A linear readout $y = W x + c$.

    Attributes:
        weights: $W$, shape ``(n_out, n_features)`` (with a leading axis per ridge
            value when :func:`ridge_readout` was given an array of ``alpha``).
        bias: $c$, shape ``(n_out,)`` (same leading axis).
        condition: from :func:`ridge_readout`: an estimate (power iterations, a
            lower bound, within a few per cent in our tests) of the 2-norm
            condition number of the regularised normal matrix $X_c^\top X_c +
            \alpha I$ of the fit (centred states $X_c$; ``alpha`` raised to the
            floor $\alpha_{\min}$ of :func:`ridge_readout`, also for ``alpha =
            0``), shape ``()`` (same leading axis). Above ``1 / finfo(dtype).eps``
            (8.4e6 in float32) the normal equations alone are numerically
            singular, which this fit does not need. ``None`` for other readouts.
        residual: from :func:`ridge_readout`: the root-mean-square training
            residual of each output, shape ``(n_out,)`` (same leading axis).
            ``None`` for other readouts.
    """

    weights: Float[Array, "*batch n_out n_features"]
    bias: Float[Array, "*batch n_out"]
    condition: Float[Array, "*batch"] | None = None
    residual: Float[Array, "*batch n_out"] | None = None

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
    does). The solve never factorises $X_c^\top X_c + \alpha I$ itself, whose
    condition number is the square of the data's: it is one step of shifted Cholesky
    QR on $[X_c; \sqrt\alpha I]$ in plain XLA operations (jaxlib's batched LAPACK
    kernels can stall two concurrent fits forever on a small CPU thread pool; see
    ``dynax/_linalg.py``), so float32 fits on ill-conditioned reservoir states
    predict as well as float64 ones. Every ``alpha`` shares one factorisation of the
    states. Ridge values below a floor $\alpha_{\min} = 20\,\epsilon^2
    \operatorname{tr}(X_c^\top X_c)$ ($\epsilon$ the dtype's machine epsilon;
    about 4e-10 for the README's 200-unit ESN in float32, 1e-27 in float64) are
    fitted with $\alpha_{\min}$. ``alpha = 0`` gives the minimum-norm least-squares
    solution (as ``numpy.linalg.lstsq``: singular values of $X_c$ below about
    $\epsilon \sqrt{2 \max(\text{time}, n) \operatorname{tr}(X_c^\top X_c)}$
    count as zero), from a pivoted Cholesky factorisation; on exactly
    rank-deficient states (duplicated or constant units) a tiny positive ``alpha``
    instead leaves rounding-sized but amplified weights along the null space, which
    do not change the fitted outputs. The weights are finite for finite data. Works
    under ``vmap`` over an ensemble of reservoirs (stacked ``states``) and under
    ``grad``.

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
        A :class:`Readout` with its ``condition`` and ``residual`` diagnostics; with
        an array ``alpha`` its fields carry a leading axis of length ``len(alpha)``.
    """
    X, Y = _check_data(states, targets, washout)
    check_bool("bias", bias)
    alpha_arr = _check_alpha(alpha, X.dtype)
    # the minimum-norm path is compiled only where alpha may be 0
    min_norm = not is_concrete(alpha) or bool(np.any(np.asarray(alpha) == 0))
    return _ridge(X, Y, alpha_arr, bias, min_norm)


@eqx.filter_jit
def _ridge(X, Y, alpha, bias, min_norm):
    fit = ridge(X, Y, alpha, bias=bias, min_norm=min_norm)
    return Readout(fit.weights, fit.bias, fit.condition, fit.residual)


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
    model: AbstractReservoir,
    x0: Float[Array, " n_hidden"],
    targets: Float[ArrayLike, "time n_out"],
    *,
    inputs: Float[ArrayLike, "time n_in"] | None = None,
    alpha: Float[ArrayLike, ""] = 1.0,
) -> ForceResult:
    r"""Learn a readout online with FORCE (recursive least squares; Sussillo & Abbott).

    RLS keeps the readout's error small from the first step:

    $$e_k = w_{k} x_k - f_k,\quad P_{k+1} = P_k - \frac{P_k x_k x_k^\top P_k}{1 +
    x_k^\top P_k x_k},\quad w_{k+1} = w_k - e_k (P_{k+1} x_k)^\top,$$

    with $P_0 = I/\alpha$ and $w_0 = 0$. For a reservoir with output feedback (an
    :class:`~dynax.models.AbstractFeedbackReservoir` with ``n_fb > 0``, e.g. an
    :class:`~dynax.models.ESN` with ``feedback=True``) the network runs in **closed
    loop**, its own output fed back: $x_{k+1} = $ ``model.step_feedback``$(x_k, u_k,
    w_{k+1} x_k)$ (FORCE proper). Any other
    :class:`~dynax.models.AbstractReservoir` (e.g. an
    :class:`~dynax.models.EIAdaptiveReservoir`) runs open loop, $x_{k+1} =$
    ``model.step``$(x_k, u_k)$, unchanged by the readout, and RLS learns the readout
    online. One ``lax.scan`` over time. Reference: D. Sussillo & L. F. Abbott (2009),
    "Generating coherent patterns of activity from chaotic neural networks", Neuron
    63:544.

    Args:
        model: a :class:`~dynax.models.AbstractReservoir` whose state is a vector.
        x0: the initial reservoir state.
        targets: $f_k$, shape ``(time, n_out)``; with feedback ``n_out`` must be the
            model's ``n_fb``.
        inputs: $u_k$, shape ``(time, n_in)``; zeros when ``None``.
        alpha: $\alpha > 0$, the inverse initial learning rate ($P_0 = I/\alpha$).

    Returns:
        A :class:`ForceResult`.
    """
    what = "a discrete-time reservoir (dynax.models.AbstractReservoir), e.g. an ESN"
    check_instance("model", model, AbstractReservoir, what)
    check_ensemble(model, False, flag=None)
    x0 = check_array("x0", x0, ndim=1, what="one state of shape (n_hidden,)")
    targets = check_array(
        "targets", targets, ndim=2, dtype=x0.dtype, what="shape (time, n_out)"
    )
    n_fb = model.n_fb if isinstance(model, AbstractFeedbackReservoir) else 0
    feedback = n_fb > 0
    if feedback and targets.shape[1] != n_fb:
        what = f"shape (time, n_fb) = (time, {n_fb}) (the outputs fed back)"
        fail("targets", what, f"shape {targets.shape}")
    n_t = targets.shape[0]
    if inputs is None:
        inputs = jnp.zeros((n_t, model.n_in), x0.dtype)
    what = f"shape (time, n_in) = ({n_t}, {model.n_in})"
    inputs = check_array(
        "inputs", inputs, shape=(n_t, model.n_in), dtype=x0.dtype, what=what
    )
    check_array("alpha", alpha, ndim=0, what="a scalar")
    alpha = check_positive("alpha", alpha, x0.dtype, strict=True)
    return _force(model, x0, targets, inputs, alpha, feedback)


@eqx.filter_jit
def _force(model, x0, targets, inputs, alpha, feedback):
    n, n_out = x0.shape[0], targets.shape[1]

    def before(x, item, carry):
        f, u = item
        w, P, _ = carry
        z = w @ x
        Px = P @ x
        P = P - jnp.outer(Px, Px) / (1 + x @ Px)
        w = w - jnp.outer(z - f, P @ x)
        return model, u, (w @ x if feedback else None), (w, P, z)

    def after(x, x_next, item, carry):
        return carry, carry[2]

    w0 = jnp.zeros((n_out, n), x0.dtype)
    P0 = jnp.eye(n, dtype=x0.dtype) / alpha
    carry = (w0, P0, jnp.zeros(n_out, x0.dtype))
    x, (w, _, _), outputs = run_online(x0, (targets, inputs), carry, before, after)
    bias = jnp.zeros(n_out, x0.dtype)
    return ForceResult(Readout(w, bias), outputs, x)

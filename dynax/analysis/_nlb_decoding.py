r"""NLB velocity decoding: ridge from rates to behaviour, scored by $R^2$.

The same numbers as nlb_tools' ``velocity_decoding`` (scikit-learn ``Ridge`` inside
``GridSearchCV`` with 5 unshuffled folds over ``np.logspace(-4, 0, 9)``), computed
with dynax's plain-XLA ridge solver: no scikit-learn, jit- and vmap-friendly.
"""

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._custom_types import Array, ArrayLike, Bool, Float
from .._linalg import ridge
from .._validate import as_array, check_int, fail, is_concrete
from ._nlb import NLB_ALPHAS, _floats, _r2


def _rows(name: str, x: Array) -> Array:
    """``(trials, time, channels)`` or ``(samples, channels)`` as rows."""
    if x.ndim == 3:
        return x.reshape(-1, x.shape[2])
    if x.ndim == 2:
        return x
    fail(
        name,
        "a (trials, time, channels) or (samples, channels) array",
        f"shape {x.shape}",
    )


def _decode_masks(name: str, mask, x: Array) -> Array:
    """Per-row weights ``(masks, rows)`` from a ``(trials, masks)`` trial mask."""
    n_rows = x.shape[0] * (x.shape[1] if x.ndim == 3 else 1)
    if mask is None:
        return jnp.ones((1, n_rows), bool)
    m = as_array(name, mask)
    if x.ndim != 3 or m.ndim != 2 or m.shape[0] != x.shape[0] or m.dtype != bool:
        what = "a boolean (trials, masks) array for (trials, time, ...) inputs"
        fail(name, what, f"shape {m.shape} and dtype {m.dtype} for inputs {x.shape}")
    return jnp.repeat(m.T, x.shape[1], axis=1)


def _check_inputs(rates, vel, name_r: str, name_v: str) -> tuple[Array, Array]:
    rates, vel = _floats(name_r, rates), _floats(name_v, vel)
    vel = vel.astype(rates.dtype)
    if rates.shape[:-1] != vel.shape[:-1] or rates.ndim not in (2, 3):
        what = f"{name_r} and {name_v} with the same leading (trials, time) axes"
        fail(name_v, what, f"shapes {rates.shape} and {vel.shape}")
    if is_concrete(rates) and is_concrete(vel):
        r = np.asarray(_rows(name_r, rates))
        kept = ~np.isnan(np.asarray(_rows(name_v, vel))[:, 0])
        if np.any(~np.isfinite(r[kept])):
            what = "finite rates wherever the behaviour is not NaN"
            fail(name_r, what, "NaN or inf inside the decoded bins")
    return rates, vel


def velocity_r2(
    rates_train: Float[ArrayLike, "*rows neurons"],
    vel_train: Float[ArrayLike, "*rows channels"],
    rates_eval: Float[ArrayLike, "*eval_rows neurons"],
    vel_eval: Float[ArrayLike, "*eval_rows channels"],
    *,
    alpha: float | Sequence[float] | Float[ArrayLike, " alphas"] = NLB_ALPHAS,
    n_folds: int = 5,
    train_mask: Bool[ArrayLike, "trials masks"] | None = None,
    eval_mask: Bool[ArrayLike, "eval_trials masks"] | None = None,
) -> Float[Array, ""]:
    r"""Return the $R^2$ of a ridge decoder from rates to behaviour (NLB vel R²).

    As nlb_tools' ``velocity_decoding``: trials and bins are flattened into rows;
    rows whose behaviour (first channel) is NaN are dropped; a linear map with
    intercept $\hat y = W r + c$ is fitted by ridge regression
    ($\min \lVert Y - R W^\top - c\rVert^2 + \alpha \lVert W\rVert^2$) on the
    training rows and scored on the evaluation rows with scikit-learn's
    ``score`` ($R^2$ per behaviour channel, averaged). With a grid of
    ``alpha`` (default nlb_tools' ``logspace(-4, 0, 9)``) the penalty is chosen
    as ``GridSearchCV`` does: ``n_folds`` contiguous folds of the training rows in
    order (``KFold`` without shuffling; the first ``rows % n_folds`` folds one row
    longer), the mean held-out $R^2$ over folds, the first best $\alpha$, then a
    refit on all training rows. A scalar ``alpha`` fits once (nlb_tools'
    ``grid_search=False`` uses 1e-2).

    Decode masks (``area2_bump``: one decoder per trial group) are ``(trials,
    masks)`` booleans; one decoder is fitted per mask on the trials it selects and
    the scores are averaged.

    Args:
        rates_train: training rates, ``(trials, time, neurons)`` or
            ``(rows, neurons)`` (held-in and held-out neurons together, as NLB).
        vel_train: training behaviour, ``(trials, time, channels)`` or
            ``(rows, channels)``; NaN rows are ignored.
        rates_eval: evaluation rates, as ``rates_train``.
        vel_eval: evaluation behaviour, as ``vel_train``.
        alpha: the ridge penalty grid (or one value).
        n_folds: cross-validation folds (>= 2).
        train_mask: ``(trials, masks)`` decode masks of the training trials.
        eval_mask: the same masks for the evaluation trials.

    Returns:
        The $R^2$ averaged over behaviour channels (and masks), a scalar.
    """
    check_int("n_folds", n_folds, 2)
    rates_train, vel_train = _check_inputs(
        rates_train, vel_train, "rates_train", "vel_train"
    )
    rates_eval, vel_eval = _check_inputs(rates_eval, vel_eval, "rates_eval", "vel_eval")
    if (
        rates_eval.shape[-1] != rates_train.shape[-1]
        or vel_eval.shape[-1] != vel_train.shape[-1]
    ):
        what = "the neurons and behaviour channels of the training arrays"
        fail("rates_eval", what, f"shapes {rates_eval.shape}, {vel_eval.shape}")
    alphas = as_array("alpha", alpha).astype(rates_train.dtype)
    if alphas.ndim > 1 or (is_concrete(alphas) and np.any(np.asarray(alphas) <= 0)):
        fail("alpha", "a number > 0 or a 1-d grid of them", repr(np.asarray(alphas)))
    m_train = _decode_masks("train_mask", train_mask, rates_train)
    m_eval = _decode_masks("eval_mask", eval_mask, rates_eval)
    if (train_mask is None) != (eval_mask is None) or m_train.shape[0] != m_eval.shape[
        0
    ]:
        fail("eval_mask", "masks given for both splits, as many in each", "a mismatch")
    x_tr, y_tr = _rows("rates_train", rates_train), _rows("vel_train", vel_train)
    x_ev, y_ev = _rows("rates_eval", rates_eval), _rows("vel_eval", vel_eval)
    w_tr = m_train & ~jnp.isnan(y_tr[:, 0])[None]
    if is_concrete(w_tr) and np.min(np.sum(np.asarray(w_tr), axis=1)) < n_folds:
        fail("vel_train", f"at least n_folds = {n_folds} rows to decode", "fewer")
    w_ev = m_eval & ~jnp.isnan(y_ev[:, 0])[None]
    return _velocity_r2(x_tr, y_tr, w_tr, x_ev, y_ev, w_ev, alphas, n_folds)


def _fit(x: Array, y: Array, w: Array, alphas: Array):
    """Ridge with intercept on the rows where ``w``: weights per alpha and means."""
    wf = w.astype(x.dtype)[:, None]
    x0 = jnp.sum(wf * jnp.where(w[:, None], x, 0.0), 0, keepdims=True) / jnp.sum(wf)
    y0 = jnp.sum(wf * jnp.where(w[:, None], y, 0.0), 0, keepdims=True) / jnp.sum(wf)
    xc = jnp.where(w[:, None], x - x0, 0.0)
    yc = jnp.where(w[:, None], y - y0, 0.0)
    weights = ridge(xc, yc, alphas, bias=False, min_norm=False).weights
    return weights, x0, y0  # weights: (alphas, channels, neurons)


def _score(weights, x0, y0, x, y, rows):
    """Mean R^2 over channels of ``y0 + (x - x0) W^T`` on ``rows``, per alpha."""
    pred = y0[None] + jnp.einsum(
        "rn,acn->arc", jnp.where(rows[:, None], x - x0, 0.0), weights
    )
    return jax.vmap(lambda p: jnp.mean(_r2(y, p, rows)))(pred)


@eqx.filter_jit
def _velocity_r2(x_tr, y_tr, w_tr, x_ev, y_ev, w_ev, alphas, n_folds):
    y_tr = jnp.where(jnp.isnan(y_tr), 0.0, y_tr)
    y_ev = jnp.where(jnp.isnan(y_ev), 0.0, y_ev)
    grid = alphas.ndim == 1

    def one_mask(masks):
        w_t, w_e = masks
        a = jnp.atleast_1d(alphas)
        if grid:
            n = jnp.sum(w_t)
            rank = jnp.cumsum(w_t) - 1  # position among the kept rows
            longer = (jnp.arange(n_folds) < n % n_folds).astype(n.dtype)
            sizes = n // n_folds + longer
            fold = jnp.searchsorted(jnp.cumsum(sizes), rank, side="right")

            def cv(f):
                test = w_t & (fold == f)
                return _score(*_fit(x_tr, y_tr, w_t & ~test, a), x_tr, y_tr, test)

            scores = jax.lax.map(cv, jnp.arange(n_folds, dtype=fold.dtype))
            a = a[jnp.argmax(jnp.mean(scores, axis=0))][None]
        return _score(*_fit(x_tr, y_tr, w_t, a), x_ev, y_ev, w_e)[0]

    return jnp.mean(jax.lax.map(one_mask, (w_tr, w_ev)))

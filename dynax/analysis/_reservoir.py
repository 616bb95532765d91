r"""Reservoir metrics: NRMSE, linear memory capacity, effective spectral radius, ESP."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr

from .._custom_types import Array, ArrayLike, Bool, Float, PRNGKeyArray, Scalar
from .._ensemble import plan, run
from .._linalg import ridge
from .._simulate import simulate
from .._validate import (
    as_array,
    check_array,
    check_bool,
    check_float,
    check_int,
    check_key,
    fail,
)
from ..models._reservoir_init import spectral_radius


def nrmse(
    pred: Float[ArrayLike, "time ..."], target: Float[ArrayLike, "time ..."]
) -> Scalar:
    r"""Normalised root-mean-square error, normalised by the target's std.

    $$\mathrm{NRMSE} = \sqrt{\langle (\hat y - y)^2 \rangle} \,/\, \mathrm{std}(y),$$

    means and the (population) standard deviation taken over every element. 1 is the
    error of predicting the mean. (reservoirpy's ``nrmse`` divides by
    $\max y - \min y$ by default instead.)
    """
    pred, target = as_array("pred", pred), as_array("target", target)
    if pred.shape != target.shape:
        fail("pred, target", "equal shapes", f"{pred.shape} and {target.shape}")
    return jnp.sqrt(jnp.mean((pred - target) ** 2)) / jnp.std(target)


class MemoryCapacity(eqx.Module):
    r"""The linear memory capacity of a reservoir.

    Attributes:
        total: $\sum_d MC_d$.
        per_delay: $MC_d$ for $d = 1..$ ``max_delay``.
    """

    total: Float[Array, ""]
    per_delay: Float[Array, " max_delay"]


def memory_capacity(
    states: Float[Array, "*members time n"],
    inputs: Float[Array, "*members_time"],
    *,
    max_delay: int,
    washout: int = 0,
    alpha: float = 1e-8,
    train_fraction: float = 0.5,
    ensemble: bool = False,
    chunk_size: int | None = None,
) -> MemoryCapacity:
    r"""Linear memory capacity (Jaeger 2002): $MC = \sum_{d=1}^{D} MC_d$.

    $MC_d = \mathrm{corr}^2\big(u(t - d), \hat u_d(t)\big)$, where $u(t)$ is the most
    recent input the state $x(t)$ has seen and $\hat u_d$ is the best linear
    reconstruction (ridge with unpenalised bias, ridge value ``alpha``). With
    :func:`dynax.simulate`'s alignment (``ys[k]`` has seen ``inputs[0..k-1]``) the
    target of row ``k`` for delay ``d`` is ``inputs[k - 1 - d]`` (reservoirpy's
    ``observables.memory_capacity`` uses the same delays). For i.i.d. input
    $MC \le N$, and a linear reservoir reaches about $N - 1$ here (the most recent
    input, delay 0, is not counted).

    Rows from ``max(washout, max_delay + 1)`` on are used: the first
    ``train_fraction`` of them fit the readouts, the rest measure the correlations
    (held-out test set).

    With ``ensemble=True``, ``states`` holds every member's states, ``(members,
    time, n)`` (e.g. ``simulate(..., ensemble=True).ys``), and ``inputs`` is shared
    (``(time,)``) or per member (``(members, time)``), the rule of
    ``dynax._ensemble``; the result carries a leading member axis. ``chunk_size``
    runs the members in groups of that size.

    Args:
        states: reservoir states, shape ``(time, n)``, or ``(members, time, n)``.
        inputs: the scalar input, shape ``(time,)`` or ``(time, 1)`` (with a leading
            member axis: one per member).
        max_delay: the largest delay $D$.
        washout: number of leading rows always discarded.
        alpha: ridge value (> 0).
        train_fraction: fraction of the usable rows used for training.
        ensemble: ``states`` (and optionally ``inputs``) of a stacked ensemble.
        chunk_size: members per group with ``ensemble=True`` (default: all at once).

    Returns:
        A :class:`MemoryCapacity`.
    """
    check_bool("ensemble", ensemble)
    lead = "(members, time, n) with ensemble=True" if ensemble else "(time, n)"
    what = f"shape {lead}"
    states = as_array("states", states)
    if states.ndim == 3 and not ensemble:
        fail(
            "ensemble",
            "True for the stacked states of an ensemble",
            f"False with states of shape {states.shape}",
        )
    states = check_array("states", states, ndim=2 + ensemble, what=what)
    u = as_array("inputs", inputs)
    u = u[..., 0] if u.ndim >= 2 and u.shape[-1] == 1 else u
    n_t = states.shape[-2]
    how = plan(
        states[..., 0, 0], ensemble, (("inputs", u, 1),), chunk_size, name="states"
    )
    if how.first(0, u).shape != (n_t,):
        what = f"shape (time,) or (time, 1) with time = {n_t}"
        what += " (with a leading member axis: one per member)" if ensemble else ""
        fail("inputs", what, f"shape {jnp.shape(inputs)}")
    check_int("max_delay", max_delay, 1)
    check_int("washout", washout, 0, n_t - 1)
    check_float("alpha", alpha, low=0.0, low_open=True)
    tf = check_float(
        "train_fraction",
        train_fraction,
        low=0.0,
        high=1.0,
        low_open=True,
        high_open=True,
    )
    start = max(washout, max_delay + 1)
    n_train = int(tf * (n_t - start))
    if n_train < 2 or n_t - start - n_train < 2:
        what = "at least 2 training and 2 test rows after washout/max_delay"
        got = f"{n_t} rows, {n_t - start} usable, train_fraction = {train_fraction}"
        fail("states", what, got)
    return _memory_capacity(states, u, max_delay, start, n_train, alpha, how)


@eqx.filter_jit
def _memory_capacity(states, u, max_delay, start, n_train, alpha, how):
    def one(x, u, key):
        return _one_capacity(x, u, max_delay, start, n_train, alpha)

    return run(one, states, (u,), how)


def _one_capacity(states, u, max_delay, start, n_train, alpha):
    rows = jnp.arange(start, states.shape[0])[:, None]
    targets = u[rows - 1 - jnp.arange(1, max_delay + 1)[None, :]]
    X = states[start:]
    fit = ridge(
        X[:n_train], targets[:n_train], jnp.asarray(alpha, X.dtype), min_norm=False
    )
    pred, test = X[n_train:] @ fit.weights.T + fit.bias[None, :], targets[n_train:]
    pc = pred - jnp.mean(pred, axis=0, keepdims=True)
    tc = test - jnp.mean(test, axis=0, keepdims=True)
    corr2 = jnp.sum(pc * tc, axis=0) ** 2 / (
        jnp.sum(pc**2, axis=0) * jnp.sum(tc**2, axis=0)
    )
    return MemoryCapacity(jnp.sum(corr2), corr2)


def effective_spectral_radius(model) -> Scalar:
    r"""Spectral radius of a leaky ESN's Jacobian at the origin, $\rho((1-a)I + aW)$.

    For $x_{k+1} = (1-a)x_k + a\tanh(Wx_k + \dots)$ the Jacobian at $x = 0$ (zero
    input and bias) is $(1-a)I + \mathrm{diag}(a)\,W$ (Jaeger et al. 2007); a value
    below 1 makes the origin of the autonomous reservoir stable.

    Args:
        model: a model with fields ``W`` (``(n, n)``) and ``leak`` (scalar or
            ``(n,)``), e.g. :class:`dynax.models.ESN`.

    Returns:
        The spectral radius (scalar).
    """
    W, a = model.W, jnp.asarray(model.leak, model.W.dtype)
    n = W.shape[0]
    a_col = jnp.broadcast_to(a, (n,))[:, None]
    J = (1 - a_col) * jnp.eye(n, dtype=W.dtype) + a_col * W
    return spectral_radius(J)


class EchoStateCheck(eqx.Module):
    r"""The outcome of :func:`echo_state_property`.

    Attributes:
        distance: $\lVert x_k - x'_k \rVert$ at every time (leading time axis).
        converged: whether the final distance is below ``tol`` times the initial one.
    """

    distance: Float[Array, " time"]
    converged: Bool[Array, ""]


def echo_state_property(
    model,
    inputs: Float[Array, "time n_in"],
    *,
    key: PRNGKeyArray,
    scale: float = 1.0,
    tol: float = 1e-6,
) -> EchoStateCheck:
    r"""Check the echo-state property empirically: initial conditions are forgotten.

    Two states drawn $\mathcal U(-\text{scale}, \text{scale})^N$ are driven by the
    same ``inputs`` with :func:`dynax.simulate`; the network has the property (on
    this input) when their distance shrinks to ``tol`` times its initial value
    (Jaeger 2001; Yildiz, Jaeger & Kiebel 2012). A finite run cannot prove it.

    Args:
        model: a map (e.g. :class:`dynax.models.ESN`) with ``init_state()``.
        inputs: the common drive, shape ``(time, n_in)``.
        key: PRNG key for the two initial states.
        scale: half-width of the initial-state distribution.
        tol: relative distance counted as converged.

    Returns:
        An :class:`EchoStateCheck`.
    """
    check_array("inputs", inputs, ndim=2, what="shape (time, n_in)")
    check_key("key", key)
    check_float("scale", scale, low=0.0, low_open=True)
    check_float("tol", tol, low=0.0, low_open=True)
    x0 = model.init_state()
    starts = scale * jr.uniform(key, (2, *x0.shape), x0.dtype, minval=-1, maxval=1)
    ts = jnp.arange(inputs.shape[0], dtype=x0.dtype)
    run = jax.vmap(lambda y0: simulate(model, y0, ts, inputs=inputs).ys)
    ys = run(starts)
    dist = jnp.sqrt(jnp.sum((ys[0] - ys[1]) ** 2, axis=tuple(range(1, ys.ndim - 1))))
    return EchoStateCheck(dist, dist[-1] <= tol * dist[0])

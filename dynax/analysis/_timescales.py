r"""Timescales: exponential fits to autocorrelations, and a network's own timescales.

:func:`autocorrelation_timescale` follows Khajehabdollahi et al. (2024, ICLR,
"Emergent mechanisms for long timescales depend on training curriculum"): fit one
and two exponentials to the trial-averaged autocorrelation and keep the one with
the lower AIC. It adds the bias correction of the mean-subtracted estimator
(:mod:`dynax.analysis._autocorrelation`), in the spirit of Zeraati et al.'s abcTau
but in closed form. :func:`network_timescales` gives the timescales of a network's
linearisation, to set against its neurons' own time constants.
"""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import optimistix as optx

from .._custom_types import Args, Array, ArrayLike, Bool, Float, Int, ScalarLike
from .._validate import check_bool, check_choice, check_float, check_int, fail
from ._autocorrelation import (
    _expected_ou,
    _expected_white,
    autocorrelation,
)
from ._linearise import Kind, linearise


class Timescale(eqx.Module):
    r"""Exponential fits to an autocorrelation (per unit: a trailing unit axis).

    The models, for lags $k \ge 1$ (lag 0 is 1 by normalisation), with
    $\rho_\tau = e^{-k\Delta t/\tau}$:

    - single: $w\,\rho_\tau$ (a fraction $w$ of the variance in one OU process,
      the rest white; $w$ is fitted unbounded above, so that $w = 1$, a pure OU
      process, is an interior optimum);
    - double: $w\,[c\,\rho_{\tau_1} + (1 - c)\,\rho_{\tau_2}]$;

    or, with the bias correction, the expected mean-subtracted autocorrelation of
    those processes on trials of the data's length. Fit by least squares on lags
    1..``max_lag``; $\mathrm{AIC} = 2p + n\ln(\mathrm{RSS}/n)$ with $p$ = 2 or 4
    parameters and $n$ = ``max_lag`` lags.

    Attributes:
        tau: the chosen model's (slowest) timescale, in the units of ``dt``.
        model: 1 (single) or 2 (double exponential): the lower AIC, the double
            only if each of its components holds ``min_weight`` of the variance.
        tau_single: the single fit's $\tau$.
        weight_single: its $w$.
        tau_double: the double fit's $(\tau_\text{fast}, \tau_\text{slow})$.
        weights_double: their shares of the variance, $(w c, w (1 - c))$ in the
            same order.
        aic: ``[single, double]``.
        lags: the lags in time units, $k\,\Delta t$, ``(max_lag + 1,)``.
        ac: the empirical autocorrelation that was fitted, ``(max_lag + 1, ...)``.
        fitted: the chosen model's curve on ``lags``, same shape.
        bias_corrected: whether the correction was used.
    """

    tau: Float[Array, "*n"]
    model: Int[Array, "*n"]
    tau_single: Float[Array, "*n"]
    weight_single: Float[Array, "*n"]
    tau_double: Float[Array, "*n 2"]
    weights_double: Float[Array, "*n 2"]
    aic: Float[Array, "*n 2"]
    lags: Float[Array, " lags"]
    ac: Float[Array, " lags *n"]
    fitted: Float[Array, " lags *n"]
    bias_corrected: bool = eqx.field(static=True)


def autocorrelation_timescale(
    x: Float[ArrayLike, "*trials time n"] | Float[ArrayLike, " time"],
    *,
    dt: ScalarLike,
    max_lag: int = 30,
    reduce: str = "population",
    bias_correction: bool = True,
    unbiased: bool = True,
    min_weight: float = 0.05,
    max_steps: int = 256,
) -> Timescale:
    r"""Single- and double-exponential timescales of trials, chosen by AIC.

    The autocorrelation is :func:`autocorrelation` (each trial's mean removed,
    averaged over trials, normalised by lag 0). Removing a short trial's mean
    makes it decay faster than the process's: for an OU process with
    $\tau = 10$ steps in trials of 50 steps it is 0.853 at lag 1 instead of
    $e^{-0.1} = 0.905$, and a plain exponential fit then underestimates $\tau$.
    With ``bias_correction`` (default) the models are instead the *expected*
    autocorrelation of their processes under the same estimator on trials of the
    same length, in closed form
    (:func:`~dynax.analysis.expected_autocorrelation`), so what is fitted has the
    data's bias: the fitted $\tau$ is that of the process. Over many trials this
    removes the bias (the test: 500 OU trials of 50 steps, $\tau = 10$ steps);
    it assumes stationary trials of one length.

    Args:
        x: samples ``(*trials, time, n)`` (or one series ``(time,)``).
        dt: the sampling interval (timescales come out in its units).
        max_lag: the largest lag fitted (Khajehabdollahi et al.: 30), ``< time``.
        reduce: ``"population"`` (one fit to the activity vector's
            autocorrelation) or ``"unit"`` (one fit per unit).
        bias_correction: fit the expected mean-subtracted autocorrelation.
        unbiased: the estimator's normalisation (see :func:`autocorrelation`).
        min_weight: the double exponential is chosen only if it has the lower AIC
            *and* each component holds at least this share of the variance. AIC
            treats the lags' errors as independent, which they are not: on an
            AR(1) series with $\tau = 2$ steps ($4\cdot 10^5$ samples) a
            component of 0.3 % of the variance with $\tau \approx 10$-$20$
            fitted the noise of the tail and won by AIC.
        max_steps: Levenberg-Marquardt iterations per fit.

    Returns:
        A :class:`Timescale` (with a trailing unit axis for ``"unit"``).
    """
    dt = check_float("dt", dt, low=0.0, low_open=True)
    check_choice("reduce", reduce, ("unit", "population"))
    check_bool("bias_correction", bias_correction)
    check_int("max_steps", max_steps, 1)
    min_weight = check_float("min_weight", min_weight, low=0.0, high=0.5)
    xs = jnp.asarray(x)
    T = xs.shape[-2] if xs.ndim >= 2 else xs.shape[0]
    if T < 3:
        fail("x", "at least 3 time samples", f"shape {xs.shape}")
    check_int("max_lag", max_lag, 2, T - 1)
    ac = autocorrelation(x, max_lag=max_lag, reduce=reduce, unbiased=unbiased)
    opts = dict(T=T, corrected=bias_correction, unbiased=unbiased)
    dt_, floor = jnp.asarray(dt, ac.dtype), jnp.asarray(min_weight, ac.dtype)
    return _fit_all(ac, dt_, floor, max_steps, **opts)


@eqx.filter_jit
def _fit_all(
    ac: Array, dt: Array, min_weight: Array, max_steps: int, **opts
) -> Timescale:
    curve = _curves(ac.shape[0] - 1, ac.dtype, dt=dt, **opts)
    if ac.ndim == 1:
        fits = _fit_one(ac, curve, max_steps, dt)
    else:
        fits = jax.lax.map(lambda a: _fit_one(a, curve, max_steps, dt), ac.T)
    tau_s, w_s, taus, ws, aic, fitted = fits
    weighty = jnp.all(ws >= min_weight * jnp.sum(ws, axis=-1, keepdims=True), axis=-1)
    double = (aic[..., 1] < aic[..., 0]) & weighty
    tau = jnp.where(double, taus[..., 1], tau_s)
    lags = jnp.arange(ac.shape[0], dtype=ac.dtype) * dt
    fitted = jnp.where(double[..., None], fitted[..., 1, :], fitted[..., 0, :])
    fitted = fitted if ac.ndim == 1 else fitted.T  # (lags, n)
    return Timescale(
        tau,
        jnp.where(double, 2, 1),
        tau_s,
        w_s,
        taus,
        ws,
        aic,
        lags,
        ac,
        fitted,
        opts["corrected"],
    )


def _curves(L: int, dtype, *, T, dt, corrected, unbiased) -> Callable:
    """``curve(taus, shares)``: the model autocorrelation on lags 0..L.

    ``shares`` are the variance fractions of the OU components; the rest is white.
    """
    k = jnp.arange(L + 1, dtype=dtype)
    white = _expected_white(T, L, unbiased, dtype)

    def curve(taus: Array, shares: Array) -> Array:
        steps = dt / taus
        if corrected:
            parts = jax.vmap(lambda s: _expected_ou(s, T, L, unbiased))(steps)
            c = shares @ parts + (1 - jnp.sum(shares)) * white
            return c / c[0]
        c = shares @ jnp.exp(-steps[:, None] * k[None])
        return c.at[0].set(1.0)

    return curve


def _fit_one(ac: Array, curve: Callable, max_steps: int, dt: Array):
    """Fit one autocorrelation: (tau, w), (taus, weights), AIC pair, chosen curve."""
    n = ac.shape[0] - 1
    solver = optx.LevenbergMarquardt(rtol=1e-10, atol=1e-12)

    def single(p, _):
        return curve(jnp.exp(p[1:]), jnp.exp(p[:1]))[1:] - ac[1:]

    def double(p, _):
        c = jax.nn.sigmoid(p[1])
        return curve(jnp.exp(p[2:]), jnp.exp(p[0]) * jnp.stack([c, 1 - c]))[1:] - ac[1:]

    def solve(fn, p0):
        sol = optx.least_squares(fn, solver, p0, max_steps=max_steps, throw=False)
        rss = jnp.sum(fn(sol.value, None) ** 2)
        return sol.value, jnp.where(jnp.isfinite(rss), rss, jnp.inf)

    rho = jnp.clip(ac[1], 0.05, 0.995)
    p0 = jnp.stack([jnp.zeros((), ac.dtype), jnp.log(-dt / jnp.log(rho))])
    ps, rss_s = solve(single, p0)
    spread = jnp.log(jnp.array([[1 / 3, 3.0], [1 / 10, 1.5], [1 / 2, 10.0]], ac.dtype))
    zero = jnp.zeros((3, 1), ac.dtype)
    starts = jnp.concatenate([zero + ps[0], zero, ps[1] + spread], axis=1)
    pds, rss_ds = jax.lax.map(lambda q0: solve(double, q0), starts)
    best = jnp.argmin(rss_ds)
    pd, rss_d = pds[best], rss_ds[best]
    tiny = jnp.finfo(ac.dtype).tiny
    aic = jnp.stack([2 * 2 + n * jnp.log(jnp.maximum(rss_s, tiny) / n),
                     2 * 4 + n * jnp.log(jnp.maximum(rss_d, tiny) / n)])  # fmt: skip
    c = jax.nn.sigmoid(pd[1])
    taus, shares = jnp.exp(pd[2:]), jnp.exp(pd[0]) * jnp.stack([c, 1 - c])
    order = jnp.argsort(taus)
    taus, shares = taus[order], shares[order]
    fitted = jnp.stack([curve(jnp.exp(ps[1:]), jnp.exp(ps[:1])), curve(taus, shares)])
    return jnp.exp(ps[1]), jnp.exp(ps[0]), taus, shares, aic, fitted


class NetworkTimescales(eqx.Module):
    r"""The timescales of a network's linearisation against its neurons' own.

    Attributes:
        tau: the e-folding time of every mode of the linearisation,
            $-1/\operatorname{Re}\lambda$ for a flow, $-\Delta t/\ln|\lambda|$
            for a map, ordered by growth rate as in
            :func:`~dynax.analysis.linearise` (growing modes first, with negative
            values; marginal ones ``inf``; then the decaying ones, slowest first).
        tau_max: the slowest decaying mode's timescale (``nan`` if none decays).
        eigvals: the Jacobian's eigenvalues in the same order.
        tau_neurons: the model's own per-neuron time constants (its ``tau``
            attribute, e.g. a rate RNN's $\tau_i$), or ``None`` if it has none.
        stable: whether every mode decays.
    """

    tau: Float[Array, "*ens n"]
    tau_max: Float[Array, "*ens"]
    eigvals: Array
    tau_neurons: Float[Array, "*ens n"] | None
    stable: Bool[Array, "*ens"]


def network_timescales(
    model,
    y: Float[ArrayLike, "*ens n"],
    *,
    args: Args = None,
    inputs: Float[ArrayLike, "*ens n_in"] | None = None,
    t: ScalarLike = 0.0,
    kind: Kind | None = None,
    dt: float = 1.0,
    ensemble: bool = False,
) -> NetworkTimescales:
    r"""Network-mediated timescales at a state (usually a fixed point).

    The eigenvalues $\lambda$ of the Jacobian at ``y``
    (:func:`~dynax.analysis.linearise`) give the modes' timescales
    $\tau = -1/\operatorname{Re}\lambda$; the slowest can far exceed every
    neuron's own $\tau_i$ when recurrence slows the dynamics (the
    "network-mediated" timescale of Khajehabdollahi et al. 2024), e.g.
    $\tau_\text{net} = \tau/(1 - g)$ for $\tau\dot x = -x + g\,x$.

    Args:
        model: a dynax model or ``f(t, y, args)``; with ``ensemble=True`` a stacked
            ensemble.
        y: the state, ``(n,)`` (find it with
            :func:`~dynax.analysis.find_fixed_points`).
        args: handed to the model unchanged.
        inputs: a constant input vector (instead of ``args``).
        t: the time of evaluation.
        kind: ``"flow"`` or ``"map"`` (default from the model's type).
        dt: for a map, the time of one iteration.
        ensemble: ``model`` is a stacked ensemble.

    Returns:
        A :class:`NetworkTimescales`.
    """
    lin = linearise(
        model, y, args=args, inputs=inputs, t=t, kind=kind, dt=dt, ensemble=ensemble
    )
    tau = lin.time_constants
    decaying = jnp.isfinite(tau) & (tau > 0)
    tau_max = jnp.max(jnp.where(decaying, tau, -jnp.inf), axis=-1)
    tau_max = jnp.where(jnp.isfinite(tau_max), tau_max, jnp.nan)
    own = getattr(model, "tau", None)
    own = None if own is None else jnp.asarray(own)
    return NetworkTimescales(tau, tau_max, lin.eigvals, own, lin.stable)

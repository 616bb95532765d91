r"""Autocorrelation of trials by FFT, and its expectation for an OU process.

The estimator (per unit, per trial of $T$ samples, the trial's mean $\bar x$
subtracted):

$$\hat C(k) = \frac{1}{T - k}\sum_{t=0}^{T-1-k}(x_t - \bar x)(x_{t+k} - \bar x)$$

(``unbiased=True``, Khajehabdollahi et al. 2024; ``False`` divides by $T$), averaged
over trials and normalised by lag 0. Removing the trial mean biases it low on short
trials (Zeraati, Engel & Levina 2022, *Nat. Comput. Sci.* 2:193); its expectation
for a stationary process with autocovariance $\gamma$ is

$$\mathbb E\,(x_t - \bar x)(x_s - \bar x) = \gamma(t-s) - g(t) - g(s) + \Gamma,
\quad g(t) = \frac1T\sum_{u=0}^{T-1}\gamma(t-u),\quad
\Gamma = \frac1T\sum_{t=0}^{T-1} g(t),$$

so that $\mathbb E\,\hat C(k) = [(T-k)\gamma(k) - S(k) + (T-k)\Gamma] / (T-k)$ with
$S(k) = \sum_{t=0}^{T-1-k}[g(t) + g(t+k)]$. For $\gamma(k) = \rho^{|k|}$ (an
Ornstein-Uhlenbeck process sampled every $\Delta t$, $\rho = e^{-\Delta t/\tau}$)

$$T g(t) = \frac{1 - \rho^{t+1}}{1 - \rho} + \frac{\rho\,(1 - \rho^{T-1-t})}{1-\rho},$$

and for white noise ($\gamma = \delta$) $\mathbb E\,\hat C(k) = \delta_k - 1/T$
(:func:`expected_autocorrelation`).
"""

import equinox as eqx
import jax.numpy as jnp

from .._custom_types import Array, ArrayLike, Float, ScalarLike
from .._validate import check_array, check_bool, check_choice, check_int, fail


def autocorrelation(
    x: Float[ArrayLike, "*trials time n"] | Float[ArrayLike, " time"],
    *,
    max_lag: int | None = None,
    reduce: str = "unit",
    unbiased: bool = True,
    normalize: bool = True,
) -> Float[Array, " lags *n"]:
    r"""The autocorrelation of trials by FFT, each trial's mean subtracted.

    Each unit of each trial has its own mean removed; the products are summed by
    FFT (zero-padded, so not circular) and divided by the number of overlapping
    samples $T - k$ (``unbiased``) or by $T$; the result is averaged over every
    leading (trial) axis and, with ``normalize``, divided by its lag-0 value (see
    the module docstring for the estimator and its bias).

    Args:
        x: samples, shape ``(*trials, time, n)`` (time second to last, units
            last), or one series ``(time,)``.
        max_lag: the largest lag returned (default ``time - 1``).
        reduce: ``"unit"``, one autocorrelation per unit, or ``"population"``,
            that of the activity vector:
            $\sum_i C_i(k) / \sum_i C_i(0)$ (units weighted by their variance).
        unbiased: divide by $T - k$ (else by $T$).
        normalize: divide by lag 0 (else return autocovariances).

    Returns:
        Shape ``(max_lag + 1, n)`` for ``"unit"``, ``(max_lag + 1,)`` for
        ``"population"`` or a 1-d ``x``.
    """
    x = check_array("x", x, min_ndim=1)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        fail("x", "a float array", f"dtype {x.dtype}")
    one = x.ndim == 1
    if one:
        x = x[:, None]
    T = x.shape[-2]
    if T < 2:
        fail("x", "at least 2 time samples (axis -2)", f"shape {x.shape}")
    max_lag = T - 1 if max_lag is None else check_int("max_lag", max_lag, 0, T - 1)
    check_choice("reduce", reduce, ("unit", "population"))
    check_bool("unbiased", unbiased)
    check_bool("normalize", normalize)
    c = _autocov(x.reshape((-1,) + x.shape[-2:]), max_lag, unbiased)
    if reduce == "population" or one:
        c = jnp.mean(c, axis=-1)
    return c / c[:1] if normalize else c


@eqx.filter_jit
def _autocov(x: Array, max_lag: int, unbiased: bool) -> Array:
    """Trial-averaged autocovariance ``(lags, n)`` of ``x`` ``(trials, time, n)``."""
    T = x.shape[1]
    xc = x - jnp.mean(x, axis=1, keepdims=True)
    nfft = 1 << (2 * T - 1).bit_length()
    f = jnp.fft.rfft(xc, n=nfft, axis=1)
    s = jnp.fft.irfft(f * jnp.conj(f), n=nfft, axis=1)[:, : max_lag + 1]
    k = jnp.arange(max_lag + 1)
    count = (T - k) if unbiased else jnp.full_like(k, T)
    s = jnp.mean(s, axis=0) / count.astype(x.dtype)[:, None]
    return s.astype(x.dtype)


def expected_autocorrelation(
    tau: ScalarLike,
    *,
    n_time: int,
    max_lag: int,
    dt: ScalarLike = 1.0,
    weight: ScalarLike = 1.0,
    unbiased: bool = True,
) -> Float[Array, " lags"]:
    r"""The expected normalised autocorrelation of trials with their mean removed.

    For a process of autocovariance $w\,e^{-|k|\Delta t/\tau} + (1 - w)\,\delta_k$
    (an OU process of time constant $\tau$ plus white noise, total variance 1)
    observed in trials of ``n_time`` samples, each with its own mean subtracted:
    $\mathbb E\,\hat C(k) / \mathbb E\,\hat C(0)$ for $k = 0..$``max_lag``, with
    the closed form of the module docstring (linear in the autocovariance, so the
    two parts add). It is what :func:`autocorrelation` converges to over many
    trials; :func:`autocorrelation_timescale` fits it to remove the bias.

    Args:
        tau: the OU time constant $\tau > 0$ (units of ``dt``).
        n_time: samples per trial $T$.
        max_lag: the largest lag, ``< n_time``.
        dt: the sampling interval.
        weight: the OU fraction $w$ of the variance.
        unbiased: the estimator's normalisation (see :func:`autocorrelation`).

    Returns:
        The expected autocorrelation, shape ``(max_lag + 1,)``.
    """
    check_int("n_time", n_time, 2)
    check_int("max_lag", max_lag, 0, n_time - 1)
    check_bool("unbiased", unbiased)
    tau = jnp.asarray(tau)
    dtype = tau.dtype if jnp.issubdtype(tau.dtype, jnp.floating) else float
    step = jnp.asarray(dt, dtype) / tau.astype(dtype)
    e = _expected_ou(step, n_time, max_lag, unbiased)
    white = _expected_white(n_time, max_lag, unbiased, e.dtype)
    w = jnp.asarray(weight, e.dtype)
    c = w * e + (1 - w) * white
    return c / c[0]


def _expected_ou(step: Array, T: int, max_lag: int, unbiased: bool) -> Array:
    r"""$\mathbb E\,\hat C(k)$ for $\gamma(k) = e^{-k\,\text{step}}$ (unnormalised).

    With $G(m) = \sum_{t<m} g(t)$ in closed form,
    $T(1-\rho)\,G(m) = m(1+\rho) - \rho(1-\rho^m)(1+\rho^{T-m})/(1-\rho)$,
    the cost is $O(\text{max\_lag})$, not $O(T)$.
    """
    k = jnp.arange(max_lag + 1).astype(step.dtype)
    n = jnp.asarray(T, step.dtype)
    q = -jnp.expm1(-step)  # 1 - rho
    rho = jnp.exp(-step)

    def G(m):
        tail = -jnp.expm1(-m * step) * (1 + jnp.exp(-(n - m) * step))
        return (m * (1 + rho) - rho * tail / q) / (n * q)

    pairs = n - k
    s = G(pairs) + G(n) - G(k)
    total = pairs * jnp.exp(-k * step) - s + pairs * G(n) / n
    return total / (pairs if unbiased else n)


def _expected_white(T: int, max_lag: int, unbiased: bool, dtype) -> Array:
    k = jnp.arange(max_lag + 1)
    per_pair = (k == 0).astype(dtype) - 1.0 / T
    return per_pair if unbiased else per_pair * (T - k).astype(dtype) / T

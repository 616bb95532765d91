r"""Synchrony measures: order parameter, phase locking, Hilbert phases, dispersion, CTM.

All functions are pure and jit/vmap friendly. Time series have a leading time axis
(as :attr:`dynax.Trajectory.ys`) and the oscillators (or neurons) on the last axis.
"""

import jax
import jax.numpy as jnp

from .._custom_types import Array, ArrayLike, Float, Int
from .._validate import check_array, check_bool, check_int, fail


def order_parameter(
    theta: Float[ArrayLike, "... n"],
) -> tuple[Float[Array, "..."], Float[Array, "..."]]:
    r"""Return the Kuramoto order parameter $(r, \psi)$ over the last axis.

    $$r\,e^{i\psi} = \frac1N \sum_{j=1}^{N} e^{i\theta_j},$$

    so $r = 1$ for identical phases and $r \approx 0$ for incoherent ones
    (Kuramoto 1984). Leading axes (time, ensemble members) are kept, so a phase
    trajectory ``(time, n)`` gives ``r`` and ``psi`` of shape ``(time,)``.

    Args:
        theta: phases in radians, oscillators on the last axis.

    Returns:
        ``(r, psi)``: the coherence $r \in [0, 1]$ and mean phase
        $\psi \in (-\pi, \pi]$.
    """
    what = "phases with the oscillators on the last axis, shape (..., n)"
    theta = check_array("theta", theta, min_ndim=1, what=what)
    c, s = jnp.mean(jnp.cos(theta), axis=-1), jnp.mean(jnp.sin(theta), axis=-1)
    return jnp.hypot(c, s), jnp.arctan2(s, c)


def phase_locking_value(
    theta: Float[ArrayLike, "... time n"],
) -> Float[Array, "... n n"]:
    r"""Return the pairwise phase-locking value matrix over time.

    $$\mathrm{PLV}_{ij} = \Big|\frac1T \sum_{t=1}^{T}
    e^{i(\theta_i(t) - \theta_j(t))}\Big|$$

    (Lachaux et al. 1999, Hum. Brain Mapp. 8:194): 1 for a constant phase
    difference, near 0 for unrelated phases. Computed with two matrix products
    (no $T \times N \times N$ intermediate).

    Args:
        theta: phases, shape ``(..., time, n)``.

    Returns:
        The symmetric ``(..., n, n)`` PLV matrix (ones on the diagonal).
    """
    theta = check_array("theta", theta, min_ndim=2, what="shape (..., time, n)")
    c, s = jnp.cos(theta), jnp.sin(theta)
    n_t = theta.shape[-2]

    def gram(a, b):
        return jnp.einsum("...ti,...tj->...ij", a, b) / n_t

    real = gram(c, c) + gram(s, s)
    imag = gram(s, c) - gram(c, s)
    return jnp.minimum(jnp.hypot(real, imag), 1.0)


def analytic_signal(x: Float[ArrayLike, "..."], *, axis: int = 0) -> Array:
    r"""Return the analytic signal $x + i\,\mathcal H[x]$ via the FFT.

    The discrete Hilbert transform of Marple (1999, IEEE Trans. Signal Process.
    47:2600), as in ``scipy.signal.hilbert``: the FFT of ``x`` along ``axis`` is
    multiplied by $h$ ($h_0 = 1$, $h_k = 2$ for positive frequencies, $h_{N/2} = 1$
    for even $N$, 0 for negative frequencies) and transformed back. The signal is
    treated as periodic, so expect edge effects over a few periods at both ends.

    Args:
        x: a real signal.
        axis: the time axis. **Default 0** (the leading time axis of dynax
            trajectories), where ``scipy.signal.hilbert`` uses ``-1``.

    Returns:
        A complex array with the shape of ``x`` (complex64 for float32 input).
    """
    x = check_array("x", x, min_ndim=1, what="a signal with a time axis")
    check_int("axis", axis, -x.ndim, x.ndim - 1)
    n = x.shape[axis]
    spectrum = jnp.fft.fft(x, axis=axis)
    k = jnp.arange(n)
    h = jnp.where((k == 0) | (2 * k == n), 1.0, jnp.where(2 * k < n, 2.0, 0.0))
    shape = [1] * x.ndim
    shape[axis] = n
    h = h.reshape(shape).astype(spectrum.dtype)
    return jnp.fft.ifft(spectrum * h, axis=axis)


def instantaneous_phase(
    x: Float[ArrayLike, "..."], *, axis: int = 0, unwrap: bool = False
) -> Float[Array, "..."]:
    r"""Return the phase $\arg(x + i\,\mathcal H[x])$ of a real signal.

    For $x(t) = A\cos(\omega t + \phi)$ this is $\omega t + \phi$ (modulo $2\pi$,
    away from the ends). See :func:`analytic_signal`.

    Args:
        x: a real signal.
        axis: the time axis (default 0).
        unwrap: remove the $2\pi$ jumps along ``axis`` (``jnp.unwrap``).

    Returns:
        The phase, real, shape of ``x``, in $(-\pi, \pi]$ unless unwrapped.
    """
    check_bool("unwrap", unwrap)
    phase = jnp.angle(analytic_signal(x, axis=axis))
    return jnp.unwrap(phase, axis=axis) if unwrap else phase


def sync_error(x: Float[ArrayLike, "... n d"]) -> Float[Array, "..."]:
    r"""Return the dispersion $\sum_i \lVert x_i - \bar x\rVert^2$ around the centre.

    $\bar x = \frac1n \sum_i x_i$. This is the synchronisation error of
    Bouvrie & Slotine (2011): zero when all copies agree. For scalar states add a
    trailing axis (``x[..., None]``). Its stationary mean for noisy coupled
    gradient systems is :attr:`ConsensusNoise.dispersion`.

    Args:
        x: states, copies on axis ``-2``, coordinates on axis ``-1``.

    Returns:
        The dispersion, shape ``x.shape[:-2]`` (e.g. one value per time).
    """
    what = "copies on axis -2 and coordinates on axis -1, shape (..., n, d)"
    x = check_array("x", x, min_ndim=2, what=what)
    centred = x - jnp.mean(x, axis=-2, keepdims=True)
    return jnp.sum(centred**2, axis=(-2, -1))


def _pair_products(z, pairs):
    if z.ndim != 2:
        fail("z", "neuron traces of shape (time, n)", f"shape {z.shape}")
    if pairs is None:
        return jnp.einsum("ti,tj->tij", z, z)
    if not isinstance(pairs, tuple | list) or len(pairs) != 2:
        fail("pairs", "None or a tuple (left, right) of index arrays", f"{pairs!r}")
    left, right = (
        check_array("pairs", p, ndim=1, what="1-d index arrays") for p in pairs
    )
    if left.shape != right.shape or not jnp.issubdtype(left.dtype, jnp.integer):
        what = "two integer index arrays of one length"
        fail("pairs", what, f"shapes {left.shape} and {right.shape}")
    return z[:, left] * z[:, right]


def _decay_rate(decay, shape, dtype):
    """``exp(-d)`` with ``d`` clamped to [0, 15] as in CTM (straight-through)."""
    d = jnp.asarray(decay, dtype)
    if d.shape not in ((), shape):
        fail("decay", f"a scalar or shape {shape} (one per pair)", f"{d.shape}")
    d = d + jax.lax.stop_gradient(jnp.clip(d, 0.0, 15.0) - d)
    return jnp.broadcast_to(d, shape)


def synchronization_matrix(
    z: Float[ArrayLike, "time n"],
    decay: Float[ArrayLike, "..."],
    *,
    pairs: tuple[Int[ArrayLike, " p"], Int[ArrayLike, " p"]] | None = None,
) -> Float[Array, "..."]:
    r"""Return the decayed neural synchronisation of Continuous Thought Machines.

    Closed form at the last tick $T$ of the traces $z$ (Darlow et al. 2025,
    Sakana AI, "Continuous Thought Machines"):

    $$S_{ij} = \frac{\sum_{\tau=1}^{T} r_{ij}^{T-\tau}\, z_i^\tau z_j^\tau}
    {\sqrt{\sum_{\tau=1}^{T} r_{ij}^{T-\tau}}}, \qquad r_{ij} = e^{-d_{ij}},$$

    with learnable decays $d_{ij}$ clamped to $[0, 15]$ as in the reference code
    (the clamp is straight-through: gradients pass as if unclamped, like CTM's
    in-place clamp of the parameter). $d = 0$ gives
    $\sum_\tau z_i^\tau z_j^\tau / \sqrt T$. :func:`synchronization_series` is the
    recurrent form and gives the same numbers at every tick.

    Args:
        z: neuron traces (post-activations), shape ``(time, n)``.
        decay: $d$, a scalar or one per pair (``(n, n)``, or ``(p,)`` with
            ``pairs``).
        pairs: optional ``(left, right)`` index arrays selecting $p$ pairs (CTM's
            'random-pairing'); ``None`` gives every pair as an ``(n, n)`` matrix.

    Returns:
        $S$ at the last tick: ``(n, n)``, or ``(p,)`` with ``pairs``.
    """
    z = jnp.asarray(z)
    prods = _pair_products(z, pairs)
    d = _decay_rate(decay, prods.shape[1:], z.dtype)
    age = jnp.arange(z.shape[0] - 1, -1, -1).astype(z.dtype)
    weights = jnp.exp(-d[None] * age.reshape((-1,) + (1,) * d.ndim))
    return jnp.sum(weights * prods, axis=0) / jnp.sqrt(jnp.sum(weights, axis=0))


def synchronization_series(
    z: Float[ArrayLike, "time n"],
    decay: Float[ArrayLike, "..."],
    *,
    pairs: tuple[Int[ArrayLike, " p"], Int[ArrayLike, " p"]] | None = None,
) -> Float[Array, "time ..."]:
    r"""Return CTM synchronisation at every tick, computed recurrently (a scan).

    $\alpha^t = r\,\alpha^{t-1} + z_i^t z_j^t$, $\beta^t = r\,\beta^{t-1} + 1$,
    $S^t = \alpha^t / \sqrt{\beta^t}$ with $\alpha^0 = \beta^0 = 0$: the form
    used inside the CTM's internal loop, $O(1)$ memory per tick. Arguments as for
    :func:`synchronization_matrix`, whose closed form equals ``S[-1]``.

    Returns:
        $S^t$ for every tick: ``(time, n, n)``, or ``(time, p)`` with ``pairs``.
    """
    z = jnp.asarray(z)
    prods = _pair_products(z, pairs)
    r = jnp.exp(-_decay_rate(decay, prods.shape[1:], z.dtype))

    def tick(carry, p):
        alpha, beta = carry
        alpha, beta = r * alpha + p, r * beta + 1.0
        return (alpha, beta), alpha / jnp.sqrt(beta)

    zero = jnp.zeros(prods.shape[1:], z.dtype)
    return jax.lax.scan(tick, (zero, zero), prods)[1]

r"""Reservoir benchmarks: NARMA, the memory-capacity task and a Lorenz series."""

import diffrax
import jax
import jax.numpy as jnp
import jax.random as jr

from .._custom_types import Array, ArrayLike, Bool, Float, PRNGKeyArray
from .._simulate import simulate
from .._validate import (
    check_array,
    check_float_dtype,
    check_int,
    check_key,
)
from ..models import Lorenz


def narma_from_inputs(
    u: Float[ArrayLike, " time"], *, order: int = 10
) -> Float[Array, " time"]:
    r"""Return the NARMA series driven by ``u`` (Atiya & Parlos 2000).

    $$y_{k+1} = 0.3\,y_k + 0.05\,y_k \sum_{i=0}^{n-1} y_{k-i} + 1.5\,u_{k-n+1}\,u_k
    + 0.1,$$

    with $n$ = ``order`` and $y_k = u_k = 0$ for $k < 0$, $y_0 = 0$. So ``y[k]``
    depends on ``u[0..k-1]`` only, matching :func:`dynax.simulate`'s convention: a
    reservoir driven by ``inputs = u`` is trained with ``targets = y`` unshifted.
    The recursion can diverge for some input draws; :func:`narma` flags that.

    Args:
        u: the input, shape ``(time,)`` (usually i.i.d. $\mathcal U[0, 0.5]$).
        order: the order $n \ge 1$ (10 for NARMA-10).

    Returns:
        ``y``, shape ``(time,)``.
    """
    u = check_array("u", u, ndim=1, what="shape (time,)")
    check_int("order", order, 1)

    def step(carry, u_k):
        ys, us = carry  # ys = y_{k-n+1..k}; us = u_{k-n..k-1}
        us = jnp.concatenate([us[1:], u_k[None]])  # u_{k-n+1..k}
        y_k = ys[-1]
        y_next = 0.3 * y_k + 0.05 * y_k * jnp.sum(ys) + 1.5 * us[0] * u_k + 0.1
        return (jnp.concatenate([ys[1:], y_next[None]]), us), y_k

    zeros = jnp.zeros((order,), u.dtype)
    _, y = jax.lax.scan(step, (zeros, zeros), u)
    return y


def narma(
    n: int, *, order: int = 10, key: PRNGKeyArray, bound: float = 10.0, dtype=None
) -> tuple[Float[Array, " n"], Float[Array, " n"], Bool[Array, ""]]:
    r"""Sample a NARMA task: i.i.d. $u_k \sim \mathcal U[0, 0.5]$ and its series.

    See :func:`narma_from_inputs` for the equation and the alignment of ``u`` and
    ``y``. NARMA occasionally diverges; ``ok`` is ``False`` when any $|y_k|$
    exceeds ``bound`` or is not finite (the stable series stays below 1). Reject
    such draws (e.g. ``jnp.where`` over a vmapped batch of keys).

    Args:
        n: length.
        order: the order (10 for NARMA-10).
        key: PRNG key.
        bound: divergence threshold on $|y|$.
        dtype: float dtype (default: JAX's default float).

    Returns:
        ``(u, y, ok)``.
    """
    check_int("n", n, 1)
    check_key("key", key)
    dtype = check_float_dtype("dtype", dtype)
    u = jr.uniform(key, (n,), dtype, minval=0.0, maxval=0.5)
    y = narma_from_inputs(u, order=order)
    ok = jnp.all(jnp.isfinite(y) & (jnp.abs(y) <= bound))
    return u, y, ok


def memory_capacity_task(
    n: int,
    *,
    max_delay: int,
    key: PRNGKeyArray,
    low: float = -1.0,
    high: float = 1.0,
    dtype=None,
) -> tuple[Float[Array, "n 1"], Float[Array, "n max_delay"]]:
    r"""Sample the linear memory task: i.i.d. uniform input and delayed copies.

    The input is i.i.d. $\mathcal U[\text{low}, \text{high}]$;
    ``targets[k, d - 1]`` is the input $d$ steps before the most recent one a
    :func:`dynax.simulate` state ``ys[k]`` has seen (``inputs[k-1]``), i.e.
    ``inputs[k - 1 - d]`` (Jaeger 2002's $u(t - d)$; zero where undefined), for
    $d = 1..$ ``max_delay``. :func:`dynax.analysis.memory_capacity` builds the same
    targets itself from the inputs.

    Returns:
        ``(inputs, targets)`` of shapes ``(n, 1)`` and ``(n, max_delay)``.
    """
    check_int("n", n, 1)
    check_int("max_delay", max_delay, 1)
    check_key("key", key)
    dtype = check_float_dtype("dtype", dtype)
    u = jr.uniform(key, (n,), dtype, minval=low, maxval=high)
    padded = jnp.concatenate([jnp.zeros((max_delay + 1,), dtype), u])
    ks = jnp.arange(n)[:, None]
    ds = jnp.arange(1, max_delay + 1)[None, :]
    targets = padded[ks - 1 - ds + max_delay + 1]
    return u[:, None], targets


def lorenz_series(
    n: int,
    *,
    dt: float = 0.01,
    sample_every: int = 1,
    y0: Float[ArrayLike, " 3"] | None = None,
    washout: int = 0,
    sigma: float = 10.0,
    rho: float = 28.0,
    beta: float = 8.0 / 3.0,
    dtype=None,
) -> Float[Array, "n 3"]:
    r"""Sample :class:`dynax.models.Lorenz` (fixed-step ``diffrax.Tsit5``).

    $$\dot x = \sigma(y - x),\quad \dot y = x(\rho - z) - y,\quad
    \dot z = xy - \beta z.$$

    Args:
        n: number of samples returned.
        dt: the (fixed) solver step.
        sample_every: number of steps between samples.
        y0: initial state (default ``(1, 1, 1)``).
        washout: number of leading samples discarded.
        sigma: $\sigma$.
        rho: $\rho$.
        beta: $\beta$.
        dtype: float dtype (default: JAX's default float).

    Returns:
        The states, shape ``(n, 3)``; sample ``i`` is at time
        ``(washout + i) * sample_every * dt``.
    """
    check_int("n", n, 1)
    check_int("sample_every", sample_every, 1)
    check_int("washout", washout, 0)
    dtype = jnp.result_type(float) if dtype is None else dtype
    model = Lorenz(sigma, rho, beta, dtype=dtype)
    y0 = model.init_state() if y0 is None else jnp.asarray(y0, dtype)
    ts = jnp.arange(max(washout + n, 2), dtype=dtype) * (sample_every * dt)
    traj = simulate(model, y0, ts, solver=diffrax.Tsit5(), dt=dt)
    return traj.ys[washout : washout + n]

"""Initialisers shared by the recurrent models.

These are pure functions of their arguments (and of an explicit ``key`` where random).
They are private helpers of :mod:`dynax.models`, not re-exported; argument checks
live in :mod:`dynax._validate`.
"""

import math

import jax
import jax.numpy as jnp
import jax.random as jr

from .._custom_types import Array, ArrayLike, Float, PRNGKeyArray
from .._validate import check_float, check_int, check_positive, check_unit_shape, fail


def log_time_constant(
    tau: ArrayLike, n_hidden: int, dtype
) -> Float[Array, " n_hidden"]:
    """Check ``tau`` (a scalar or one per unit) and return ``log(tau)`` per unit."""
    check_unit_shape("tau", tau, n_hidden)
    tau = check_positive("tau", tau, dtype, strict=True)
    return jnp.log(jnp.broadcast_to(tau, (n_hidden,)))


def gaussian(
    key: PRNGKeyArray, shape: tuple[int, ...], std: ArrayLike, dtype
) -> Float[Array, "..."]:
    r"""Return i.i.d. $\mathcal N(0, \text{std}^2)$ entries of the given shape."""
    return jnp.asarray(std, dtype) * jr.normal(key, shape, dtype)


def dale_magnitudes(
    key: PRNGKeyArray, n_hidden: int, n_exc: int, g: ArrayLike, dtype
) -> Float[Array, "n_hidden n_hidden"]:
    r"""Return non-negative, row-balanced weight magnitudes for an E/I network.

    The signed matrix is $W_{ij} = s_j M_{ij}$ with $s_j = +1$ for $j < n_E$ and
    $-1$ otherwise. Magnitudes start at $M_{ij} = a\,c_j|z_{ij}|$,
    $z_{ij} \sim \mathcal N(0, 1)$, zero diagonal, with $c_j = n_E/n_I$ on inhibitory
    columns so that the expected input to each unit is zero. The scale
    $a = g / \sqrt{(1 - 2/\pi)\, n_E (1 + n_E / n_I)}$ makes the summed column
    variances $g^2$, so by Rajan & Abbott (2006, PRL 97:188104) the bulk of the
    spectrum is a disc of radius $g$ once each row sums to zero. Rows are therefore
    centred, as they prescribe: the row mean of $W$ is removed from every
    off-diagonal entry and magnitudes are clipped at zero (a few percent of them,
    fewer for larger $N$); three passes leave row sums near zero. The measured
    spectral radius is then about $1.1\,g$ for $N$ of a few hundred.

    Args:
        key: PRNG key.
        n_hidden: number of units $N$.
        n_exc: number of excitatory units $n_E$ (the first ``n_exc`` units).
        g: target spectral radius.
        dtype: float dtype of the result.

    Returns:
        An ``(n_hidden, n_hidden)`` array of non-negative magnitudes.
    """
    n_inh = n_hidden - n_exc
    ratio = n_exc / n_inh
    is_exc = jnp.arange(n_hidden) < n_exc
    col_scale = jnp.where(is_exc, 1.0, ratio).astype(dtype).reshape(1, n_hidden)
    sign = jnp.where(is_exc, 1.0, -1.0).astype(dtype).reshape(1, n_hidden)
    off_diag = 1.0 - jnp.eye(n_hidden, dtype=dtype)
    scale = jnp.asarray(g, dtype) / math.sqrt((1 - 2 / math.pi) * n_exc * (1 + ratio))
    mag = scale * jnp.abs(jr.normal(key, (n_hidden, n_hidden), dtype))
    mag = mag * col_scale * off_diag
    for _ in range(3):
        row_sum = jnp.sum(mag * sign, axis=1, keepdims=True)
        mag = jax.nn.relu(mag - sign * row_sum / max(n_hidden - 1, 1) * off_diag)
    return mag


def excitatory_count(frac_exc: float, n_hidden: int) -> int:
    """Return ``round(frac_exc * n_hidden)`` after checking both populations exist."""
    check_float("frac_exc", frac_exc, low=0.0, high=1.0, low_open=True, high_open=True)
    n_exc = int(round(frac_exc * n_hidden))
    if not 0 < n_exc < n_hidden:
        fail(
            "frac_exc",
            f"at least one excitatory and one inhibitory unit of n_hidden = {n_hidden}",
            f"{frac_exc}, which gives {n_exc} excitatory and {n_hidden - n_exc} "
            "inhibitory units",
            hint="Change frac_exc or increase n_hidden.",
        )
    return n_exc


def rate_rnn_params(
    n_in: int,
    n_hidden: int,
    n_out: int,
    tau: ArrayLike,
    sigma_rec: ArrayLike,
    dtype,
    key: PRNGKeyArray,
) -> tuple[Array, Array, Array, Array, Array, Array]:
    r"""Check the shared rate-RNN arguments and build the non-recurrent parameters.

    Returns:
        ``(log_tau, W_in, b, W_out, b_out, sigma_rec)`` with ``W_in`` drawn
        $\mathcal N(0, 1/\max(n_\text{in}, 1))$, ``W_out`` $\mathcal N(0, 1/N)$
        and zero biases.
    """
    check_int("n_hidden", n_hidden, 1)
    check_int("n_in", n_in, 0)
    check_int("n_out", n_out, 0)
    k_in, k_out = jr.split(key)
    return (
        log_time_constant(tau, n_hidden, dtype),
        gaussian(k_in, (n_hidden, n_in), 1.0 / max(n_in, 1) ** 0.5, dtype),
        jnp.zeros((n_hidden,), dtype),
        gaussian(k_out, (n_out, n_hidden), 1.0 / n_hidden**0.5, dtype),
        jnp.zeros((n_out,), dtype),
        check_positive("sigma_rec", sigma_rec, dtype, strict=False),
    )

"""Initialisers shared by the recurrent models.

These are pure functions of their arguments (and of an explicit ``key`` where random).
They are private helpers of :mod:`dynax.models`, not re-exported; argument checks
live in :mod:`dynax._validate`.

**Compile cost.** A constructor checks its arguments on the host, then builds its
arrays in one jitted initialiser (cached per static configuration), so a first
construction compiles one small program instead of a dozen op-by-op ones. XLA's
compile time grows with the number of Threefry hashes in a program, so the helpers
below draw all of a model's keys with one hash (:func:`split_chain`) and all its
normal (or uniform) arrays with another (:func:`normals`, :func:`uniforms`). Both give
exactly the values of the plain ``jr.split`` / ``jr.normal`` calls they replace: with
``jax_threefry_partitionable`` (JAX's default) the value of element ``i`` of a draw
depends only on the key and ``i``, not on the size of the draw. With any other PRNG
they fall back to the plain calls.
"""

import functools
import math
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import jax.random as jr
import jax.scipy.special
import numpy as np
from jax.core import Tracer

from .._custom_types import Array, ArrayLike, Float, PRNGKeyArray
from .._validate import check_float, check_int, check_positive, check_unit_shape, fail


def _prefix_draws(key: PRNGKeyArray) -> bool:
    """Whether a draw of ``key`` is a prefix of every longer draw of the same key."""
    if not jax.config.values["jax_threefry_partitionable"]:
        return False
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        return str(jr.key_impl(key)) == "threefry2x32"
    return jax.config.values["jax_default_prng_impl"] == "threefry2x32"


def split_chain(key: PRNGKeyArray, counts: Sequence[int]) -> list[Array]:
    """Return ``jr.split`` applied in a chain, with one Threefry hash (traced code).

    Level 0 is ``jr.split(key, counts[0])``; level ``i`` splits the last key of
    level ``i - 1`` into ``counts[i]``. Returns one stacked key array per level.
    """
    if len(counts) == 1 or not _prefix_draws(key):
        levels = []
        for n in counts:
            levels.append(jr.split(key, n))
            key = levels[-1][n - 1]
        return levels
    m = max(counts)

    def level(k, n):
        keys = jr.split(k, m)  # jr.split(k, n) == keys[:n]: draws are prefixes
        return keys[n - 1], keys

    _, keys = jax.lax.scan(level, key, jnp.asarray(counts))
    return [keys[i, :n] for i, n in enumerate(counts)]


def _draws(
    draw: Callable, keys: Sequence[Array], shapes: Sequence[tuple[int, ...]]
) -> list[Array]:
    """``[draw(k, s) for k, s in zip(keys, shapes)]`` with one Threefry hash."""
    if len(keys) == 1 or not _prefix_draws(keys[0]):
        out = [draw(k, s) for k, s in zip(keys, shapes, strict=True)]
        return jax.lax.optimization_barrier(out)
    length = max(math.prod(s) for s in shapes)
    flat = jax.vmap(lambda k: draw(k, (length,)))(jnp.stack(list(keys)))
    return _split_draws(flat, shapes)


def _split_draws(flat: Array, shapes: Sequence[tuple[int, ...]]) -> list[Array]:
    """Draw ``j`` of ``shapes`` from the prefix of row ``j`` of ``flat``."""
    out = [flat[j, : math.prod(s)].reshape(s) for j, s in enumerate(shapes)]
    # Keep XLA from fusing later arithmetic into the draws (values stay bit-exact).
    return jax.lax.optimization_barrier(out)


def normals(
    keys: Sequence[Array], shapes: Sequence[tuple[int, ...]], dtype
) -> list[Array]:
    """Return ``[jr.normal(k, s, dtype) for k, s in zip(keys, shapes)]`` (traced)."""
    return _draws(lambda k, s: jr.normal(k, s, dtype), keys, shapes)


def uniforms(
    keys: Sequence[Array],
    shapes: Sequence[tuple[int, ...]],
    dtype,
    minval: float,
    maxval: float,
) -> list[Array]:
    """Return ``[jr.uniform(k, s, dtype, minval, maxval) ...]`` (traced)."""
    return _draws(lambda k, s: jr.uniform(k, s, dtype, minval, maxval), keys, shapes)


def check_time_constant(tau: ArrayLike, n_hidden: int, dtype) -> Array:
    """Check ``tau`` (a scalar or one per unit) and return it as an array."""
    check_unit_shape("tau", tau, n_hidden)
    return check_positive("tau", tau, dtype, strict=True)


def log_time_constant(tau: Array, n_hidden: int) -> Float[Array, " n_hidden"]:
    """Return ``log(tau)`` per unit for a checked ``tau`` (traced)."""
    return jnp.log(jnp.broadcast_to(tau, (n_hidden,)))


def dale_magnitudes(
    z: Float[Array, "n_hidden n_hidden"], n_exc: int, g: ArrayLike
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
        z: the standard normal draws $z_{ij}$, ``jr.normal(key, (N, N), dtype)``.
        n_exc: number of excitatory units $n_E$ (the first ``n_exc`` units).
        g: target spectral radius.

    Returns:
        An ``(n_hidden, n_hidden)`` array of non-negative magnitudes.
    """
    n_hidden, dtype = z.shape[0], z.dtype
    n_inh = n_hidden - n_exc
    ratio = n_exc / n_inh
    is_exc = jnp.arange(n_hidden) < n_exc
    col_scale = jnp.where(is_exc, 1.0, ratio).astype(dtype).reshape(1, n_hidden)
    sign = jnp.where(is_exc, 1.0, -1.0).astype(dtype).reshape(1, n_hidden)
    off_diag = 1.0 - jnp.eye(n_hidden, dtype=dtype)
    scale = jnp.asarray(g, dtype) / math.sqrt((1 - 2 / math.pi) * n_exc * (1 + ratio))
    mag = scale * jnp.abs(z)
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


def check_rate_rnn(
    n_in: int,
    n_hidden: int,
    n_out: int,
    tau: ArrayLike,
    sigma_rec: ArrayLike,
    dtype,
) -> tuple[Array, Array]:
    """Check the shared rate-RNN arguments; return ``(tau, sigma_rec)`` as arrays."""
    check_int("n_hidden", n_hidden, 1)
    check_int("n_in", n_in, 0)
    check_int("n_out", n_out, 0)
    tau = check_time_constant(tau, n_hidden, dtype)
    return tau, check_positive("sigma_rec", sigma_rec, dtype, strict=False)


# The random bits are integers, equal under any LLVM optimisation; compiling their
# program without it halves the compile time of a first construction (Threefry's
# rounds dominate it) and costs ~10 ms of run time.
_INTEGER_PROGRAM = {"xla_backend_optimization_level": 0}
# The float arithmetic after them keeps LLVM's optimisation level (a lower one
# contracts multiply-adds differently) but skips its expensive passes: same values.
_FLOAT_PROGRAM = {"xla_llvm_disable_expensive_passes": True}


def normal_from_bits(bits: Array, dtype) -> Array:
    """``jr.normal``'s values from its random bits (``jr.bits`` of the same key).

    The conversion of ``jax.random.normal`` (a uniform on ``(-1, 1)`` from the
    mantissa bits, then ``sqrt(2) * erf_inv``), written out: the same operations,
    so the same values.
    """
    info = jnp.finfo(dtype)
    nbits, nmant = info.bits, info.nmant
    lo = np.nextafter(np.array(-1.0, dtype), np.array(0.0, dtype), dtype=dtype)
    hi = np.array(1.0, dtype)
    minval = jax.lax.convert_element_type(lo, dtype)
    maxval = jax.lax.convert_element_type(hi, dtype)
    float_bits = jax.lax.shift_right_logical(bits, jnp.array(nbits - nmant, bits.dtype))
    one = jnp.asarray(np.array(1.0, dtype).view(bits.dtype), dtype=bits.dtype)
    float_bits = jax.lax.bitwise_or(float_bits, one)
    floats = jax.lax.bitcast_convert_type(float_bits, dtype) - jnp.array(1.0, dtype)
    u = jax.lax.max(minval, floats * (maxval - minval) + minval)
    return jax.lax.mul(np.array(np.sqrt(2), dtype), jax.scipy.special.erfinv(u))


def _draw_keys(key: PRNGKeyArray, kind: str) -> list[Array]:
    """The keys of :func:`rate_rnn_params`' draws, in order (traced)."""
    first, last = split_chain(key, (3 if kind == "low_rank" else 2, 2))
    return [*first[:-1], *last]


def _shapes(kind, n_in, n_hidden, n_out, size) -> list[tuple[int, ...]]:
    rec_shapes = [(n_hidden, size)] * 2 if kind == "low_rank" else [(n_hidden,) * 2]
    return [*rec_shapes, (n_hidden, n_in), (n_out, n_hidden)]


@functools.partial(
    jax.jit,
    static_argnames=("kind", "length", "nbits"),
    compiler_options=_INTEGER_PROGRAM,
)
def _rate_rnn_bits(key: PRNGKeyArray, *, kind: str, length: int, nbits: int):
    """``jr.bits`` of every draw's key, ``length`` each (a prefix is each draw's)."""
    uint = jnp.uint32 if nbits == 32 else jnp.uint64
    keys = jnp.stack(_draw_keys(key, kind))
    return jax.vmap(lambda k: jr.bits(k, (length,), uint))(keys)


@functools.partial(
    jax.jit,
    static_argnames=("kind", "n_in", "n_hidden", "n_out", "size"),
    compiler_options=_FLOAT_PROGRAM,
)
def _rate_rnn_from_bits(bits, tau, g, *, kind, n_in, n_hidden, n_out, size):
    dtype = tau.dtype
    shapes = _shapes(kind, n_in, n_hidden, n_out, size)
    draws = _split_draws(normal_from_bits(bits, dtype), shapes)
    return _assemble(draws, tau, g, kind, n_in, n_hidden)


def rate_rnn_params(
    key: PRNGKeyArray,
    tau: Array,
    g: ArrayLike,
    *,
    kind: str,
    n_in: int,
    n_hidden: int,
    n_out: int,
    size: int,
) -> tuple[tuple[Array, ...], Array, Array, Array, Array, Array]:
    r"""Build a rate RNN's arrays from checked arguments (see :func:`_rate_rnn_params`).

    For one network (a concrete key) and JAX's partitionable Threefry (its
    default), in two small programs: the random bits of every draw
    (:func:`_rate_rnn_bits`, integers only, compiled without LLVM optimisation) and
    the arrays from them. Otherwise (an ensemble being built under ``vmap``, or
    another PRNG) in one optimised program: the unoptimised bits of 512 networks
    took 1 s to compute, where their compile time is paid once.
    """
    sizes = dict(kind=kind, n_in=n_in, n_hidden=n_hidden, n_out=n_out, size=size)
    if isinstance(key, Tracer) or not _prefix_draws(key):
        return _rate_rnn_params(key, tau, g, **sizes)
    length = max(math.prod(s) for s in _shapes(kind, n_in, n_hidden, n_out, size))
    nbits = jnp.finfo(tau.dtype).bits
    bits = _rate_rnn_bits(key, kind=kind, length=length, nbits=nbits)
    return _rate_rnn_from_bits(bits, tau, g, **sizes)


def _assemble(draws, tau, g, kind, n_in, n_hidden):
    """The arrays of :func:`_rate_rnn_params` from its standard normal draws."""
    dtype = tau.dtype
    *rec, w_in, w_out = draws
    if kind == "dense":
        rec = [jnp.asarray(g / n_hidden**0.5, dtype) * rec[0]]
    return (
        tuple(rec),
        log_time_constant(tau, n_hidden),
        jnp.asarray(1.0 / max(n_in, 1) ** 0.5, dtype) * w_in,
        jnp.zeros((n_hidden,), dtype),
        jnp.asarray(1.0 / n_hidden**0.5, dtype) * w_out,
        jnp.zeros((w_out.shape[0],), dtype),
    )


@functools.partial(
    jax.jit, static_argnames=("kind", "n_in", "n_hidden", "n_out", "size")
)
def _rate_rnn_params(
    key: PRNGKeyArray,
    tau: Array,
    g: Array,
    *,
    kind: str,
    n_in: int,
    n_hidden: int,
    n_out: int,
    size: int,
) -> tuple[tuple[Array, ...], Array, Array, Array, Array, Array]:
    r"""Build a rate RNN's arrays from checked arguments, in one program.

    ``kind`` is ``"dense"`` (``W`` $\sim \mathcal N(0, g^2/N)$), ``"low_rank"``
    (``m``, ``n`` $\sim \mathcal N(0, 1)$ of ``size`` columns) or ``"dale"``
    (the standard normal ``z`` of :func:`dale_magnitudes`, which the caller runs op
    by op: fused into one program its arithmetic rounds differently). The keys are
    those of ``jr.split(key)`` (``jr.split(key, 3)`` for ``"low_rank"``), the last
    of which is split again into the keys of ``W_in`` and ``W_out``.

    Returns:
        ``(recurrent, log_tau, W_in, b, W_out, b_out)`` with ``W_in`` drawn
        $\mathcal N(0, 1/\max(n_\text{in}, 1))$, ``W_out`` $\mathcal N(0, 1/N)$
        and zero biases; ``recurrent`` is ``(W,)``, ``(m, n)`` or ``(z,)``.
    """
    shapes = _shapes(kind, n_in, n_hidden, n_out, size)
    draws = normals(_draw_keys(key, kind), shapes, tau.dtype)
    return _assemble(draws, tau, g, kind, n_in, n_hidden)

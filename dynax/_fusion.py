"""Whether a vector field's elementwise tail holds an expensive operation.

XLA fuses an elementwise producer into each of its consumers, recomputing it in every
one. In an explicit Runge-Kutta step written out stage by stage, each stage derivative
``k_j`` is consumed by every later stage and by the update, so a ``k_j`` whose last
fused part contains transcendental functions of the state (``sin``, ``exp``, ...) is
recomputed up to ``stages`` times: measured on CPU for Kuramoto oscillators
(``omega + cos(theta) * Im - sin(theta) * Re`` after a mean-field reduction), a
written-out Tsit5 step evaluated 27 sines instead of 6 and cost 24x an Euler step.
Stepping the stages in a loop materialises each ``k_j`` once (a loop carry cannot be
fused into its consumers), at the price of a loop per step, which costs ~20% for
vector fields whose expensive part ends in a matrix product (a rate RNN's
``W @ tanh(x)``). :func:`expensive_tail` tells the two apart from the jaxpr.
"""

from collections.abc import Callable, Sequence

import jax
from jax.extend import core

# Elementwise primitives XLA treats as expensive (transcendental or power functions).
_EXPENSIVE = frozenset(
    """sin cos tan asin acos atan atan2 sinh cosh tanh asinh acosh atanh exp exp2
    expm1 log log1p logistic pow erf erfc erf_inv lgamma digamma igamma igammac
    bessel_i0e bessel_i1e""".split()
)
# Primitives whose output is materialised rather than fused into its consumers.
_BREAKERS = frozenset(
    """dot_general conv_general_dilated reduce_sum reduce_max reduce_min reduce_prod
    reduce_and reduce_or reduce_xor argmax argmin cumsum cumprod cummax cummin
    cumlogsumexp sort scatter scatter-add scatter_add scatter_mul scatter_min
    scatter_max while cond scan fft cholesky triangular_solve lu qr eigh eig svd
    custom_linear_solve""".split()
)


def _inner_jaxpr(eqn) -> core.Jaxpr | None:
    for name in ("jaxpr", "call_jaxpr", "fun_jaxpr"):
        inner = eqn.params.get(name)
        if inner is not None:
            return getattr(inner, "jaxpr", inner)
    return None


def _walk(
    jaxpr: core.Jaxpr, dep: Sequence[bool], taint: Sequence[bool]
) -> tuple[list[bool], list[bool]]:
    """Propagate (depends on the state, ends in an expensive elementwise op)."""
    d: dict = {}
    tt: dict = {}
    for v, a, b in zip(jaxpr.invars, dep, taint, strict=True):
        d[v], tt[v] = a, b

    def get(table, v):
        return False if isinstance(v, core.Literal) else table.get(v, False)

    for eqn in jaxpr.eqns:
        in_d = [get(d, v) for v in eqn.invars]
        in_t = [get(tt, v) for v in eqn.invars]
        name = eqn.primitive.name
        inner = _inner_jaxpr(eqn)
        # A breaker, or a higher-order primitive whose inner jaxpr does not map
        # one-to-one onto its operands (treated as materialised).
        opaque = inner is not None and len(inner.invars) != len(eqn.invars)
        if name in _BREAKERS or opaque:
            out_d, out_t = [any(in_d)] * len(eqn.outvars), [False] * len(eqn.outvars)
        elif inner is not None:
            out_d, out_t = _walk(inner, in_d, in_t)
        else:
            dep_here = any(in_d)
            hot = (name in _EXPENSIVE and dep_here) or any(in_t)
            out_d, out_t = [dep_here] * len(eqn.outvars), [hot] * len(eqn.outvars)
        for v, a, b in zip(eqn.outvars, out_d, out_t, strict=True):
            d[v], tt[v] = a, b
    return [get(d, v) for v in jaxpr.outvars], [get(tt, v) for v in jaxpr.outvars]


def expensive_tail(f: Callable, y) -> bool:
    """Whether ``f(y)`` ends in an expensive elementwise function of ``y``.

    True when some output of ``f`` is reached from a transcendental function of the
    state through elementwise operations only (no matrix product, reduction or other
    materialising operation in between). Anything ``f`` closes over counts as
    constant. Tracing costs one abstract evaluation of ``f``.
    """
    try:
        closed = jax.make_jaxpr(f)(y)
    except Exception:  # noqa: BLE001 - a performance hint only: keep the default path
        return False
    n_in = len(closed.jaxpr.invars)
    _, taint = _walk(closed.jaxpr, [True] * n_in, [False] * n_in)
    return any(taint)

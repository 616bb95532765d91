"""Numerical parts of :func:`dynax.analysis.find_fixed_points` (private)."""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import optimistix as optx

from .._custom_types import Array
from .._linalg import min_norm_lstsq
from .._validate import fail
from ._levenberg_marquardt import batched_levenberg_marquardt
from ._linearise import Kind, growth_rates, vector_field


def check_residual(F, y):
    """At trace time: ``f`` must map a state to a state of the same shape."""
    try:
        out = jax.eval_shape(F, y)
    except (TypeError, ValueError) as err:
        what = f"states f can be evaluated on (shape {y.shape})"
        fail("candidates", what, f"{type(err).__name__}: {err}")
    if getattr(out, "shape", None) != y.shape:
        what = "states of the shape f returns"
        fail(
            "candidates",
            what,
            f"f mapping shape {y.shape} to {getattr(out, 'shape', out)}",
        )


def residual(ctx: tuple, kind: Kind) -> Callable[[Array], Array]:
    f, t, args = ctx
    g = vector_field(f, t, args)
    return g if kind == "flow" else (lambda y: g(y) - y)


def minimise(ctx, kind, x, solver, *, tol, max_steps, ftol, **_):
    """Run the solver from every candidate; return final points, q and steps."""

    def F(y, c):
        return residual(c, kind)(y)

    if solver is None:
        res = batched_levenberg_marquardt(
            F, x, ctx, tol=tol, max_steps=max_steps, ftol=ftol
        )
        return res.x, res.q, res.n_steps

    def one(y0):
        # The model travels as optimistix's ``args``, not as a closure.
        sol = optx.least_squares(F, solver, y0, ctx, max_steps=max_steps, throw=False)
        return sol.value, sol.stats["num_steps"]

    xs, steps = jax.vmap(one)(x)
    q = jax.vmap(lambda y: 0.5 * jnp.sum(F(y, ctx) ** 2))(xs)
    return xs, jnp.where(jnp.isfinite(q), q, jnp.inf), jnp.max(steps)


def greedy_unique(points, valid, unique_tol):
    """Greedy de-duplication of points already sorted by speed (jit-friendly)."""
    m = points.shape[0]

    def visit(kept, i):
        dist = jnp.sqrt(jnp.sum((points - points[i][None]) ** 2, axis=-1))
        duplicate = jnp.any(kept & (dist <= unique_tol))
        return kept.at[i].set(valid[i] & ~duplicate), None

    kept, _ = jax.lax.scan(visit, jnp.zeros((m,), bool), jnp.arange(m))
    return kept


@eqx.filter_custom_jvp
def implicit_point(ctx, y, *, kind):
    r"""The fixed point ``y`` of ``F(ctx)``, differentiable in ``ctx``.

    Returns ``y`` unchanged; its tangent is the implicit-function-theorem one,
    $\dot y = -J_F^{-1}\,\partial_{ctx} F\,\dot{ctx}$, so gradients with respect to
    the model need no differentiation through the solver's iterations (and cost
    nothing when none is asked for). Where $J_F$ is singular (a fixed point that is
    not isolated, e.g. on a line attractor) the tangent is the minimum-norm
    least-squares solution, $-J_F^{+}\,\partial_{ctx} F\,\dot{ctx}$: no motion along
    the null space of $J_F$. A point that is not finite, or where $J_F$ is not,
    gets a zero tangent. A linear solve gave NaN there instead, and the NaN reached
    the gradient of every point of the call, even through masks.
    """
    return y


@implicit_point.def_jvp
def implicit_point_jvp(primals, tangents, *, kind):
    ctx, y = primals
    ctx_dot, _ = tangents
    if ctx_dot is None:
        return y, jnp.zeros_like(y)
    finite = jnp.all(jnp.isfinite(y))
    at = jnp.where(finite, y, 0)  # keeps the tangent map finite for a NaN point
    F_of = lambda c: residual(c, kind)(at)  # noqa: E731
    _, F_dot = eqx.filter_jvp(F_of, (ctx,), (ctx_dot,))
    J = jax.jacfwd(residual(ctx, kind))(at)
    ok = finite & jnp.all(jnp.isfinite(J))
    J = jnp.where(ok, J, 0)
    tangent = -min_norm_lstsq(J, F_dot[:, None])[:, 0]
    return y, jnp.where(ok, tangent, 0)


def spectrum(a, kind: Kind):
    eig = jnp.linalg.eigvals(a)
    growth = growth_rates(eig, kind)
    order = jnp.argsort(-growth)
    return eig[order], jnp.sum(growth > 0), jnp.all(growth < 0)

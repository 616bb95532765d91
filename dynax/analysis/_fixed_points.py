r"""Fixed and slow points of a flow or a map, for one network or a stacked ensemble.

Sussillo & Barak (2013), "Opening the black box: low-dimensional dynamics in
high-dimensional recurrent neural networks", Neural Computation 25:626: minimise the
speed $q(x) = \tfrac12\lVert F(x)\rVert^2$ from many starting states, where
$F(x) = f(t, x, \text{args})$ for a flow and $F(x) = f(t, x, \text{args}) - x$ for a
map, with the input held constant. Minima with $q \approx 0$ are fixed points; minima
with small $q > 0$ are slow points. De-duplication and outlier exclusion follow Golub
& Sussillo's FixedPointFinder (2018).
"""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import optimistix as optx

from .._custom_types import Args, Array, ArrayLike, Bool, Float, Int, ScalarLike
from .._ensemble import plan, run
from .._validate import (
    check_array,
    check_bool,
    check_finite,
    check_float,
    check_instance,
    check_int,
    fail,
)
from ._fixed_point_solve import (
    check_residual,
    greedy_unique,
    implicit_point,
    minimise,
    residual,
    spectrum,
)
from ._linearise import (
    Kind,
    as_pytree,
    check_f,
    check_state,
    resolve_args,
    resolve_kind,
    vector_field,
)


class FixedPoints(eqx.Module):
    r"""Fixed and slow points found from a batch of candidates (fixed-size, masked).

    Slots are sorted: unique points first (fixed points before slow points, each by
    increasing speed), then the duplicates, outliers and non-finite results. With an
    ensemble every field has a leading member axis. Use
    :func:`dynax.analysis.unique_fixed_points` for the compact list on the host.

    Attributes:
        points: the final states, shape ``(k, n)``.
        speed: $q = \tfrac12\lVert F\rVert^2$ at each point.
        converged: ``speed <= tol``: a fixed point; a unique slot that has not
            converged is a slow point (a local minimum of $q$ above ``tol``).
        unique: the representatives: finite, not distance outliers, and farther than
            ``unique_tol`` from every representative of lower speed.
        candidate: the index of the candidate each slot came from.
        n_unique: how many unique points there were in all (may exceed ``k`` when
            ``max_points`` truncated the list).
        jacobians: $\partial f/\partial x$ at each point (``None`` when
            ``compute_jacobians=False``).
        eigvals: its eigenvalues, most unstable first (real part for flows, modulus
            for maps), complex.
        n_unstable: the number of unstable modes ($\operatorname{Re}\lambda > 0$ for
            flows, $|\lambda| > 1$ for maps).
        stable: whether every mode is stable (strictly).
        n_steps: solver iterations the batch took.
    """

    points: Float[Array, "*ens k n"]
    speed: Float[Array, "*ens k"]
    converged: Bool[Array, "*ens k"]
    unique: Bool[Array, "*ens k"]
    candidate: Int[Array, "*ens k"]
    n_unique: Int[Array, "*ens"]
    jacobians: Float[Array, "*ens k n n"] | None
    eigvals: Array | None
    n_unstable: Int[Array, "*ens k"] | None
    stable: Bool[Array, "*ens k"] | None
    n_steps: Int[Array, "*ens"]


def find_fixed_points(
    f: Callable,
    candidates: Float[ArrayLike, "*ens_c m n"],
    *,
    args: Args = None,
    inputs: Float[ArrayLike, "*ens_u n_in"] | None = None,
    kind: Kind | None = None,
    t: ScalarLike = 0.0,
    tol: float | None = None,
    max_steps: int = 200,
    ftol: float = 1e-6,
    solver: optx.AbstractLeastSquaresSolver | optx.AbstractMinimiser | None = None,
    unique_tol: float = 1e-3,
    outlier_distance_scale: float | None = 10.0,
    max_points: int | None = None,
    compute_jacobians: bool = True,
    ensemble: bool = False,
    chunk_size: int | None = None,
) -> FixedPoints:
    r"""Find fixed and slow points of ``f`` from every candidate at once.

    Minimises $q(x) = \tfrac12\lVert F(x)\rVert^2$ ($F = f$ for a flow,
    $F(x) = f(x) - x$ for a map) from all candidates in one jitted call, then
    removes non-finite results and distance outliers, de-duplicates, and
    linearises the points that are left.

    The default solver is Levenberg-Marquardt on $F$ (Gauss-Newton steps on $q$
    with adaptive damping): it converges quadratically to fixed points, saddles
    included (it finds zeros of $F$, whatever their stability), and stops at local
    minima of $q$ above ``tol``, which are reported as slow points with their speed
    rather than dropped. Any optimistix least-squares solver or minimiser can be
    passed instead (e.g. ``optx.OptaxMinimiser(optax.adam(1e-2), rtol, atol)`` for
    FixedPointFinder's Adam, or for states too large for an ``n x n`` Jacobian).

    ``points`` are differentiable with respect to the model's parameters (and a
    held input) by the implicit function theorem,
    $\partial x^* = -J_F^{-1}\,\partial_\theta F$, whichever solver ran; no
    gradient flows through the solver's iterations. The derivative is that of a
    fixed point: at a slow point (``converged`` false) it has no meaning.

    Args:
        f: a dynax model (its vector field, or its update for an ``AbstractMap``) or
            any ``f(t, y, args)`` with ``y`` of shape ``(n,)``. With
            ``ensemble=True``, a stacked ensemble of models. Parameters are
            differentiable when they are array leaves of ``f`` (a model or any
            equinox module) or arrays under ``jax.grad`` that a plain function
            closes over directly.
        candidates: starting states, shape ``(m, n)``; for an ensemble shared
            ``(m, n)`` or per member ``(members, m, n)`` (the ensemble rule of
            :mod:`dynax._ensemble`); see :func:`sample_candidates`.
        args: handed to ``f`` unchanged (e.g. a ``dx.ConstantInput``).
        inputs: a constant input vector for a dynax model, wrapped as
            ``dx.ConstantInput`` (use either ``inputs`` or ``args``); for an
            ensemble, shape ``(n_in,)`` shared or ``(members, n_in)``.
        kind: ``"flow"`` or ``"map"``; default ``"map"`` for an ``AbstractMap``,
            ``"flow"`` otherwise.
        t: the time at which ``f`` is evaluated.
        tol: a point with $q \le$ ``tol`` is a fixed point. Default 1e-10 in float32
            and 1e-20 in float64 (FixedPointFinder uses 1e-12 in float32, which
            rounding does not always allow for a 100-unit network).
        max_steps: the most solver iterations (all candidates share one loop).
        ftol: an accepted step that lowers $q$ by less than ``ftol`` times itself
            stops that candidate as a slow point (default solver only).
        solver: ``None`` for the built-in Levenberg-Marquardt, or an optimistix
            least-squares solver or minimiser.
        unique_tol: points closer than this (Euclidean) are duplicates; the one of
            lowest speed is kept (FixedPointFinder's ``tol_unique``, 1e-3).
        outlier_distance_scale: drop points farther from the candidates' centroid
            than this many times the candidates' mean distance from it
            (FixedPointFinder's default 10); ``None`` keeps every point.
        max_points: the number of slots returned (default: one per candidate).
            Jacobians and eigenvalues are computed only for the slots kept, so a
            small value (e.g. 64) saves most of the cost of the eigen-decomposition;
            ``n_unique`` says whether any unique point was cut.
        compute_jacobians: whether to compute Jacobians and eigenvalues.
        ensemble: ``f`` is a stacked ensemble; one call, padded outputs.
        chunk_size: with an ensemble, how many members are solved together (the
            rest follow in sequence inside the same compiled call). Default: all
            of them on an accelerator; on CPU enough for about 1,024 candidates,
            because larger batches of per-candidate Jacobians stop fitting in
            cache (64 members x 1,024 candidates of 64 units ran 2.5x slower in
            one batch than in a loop on 2 CPU cores, and 8 at a time 0.8x).

    Returns:
        A :class:`FixedPoints`.
    """
    check_f(f)
    kind = resolve_kind(f, kind)
    x = check_array("candidates", candidates)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        fail("candidates", "a float array", f"dtype {x.dtype}", error=TypeError)
    u = None if inputs is None else check_array("inputs", inputs)
    m = x.shape[-2] if x.ndim >= 2 else 1
    cpu = jax.default_backend() == "cpu"
    how = plan(
        f,
        ensemble,
        (("candidates", x, 2), ("inputs", u, 1)),
        chunk_size,
        default_chunk=max(1, 1024 // m) if cpu else None,
        name="f",
    )
    one_x = how.first(0, x)
    if one_x.ndim != 2:
        fail("candidates", "shape (m, n)", f"shape {x.shape}")
    check_finite("candidates", x, "finite states")
    opts = _check_options(
        x, tol, max_steps, ftol, unique_tol, outlier_distance_scale, max_points
    )
    check_state(how.one(f), one_x, "candidates", lead=1)
    what = "None or an optimistix least-squares solver or minimiser"
    types = optx.AbstractLeastSquaresSolver | optx.AbstractMinimiser
    check_instance("solver", solver, types, what, optional=True)
    check_bool("compute_jacobians", compute_jacobians)
    check_array("t", t, ndim=0, what="a scalar time")
    if u is not None and how.first(1, u).ndim != 1:
        fail("inputs", "shape (n_in,)", f"shape {u.shape}")
    f = as_pytree(f, t, one_x[0], resolve_args(args, inputs))
    cj = compute_jacobians
    return _find(f, x, args, inputs, t, solver, kind, how, cj, **opts)


def _check_options(x, tol, max_steps, ftol, unique_tol, outlier_scale, max_points):
    if tol is None:
        tol = 1e-10 if x.dtype == jnp.float32 else 1e-20
    m = x.shape[-2]
    return dict(
        tol=check_float("tol", tol, low=0.0, low_open=True),
        max_steps=check_int("max_steps", max_steps, 1),
        ftol=check_float("ftol", ftol, low=0.0, high=1.0, high_open=True),
        unique_tol=check_float("unique_tol", unique_tol, low=0.0, low_open=True),
        outlier_scale=None
        if outlier_scale is None
        else check_float(
            "outlier_distance_scale", outlier_scale, low=0.0, low_open=True
        ),
        k=m if max_points is None else min(check_int("max_points", max_points, 1), m),
    )


@eqx.filter_jit
def _find(f, x, args, inputs, t, solver, kind, how, compute_jacobians, **opts):
    def one(m, x1, u, key):
        del key
        ctx = (m, t, resolve_args(args, u))
        check_residual(residual(ctx, kind), x1[0])
        xs, q, n_steps = minimise(ctx, kind, x1, solver, **opts)
        return _postprocess(ctx, kind, x1, xs, q, n_steps, compute_jacobians, **opts)

    return run(one, f, (x, inputs), how)


def _postprocess(ctx, kind, x, xs, q, n_steps, compute_jacobians, **opts):
    """Screen, de-duplicate, order and linearise one network's solver results."""
    tol, k = opts["tol"], opts["k"]
    valid = jnp.isfinite(q) & jnp.all(jnp.isfinite(xs), axis=-1)
    if opts["outlier_scale"] is not None:
        centre = jnp.mean(x, axis=0)
        spread = jnp.mean(jnp.linalg.norm(x - centre[None], axis=-1))
        far = (
            jnp.linalg.norm(xs - centre[None], axis=-1) > opts["outlier_scale"] * spread
        )
        valid = valid & ~(far & (spread > 0))
    by_speed = jnp.argsort(jnp.where(valid, q, jnp.inf), stable=True)
    kept = greedy_unique(xs[by_speed], valid[by_speed], opts["unique_tol"])
    slots = by_speed[jnp.argsort(~kept, stable=True)][:k]
    kept_slots = ~jnp.sort(~kept)[:k]  # kept sorted first, in speed order
    points = jax.vmap(lambda y: implicit_point(ctx, y, kind=kind))(
        jax.lax.stop_gradient(xs[slots])
    )
    speed = q[slots]
    jac = eig = n_unstable = stable = None
    if compute_jacobians:
        g = vector_field(*ctx)
        jac = jax.vmap(jax.jacfwd(g))(points)
        eig, n_unstable, stable = jax.vmap(lambda a: spectrum(a, kind))(jac)
    return FixedPoints(
        points,
        speed,
        speed <= tol,
        kept_slots,
        slots,
        jnp.sum(kept),
        jac,
        eig,
        n_unstable,
        stable,
        jnp.asarray(n_steps),
    )

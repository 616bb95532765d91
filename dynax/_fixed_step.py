"""The fixed-step fast path of :func:`dynax.simulate`: one ``lax.scan`` over steps.

Explicit Runge-Kutta solvers (``diffrax.Euler`` and every ``diffrax.AbstractERK``) are
stepped by evaluating the solver's own Butcher tableau directly: the stages and the
solution update only, with no error estimate, dense output or stage bookkeeping, which
is what makes ``diffrax``'s general loop cost several times a hand-written scan. The
result is the same numerical method, so it equals ``diffrax.diffeqsolve`` with
``ConstantStepSize`` up to rounding. Every other solver (implicit, SDE solvers, ...)
is stepped through its own ``solver.step``.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import diffrax
import jax
import jax.numpy as jnp
import jax.tree_util as jtu

from ._custom_types import State
from ._fusion import expensive_tail
from ._save import Save
from ._terms import StepIncrement, make_terms

# Matrix products whose contraction is at least this long are kept for the backward
# pass; everything else in a step is recomputed from the stored states.
LONG_CONTRACTION = 16


def keep_long_products(prim, *avals, **params) -> bool:
    """``jax.checkpoint`` policy of the time loop: keep long matrix products only.

    A step's recurrent product (``W @ r``, contraction over the units) costs as much
    as the rest of the step many times over, so its output is stored; elementwise
    functions (``tanh``, the Euler update) and short products (``W_in @ u`` over a
    few input channels) are recomputed from the stored state in the backward pass.
    Without a policy JAX stores every intermediate of every step: on 2 CPU cores (8
    CTRNNs of 128 units x 64 trials x 100 steps) it wrote five state-sized arrays
    per step and the gradient took 1.2x (32 networks: 1.6x) as long; with one
    network the two were equal. The gradient's value does not change.
    """
    if prim is not jax.lax.dot_general_p:
        return False
    (contracting, _), _ = params["dimension_numbers"]
    length = 1
    for axis in contracting:
        length *= avals[0].shape[axis]
    return length >= LONG_CONTRACTION


def rematerialised(fn: Callable, remat: bool) -> Callable:
    """``fn`` checkpointed for the backward pass of the time loop.

    ``remat=True`` stores nothing but the loop carry (every product is recomputed);
    otherwise :func:`keep_long_products` decides.
    """
    return jax.checkpoint(fn, policy=None if remat else keep_long_products)


class Tableau(NamedTuple):
    """An explicit Butcher tableau as Python floats (static: zeros are skipped)."""

    c: tuple[float, ...]
    a: tuple[tuple[float, ...], ...]
    b: tuple[float, ...]


def explicit_tableau(solver: diffrax.AbstractSolver) -> Tableau | None:
    """The tableau of an explicit RK solver, or ``None`` for any other solver.

    Trailing stages with zero weight (the first-same-as-last stage of e.g. Tsit5) are
    dropped: they only pre-compute the next step's first stage.
    """
    if type(solver) is diffrax.Euler:
        return Tableau((), (), (1.0,))
    if not isinstance(solver, diffrax.AbstractERK):
        return None
    tab = solver.tableau
    if not isinstance(tab, diffrax.ButcherTableau):
        return None
    c = [float(x) for x in tab.c]
    a = [tuple(float(x) for x in row) for row in tab.a_lower]
    b = [float(x) for x in tab.b_sol]
    while len(b) > 1 and b[-1] == 0.0:
        c, a, b = c[:-1], a[:-1], b[:-1]
    return Tableau(tuple(c), tuple(a), tuple(b))


def _combine(y: State, coeffs: tuple[float, ...], ks: list[State]) -> State:
    """Return ``y + sum_j coeffs[j] * ks[j]``, skipping zero coefficients."""
    pairs = [(a, k) for a, k in zip(coeffs, ks, strict=False) if a != 0.0]
    weights = [a for a, _ in pairs]

    def leaf(y_leaf, *k_leaves):
        out = y_leaf
        for weight, k_leaf in zip(weights, k_leaves, strict=True):
            out = out + (k_leaf if weight == 1.0 else weight * k_leaf)
        return out

    return jtu.tree_map(leaf, y, *[k for _, k in pairs])


def tableau_step(f: Callable, tab: Tableau, t, h, y: State, args: Any) -> State:
    """One explicit Runge-Kutta step of size ``h`` from ``(t, y)``.

    The stages are written out one by one, unless ``f`` ends in an expensive
    elementwise function of the state (:func:`dynax._fusion.expensive_tail`): then
    they run in a loop, so that XLA does not recompute that function for each stage in
    every consumer. Both give the same values.
    """
    if len(tab.b) > 1 and expensive_tail(lambda v: f(t, v, args), y):
        return stage_loop_step(f, tab, t, h, y, args)
    return written_out_step(f, tab, t, h, y, args)


def written_out_step(f: Callable, tab: Tableau, t, h, y: State, args: Any) -> State:
    """One explicit Runge-Kutta step, its stages written out (zeros skipped)."""
    ks: list[State] = []
    for i in range(len(tab.b)):
        if i == 0:
            t_i, y_i = t, y
        else:
            t_i, y_i = t + tab.c[i - 1] * h, _combine(y, tab.a[i - 1], ks)
        ks.append(jtu.tree_map(lambda v: v * h.astype(v.dtype), f(t_i, y_i, args)))
    return _combine(y, tab.b, ks)


def stage_loop_step(f: Callable, tab: Tableau, t, h, y: State, args: Any) -> State:
    """As :func:`written_out_step`, with the stages in a ``fori_loop``.

    The loop carry holds every stage derivative, so each is computed once even where
    XLA would otherwise recompute it inside each consumer (see ``dynax._fusion``).
    Stage inputs add every earlier derivative in order, zero coefficients included
    (adding ``0 * k`` changes nothing), so the values equal :func:`written_out_step`'s.
    """
    s = len(tab.b)
    a = [[0.0] * s] + [list(row) + [0.0] * (s - len(row)) for row in tab.a]
    c = (0.0,) + tab.c

    def body(i, big_k):
        def comb(v, kv):
            row = jnp.asarray(a, v.dtype)[i]
            out = v
            for j in range(s - 1):
                out = out + row[j] * kv[j]
            return out

        y_i = jtu.tree_map(comb, y, big_k)
        t_i = t + jnp.asarray(c, h.dtype)[i] * h
        k = jtu.tree_map(lambda v: v * h.astype(v.dtype), f(t_i, y_i, args))
        return jtu.tree_map(lambda kv, kl: kv.at[i].set(kl), big_k, k)

    k0 = jtu.tree_map(lambda v: jnp.zeros((s,) + v.shape, v.dtype), y)
    big_k = jax.lax.fori_loop(0, s, body, k0)
    ks = [jtu.tree_map(lambda kv, j=j: kv[j], big_k) for j in range(s)]
    return _combine(y, tab.b, ks)


def _is_finite(y: State) -> jax.Array:
    """Whether every element of ``y`` is finite, as one boolean.

    A sum is non-finite when any term is (inf - inf is nan), so one reduction per leaf
    replaces an elementwise test; a finite state whose sum overflows is diverging in
    every practical sense and is flagged too.
    """
    flags = [jnp.isfinite(jnp.sum(leaf)) for leaf in jtu.tree_leaves(y)]
    return jnp.all(jnp.stack(flags)) if flags else jnp.asarray(True)


def _freeze_after_divergence(ys: State, finite: jax.Array) -> tuple[State, jax.Array]:
    """Hold ``ys`` at the last finite save once a state is not.

    ``finite[k]`` says whether save ``k`` is finite; it is computed inside the scan,
    one small reduction per save, so the stacked states are never re-read for it (a
    check over the stacked trajectory after the scan cost ~10% of a forward + backward
    pass on CPU at 8 networks x 64 trials x 128 units; a per-step select ~10% too,
    and an unused ``ys`` could not be removed). The hold is one select over the saves,
    after the scan: every save after the first non-finite one shows the last finite
    state, and the flag is returned.
    """
    valid = jnp.cumprod(finite.astype(jnp.int32)).astype(bool)
    last = jnp.maximum(jnp.sum(valid.astype(jnp.int32)) - 1, 0)

    def hold(x):
        # The held value carries no gradient: the saves after a divergence are a
        # flag for the user, not a quantity to differentiate, and a gather's
        # transpose (a scatter-add over the whole trajectory) is not free.
        keep = valid.reshape((-1,) + (1,) * (x.ndim - 1))
        return jnp.where(keep, x, jax.lax.stop_gradient(x[last]))

    return jtu.tree_map(hold, ys), valid[-1]


def scan_intervals(
    one_step: Callable,
    y0: State,
    state0: Any,
    ts: jax.Array,
    per_interval: Any,
    n_sub: int,
    unroll: int,
    readout: Callable | None = None,
    remat: bool = False,
    save: Save | None = None,
) -> tuple[jax.Array, Any, Any, jax.Array]:
    """Scan ``one_step`` over the intervals of ``ts`` (``n_sub`` steps each).

    ``one_step(y, state, t, h, item, j)`` advances one step; ``item`` is this
    interval's slice of ``per_interval``. A trajectory that becomes non-finite is
    held at its last finite save and flagged. ``save`` says what is kept
    (:class:`dynax.Save`; ``None``: every state and its readout).

    When every state is kept, the readout is applied after the scan, to the held
    states at once (an unused readout is removed by dead-code elimination). Inside
    the scan it would be one small matrix product per step plus its share of the
    backward pass: measured 5-10% slower in total on CPU at 8 networks x 64 trials x
    128 units. Otherwise (:func:`_scan_kept`) what is kept is computed inside the
    scan, so the states are never written out.

    Returns:
        ``(ts_kept, ys, outputs, ok)``: the kept times, the kept states (``None``
        when not kept), the readout of each (``None`` without a readout or when not
        kept) and whether the whole solve stayed finite.
    """
    save = Save() if save is None else save
    if not save.default:
        return _scan_kept(
            one_step, y0, state0, ts, per_interval, n_sub, unroll, readout, remat, save
        )
    advance = _interval_advance(one_step, n_sub)

    def interval(carry, xs):
        carry = advance(carry, xs)
        return carry, (carry[0], _is_finite(carry[0]))

    # Step sizes are computed once, outside the loop: on CPU every extra operation in
    # the loop body is a separate kernel launch per step, which is visible for small
    # networks.
    xs = (ts[:-1], jnp.diff(ts) / n_sub, per_interval)
    body = rematerialised(interval, remat)
    _, (ys, finite) = jax.lax.scan(body, (y0, state0), xs, unroll=unroll)
    ys = jtu.tree_map(lambda a, b: jnp.concatenate([a[None], b]), y0, ys)
    finite = jnp.concatenate([_is_finite(y0)[None], finite])
    ys, ok = _freeze_after_divergence(ys, finite)
    if readout is None or not save.outputs:
        return ts, ys, None, ok
    return ts, ys, jax.vmap(readout)(ys), ok


def _interval_advance(one_step: Callable, n_sub: int) -> Callable:
    """``advance((y, state), (t0, h, item))``: the ``n_sub`` steps of one interval."""

    def advance(carry, xs):
        y, state = carry
        t0, h, item = xs
        if n_sub == 1:
            return one_step(y, state, t0, h, item, 0)

        def sub(c, j):
            t = t0 + j.astype(h.dtype) * h
            return one_step(c[0], c[1], t, h, item, j), None

        return jax.lax.scan(sub, (y, state), jnp.arange(n_sub))[0]

    return advance


def _scan_kept(one_step, y0, state0, ts, per_interval, n_sub, unroll, readout, remat,
               save: Save):  # fmt: skip
    """:func:`scan_intervals` keeping only what ``save`` asks for.

    The scan runs over the kept times; each of its steps takes ``every`` intervals
    (an inner scan) and records the kept quantities of the state it reaches. Steps
    after the last kept time are not taken.
    """
    n_int = ts.shape[0] - 1
    every = n_int if save.final else save.every
    n_kept = n_int // every
    used = n_kept * every

    def blocks(x):
        return x[:used].reshape((n_kept, every) + x.shape[1:])

    xs = jtu.tree_map(blocks, (ts[:-1], jnp.diff(ts) / n_sub, per_interval))
    ts_kept = ts[: used + 1 : every]

    def record(t, y):
        return save.kept(t, y, readout), _is_finite(y)

    advance = _interval_advance(one_step, n_sub)
    interval = rematerialised(advance, remat)

    def block(carry, x):
        t_end, block_xs = x
        if every == 1:
            carry = interval(carry, jtu.tree_map(lambda a: a[0], block_xs))
        else:

            def step(c, xi):
                return interval(c, xi), None

            carry = jax.lax.scan(step, carry, block_xs, unroll=unroll)[0]
        return carry, record(t_end, carry[0])

    outer_unroll = unroll if every == 1 else 1
    _, (kept, finite) = jax.lax.scan(
        block, (y0, state0), (ts_kept[1:], xs), unroll=outer_unroll
    )
    kept0, finite0 = record(ts[0], y0)
    kept = jtu.tree_map(lambda a, b: jnp.concatenate([a[None], b]), kept0, kept)
    finite = jnp.concatenate([finite0[None], finite])
    kept, ok = _freeze_after_divergence(kept, finite)
    if save.final:
        kept = jtu.tree_map(lambda a: a[-1:], kept)
        ts_kept = ts_kept[-1:]
    return ts_kept, kept.get("ys"), kept.get("outputs"), ok


def flow_stepper(model, solver, tab: Tableau | None, noisy: bool, make_args: Callable):
    """Return ``(one_step, init_state)`` for a continuous-time model.

    Each interval's item is ``(u, dw)``: ``make_args(u)`` builds the model's ``args``
    for the interval, and with ``noisy`` ``dw`` holds the Brownian increments of its
    ``n_sub`` steps (leading axis).
    """
    if tab is not None and not noisy:

        def one_step(y, state, t, h, item, j):
            return tableau_step(model, tab, t, h, y, make_args(item[0])), state

        return one_step, lambda y0, t0, h0, item0: None

    def terms_for(item, j, dtype):
        control = (
            StepIncrement(jtu.tree_map(lambda d: d[j], item[1])) if noisy else None
        )
        return make_terms(model, control, dtype)

    def one_step(y, state, t, h, item, j):
        terms, args = terms_for(item, j, _dtype(y)), make_args(item[0])
        made_jump = jnp.asarray(j == 0)
        y1, _, _, state, _ = solver.step(terms, t, t + h, y, args, state, made_jump)
        return y1, state

    def init(y0, t0, h0, item0):
        terms = terms_for(item0, 0, _dtype(y0))
        return solver.init(terms, t0, t0 + h0, y0, make_args(item0[0]))

    return one_step, init


def _dtype(y: State):
    return jtu.tree_leaves(y)[0].dtype

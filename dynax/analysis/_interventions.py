r"""Interventions as data: what to do to a model, applied by :func:`intervene`.

An intervention is a small ``eqx.Module`` of array leaves (units, amplitudes, values,
time windows) that says how to change a model's vector field (or map), its diffusion
and its readout. It holds no model: :func:`dynax.analysis.intervene` wraps a model in
a list of them, and the wrapper is itself a model that :func:`dynax.simulate`,
``dx.train.fit``, :func:`~dynax.analysis.find_fixed_points` and
:func:`~dynax.analysis.lyapunov_spectrum` run unchanged. Because every numeric
parameter is an array leaf, ``jax.vmap`` over an amplitude, a set of units or a
clamp value sweeps trials or members in one compiled call.

States: interventions act on a model whose state is one array (``init_state()``);
**units** index its leading axis (a rate RNN's neurons, a Stuart-Landau oscillator's
row ``[x, y]``), **directions** have the state's shape, and a **subspace** is given
by ``k`` columns of length ``state.size`` (the flattened state).

Time windows ``(t0, t1)`` are half-open, active for ``t0 <= t < t1``, and the field
is switched by the time at which the solver evaluates it. With ``diffrax.Euler`` (the
default) and window edges on the step grid, every step is either inside or outside.
Higher-order explicit solvers also evaluate at a step's end, where a window that ends
there is already closed: that one step is partly outside (for kicks use the smooth
``Kick(..., shape="cosine")`` over several steps). An adaptive solver should be told
about the edges (``diffrax.ClipStepSizeController(..., jump_ts=[t0, t1])``).
"""

import abc
from collections.abc import Sequence
from typing import TypeAlias

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._custom_types import Args, Array, ArrayLike, Float, Int, ScalarLike
from .._linalg import cholesky, solve_lower
from .._validate import check_array, fail, is_concrete, message

FLOW, MAP = "flow", "map"
#: Unit indices: an integer array or a sequence of ints.
Units: TypeAlias = Int[ArrayLike, " k"] | Sequence[int]
#: A time window ``(t0, t1)``.
Window: TypeAlias = Float[ArrayLike, " 2"] | Sequence[ScalarLike]


class AbstractIntervention(eqx.Module):
    r"""What an intervention changes; see :func:`dynax.analysis.intervene`.

    Every method receives ``inner``: the model as the interventions before this one
    left it (``inner(t, y, args)`` is its drift or next state, ``inner(y)`` its
    readout, ``inner`` ``None`` for a model without diffusion or readout).
    Subclass it for a custom intervention; :func:`intervene` calls
    :meth:`prepare` once, on the host, with the model's state.
    """

    @abc.abstractmethod
    def prepare(self, like: jax.ShapeDtypeStruct, kind: str) -> "AbstractIntervention":
        """Check against the state ``like`` and ``kind`` ("flow"/"map"); cast leaves."""

    @abc.abstractmethod
    def adds_noise(self) -> bool:
        """Whether the intervened model has a diffusion even if the model has none."""

    @abc.abstractmethod
    def drift(self, inner, t: ScalarLike, y: Array, args: Args) -> Array:
        """The intervened drift ``dy/dt`` of a flow."""

    @abc.abstractmethod
    def update(self, inner, t: ScalarLike, y: Array, args: Args) -> Array:
        """The intervened next state of a map."""

    @abc.abstractmethod
    def diffusion(self, inner, t: ScalarLike, y: Array, args: Args) -> Array | None:
        """The intervened diagonal diffusion (``None``: no noise)."""

    @abc.abstractmethod
    def readout(self, inner, y: Array) -> Array:
        """The intervened readout (``inner`` is the readout before this one)."""


# --- shared helpers -----------------------------------------------------------------


def check_units(units, n: int) -> Array:
    """Integer indices into the leading state axis, in range and without repeats."""
    arr = check_array("units", units, ndim=1, what="a 1-d array of unit indices")
    if not jnp.issubdtype(arr.dtype, jnp.integer):
        fail("units", "integer unit indices", f"dtype {arr.dtype}")
    if arr.shape[0] == 0:
        fail("units", "at least one unit index", "an empty array")
    if is_concrete(arr):
        host = np.asarray(arr)
        bad = host[(host < 0) | (host >= n)]
        if bad.size:
            what = f"indices in [0, {n}) (the leading axis of the state)"
            fail("units", what, f"{bad.tolist()}")
        if np.unique(host).size != host.size:
            fail("units", "distinct unit indices", f"{host.tolist()}")
        return arr
    outside = jnp.any((arr < 0) | (arr >= n))
    msg = message("units", f"indices in [0, {n})", "a traced index outside it")
    return eqx.error_if(arr, outside, msg)


def unit_mask(units: Array, like) -> Array:
    """1 on the rows ``units`` of a state like ``like``, 0 elsewhere (broadcastable)."""
    n = like.shape[0]
    mask = jnp.zeros((n,), like.dtype).at[units].set(1)
    return mask.reshape((n,) + (1,) * (len(like.shape) - 1))


def scatter(units: Array, values: Array, like) -> Array:
    """A state-shaped array holding ``values`` on the rows ``units``, 0 elsewhere."""
    return jnp.zeros(like.shape, like.dtype).at[units].set(values)


def check_window(window, low=None, high=None) -> Array:
    w = check_array("window", window, shape=(2,), what="(t0, t1), two times")
    w = (
        w.astype(jnp.result_type(float))
        if not jnp.issubdtype(w.dtype, jnp.floating)
        else w
    )
    if is_concrete(w):
        t0, t1 = (float(v) for v in np.asarray(w))
        if not (np.isfinite(t0) and np.isfinite(t1) and t0 < t1):
            fail("window", "finite times t0 < t1", f"({t0}, {t1})")
        if low is not None and high is not None and (t0 < low or t1 > high):
            what = f"a window inside the source's ts, [{low}, {high}]"
            fail("window", what, f"({t0}, {t1})")
    return w


def active(window: Array, t) -> Array:
    """``t0 <= t < t1`` in the dtype of ``t``."""
    t = jnp.asarray(t)
    if not jnp.issubdtype(t.dtype, jnp.floating):
        t = t.astype(window.dtype)
    w = window.astype(t.dtype)
    return (t >= w[0]) & (t < w[1])


def scalar(name: str, value, dtype, *, positive: bool = False) -> Array:
    arr = check_array(name, value, ndim=0, what="a scalar").astype(dtype)
    if positive and is_concrete(arr) and not float(arr) > 0:
        fail(name, "a number > 0", repr(float(arr)))
    return arr


def array_state(like, kind: str, name: str) -> None:
    if kind not in (FLOW, MAP):
        fail("kind", "'flow' or 'map'", repr(kind))
    if len(like.shape) == 0:
        fail(name, "a model whose state has a leading unit axis", "a scalar state")


# --- Ablate -------------------------------------------------------------------------


class Ablate(AbstractIntervention):
    r"""Silence units, or a subspace of the state: nothing downstream sees them.

    With $P$ the projection that zeroes the ablated units (or removes the subspace
    spanned by the columns of ``subspace``, $P = I - QQ^\top$ with $Q$ an
    orthonormal basis of it), the intervened model is

    $$\dot y = P\,f(t, P y) - \kappa\,(I - P)\,y \quad\text{(flow)},\qquad
    y_{k+1} = P\,F(t_k, P y_k) \quad\text{(map)},$$

    and its readout is $r(P y)$. The model is only ever evaluated at $P y$: the
    ablated activity contributes nothing to any other unit or to the output. The
    ablated coordinates themselves relax to zero at rate $\kappa$ (``decay``; after
    one step for a map), so they stay finite and add decoupled stable modes (the
    eigenvalue $-\kappa$ per ablated dimension to fixed points and Lyapunov spectra
    of a flow, $0$ for a map) instead of drifting. Unit ablation also zeroes those
    units' diffusion; subspace ablation keeps the diffusion $g(t, Py)$ (noise left
    in the ablated subspace is invisible downstream).

    For a rate network $\tau\dot x = -x + W\phi(x) + \dots$ with $\phi(0) = 0$
    (``tanh``, ReLU) and readout $W_\text{out}\phi(x)$, ablating unit $i$ gives
    every other unit and the output exactly the trajectory of the same network
    with column $i$ of $W$ and of $W_\text{out}$ set to zero (its outgoing
    weights); for a nonlinearity with $\phi(0) \ne 0$ it silences the state, not
    the rate.

    Args:
        units: indices into the leading axis of the state (``None`` with
            ``subspace``).
        subspace: an ``(n, k)`` matrix whose columns span the ablated subspace of
            the flattened state (``n = state.size``, ``1 <= k < n``, full column
            rank; it is orthonormalised).
        decay: the rate $\kappa > 0$ at which ablated coordinates relax to zero.
    """

    units: Int[Array, " k"] | None
    basis: Float[Array, "n k"] | None
    decay: Float[Array, ""]
    kept: Float[Array, "..."] | None

    def __init__(
        self,
        units: Units | None = None,
        *,
        subspace: Float[ArrayLike, "n k"] | None = None,
        decay: ScalarLike = 1.0,
    ):
        if (units is None) == (subspace is None):
            fail("units", "exactly one of units or subspace", "both or neither")
        self.units = None if units is None else jnp.asarray(units)
        self.basis = None if subspace is None else jnp.asarray(subspace)
        self.decay = jnp.asarray(decay)
        self.kept = None  # for units: 0 on them, 1 elsewhere (state shape; prepare)

    def prepare(self, like, kind) -> "Ablate":
        """Check the units or subspace against the state; orthonormalise."""
        array_state(like, kind, "model")
        decay = scalar("decay", self.decay, like.dtype, positive=True)
        units, basis, kept = self.units, self.basis, None
        if units is not None:
            units = check_units(units, like.shape[0])
            kept = 1 - unit_mask(units, like) + jnp.zeros(like.shape, like.dtype)
        else:
            basis = _orthonormal(basis, int(np.prod(like.shape)), like.dtype)
        return eqx.tree_at(
            lambda a: (a.units, a.basis, a.decay, a.kept),
            self,
            (units, basis, decay, kept),
            is_leaf=lambda x: x is None,
        )

    def adds_noise(self) -> bool:
        """Ablation adds no noise."""
        return False

    def keep(self, y: Array) -> Array:
        """$P y$: the state with the ablated activity removed."""
        if self.units is not None:
            if self.kept is None:
                raise ValueError("Ablate: apply it with dx.analysis.intervene.")
            return y * self.kept
        basis = self.basis
        assert basis is not None
        flat = y.reshape(-1)
        return (flat - basis @ (basis.T @ flat)).reshape(y.shape)

    def drift(self, inner, t, y, args):
        r"""$P f(t, Py) - \kappa (I - P) y$."""
        py = self.keep(y)
        return self.keep(inner(t, py, args)) - self.decay * (y - py)

    def update(self, inner, t, y, args):
        """$P F(t, Py)$."""
        return self.keep(inner(t, self.keep(y), args))

    def diffusion(self, inner, t, y, args):
        """$g(t, Py)$, zero on ablated units."""
        if inner is None:
            return None
        g = inner(t, self.keep(y), args)
        return g if self.kept is None else g * self.kept

    def readout(self, inner, y):
        """$r(Py)$."""
        return inner(self.keep(y))


def _orthonormal(basis, n: int, dtype) -> Array:
    """An orthonormal basis of the span of ``basis``'s columns (Cholesky of Gram)."""
    b = check_array("subspace", basis, ndim=2, what=f"an (n, k) matrix with n = {n}")
    if b.shape[0] != n or not 1 <= b.shape[1] < n:
        what = f"shape ({n}, k) with 1 <= k < {n} (n = the state's size)"
        fail("subspace", what, f"shape {b.shape}")
    b = b.astype(dtype)
    gram = b.T @ b
    if is_concrete(gram):
        s = np.linalg.svd(np.asarray(b, np.float64), compute_uv=False)
        if not s[-1] > 1e-8 * s[0]:
            fail("subspace", "columns of full rank", f"singular values {s}")
    chol = cholesky(gram)
    return solve_lower(chol, b.T).T  # B L^{-T}: orthonormal columns, same span

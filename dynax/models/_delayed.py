r"""Kuramoto oscillators with transmission delays: a map with a ring buffer.

A delay differential equation needs the past of the state, which a diffrax solver
does not keep. :class:`DelayedKuramoto` is therefore an
:class:`~dynax.models.AbstractMap`: its state is a :class:`DelayBuffer` holding the
last ``n_lags`` phase vectors in a ring, and one application takes ``n_substeps``
explicit Euler steps of a fixed, documented ``dt``.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._custom_types import Args, Array, ArrayLike, Float, Int, ScalarLike
from .._validate import check_float, check_instance, check_int, fail, is_concrete
from ._base import AbstractSteppedMap
from ._coupling import AbstractCoupling, check_nonnegative
from ._oscillators import Kuramoto


class DelayBuffer(eqx.Module):
    """The state of :class:`DelayedKuramoto`: a ring buffer of past phases.

    Attributes:
        history: phases at the last ``n_lags`` Euler steps, shape ``(n_lags, n)``;
            row ``index`` is the current phase vector, row ``index - m`` (modulo
            ``n_lags``) the one ``m`` steps ago.
        index: the row of the current phases (an integer array).
    """

    history: Float[Array, "lags n"]
    index: Int[Array, ""]

    @property
    def current(self) -> Float[Array, " n"]:
        """The current phases."""
        return self.history[self.index]


class DelayedKuramoto(AbstractSteppedMap):
    r"""Kuramoto oscillators with transmission delays, stepped by explicit Euler.

    $$\dot\theta_i(t) = \omega_i + \sum_j C_{ij}\,
    \sin\big(\theta_j(t - \tau_{ij}) - \theta_i(t) - \alpha\big),$$

    with the frequencies, coupling layout and lag of the wrapped :class:`Kuramoto`
    (see there for the conventions). One call advances the state by
    ``n_substeps`` Euler steps of size ``dt``:
    $\theta^{k+1} = \theta^k + \Delta t\,[\omega + \sum_j C_{ij}
    \sin(\theta^{k - m_{ij}}_j - \theta^k_i - \alpha)]$ with integer lags
    $m_{ij} = \operatorname{round}(\tau_{ij}/\Delta t)$, i.e. each delay is
    rounded to the nearest multiple of ``dt``. With all delays zero this is
    exactly Euler on :class:`Kuramoto`. :func:`dynax.simulate` applies the map once
    per interval of ``ts``; choose ``ts`` with spacing ``n_substeps * dt`` so that
    its times are the model's times. The history before the start is the constant
    initial phase unless a full history is given to :meth:`history_state`.

    Delays are one value per connection of the coupling, or any shape that
    broadcasts to its :attr:`~dynax.models.AbstractCoupling.connection_shape`:
    ``(n, n)`` for :class:`~dynax.models.MeanField` and
    :class:`~dynax.models.DenseCoupling` (a pair $(i, j)$ at ``[i, j]``; an ``(n,)``
    vector is one delay per sender, $\tau_{ij} = \tau_j$), ``(E,)`` for
    :class:`~dynax.models.SparseCoupling` (one per edge). A scalar, or one delay
    per sender, keeps the coupling's own cost (the all-to-all layout stays $O(N)$);
    delays that vary along receivers are summed connection by connection
    (:meth:`~dynax.models.AbstractCoupling.connection_sum`; $O(N^2)$ for the
    all-to-all layout).
    Noise is not supported (a map receives no Brownian motion): the wrapped model
    must have ``sigma = 0``.

    Reference: M. K. S. Yeung & S. H. Strogatz (1999), PRL 82:648 (for identical
    oscillators the in-phase state rotates at $\Omega = \omega - K\sin(\Omega\tau)$).

    Args:
        kuramoto: the oscillators and their coupling.
        delays: transmission delays $\tau \ge 0$ (time units), shaped as above.
        dt: the Euler step $\Delta t > 0$.
        n_substeps: Euler steps per call.
        max_delay: the longest delay the ring buffer must hold; required only when
            ``delays`` are traced (e.g. swept with ``vmap``), default
            ``max(delays)``.
    """

    kuramoto: Kuramoto
    delays: Float[Array, "..."]
    dt: Float[Array, ""]
    n_lags: int = eqx.field(static=True)
    n_substeps: int = eqx.field(static=True)

    def __init__(
        self,
        kuramoto: Kuramoto,
        delays: Float[ArrayLike, "..."],
        *,
        dt: ScalarLike,
        n_substeps: int = 1,
        max_delay: float | None = None,
    ):
        what = "a dynax.models.Kuramoto"
        check_instance("kuramoto", kuramoto, Kuramoto, what)
        if is_concrete(kuramoto.sigma) and np.any(np.asarray(kuramoto.sigma) != 0):
            fail(
                "kuramoto",
                "sigma = 0 (DelayedKuramoto is deterministic)",
                f"sigma = {kuramoto.sigma}",
            )
        check_int("n_substeps", n_substeps, 1)
        dtype = kuramoto.omega.dtype
        self.kuramoto, self.n_substeps = kuramoto, n_substeps
        self.dt = jnp.asarray(check_float("dt", dt, low=0.0, low_open=True), dtype)
        delays = jnp.asarray(delays, dtype)
        _check_delay_shape(delays.shape, kuramoto.coupling)
        delays = check_nonnegative("delays", delays, dtype)
        lags = _buffer_length(delays, float(self.dt), max_delay)
        if not is_concrete(delays):  # checked when the computation runs (vmap)
            too_long = jnp.any(delays > (lags + 0.5) * self.dt)
            msg = "delays: expected delays <= max_delay, got a traced delay above it."
            delays = jnp.asarray(eqx.error_if(delays, too_long, msg))
        self.delays, self.n_lags = delays, lags + 1

    def _lags(self) -> Int[Array, "..."]:
        return jnp.round(self.delays / self.dt).astype(jnp.int32)

    def _coupling(self, buf: DelayBuffer, theta: Float[Array, " n"]):
        k = self.kuramoto
        rows = (buf.index - self._lags()) % self.n_lags
        if self.delays.ndim < len(k.coupling.connection_shape):  # one per sender
            source = buf.history[jnp.broadcast_to(rows, (k.n,)), jnp.arange(k.n)]
            return k.interaction(theta, source)

        def term(senders, receivers):
            return jnp.sin(buf.history[rows, senders] - theta[receivers] - k.lag)

        return k.coupling.connection_sum(term)

    def _euler(self, buf: DelayBuffer) -> DelayBuffer:
        theta = buf.current
        new = theta + self.dt * (self.kuramoto.omega + self._coupling(buf, theta))
        index = (buf.index + 1) % self.n_lags
        return DelayBuffer(buf.history.at[index].set(new), index)

    def __call__(self, t: ScalarLike, y: DelayBuffer, args: Args) -> DelayBuffer:
        """Return the buffer after ``n_substeps`` Euler steps."""
        del t, args
        if self.n_substeps == 1:
            return self._euler(y)
        return jax.lax.fori_loop(0, self.n_substeps, lambda _, b: self._euler(b), y)

    def history_state(self, theta: Float[ArrayLike, "..."]) -> DelayBuffer:
        """Return the state for an initial phase vector or a full history.

        Args:
            theta: the phases at the start, shape ``(n,)`` (held constant over the
                past), or a history of shape ``(n_lags, n)``, oldest first, whose
                last row is the phase at the start and row ``-1 - m`` the phase
                ``m`` steps of ``dt`` earlier.
        """
        theta = jnp.asarray(theta, self.kuramoto.omega.dtype)
        shape = (self.n_lags, self.kuramoto.n)
        if theta.shape not in (shape[1:], shape):
            what = f"shape ({shape[1]},) or {shape} (n_lags, n)"
            fail("theta", what, f"{theta.shape}")
        history = jnp.broadcast_to(theta, shape)
        return DelayBuffer(history, jnp.asarray(self.n_lags - 1, jnp.int32))

    def time_step(self) -> Array:
        """One application is ``n_substeps`` Euler steps of ``dt``."""
        return self.n_substeps * self.dt

    def init_state(self) -> DelayBuffer:
        """Return a buffer with every phase at zero, now and in the past."""
        return self.history_state(self.kuramoto.init_state())

    def readout(self, y: DelayBuffer) -> Float[Array, " n"]:
        """Return the current phases (``Trajectory.outputs`` is the phase series)."""
        return y.current


def _check_delay_shape(shape: tuple[int, ...], coupling: AbstractCoupling) -> None:
    connections = coupling.connection_shape
    ok = len(shape) <= len(connections)
    pairs = zip(shape[::-1], connections[::-1], strict=False)
    ok = ok and all(a in (1, b) for a, b in pairs)
    if not ok:
        raise ValueError(
            f"delays: with a {type(coupling).__name__} expected a scalar or a shape "
            f"that broadcasts to its connections, {connections}, got {shape}."
        )


def _buffer_length(delays: Array, dt: float, max_delay: float | None) -> int:
    """The largest lag in steps the buffer must hold (static)."""
    if max_delay is not None:
        longest = check_float("max_delay", max_delay, low=0.0)
    elif is_concrete(delays):
        longest = float(np.max(np.asarray(delays))) if delays.size else 0.0
    else:
        fail(
            "max_delay",
            "the longest delay of any member when the delays are traced (e.g. "
            "vmapped): it fixes the buffer size",
            "None",
        )
    lags = int(np.round(longest / dt))
    if (
        is_concrete(delays)
        and max_delay is not None
        and np.any(np.asarray(delays) > longest + dt / 2)
    ):
        got = f"up to {float(np.max(np.asarray(delays)))}"
        fail("delays", f"delays <= max_delay = {max_delay}", got)
    return lags

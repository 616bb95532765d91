r"""Continuous-time rate RNNs: :class:`AbstractRateRNN` and three connectivities.

Dense (:class:`CTRNN`), low rank (:class:`LowRankRNN`) and Dale's law (:class:`EIRNN`).
"""

import abc
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import DTypeLike

from .._custom_types import Args, Array, ArrayLike, Float, PRNGKeyArray, ScalarLike
from .._validate import (
    check_bool,
    check_callable,
    check_float_dtype,
    check_int,
    check_key,
    check_positive,
)
from . import _init
from ._base import AbstractStochasticDynamics, drive

Activation = Callable[[Array], Array]


def _check_common(activation, learn_tau, dtype, key):
    """Check the arguments every rate RNN shares; return the float dtype."""
    check_callable("activation", activation, "a callable such as jnp.tanh")
    check_bool("learn_tau", learn_tau)
    check_key("key", key)
    return check_float_dtype("dtype", dtype)


class AbstractRateRNN(AbstractStochasticDynamics):
    r"""A continuous-time rate RNN with additive private noise (Itô SDE).

    $$dx = \frac{-x + J\,r + W_\text{in}\,u(t) + b}{\tau}\,dt
    + \sigma_\text{rec}\sqrt{2/\tau}\;dW, \qquad r = \phi(x),$$

    with readout $y = W_\text{out}\,r + b_\text{out}$. Time is in the units of
    $\tau$ (one per unit, stored as ``log_tau``). With this noise convention the
    stationary standard deviation of $x$ for $J = 0$, $u = 0$, $b = 0$ is exactly
    $\sigma_\text{rec}$, whatever $\tau$; an Euler-Maruyama step of size $\Delta t$
    adds $\sqrt{2\alpha}\,\sigma_\text{rec}\,\xi$ with $\alpha = \Delta t/\tau$, the
    discretisation of Yang et al. (2019, Nat. Neurosci. 22:297).

    Subclasses declare the fields below and implement only :meth:`recurrent` (the
    current $J r$); every other method is concrete and shared. The external input
    $u$ is ``args.evaluate(t)`` (zeros when ``args`` is ``None`` or ``n_in == 0``).
    """

    log_tau: eqx.AbstractVar[Float[Array, " n_hidden"]]
    W_in: eqx.AbstractVar[Float[Array, "n_hidden n_in"]]
    b: eqx.AbstractVar[Float[Array, " n_hidden"]]
    W_out: eqx.AbstractVar[Float[Array, "n_out n_hidden"]]
    b_out: eqx.AbstractVar[Float[Array, " n_out"]]
    sigma_rec: eqx.AbstractVar[Float[Array, ""]]
    activation: eqx.AbstractVar[Activation]
    learn_tau: eqx.AbstractVar[bool]
    n_in: eqx.AbstractVar[int]
    n_hidden: eqx.AbstractVar[int]
    n_out: eqx.AbstractVar[int]

    @abc.abstractmethod
    def recurrent(self, r: Float[Array, " n_hidden"]) -> Float[Array, " n_hidden"]:
        """Return the recurrent current $J r$ for firing rates ``r = activation(x)``."""

    @property
    def tau(self) -> Float[Array, " n_hidden"]:
        r"""Time constants $\tau = \exp(\text{log\_tau})$, one per unit.

        With ``learn_tau=False``, ``jax.lax.stop_gradient`` is applied to ``log_tau``
        here, so its gradients are zero (it stays an array leaf: vmap can sweep it).
        """
        log_tau = self.log_tau
        if not self.learn_tau:
            log_tau = jax.lax.stop_gradient(log_tau)
        return jnp.exp(log_tau)

    def __call__(
        self, t: ScalarLike, x: Float[Array, " n_hidden"], args: Args
    ) -> Float[Array, " n_hidden"]:
        """Return the drift $dx/dt$ at time ``t`` and state ``x``."""
        u = drive(args, t, self.n_in, x.dtype)
        current = self.recurrent(self.activation(x)) + self.W_in @ u + self.b
        return (current - x) / self.tau

    def diffusion(
        self, t: ScalarLike, y: Float[Array, " n_hidden"], args: Args
    ) -> Float[Array, " n_hidden"]:
        r"""Return the diagonal noise amplitude $\sigma_\text{rec}\sqrt{2/\tau}$."""
        del t, args
        return jnp.broadcast_to(self.sigma_rec * jnp.sqrt(2.0 / self.tau), y.shape)

    def readout(self, x: Float[Array, " n_hidden"]) -> Float[Array, " n_out"]:
        r"""Return the output $W_\text{out}\,\phi(x) + b_\text{out}$."""
        return self.W_out @ self.activation(x) + self.b_out

    def init_state(self) -> Float[Array, " n_hidden"]:
        """Return the zero state."""
        return jnp.zeros((self.n_hidden,), self.b.dtype)

    def frozen_fields(self) -> tuple[str, ...]:
        """Array fields that training leaves alone by default (see ``dx.train.fit``).

        The noise scale ``sigma_rec`` is part of the task set-up, not a weight, and
        ``log_tau`` is frozen when ``learn_tau=False``.
        """
        return ("sigma_rec",) + (() if self.learn_tau else ("log_tau",))


class CTRNN(AbstractRateRNN):
    r"""A dense continuous-time rate RNN, $J = W$ (Sompolinsky et al. 1988).

    $$\tau \odot \dot x = -x + W \phi(x) + W_\text{in} u(t) + b, \qquad
    W_{ij} \sim \mathcal N(0, g^2/N).$$

    With $\phi = \tanh$ and no input it is chaotic for $g > 1$, large $N$ (Sompolinsky,
    Crisanti & Sommers 1988, PRL 61:259). Noise and readout: :class:`AbstractRateRNN`.

    Args:
        n_in: number of input channels (0 for an autonomous network).
        n_hidden: number of units $N$.
        n_out: number of readout channels.
        tau: time constant(s) $> 0$: a scalar or one per unit, shape ``(N,)``.
        learn_tau: if ``False``, gradients with respect to ``log_tau`` are zero.
        g: gain $\ge 0$ of the random recurrent weights.
        sigma_rec: stationary noise standard deviation $\sigma_\text{rec} \ge 0$.
        activation: the rate nonlinearity $\phi$.
        dtype: float dtype of every parameter (default: JAX's default float).
        key: PRNG key; ``W_in`` is drawn $\mathcal N(0, 1/\max(n_\text{in}, 1))$,
            ``W_out`` $\mathcal N(0, 1/N)$, biases start at zero.

    Example:
        >>> net = CTRNN(3, 64, 2, key=jax.random.key(0))
        >>> dxdt = net(0.0, net.init_state(), None)
    """

    W: Float[Array, "n_hidden n_hidden"]
    W_in: Float[Array, "n_hidden n_in"]
    b: Float[Array, " n_hidden"]
    W_out: Float[Array, "n_out n_hidden"]
    b_out: Float[Array, " n_out"]
    log_tau: Float[Array, " n_hidden"]
    sigma_rec: Float[Array, ""]
    activation: Activation = eqx.field(static=True)
    learn_tau: bool = eqx.field(static=True)
    n_in: int = eqx.field(static=True)
    n_hidden: int = eqx.field(static=True)
    n_out: int = eqx.field(static=True)

    def __init__(
        self,
        n_in: int,
        n_hidden: int,
        n_out: int,
        *,
        tau: ArrayLike = 1.0,
        learn_tau: bool = True,
        g: ScalarLike = 1.5,
        sigma_rec: ScalarLike = 0.0,
        activation: Activation = jnp.tanh,
        dtype: DTypeLike | None = None,
        key: PRNGKeyArray,
    ):
        dtype = _check_common(activation, learn_tau, dtype, key)
        tau, sigma = _init.check_rate_rnn(n_in, n_hidden, n_out, tau, sigma_rec, dtype)
        g = check_positive("g", g, dtype, strict=False)
        sizes = dict(n_in=n_in, n_hidden=n_hidden, n_out=n_out, size=0)
        p = _init.rate_rnn_params(key, tau, g, kind="dense", **sizes)
        (self.W,), self.log_tau, self.W_in, self.b, self.W_out, self.b_out = p
        self.sigma_rec = sigma
        self.activation, self.learn_tau = activation, learn_tau
        self.n_in, self.n_hidden, self.n_out = n_in, n_hidden, n_out

    def recurrent(self, r: Float[Array, " n_hidden"]) -> Float[Array, " n_hidden"]:
        """Return $W r$."""
        return self.W @ r


class LowRankRNN(AbstractRateRNN):
    r"""A rate RNN with rank-$R$ connectivity $J = m n^\top / N$.

    $$\tau \odot \dot x = -x + \frac{1}{N} m\,(n^\top \phi(x)) + W_\text{in} u(t)
    + b,$$

    with $m, n \in \mathbb R^{N \times R}$ drawn i.i.d. $\mathcal N(0, 1)$. The
    recurrent current is computed as $m (n^\top r)/N$ in $O(NR)$ and the $N \times N$
    matrix is never formed (use :attr:`J` for analysis). Activity relaxes onto the
    span of the columns of $m$ and of the inputs (Mastrogiuseppe & Ostojic 2018,
    Neuron 99:609). Noise and readout: :class:`AbstractRateRNN`; arguments not
    listed are as for :class:`CTRNN`.

    Args:
        rank: the rank $R$, ``1 <= rank <= n_hidden``.
    """

    m: Float[Array, "n_hidden rank"]
    n: Float[Array, "n_hidden rank"]
    W_in: Float[Array, "n_hidden n_in"]
    b: Float[Array, " n_hidden"]
    W_out: Float[Array, "n_out n_hidden"]
    b_out: Float[Array, " n_out"]
    log_tau: Float[Array, " n_hidden"]
    sigma_rec: Float[Array, ""]
    activation: Activation = eqx.field(static=True)
    learn_tau: bool = eqx.field(static=True)
    n_in: int = eqx.field(static=True)
    n_hidden: int = eqx.field(static=True)
    n_out: int = eqx.field(static=True)
    rank: int = eqx.field(static=True)

    def __init__(
        self,
        n_in: int,
        n_hidden: int,
        n_out: int,
        *,
        rank: int,
        tau: ArrayLike = 1.0,
        learn_tau: bool = True,
        sigma_rec: ScalarLike = 0.0,
        activation: Activation = jnp.tanh,
        dtype: DTypeLike | None = None,
        key: PRNGKeyArray,
    ):
        dtype = _check_common(activation, learn_tau, dtype, key)
        check_int("n_hidden", n_hidden, 1)
        check_int("rank", rank, 1, n_hidden)
        tau, sigma = _init.check_rate_rnn(n_in, n_hidden, n_out, tau, sigma_rec, dtype)
        sizes = dict(n_in=n_in, n_hidden=n_hidden, n_out=n_out, size=rank)
        g = np.zeros((), dtype)  # unused by the low-rank draw
        p = _init.rate_rnn_params(key, tau, g, kind="low_rank", **sizes)
        (self.m, self.n), self.log_tau, self.W_in, self.b, self.W_out, self.b_out = p
        self.sigma_rec = sigma
        self.activation, self.learn_tau = activation, learn_tau
        self.n_in, self.n_hidden, self.n_out, self.rank = n_in, n_hidden, n_out, rank

    @property
    def J(self) -> Float[Array, "n_hidden n_hidden"]:
        r"""The dense connectivity $m n^\top / N$ (for analysis; $O(N^2)$ memory)."""
        return self.m @ self.n.T / self.n_hidden

    def recurrent(self, r: Float[Array, " n_hidden"]) -> Float[Array, " n_hidden"]:
        r"""Return $m (n^\top r) / N$."""
        return self.m @ (self.n.T @ r) / self.n_hidden


class EIRNN(AbstractRateRNN):
    r"""An excitatory-inhibitory rate RNN obeying Dale's law (Song et al. 2016).

    $$\tau \odot \dot x = -x + W \phi(x) + W_\text{in} u(t) + b,\qquad
    W = [W_\text{mag}]_+ \,\mathrm{diag}(s) \odot (1 - I),$$

    with $s_j = +1$ for the first $n_E = \mathrm{round}(f_E N)$ (excitatory)
    presynaptic units, $-1$ for the other $n_I$ (inhibitory) ones, and no autapses.
    Signs and mask come from static sizes, so any trainable ``W_mag`` gives a valid
    E/I matrix; magnitudes clipped by $[\cdot]_+$ get no gradient (Song, Yang & Wang
    2016, PLoS Comput. Biol. 12:e1004792). ``W_mag`` starts at $a\,c_j|z_{ij}|$,
    $z \sim \mathcal N(0, 1)$, $c_j = n_E/n_I$ on inhibitory columns (balanced
    E/I), rows then centred so each unit's inputs sum to ~0, and $a$ puts the
    spectral radius near ``g`` (Rajan & Abbott 2006; about $1.1g$ at $N \sim 200$).
    ``W_in`` and the readout are unconstrained. Noise and readout:
    :class:`AbstractRateRNN`; arguments not listed are as for :class:`CTRNN`.

    Args:
        frac_exc: fraction $f_E \in (0, 1)$ of excitatory units.
        g: target spectral radius of the initial $W$.
    """

    W_mag: Float[Array, "n_hidden n_hidden"]
    W_in: Float[Array, "n_hidden n_in"]
    b: Float[Array, " n_hidden"]
    W_out: Float[Array, "n_out n_hidden"]
    b_out: Float[Array, " n_out"]
    log_tau: Float[Array, " n_hidden"]
    sigma_rec: Float[Array, ""]
    activation: Activation = eqx.field(static=True)
    learn_tau: bool = eqx.field(static=True)
    n_in: int = eqx.field(static=True)
    n_hidden: int = eqx.field(static=True)
    n_out: int = eqx.field(static=True)
    n_exc: int = eqx.field(static=True)

    def __init__(
        self,
        n_in: int,
        n_hidden: int,
        n_out: int,
        *,
        frac_exc: float = 0.8,
        tau: ArrayLike = 1.0,
        learn_tau: bool = True,
        g: ScalarLike = 1.5,
        sigma_rec: ScalarLike = 0.0,
        activation: Activation = jax.nn.relu,
        dtype: DTypeLike | None = None,
        key: PRNGKeyArray,
    ):
        dtype = _check_common(activation, learn_tau, dtype, key)
        check_int("n_hidden", n_hidden, 1)
        n_exc = _init.excitatory_count(frac_exc, n_hidden)
        tau, sigma = _init.check_rate_rnn(n_in, n_hidden, n_out, tau, sigma_rec, dtype)
        g = check_positive("g", g, dtype, strict=False)
        sizes = dict(n_in=n_in, n_hidden=n_hidden, n_out=n_out, size=n_exc)
        p = _init.rate_rnn_params(key, tau, g, kind="dale", **sizes)
        (z,), self.log_tau, self.W_in, self.b, self.W_out, self.b_out = p
        self.W_mag = _init.dale_magnitudes(z, n_exc, g)
        self.sigma_rec = sigma
        self.activation, self.learn_tau = activation, learn_tau
        self.n_in, self.n_hidden, self.n_out = n_in, n_hidden, n_out
        self.n_exc = n_exc

    @property
    def W(self) -> Float[Array, "n_hidden n_hidden"]:
        """Signed weights: E columns ``[:n_exc]`` >= 0, I columns <= 0, no diagonal."""
        n, dtype = self.n_hidden, self.W_mag.dtype
        sign = jnp.where(jnp.arange(n) < self.n_exc, 1.0, -1.0).astype(dtype)
        no_autapse = 1.0 - jnp.eye(n, dtype=dtype)
        return jax.nn.relu(self.W_mag) * sign.reshape(1, n) * no_autapse

    def recurrent(self, r: Float[Array, " n_hidden"]) -> Float[Array, " n_hidden"]:
        """Return $W r$ with the sign-constrained $W$."""
        return self.W @ r

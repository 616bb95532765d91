r"""Discrete-time recurrent networks: :class:`GRU` and :class:`VanillaRNN`.

Both are :class:`AbstractMap` models: ``__call__(t, h, args)`` returns the next hidden
state given the input $u_k$ = ``args.evaluate(t)`` (zeros when ``args`` is ``None``
or ``n_in == 0``), and :func:`dynax.simulate` iterates them with ``lax.scan``.
"""

import functools
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jax.typing import DTypeLike

from .._custom_types import Args, Array, Float, PRNGKeyArray, ScalarLike
from .._validate import (
    check_callable,
    check_float_dtype,
    check_int,
    check_key,
    check_positive,
)
from . import _init
from ._base import AbstractMap, drive


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4))
def _gru_params(key, n_in, n_hidden, n_out, dtype):
    """``(cell, W_out, b_out)`` of a :class:`GRU`, built in one program."""
    k_cell, k_out = jr.split(key)
    cell = eqx.nn.GRUCell(n_in, n_hidden, dtype=dtype, key=k_cell)
    (w_out,) = _init.normals([k_out], [(n_out, n_hidden)], dtype)
    w_out = jnp.asarray(n_hidden**-0.5, dtype) * w_out
    return cell, w_out, jnp.zeros((n_out,), dtype)


@functools.partial(jax.jit, static_argnums=(2, 3, 4))
def _vanilla_params(key, g, n_in, n_hidden, n_out):
    """``(W, W_in, b, W_out, b_out)`` of a :class:`VanillaRNN`, in one program."""
    dtype = g.dtype
    (keys,) = _init.split_chain(key, (3,))
    shapes = [(n_hidden, n_hidden), (n_hidden, n_in), (n_out, n_hidden)]
    w, w_in, w_out = _init.normals(list(keys), shapes, dtype)
    return (
        jnp.asarray(g / n_hidden**0.5, dtype) * w,
        jnp.asarray(max(n_in, 1) ** -0.5, dtype) * w_in,
        jnp.zeros((n_hidden,), dtype),
        jnp.asarray(n_hidden**-0.5, dtype) * w_out,
        jnp.zeros((n_out,), dtype),
    )


class GRU(AbstractMap):
    r"""A gated recurrent unit network with a linear readout (Cho et al. 2014).

    $$\begin{aligned}
    r_k &= \sigma(W_{ir} u_k + b_{ir} + W_{hr} h_k + b_{hr}), \quad
    z_k = \sigma(W_{iz} u_k + b_{iz} + W_{hz} h_k + b_{hz}),\\
    n_k &= \tanh(W_{in} u_k + b_{in} + r_k \odot (W_{hn} h_k + b_{hn})),\\
    h_{k+1} &= (1 - z_k) \odot n_k + z_k \odot h_k,
    \qquad y_k = W_\text{out} h_k + b_\text{out}.
    \end{aligned}$$

    The gates are an ``equinox.nn.GRUCell`` (field ``cell``; PyTorch's convention,
    weights drawn $\mathcal U(-1/\sqrt N, 1/\sqrt N)$). One application is one time
    step (Cho et al. 2014, EMNLP, arXiv:1406.1078).

    Args:
        n_in: number of input channels (0 for an autonomous network).
        n_hidden: number of hidden units $N$.
        n_out: number of readout channels.
        dtype: float dtype of every parameter (default: JAX's default float).
        key: PRNG key; ``W_out`` is drawn $\mathcal N(0, 1/N)$, ``b_out`` is zero.
    """

    cell: eqx.nn.GRUCell
    W_out: Float[Array, "n_out n_hidden"]
    b_out: Float[Array, " n_out"]
    n_in: int = eqx.field(static=True)
    n_hidden: int = eqx.field(static=True)
    n_out: int = eqx.field(static=True)

    def __init__(
        self,
        n_in: int,
        n_hidden: int,
        n_out: int,
        *,
        dtype: DTypeLike | None = None,
        key: PRNGKeyArray,
    ):
        dtype = check_float_dtype("dtype", dtype)
        check_int("n_hidden", n_hidden, 1)
        check_int("n_in", n_in, 0)
        check_int("n_out", n_out, 0)
        check_key("key", key)
        self.cell, self.W_out, self.b_out = _gru_params(
            key, n_in, n_hidden, n_out, dtype
        )
        self.n_in, self.n_hidden, self.n_out = n_in, n_hidden, n_out

    def __call__(
        self, t: ScalarLike, h: Float[Array, " n_hidden"], args: Args
    ) -> Float[Array, " n_hidden"]:
        """Return the next hidden state $h_{k+1}$."""
        return self.cell(drive(args, t, self.n_in, h.dtype), h)

    def readout(self, h: Float[Array, " n_hidden"]) -> Float[Array, " n_out"]:
        r"""Return the output $W_\text{out} h + b_\text{out}$."""
        return self.W_out @ h + self.b_out

    def init_state(self) -> Float[Array, " n_hidden"]:
        """Return the zero state."""
        return jnp.zeros((self.n_hidden,), self.W_out.dtype)


class VanillaRNN(AbstractMap):
    r"""An Elman (vanilla) discrete-time RNN with a linear readout (Elman 1990).

    $$h_{k+1} = \phi(W h_k + W_\text{in} u_k + b), \qquad
    y_k = W_\text{out} h_k + b_\text{out},$$

    with $W_{ij} \sim \mathcal N(0, g^2/N)$, $W_\text{in} \sim
    \mathcal N(0, 1/\max(n_\text{in}, 1))$, $W_\text{out} \sim \mathcal N(0, 1/N)$ and
    zero biases. One application is one time step (Elman 1990, Cogn. Sci. 14:179).

    Args:
        n_in: number of input channels (0 for an autonomous network).
        n_hidden: number of hidden units $N$.
        n_out: number of readout channels.
        g: gain $\ge 0$ of the random recurrent weights.
        activation: the nonlinearity $\phi$.
        dtype: float dtype of every parameter (default: JAX's default float).
        key: PRNG key for the random initialisation.
    """

    W: Float[Array, "n_hidden n_hidden"]
    W_in: Float[Array, "n_hidden n_in"]
    b: Float[Array, " n_hidden"]
    W_out: Float[Array, "n_out n_hidden"]
    b_out: Float[Array, " n_out"]
    activation: Callable[[Array], Array] = eqx.field(static=True)
    n_in: int = eqx.field(static=True)
    n_hidden: int = eqx.field(static=True)
    n_out: int = eqx.field(static=True)

    def __init__(
        self,
        n_in: int,
        n_hidden: int,
        n_out: int,
        *,
        g: ScalarLike = 1.0,
        activation: Callable[[Array], Array] = jnp.tanh,
        dtype: DTypeLike | None = None,
        key: PRNGKeyArray,
    ):
        dtype = check_float_dtype("dtype", dtype)
        check_int("n_hidden", n_hidden, 1)
        check_int("n_in", n_in, 0)
        check_int("n_out", n_out, 0)
        check_callable("activation", activation, "a callable such as jnp.tanh")
        check_key("key", key)
        g = check_positive("g", g, dtype, strict=False)
        p = _vanilla_params(key, g, n_in, n_hidden, n_out)
        self.W, self.W_in, self.b, self.W_out, self.b_out = p
        self.activation = activation
        self.n_in, self.n_hidden, self.n_out = n_in, n_hidden, n_out

    def __call__(
        self, t: ScalarLike, h: Float[Array, " n_hidden"], args: Args
    ) -> Float[Array, " n_hidden"]:
        """Return the next hidden state $h_{k+1}$."""
        u = drive(args, t, self.n_in, h.dtype)
        return self.activation(self.W @ h + self.W_in @ u + self.b)

    def readout(self, h: Float[Array, " n_hidden"]) -> Float[Array, " n_out"]:
        r"""Return the output $W_\text{out} h + b_\text{out}$."""
        return self.W_out @ h + self.b_out

    def init_state(self) -> Float[Array, " n_hidden"]:
        """Return the zero state."""
        return jnp.zeros((self.n_hidden,), self.b.dtype)

r"""Echo-state networks: a fixed random reservoir read out by a trained linear map."""

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jax.typing import DTypeLike

from .._custom_types import Args, Array, ArrayLike, Float, PRNGKeyArray, ScalarLike
from .._validate import (
    check_bool,
    check_elements,
    check_float,
    check_float_dtype,
    check_int,
    check_key,
    check_positive,
    check_unit_shape,
    fail,
)
from ._base import AbstractFeedbackReservoir, drive
from ._init import normals, split_chain, uniforms
from ._online import run_online
from ._reservoir_init import scale_to_spectral_radius


def _check_leak(leak: ArrayLike, dtype) -> Array:
    bad = lambda a: ~((a > 0) & (a <= 1))  # noqa: E731
    return check_elements("leak", leak, dtype, bad, "in (0, 1]")


@functools.partial(jax.jit, static_argnums=(2, 3, 4, 5, 6))
def _esn_params(key, scales, n_in, n_hidden, n_out, n_fb, density):
    """``(W, W_in, b, W_fb, W_out, b_out)`` of an :class:`ESN`, in one program.

    The values are those of :func:`sparse_matrix` with the keys of
    ``jr.split(key, 4)``: normal ``W`` (of density ``density``) rescaled to
    spectral radius ``scales[0]``, uniform ``W_in``, ``b``, ``W_fb``.
    """
    radius, s_in, s_b, s_fb = scales
    dtype = radius.dtype
    (keys,) = split_chain(key, (4,))
    k_val, k_mask = jax.vmap(jr.split, out_axes=1)(keys)  # sparse_matrix's keys
    (W,) = normals([k_val[0]], [(n_hidden, n_hidden)], dtype)
    if density != 1.0:
        mask = jr.bernoulli(k_mask[0], density, (n_hidden, n_hidden))
        W = jnp.where(mask, W, jnp.zeros((), dtype))
    shapes = [(n_hidden, n_in), (n_hidden, 1), (n_hidden, n_fb)]
    w_in, b, w_fb = uniforms(list(k_val[1:]), shapes, dtype, -1.0, 1.0)
    return (
        W,
        s_in * w_in,
        s_b * b.reshape(n_hidden),
        s_fb * w_fb,
        jnp.zeros((n_out, n_hidden), dtype),
        jnp.zeros((n_out,), dtype),
    )


class ESN(AbstractFeedbackReservoir):
    r"""A leaky echo-state network (Jaeger 2001; Jaeger et al. 2007).

    $$x_{k+1} = (1 - a)\,x_k + a \tanh\!\big(W x_k + W_\text{in} u_k
    + W_\text{fb}\, y_k + b\big), \qquad y_k = W_\text{out} x_k + b_\text{out}.$$

    One application is one time step (dimensionless). **Input convention**: under
    :func:`dynax.simulate`, ``inputs[k]`` drives the step from ``ys[k]`` to
    ``ys[k+1]``, so ``ys[k]`` has seen ``inputs[0..k-1]``; ``ys[k+1]`` equals the
    state reservoirpy and Jaeger index as $x(k)$ (their update uses $u(k)$ to make
    $x(k)$). A one-step-ahead predictor of a series $s$ is therefore trained with
    ``inputs = s`` and ``targets = s`` unshifted: ``ys[k]`` predicts ``s[k]``.

    **Feedback** (``feedback=True``): the output $y_k$ of the readout stored in the
    fields ``W_out``, ``b_out`` (zeros at construction) is fed back through
    $W_\text{fb}$. Train a readout (e.g. :func:`dynax.train.ridge_readout` on
    teacher-forced states from :meth:`teacher_force`, or
    :func:`dynax.train.force_readout`), then install it with :meth:`with_readout`;
    :meth:`__call__` then feeds back the network's own output. :meth:`generate` runs
    the closed loop in which the output replaces the input.

    $W$ is sparse (each entry non-zero with probability ``density``, values
    $\mathcal N(0,1)$) rescaled to spectral radius ``spectral_radius``;
    $W_\text{in}$, $b$ and $W_\text{fb}$ are dense $\mathcal U(-1, 1)$ times
    ``input_scaling``, ``bias_scaling`` and ``feedback_scaling``.

    References: H. Jaeger (2001), GMD Report 148; Jaeger, Lukoševičius, Popovici &
    Siewert (2007), Neural Networks 20:335; Lukoševičius (2012), "A practical guide
    to applying echo state networks".

    Args:
        n_in: number of input channels (0 for an autonomous network).
        n_hidden: number of reservoir units $N$.
        n_out: number of readout channels (the rows of ``W_out``).
        spectral_radius: spectral radius of $W$, $> 0$.
        leak: leak rate $a \in (0, 1]$ (scalar or one per unit).
        input_scaling: scale $\ge 0$ of $W_\text{in}$.
        density: fraction of non-zero entries of $W$, in $(0, 1]$.
        bias_scaling: scale $\ge 0$ of $b$ (0: no bias).
        feedback: feed the output $y_k$ back into the reservoir.
        feedback_scaling: scale $\ge 0$ of $W_\text{fb}$.
        dtype: float dtype of every parameter (default: JAX's default float).
        key: PRNG key.
    """

    W: Float[Array, "n_hidden n_hidden"]
    W_in: Float[Array, "n_hidden n_in"]
    b: Float[Array, " n_hidden"]
    leak: Float[Array, "*leak"]
    W_fb: Float[Array, "n_hidden n_fb"]
    W_out: Float[Array, "n_out n_hidden"]
    b_out: Float[Array, " n_out"]
    n_in: int = eqx.field(static=True)
    n_hidden: int = eqx.field(static=True)
    feedback: bool = eqx.field(static=True)

    def __init__(
        self,
        n_in: int,
        n_hidden: int,
        *,
        n_out: int = 0,
        spectral_radius: ScalarLike = 0.9,
        leak: Float[ArrayLike, "*leak"] = 1.0,
        input_scaling: ScalarLike = 1.0,
        density: float = 1.0,
        bias_scaling: ScalarLike = 0.0,
        feedback: bool = False,
        feedback_scaling: ScalarLike = 1.0,
        dtype: DTypeLike | None = None,
        key: PRNGKeyArray,
    ):
        dtype = check_float_dtype("dtype", dtype)
        check_int("n_hidden", n_hidden, 1)
        check_int("n_in", n_in, 0)
        check_int("n_out", n_out, 1 if feedback else 0)
        check_bool("feedback", feedback)
        check_float("density", density, low=0.0, high=1.0, low_open=True)
        check_key("key", key)
        radius = check_positive("spectral_radius", spectral_radius, dtype, strict=True)
        check_unit_shape("leak", leak, n_hidden)
        self.leak = _check_leak(leak, dtype)
        s_in = check_positive("input_scaling", input_scaling, dtype, strict=False)
        s_b = check_positive("bias_scaling", bias_scaling, dtype, strict=False)
        s_fb = check_positive("feedback_scaling", feedback_scaling, dtype, strict=False)
        n_fb = n_out if feedback else 0
        scales = (radius, s_in, s_b, s_fb)
        p = _esn_params(key, scales, n_in, n_hidden, n_out, n_fb, float(density))
        W, self.W_in, self.b, self.W_fb, self.W_out, self.b_out = p
        # Rescaled outside: inside one vmapped program rho(W) rounds differently.
        self.W = scale_to_spectral_radius(W, radius)
        self.n_in, self.n_hidden, self.feedback = n_in, n_hidden, feedback

    @property
    def n_out(self) -> int:
        """Number of readout channels."""
        return self.W_out.shape[-2]

    @property
    def n_fb(self) -> int:
        """Number of fed-back output channels (``n_out`` with feedback, else 0)."""
        return self.W_fb.shape[-1]

    def step(
        self, x: Float[Array, " n_hidden"], u: Float[Array, " n_in"]
    ) -> Float[Array, " n_hidden"]:
        r"""Return $x_{k+1}$ given $x_k$ and the input $u_k$.

        With feedback, the fed-back output is the stored readout of ``x``.
        """
        y = self.readout(x) if self.feedback else jnp.zeros((0,), x.dtype)
        return self.step_feedback(x, u, y)

    def step_feedback(
        self,
        x: Float[Array, " n_hidden"],
        u: Float[Array, " n_in"],
        y: Float[Array, " n_fb"],
    ) -> Float[Array, " n_hidden"]:
        r"""Return $x_{k+1}$ given $x_k$, the input $u_k$ and the fed-back output $y_k$.

        Pass a target as ``y`` to teacher-force the feedback. Without feedback
        ``y`` has shape ``(0,)``.
        """
        pre = self.W @ x + self.W_in @ u + self.b
        if self.feedback:
            pre = pre + self.W_fb @ y
        return (1 - self.leak) * x + self.leak * jnp.tanh(pre)

    def __call__(
        self, t: ScalarLike, x: Float[Array, " n_hidden"], args: Args
    ) -> Float[Array, " n_hidden"]:
        """Return the next state $x_{k+1}$ (feedback from the stored readout)."""
        return self.step(x, drive(args, t, self.n_in, x.dtype))

    def readout(self, x: Float[Array, " n_hidden"]) -> Float[Array, " n_out"]:
        r"""Return the output $W_\text{out} x + b_\text{out}$."""
        return self.W_out @ x + self.b_out

    def init_state(self) -> Float[Array, " n_hidden"]:
        """Return the zero state."""
        return jnp.zeros((self.n_hidden,), self.W.dtype)

    def with_readout(
        self, weights: Float[Array, "n_out n_hidden"], bias: Float[Array, " n_out"]
    ) -> "ESN":
        """Return a copy with the readout ``W_out = weights``, ``b_out = bias``.

        E.g. ``esn.with_readout(r.weights, r.bias)`` for a readout ``r`` returned by
        :func:`dynax.train.ridge_readout`.
        """
        weights, bias = jnp.asarray(weights), jnp.asarray(bias)
        n_out = weights.shape[0] if weights.ndim == 2 else -1
        if weights.shape != (n_out, self.n_hidden) or bias.shape != (n_out,):
            fail(
                "weights, bias",
                f"shapes (n_out, {self.n_hidden}) and (n_out,)",
                f"{weights.shape} and {bias.shape}",
            )
        if self.feedback and n_out != self.W_fb.shape[1]:
            what = f"n_out = {self.W_fb.shape[1]} outputs (the feedback's)"
            fail("weights", what, f"{n_out}")
        dtype = self.W.dtype
        return eqx.tree_at(
            lambda m: (m.W_out, m.b_out),
            self,
            (weights.astype(dtype), bias.astype(dtype)),
        )

    def teacher_force(
        self,
        x0: Float[Array, " n_hidden"],
        inputs: Float[Array, "time n_in"] | None,
        targets: Float[Array, "time n_fb"],
    ) -> Float[Array, "time n_hidden"]:
        r"""Run the reservoir with the desired outputs fed back (teacher forcing).

        ``states[0] = x0`` and ``states[k+1] =`` :meth:`step_feedback`
        ``(states[k], inputs[k], targets[k])`` as one ``lax.scan``: the feedback is
        the output the readout should give at ``states[k]``, the alignment of
        :func:`dynax.simulate` (``states[k]`` has seen ``inputs[0..k-1]`` and
        ``targets[0..k-1]``; the last row of each is unused). Fit the readout with
        ``ridge_readout(states, targets)`` and install it with :meth:`with_readout`;
        the network then runs the loop on its own outputs.

        Args:
            x0: the initial state.
            inputs: ``(time, n_in)`` inputs, or ``None`` for ``n_in = 0``.
            targets: ``(time, n_out)`` desired outputs (the teacher).

        Returns:
            ``(time, n_hidden)`` states.
        """
        if not self.feedback:
            fail("teacher_force", "an ESN with feedback=True", "no feedback")
        targets = jnp.asarray(targets, self.W.dtype)
        n_fb = self.W_fb.shape[1]
        if targets.ndim != 2 or targets.shape[1] != n_fb:
            fail("targets", f"shape (time, n_out) = (time, {n_fb})", f"{targets.shape}")
        n_t = targets.shape[0]
        if inputs is None:
            inputs = jnp.zeros((n_t, self.n_in), self.W.dtype)
        inputs = jnp.asarray(inputs, self.W.dtype)
        if inputs.shape != (n_t, self.n_in):
            what = f"shape (time, n_in) = ({n_t}, {self.n_in})"
            fail("inputs", what, f"{inputs.shape}")

        def before(x, uy, c):
            return self, uy[0], uy[1], c

        def after(x, x_next, uy, c):
            return c, x_next

        _, _, xs = run_online(x0, (inputs[:-1], targets[:-1]), None, before, after)
        return jnp.concatenate([x0[None], xs])

    def generate(
        self, x0: Float[Array, " n_hidden"], n_steps: int
    ) -> tuple[Float[Array, "n_steps n_out"], Float[Array, "n_steps n_hidden"]]:
        r"""Run the closed loop: the output replaces the input for ``n_steps`` steps.

        $y_j = W_\text{out} x_j + b_\text{out}$, $x_{j+1} =$
        :meth:`step_feedback` $(x_j, u = y_j, y = y_j)$, from $x_0$ = ``x0``, as one
        ``lax.scan``. With a readout trained as a one-step-ahead predictor (``ys[k]``
        predicts ``s[k]``, see the class docstring) and ``x0 = ys[T]`` (the state
        that has seen ``s[0..T-1]``), ``predictions[j]`` forecasts ``s[T + j]``.

        Args:
            x0: the state to start from.
            n_steps: number of predictions.

        Returns:
            ``(predictions, states)``: ``predictions[j]`` is the readout of
            ``states[j]``; ``states[0] = x0``.
        """
        if self.n_out != self.n_in:
            fail(
                "generate",
                f"n_out = n_in = {self.n_in} (the output replaces the input)",
                f"n_out = {self.n_out}",
            )
        check_int("n_steps", n_steps, 1)

        def before(x, _, c):
            y = self.readout(x)
            return self, y, y, c

        def after(x, x_next, _, c):
            return c, (self.readout(x), x)  # the same product as before's (CSE)

        _, _, (ys, xs) = run_online(x0, None, None, before, after, length=n_steps)
        return ys, xs

"""Emulate a hidden Markov model: noise in, HMM emission sequences out."""

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, PRNGKeyArray

from .._validate import check_choice, check_float, check_int
from ._base import (
    AbstractTask,
    TaskBatch,
    check_outputs,
    float_dtype,
)

_TOPOLOGIES = ("full", "cyclic", "linear")


class HMMEmission(AbstractTask):
    r"""Produce the emission statistics of a hidden Markov model from noise input.

    After the HMM-emulation setting of Torre, Viscione, Pompe, Grewe & Mante,
    "Mechanistic interpretability of RNNs emulating hidden Markov models"
    (arXiv:2510.25674), which uses fully connected, cyclic and linear-chain HMMs;
    the matrices below are this library's own parameterisation of those topologies.

    Transition matrix $P$ (row $i$: from state $i$), with $p$ = ``stay``:

    * ``"full"``: $P_{ii} = p$, $P_{ij} = (1 - p)/(n_s - 1)$ for $j \ne i$;
    * ``"cyclic"``: $P_{ii} = p$, $P_{i,(i+1) \bmod n_s} = 1 - p$;
    * ``"linear"``: a reflecting chain: $P_{ii} = p$, the rest $1 - p$ split evenly
      between the neighbours $i \pm 1$ that exist (so the two end states move to
      their single neighbour with probability $1 - p$).

    Emission matrix $E$ (row $i$: state $i$): state $i$ emits its own symbol
    $i \bmod n_e$ with probability $q$ = ``purity`` and each other symbol with
    probability $(1 - q)/(n_e - 1)$.

    A trial starts from the stationary distribution $\pi$ ($\pi P = \pi$), so the
    emission sequence is stationary, with per-step law :meth:`stationary_emissions`
    $= \pi E$. Inputs are independent Gaussian noise, ``noise_std`` times a standard
    normal per channel and index; targets are the one-hot emissions
    (``n_out = n_emissions``); the mask is all ones; ``loss_kind`` is
    ``"cross_entropy"`` (outputs are logits). Targets do not depend on the inputs
    at all, so they are trivially causal. Note that the inputs carry no information
    on the targets: a network trained with per-step cross-entropy can at best output
    the stationary emission law; reproducing the sequence statistics (dwell times,
    transitions) needs a distribution-level loss on sampled outputs:
    ``dx.train.fit(..., loss=dx.train.SinkhornLoss())`` (Torre et al.'s Sinkhorn
    divergence between batches of whole sequences; ``experiments/hmm_emulation.py``).
    :meth:`output_transition_matrix` and :meth:`volatility` give the emission-level
    statistics to compare with (:func:`dynax.analysis.emission_statistics`).

    Args:
        n_states: number of hidden states $n_s$, >= 2. Default 4.
        n_emissions: number of emission symbols $n_e$, >= 2. Default 3.
        topology: ``"full"``, ``"cyclic"`` or ``"linear"``. Default ``"full"``.
        stay: self-transition probability $p$, in [0, 1). Default 0.9.
        purity: probability $q$ of a state emitting its own symbol, in [0, 1].
            Default 0.8.
        n_steps: number of time indices per trial, >= 1. Default 100.
        dt: time step, > 0. Default 0.1.
        noise_dim: number of noise input channels (``n_in``), >= 1. Default 1.
        noise_std: standard deviation of each input sample, >= 0. Default 1.0.

    ``ood()``: trials 4x longer (``4 * n_steps``).

    ``score()``: treating outputs as logits, $1 - \mathrm{TV}(\bar p, \pi E)$ where
    $\bar p$ is the softmax of the outputs averaged over every batch axis and time
    (weighted by the mask) and $\mathrm{TV}(a, b) = \frac12 \sum_c |a_c - b_c|$; in
    [0, 1], 1 when the mean predicted law is the stationary emission law.
    """

    n_states: int = eqx.field(static=True)
    n_emissions: int = eqx.field(static=True)
    topology: str = eqx.field(static=True)
    stay: float = eqx.field(static=True)
    purity: float = eqx.field(static=True)
    n_steps: int = eqx.field(static=True)
    dt: float = eqx.field(static=True)
    noise_dim: int = eqx.field(static=True)
    noise_std: float = eqx.field(static=True)
    n_in: int = eqx.field(static=True)
    n_out: int = eqx.field(static=True)
    loss_kind: ClassVar[str] = "cross_entropy"

    def __init__(
        self,
        n_states: int = 4,
        n_emissions: int = 3,
        topology: str = "full",
        stay: float = 0.9,
        purity: float = 0.8,
        n_steps: int = 100,
        dt: float = 0.1,
        noise_dim: int = 1,
        noise_std: float = 1.0,
    ):
        self.n_states = check_int("n_states", n_states, 2)
        self.n_emissions = check_int("n_emissions", n_emissions, 2)
        self.topology = check_choice("topology", topology, _TOPOLOGIES)
        self.stay = check_float("stay", stay, low=0.0, high=1.0)
        if self.stay == 1.0:
            raise ValueError(
                "stay: expected a probability in [0, 1) (with stay = 1 no state "
                f"is ever left), got {stay!r}."
            )
        self.purity = check_float("purity", purity, low=0.0, high=1.0)
        self.n_steps = check_int("n_steps", n_steps, 1)
        self.dt = check_float("dt", dt, low=0.0, low_open=True)
        self.noise_dim = check_int("noise_dim", noise_dim, 1)
        self.noise_std = check_float("noise_std", noise_std, low=0.0)
        self.n_in, self.n_out = self.noise_dim, self.n_emissions

    def transition_matrix(self) -> Float[Array, "n_states n_states"]:
        """Return the row-stochastic transition matrix $P$ (``P[i, j]``: i to j)."""
        n, dtype = self.n_states, float_dtype()
        eye = jnp.eye(n, dtype=dtype)
        if self.topology == "full":
            moves = (1.0 - eye) / (n - 1)
        elif self.topology == "cyclic":
            moves = jnp.roll(eye, 1, axis=1)
        else:
            neighbours = jnp.eye(n, k=1, dtype=dtype) + jnp.eye(n, k=-1, dtype=dtype)
            moves = neighbours / jnp.sum(neighbours, axis=1, keepdims=True)
        return self.stay * eye + (1.0 - self.stay) * moves

    def emission_matrix(self) -> Float[Array, "n_states n_emissions"]:
        """Return the row-stochastic emission matrix $E$ (``E[i, c]``: i emits c)."""
        own = jax.nn.one_hot(
            jnp.arange(self.n_states) % self.n_emissions,
            self.n_emissions,
            dtype=float_dtype(),
        )
        other = (1.0 - self.purity) / (self.n_emissions - 1)
        return self.purity * own + other * (1.0 - own)

    def stationary_states(self) -> Float[Array, " n_states"]:
        r"""Return the stationary distribution $\pi$ ($\pi P = \pi$) of the chain.

        Unique, since every topology here is irreducible for ``stay < 1``, and known
        in closed form: ``"full"`` and ``"cyclic"`` matrices are doubly stochastic,
        so $\pi$ is uniform; the reflecting ``"linear"`` chain is reversible and
        detailed balance gives $\pi \propto (\tfrac12, 1, \dots, 1, \tfrac12)$.
        """
        weights = jnp.ones((self.n_states,), float_dtype())
        if self.topology == "linear":
            weights = weights.at[0].set(0.5).at[-1].set(0.5)
        return weights / jnp.sum(weights)

    def stationary_emissions(self) -> Float[Array, " n_emissions"]:
        r"""Return the stationary emission law $\pi E$ (the law of every target)."""
        return self.stationary_states() @ self.emission_matrix()

    def output_transition_matrix(self) -> Float[Array, "n_emissions n_emissions"]:
        r"""Return the law of the next symbol given the current one, in closed form.

        For the stationary chain,
        $$M_{ab} = \Pr(o_{t+1} = b \mid o_t = a)
        = \frac{\sum_{ij} \pi_i E_{ia} P_{ij} E_{jb}}{(\pi E)_a}$$
        (a symbol never emitted gets a zero row). This is the emission-level
        matrix Torre et al. compare with a network's (the hidden-state matrix $P$
        is not observable from the symbols).
        """
        pi, e, p = (
            self.stationary_states(),
            self.emission_matrix(),
            self.transition_matrix(),
        )
        joint = (pi[:, None] * e).T @ p @ e  # joint[a, b] = Pr(o_t = a, o_t+1 = b)
        marginal = jnp.sum(joint, axis=1, keepdims=True)
        return joint / jnp.where(marginal > 0, marginal, 1.0)

    def volatility(self) -> Float[Array, ""]:
        r"""Return $\Pr(o_{t+1} \ne o_t)$ of the stationary emission sequence."""
        pi, e, p = (
            self.stationary_states(),
            self.emission_matrix(),
            self.transition_matrix(),
        )
        joint = (pi[:, None] * e).T @ p @ e
        return 1.0 - jnp.trace(joint)

    def sample(self, key: PRNGKeyArray) -> TaskBatch:
        """Return one trial: Gaussian noise inputs and a one-hot emission sequence."""
        dtype = float_dtype()
        # One Gaussian draw: noise channels, then three columns mapped to uniforms by
        # the normal CDF for inverse-CDF sampling of (initial state, transitions,
        # emissions).
        z = jr.normal(key, (self.n_steps, self.noise_dim + 3), dtype)
        u = jax.scipy.special.ndtr(z[:, self.noise_dim :]).T
        state0 = _draw(jnp.cumsum(self.stationary_states()), u[0, 0])
        cdf_p = jnp.cumsum(self.transition_matrix(), axis=1)

        def step(state, u_k):
            return _draw(cdf_p[state], u_k), state

        _, states = jax.lax.scan(step, state0, u[1])
        cdf_e = jnp.cumsum(self.emission_matrix(), axis=1)[states]
        symbols = jax.vmap(_draw)(cdf_e, u[2])
        targets = jax.nn.one_hot(symbols, self.n_emissions, dtype=dtype)
        return TaskBatch(
            inputs=self.noise_std * z[:, : self.noise_dim],
            targets=targets,
            mask=jnp.ones_like(targets),
        )

    def ood(self) -> "HMMEmission":
        """Return the task with 4x longer trials."""
        return HMMEmission(
            n_states=self.n_states,
            n_emissions=self.n_emissions,
            topology=self.topology,
            stay=self.stay,
            purity=self.purity,
            n_steps=4 * self.n_steps,
            dt=self.dt,
            noise_dim=self.noise_dim,
            noise_std=self.noise_std,
        )

    def score(
        self, outputs: Float[Array, "*batch time n_out"], batch: TaskBatch
    ) -> Float[Array, ""]:
        """One minus the total variation between mean predicted and stationary law."""
        check_outputs(outputs, batch)
        probs = jax.nn.softmax(outputs, axis=-1)
        weight = jnp.mean(batch.mask, axis=-1, keepdims=True)
        axes = tuple(range(outputs.ndim - 1))
        mean = jnp.sum(weight * probs, axis=axes) / jnp.sum(weight)
        return 1.0 - 0.5 * jnp.sum(jnp.abs(mean - self.stationary_emissions()))


def _draw(cdf: Float[Array, " n"], u: Float[Array, ""]) -> Array:
    """Return the index ``i`` with ``cdf[i-1] <= u < cdf[i]`` (clipped to the last)."""
    return jnp.minimum(jnp.sum(u >= cdf), cdf.shape[0] - 1)

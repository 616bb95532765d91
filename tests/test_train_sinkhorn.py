"""Sinkhorn divergence, hard Gumbel-softmax, emission statistics, HMM emulation.

References: a converged NumPy/SciPy log-domain Sinkhorn written here, geomloss (the
library Torre et al. train with) run side by side, finite differences, the HMM's
closed-form emission statistics and a NumPy count of symbol pairs.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest
from scipy.special import logsumexp

import dynax as dx

RNG = np.random.default_rng(0)
X = RNG.normal(size=(30, 4))
Y = RNG.normal(size=(20, 4)) + 0.5


def reference_divergence(x, y, blur=0.2, iters=3000):
    """Debiased Sinkhorn divergence by plain alternating log-domain iterations."""
    eps = blur**2

    def ot(a, b):
        cost = ((a[:, None] - b[None]) ** 2).sum(-1) / 2
        f, g = np.zeros(len(a)), np.zeros(len(b))
        for _ in range(iters):
            f = -eps * (logsumexp((g[None] - cost) / eps, axis=1) - np.log(len(b)))
            g = -eps * (logsumexp((f[:, None] - cost) / eps, axis=0) - np.log(len(a)))
        return f.mean() + g.mean()

    return ot(x, y) - 0.5 * ot(x, x) - 0.5 * ot(y, y)


def divergence(x, **kw):
    return dx.train.sinkhorn_divergence(x, jnp.asarray(Y), n_iters=300, **kw)


def test_divergence_equals_converged_numpy_and_geomloss():
    torch = pytest.importorskip("torch")
    geomloss = pytest.importorskip("geomloss")
    value = float(divergence(jnp.asarray(X)))
    assert value == pytest.approx(reference_divergence(X, Y), rel=1e-5)
    # geomloss with slow epsilon-scaling (its default 0.5 stops 4-5% short)
    loss = geomloss.SamplesLoss("sinkhorn", p=2, blur=0.2, scaling=0.999)
    assert value == pytest.approx(
        loss(torch.tensor(X), torch.tensor(Y)).item(), rel=1e-4
    )
    # the default settings (100 iterations) are within 1e-3 of converged
    default = float(dx.train.sinkhorn_divergence(jnp.asarray(X), jnp.asarray(Y)))
    assert default == pytest.approx(value, rel=1e-3)


def test_divergence_gradient_equals_finite_differences_and_geomloss():
    torch = pytest.importorskip("torch")
    geomloss = pytest.importorskip("geomloss")
    grad = np.asarray(jax.grad(divergence)(jnp.asarray(X)))
    h = 1e-5
    for i, j in [(3, 1), (0, 0), (17, 3)]:
        e = np.zeros_like(X)
        e[i, j] = h
        fd = (
            float(divergence(jnp.asarray(X + e)))
            - float(divergence(jnp.asarray(X - e)))
        ) / (2 * h)
        assert grad[i, j] == pytest.approx(fd, rel=5e-3, abs=1e-6)
    xt = torch.tensor(X, requires_grad=True)
    geomloss.SamplesLoss("sinkhorn", p=2, blur=0.2, scaling=0.999)(
        xt, torch.tensor(Y)
    ).backward()
    peer = xt.grad.numpy()
    assert np.abs(grad - peer).max() < 0.02 * np.abs(peer).max()


def test_divergence_of_identical_sets_is_zero_and_grows_with_a_shift():
    x = jnp.asarray(X)
    # zero up to the iterations' convergence error (about 2e-7 here; the values
    # below are 1e-2 and up)
    assert abs(float(dx.train.sinkhorn_divergence(x, x))) < 1e-6
    shifts = [float(dx.train.sinkhorn_divergence(x, x + s)) for s in (0.1, 0.5, 1.0)]
    assert 0 < shifts[0] < shifts[1] < shifts[2]
    # a pure translation by s costs |s|^2 / 2 as blur -> 0 (Wasserstein-2, halved)
    far = float(dx.train.sinkhorn_divergence(x, x + 1.0, blur=0.01, n_iters=400))
    assert far == pytest.approx(0.5 * 4 * 1.0**2, rel=0.02)


def test_hard_gumbel_softmax_samples_the_softmax_law_with_the_soft_gradient():
    logits = jnp.log(jnp.array([0.6, 0.3, 0.1]))
    n = 40_000
    samples = dx.train.gumbel_softmax(jr.PRNGKey(1), jnp.broadcast_to(logits, (n, 3)))
    values = np.asarray(samples)
    assert set(np.unique(values)) == {0.0, 1.0} and np.all(values.sum(1) == 1.0)
    freq = values.mean(0)
    sd = np.sqrt(np.array([0.6, 0.3, 0.1]) * (1 - np.array([0.6, 0.3, 0.1])) / n)
    assert np.all(np.abs(freq - np.array([0.6, 0.3, 0.1])) < 4 * sd), freq
    # straight-through: the gradient is that of the soft relaxation
    w = jnp.array([1.0, -2.0, 0.5])

    def hard(lg):
        return dx.train.gumbel_softmax(jr.PRNGKey(2), lg, tau=0.7) @ w

    def soft(lg):
        return dx.train.gumbel_softmax(jr.PRNGKey(2), lg, tau=0.7, hard=False) @ w

    np.testing.assert_allclose(jax.grad(hard)(logits), jax.grad(soft)(logits))
    assert float(hard(logits)) in {1.0, -2.0, 0.5}


TASK = dx.tasks.HMMEmission(
    n_states=2, n_emissions=3, topology="linear", stay=0.95, purity=0.9,
    n_steps=30, dt=1.0, noise_dim=10,
)  # fmt: skip


def test_emission_statistics_equal_a_numpy_count_and_the_hmm_closed_form():
    small = jax.vmap(TASK.sample)(jr.split(jr.PRNGKey(3), 7)).targets
    stats = dx.analysis.emission_statistics(small)
    sym = np.asarray(small).argmax(-1)
    counts = np.zeros((3, 3))
    for seq in sym:
        for a, b in zip(seq[:-1], seq[1:], strict=True):
            counts[a, b] += 1
    np.testing.assert_array_equal(stats.counts, counts)
    np.testing.assert_allclose(
        stats.frequencies, np.bincount(sym.ravel(), minlength=3) / sym.size
    )
    assert float(stats.volatility) == pytest.approx(np.mean(sym[:, 1:] != sym[:, :-1]))
    # many trials: the closed form of the stationary HMM, within 5 standard errors
    big = jax.vmap(TASK.sample)(jr.split(jr.PRNGKey(4), 4000)).targets
    stats = dx.analysis.emission_statistics(big)
    n = 4000 * 30
    np.testing.assert_allclose(
        stats.frequencies, TASK.stationary_emissions(), atol=5 * np.sqrt(0.25 / n) * 3
    )
    assert abs(float(stats.volatility) - float(TASK.volatility())) < 0.01
    np.testing.assert_allclose(
        stats.transitions, TASK.output_transition_matrix(), atol=0.03
    )
    # per member: equal to each member alone
    pair = jnp.stack([small, big[:7]])
    both = dx.analysis.emission_statistics(pair, ensemble=True)
    np.testing.assert_allclose(
        both.transitions[1], dx.analysis.emission_statistics(big[:7]).transitions
    )


def test_output_transition_matrix_is_stochastic_and_reduces_to_p_for_pure_emissions():
    for topology in ("full", "cyclic", "linear"):
        task = dx.tasks.HMMEmission(
            n_states=3, n_emissions=3, topology=topology, purity=1.0
        )
        np.testing.assert_allclose(
            task.output_transition_matrix(), task.transition_matrix(), atol=1e-12
        )
        assert float(task.volatility()) == pytest.approx(1 - task.stay)
        mixed = dx.tasks.HMMEmission(n_states=4, n_emissions=3, topology=topology)
        np.testing.assert_allclose(
            mixed.output_transition_matrix().sum(1), 1.0, atol=1e-12
        )


def _relu_rnn(key):
    """Torre et al.'s network: ReLU, no biases (held at zero), noise input."""
    return dx.models.VanillaRNN(10, 32, 3, activation=jax.nn.relu, key=key)


def _weights_only(model):
    spec = jax.tree_util.tree_map(lambda _: False, model)
    return eqx.tree_at(lambda m: (m.W, m.W_in, m.W_out), spec, (True, True, True))


def test_fit_gives_a_sampling_loss_its_own_key_per_step_and_member():
    model = _relu_rnn(jr.PRNGKey(0))
    ens = dx.make_ensemble(lambda k: model, jr.split(jr.PRNGKey(0), 2))
    kw = dict(
        optimizer=optax.adam(1e-3),
        n_steps=3,
        batch_size=16,
        loss=dx.train.SinkhornLoss(n_iters=20),
        filter_spec=_weights_only(ens),
    )
    _, hist = dx.train.fit(ens, TASK, ensemble=True, key=jr.PRNGKey(5), **kw)
    # two identical members on shared trials differ only through their loss keys
    assert not np.allclose(hist.loss[:, 0], hist.loss[:, 1])
    keys = jr.split(jr.PRNGKey(6), 2)
    _, per_member = dx.train.fit(ens, TASK, ensemble=True, key=keys, **kw)
    kw["filter_spec"] = _weights_only(model)
    _, alone = dx.train.fit(model, TASK, key=keys[1], **kw)
    np.testing.assert_allclose(per_member.loss[:, 1], alone.loss, rtol=1e-6)
    # evaluate: one sampled loss per member, finite
    ev = dx.train.evaluate(ens, TASK, key=jr.PRNGKey(7), n_trials=32, ensemble=True,
                           loss=dx.train.SinkhornLoss(n_iters=20))  # fmt: skip
    assert ev.loss.shape == (2,) and bool(jnp.all(jnp.isfinite(ev.loss)))


def _emitted(model, key, n=2000):
    batch = jax.vmap(TASK.sample)(jr.split(key, n))
    out = dx.simulate(
        model, model.init_state(), TASK.ts, inputs=batch.inputs, trials=True
    )
    return dx.analysis.emission_statistics(
        dx.train.gumbel_softmax(jr.fold_in(key, 1), out.outputs)
    )


def _mismatch(stats):
    """Largest error of the symbol frequencies and the transition matrix."""
    freq = np.abs(
        np.asarray(stats.frequencies) - np.asarray(TASK.stationary_emissions())
    ).max()
    trans = np.abs(
        np.asarray(stats.transitions) - np.asarray(TASK.output_transition_matrix())
    ).max()
    return max(freq, trans)


def measure_hmm_emulation(seed: int) -> dict:
    """Emission mismatch after / before Sinkhorn training (bound 0.5)."""
    k_net, k_fit, k_eval = jr.split(jr.PRNGKey(seed), 3)
    model = _relu_rnn(k_net)
    trained, hist = dx.train.fit(
        model, TASK, optimizer=optax.adam(3e-3), n_steps=300, batch_size=256,
        key=k_fit, loss=dx.train.SinkhornLoss(), filter_spec=_weights_only(model),
    )  # fmt: skip
    before, after = (
        _mismatch(_emitted(model, k_eval)),
        _mismatch(_emitted(trained, k_eval)),
    )
    ratio = after / before
    return dict(
        value=ratio,
        bound=0.5,
        margin=0.5 - ratio,
        hist=hist,
        before=before,
        after=after,
    )


@pytest.mark.training
def test_sinkhorn_training_matches_the_hmm_emission_statistics():
    out = measure_hmm_emulation(0)
    assert not bool(out["hist"].failed)
    assert out["value"] < out["bound"], out

"""Task samplers: NumPy references, causality, shapes, ood variants, scores, errors."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from typecheck import unchecked

from dynax.tasks import (
    AbstractTask,
    DelayedDiscrimination,
    FlipFlop,
    HMMEmission,
    NDelayedMatch,
    NParity,
    PathIntegration,
    SineWave,
    TaskBatch,
    curriculum,
)

TASKS = {
    "flipflop": FlipFlop(n_bits=3, p_pulse=0.1, n_steps=60, settle_steps=2),
    "sine": SineWave(n_freqs=11, n_steps=80, dt=0.5),
    "discrimination": DelayedDiscrimination(delay_min=3, delay_max=9),
    "integration": PathIntegration(dim=2, n_steps=50, dt=0.1, tau_v=0.5, speed=2.0),
    "parity": NParity(3, n_steps=40),
    "parity_multi": NParity(3, heads="multi", n_steps=40, bit_steps=3),
    "dms": NDelayedMatch(2, n_steps=40, bit_steps=2, settle_steps=1),
    "dms_multi": NDelayedMatch(3, heads="multi", n_steps=40),
    "hmm": HMMEmission(n_steps=60, noise_dim=2),
}
LABELLED = ["flipflop", "integration", "parity", "parity_multi", "dms", "dms_multi"]
SIGN_TASKS = [name for name in TASKS if name not in ("sine", "integration", "hmm")]
RNG = np.random.default_rng(0)  # test-side perturbations only
N = 128  # trials per batch everywhere, so each task compiles its sampler once


@eqx.filter_jit
def sample_many(task, keys):
    """Jitted vmap of ``task.sample``; cached per (equal) task and number of keys."""
    return jax.vmap(task.sample)(keys)


@eqx.filter_jit
def score(task, outputs, batch):
    return task.score(outputs, batch)


@eqx.filter_jit
def label(task, inputs):
    return task.label(inputs)


def batch_of(task, key):
    """``N`` trials of ``task`` as a TaskBatch."""
    return sample_many(task, jr.split(key, N))


def arrays_of(task, key):
    """``N`` trials of ``task`` as NumPy arrays (inputs, targets, mask)."""
    b = batch_of(task, key)
    return np.asarray(b.inputs), np.asarray(b.targets), np.asarray(b.mask)


def default_float():
    return jnp.asarray(1.0).dtype


# --- references in NumPy ------------------------------------------------------------


def flipflop_reference(u, settle):
    """Plain loops: hold the sign of the last pulse; mask settle steps after pulses."""
    T, n = u.shape
    targets, mask = np.zeros((T, n)), np.ones((T, n))
    for c in range(n):
        state = 0.0
        for k in range(T):
            targets[k, c] = state
            if any(u[j, c] != 0 for j in range(max(k - settle, 0), k)):
                mask[k, c] = 0.0
            if u[k, c] != 0:
                state = np.sign(u[k, c])
    return targets, mask


def bitstream_reference(u, kind, n, heads, bs, settle):
    """Plain loops over the bits read at the start of each bit period."""
    bits = np.sign(u[::bs, 0])
    T = u.shape[0]
    spans = list(range(1, n + 1)) if heads == "multi" else [n]  # bits or lags
    targets, mask = np.zeros((T, len(spans))), np.zeros((T, len(spans)))
    for k in range(1, T):
        i = (k - 1) // bs
        for h, m in enumerate(spans):
            if kind == "parity" and i >= m - 1:
                targets[k, h] = np.prod(bits[i - m + 1 : i + 1])
            elif kind == "dms" and i >= m:
                targets[k, h] = 1.0 if bits[i] == bits[i - m] else -1.0
            else:
                continue
            mask[k, h] = 1.0 if (k - 1) % bs >= settle else 0.0
    return targets, mask


# --- hand-computed examples and references ----------------------------------------


def test_flipflop_hand_built():
    task = FlipFlop(n_bits=1, n_steps=8, settle_steps=1)
    u = jnp.array([0.0, 1.0, 0.0, 0.0, -1.0, -1.0, 0.0, 1.0]).reshape(8, 1)
    b = label(task, u)
    np.testing.assert_array_equal(b.targets[:, 0], [0, 0, 1, 1, 1, -1, -1, -1])
    np.testing.assert_array_equal(b.mask[:, 0], [1, 1, 0, 1, 1, 0, 0, 1])


def test_flipflop_matches_numpy(getkey):
    task = TASKS["flipflop"]
    u, y, m = arrays_of(task, getkey())
    assert set(np.unique(u)) == {-1.0, 0.0, 1.0}
    for i in range(len(u)):
        ref_y, ref_m = flipflop_reference(u[i], task.settle_steps)
        np.testing.assert_array_equal(y[i], ref_y)
        np.testing.assert_array_equal(m[i], ref_m)


def test_flipflop_pulse_rate_and_ood(getkey):
    task = TASKS["flipflop"]
    ood = task.ood()
    assert (ood.n_steps, ood.p_pulse, ood.n_bits) == (240, 0.05, 3)
    for t in [task, ood]:
        u, _, _ = arrays_of(t, getkey())
        p, n = t.p_pulse, u.size
        # Binomial proportions, within 5 standard errors.
        assert abs(np.mean(u != 0) - p) < 5 * math.sqrt(p * (1 - p) / n)
        assert abs(np.mean(u[u != 0] > 0) - 0.5) < 5 * math.sqrt(0.25 / np.sum(u != 0))


def test_bitstream_hand_built():
    u = jnp.array([1.0, -1.0, -1.0, 1.0, 1.0]).reshape(5, 1)
    b = label(NParity(2, n_steps=5), u)
    np.testing.assert_array_equal(b.targets[:, 0], [0, 0, -1, 1, -1])
    np.testing.assert_array_equal(b.mask[:, 0], [0, 0, 1, 1, 1])
    b = label(NDelayedMatch(2, n_steps=5), u)
    np.testing.assert_array_equal(b.targets[:, 0], [0, 0, 0, -1, -1])
    np.testing.assert_array_equal(b.mask[:, 0], [0, 0, 0, 1, 1])
    b = label(NParity(3, heads="multi", n_steps=5), u)  # parities of 1, 2, 3 bits
    np.testing.assert_array_equal(b.targets[4], [1, -1, 1])  # b3, b3 b2, b3 b2 b1
    np.testing.assert_array_equal(b.mask[2], [1, 1, 0])


@pytest.mark.parametrize("name", ["parity", "parity_multi", "dms", "dms_multi"])
def test_bitstream_matches_numpy(getkey, name):
    task = TASKS[name]
    u, y, m = arrays_of(task, getkey())
    bs = task.bit_steps
    # Each bit is a ±1 level held for bit_steps indices.
    np.testing.assert_array_equal(np.abs(u), 1.0)
    np.testing.assert_array_equal(u, np.repeat(u[:, ::bs], bs, axis=1)[:, : u.shape[1]])
    kind = "parity" if name.startswith("parity") else "dms"
    for i in range(len(u)):
        ref_y, ref_m = bitstream_reference(
            u[i], kind, task.n, task.heads, bs, task.settle_steps
        )
        np.testing.assert_array_equal(y[i], ref_y)
        np.testing.assert_array_equal(m[i], ref_m)


def test_path_integration_is_shifted_cumsum(getkey):
    task = TASKS["integration"]
    u, y, m = arrays_of(task, getkey())
    ref = np.zeros_like(u)
    ref[:, 1:] = task.dt * np.cumsum(u, axis=1)[:, :-1]
    np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(m, 1.0)
    # Stationary OU velocity: variance speed^2 = 4 at all times; 2 N independent
    # paths of 50 steps with correlation time 5 steps: tolerance ~5 standard errors.
    assert abs(np.mean(u**2) / 4.0 - 1.0) < 0.15
    rho = np.sum(u[:, 1:] * u[:, :-1]) / np.sum(u[:, :-1] ** 2)
    assert abs(rho - math.exp(-task.dt / task.tau_v)) < 0.03


def test_sine_target_is_sine_of_encoded_frequency(getkey):
    task = TASKS["sine"]
    n_levels = {}
    for t, offset in [(task, 0.0), (task.ood(), 0.5)]:
        u, y, m = arrays_of(t, getkey())
        np.testing.assert_array_equal(u, np.broadcast_to(u[:, :1], u.shape))
        j = (u[:, 0, 0] - 0.25) * t.n_freqs  # the level encodes index j
        np.testing.assert_allclose(j - offset, np.round(j - offset), atol=1e-9)
        j = np.round(j - offset) + offset
        assert j.min() >= offset and j.max() <= t.n_freqs - 1 - offset
        omega = 0.1 + j * (0.6 - 0.1) / (t.n_freqs - 1)
        ts = t.dt * np.arange(t.n_steps)
        np.testing.assert_allclose(y[..., 0], np.sin(omega[:, None] * ts), atol=1e-12)
        np.testing.assert_array_equal(m, 1.0)
        n_levels[offset] = len(np.unique(np.round(j, 6)))
    # Training draws all 11 levels; ood the 10 midpoints between them.
    assert n_levels == {0.0: 11, 0.5: 10}


def discrimination_reference(task, u, y, m):
    """Read f1, f2, delay and go cue from one trial's inputs; check its targets."""
    fix, stim = u[:, 0], u[:, 1]
    on = np.flatnonzero(stim != 0)
    breaks = np.flatnonzero(np.diff(on) > 1)
    assert len(breaks) == 1  # exactly two stimulus periods
    first, second = on[: breaks[0] + 1], on[breaks[0] + 1 :]
    s = task.stim_steps
    assert first[0] == task.pre_steps and len(first) == s and len(second) == s
    f1, f2 = stim[first[0]], stim[second[0]]
    assert np.all(stim[first] == f1) and np.all(stim[second] == f2)
    go = second[-1] + 1
    np.testing.assert_array_equal(fix, (np.arange(len(fix)) < go).astype(float))
    window = np.zeros(len(fix), bool)
    window[go + 1 : go + 1 + task.response_steps] = True
    assert go + task.response_steps < task.n_steps
    np.testing.assert_array_equal(m[:, 0], window.astype(float))
    np.testing.assert_array_equal(y[:, 0], np.where(window, np.sign(f1 - f2), 0.0))
    return f1, f2, second[0] - first[-1] - 1


def test_discrimination_matches_reference(getkey):
    task = TASKS["discrimination"]
    for t, lo, hi in [(task, 3, 9), (task.ood(), 10, 18)]:
        u, y, m = arrays_of(t, getkey())
        out = np.array(
            [discrimination_reference(t, *x) for x in zip(u, y, m, strict=True)]
        )
        f1, f2, delay = out.T
        assert np.all(np.abs(f1 - f2) >= t.min_gap - 1e-12)
        assert np.all((f1 >= t.f_min) & (f1 <= t.f_max))
        assert np.all((f2 >= t.f_min) & (f2 <= t.f_max))
        assert set(delay.astype(int)) == set(range(lo, hi + 1))
        assert 0.3 < np.mean(f1 > f2) < 0.7  # P = 1/2 by symmetry


# --- causality ---------------------------------------------------------------------


@pytest.mark.parametrize("name", LABELLED)
def test_targets_depend_on_past_inputs_only(getkey, name):
    task = TASKS[name]
    batch = jax.tree.map(lambda x: x[0], batch_of(task, getkey()))
    np.testing.assert_array_equal(label(task, batch.inputs).targets, batch.targets)
    for k in [0, 1, 5, task.n_steps // 2, task.n_steps - 1]:
        noise = RNG.normal(size=batch.inputs.shape)
        future = jnp.arange(task.n_steps).reshape(-1, 1) >= k
        changed = label(task, jnp.where(future, noise, batch.inputs))
        np.testing.assert_array_equal(changed.targets[: k + 1], batch.targets[: k + 1])
        np.testing.assert_array_equal(changed.mask[: k + 1], batch.mask[: k + 1])
        if k < task.n_steps // 2:  # ... while the future does change
            assert not np.array_equal(changed.targets, batch.targets)


def test_sampled_tasks_are_causal(getkey):
    # Sine: the first target is sin(0) whatever the level.
    np.testing.assert_array_equal(batch_of(TASKS["sine"], getkey()).targets[:, 0], 0)
    # Discrimination: the window opens after the go cue and the second stimulus.
    u, _, m = arrays_of(TASKS["discrimination"], getkey())
    for ui, mi in zip(u, m, strict=True):
        first_scored = np.flatnonzero(mi[:, 0])[0]
        assert first_scored > np.flatnonzero(ui[:, 1])[-1]
        assert first_scored > np.flatnonzero(ui[:, 0] == 0)[0]
    # HMM: the targets are drawn independently of the inputs (by construction);
    # check the inputs are the documented white noise, uncorrelated with targets.
    u, y, _ = arrays_of(TASKS["hmm"], getkey())
    n = u.shape[0] * u.shape[1]
    assert abs(np.std(u) - 1.0) < 0.03 and abs(np.mean(u)) < 5 / math.sqrt(u.size)
    corr = np.einsum("ski,skc->ic", u, y - y.mean(axis=(0, 1))) / n
    assert np.all(np.abs(corr) < 5 * 0.5 / math.sqrt(n))  # std of u y <= 1 * 1/2
    lag = np.einsum("ski,ski->i", u[:, 1:], u[:, :-1]) / n
    assert np.all(np.abs(lag) < 5 / math.sqrt(n))  # white in time


# --- shapes, dtypes, transforms ---------------------------------------------------


@pytest.mark.parametrize("name", list(TASKS))
def test_shapes_dtypes_and_vmap(getkey, name):
    task = TASKS[name]
    assert isinstance(task, AbstractTask)
    assert jax.tree_util.tree_leaves(task) == []  # every field is static
    T, dtype = task.n_steps, default_float()
    key = getkey()
    batch = sample_many(task, jr.split(key, N))
    assert isinstance(batch, TaskBatch)
    assert batch.inputs.shape == (N, T, task.n_in)
    assert batch.targets.shape == batch.mask.shape == (N, T, task.n_out)
    for x in (batch.inputs, batch.targets, batch.mask, task.ts):
        assert x.dtype == dtype
    assert set(np.unique(batch.mask)) <= {0.0, 1.0}
    assert np.sum(batch.mask) > 0
    np.testing.assert_allclose(task.ts, task.dt * np.arange(T), rtol=1e-15)
    again = sample_many(task, jr.split(key, N))  # deterministic in the key
    np.testing.assert_array_equal(again.targets, batch.targets)
    assert not np.all(batch.inputs == batch.inputs[:1])  # trials differ
    assert task.loss_kind == ("cross_entropy" if name == "hmm" else "mse")


def test_ood_variants():
    ff = FlipFlop(n_bits=2, p_pulse=0.1, n_steps=50)
    assert (ff.ood().n_steps, ff.ood().p_pulse, ff.ood().n_bits) == (200, 0.05, 2)
    sine = SineWave()
    assert sine.ood().midpoints and sine.ood().n_steps == sine.n_steps
    dd = DelayedDiscrimination(delay_min=4, delay_max=10)
    assert (dd.ood().delay_min, dd.ood().delay_max) == (11, 20)
    assert dd.ood().n_steps == dd.n_steps + 10
    assert PathIntegration(n_steps=30).ood().n_steps == 120
    for task in [NParity(2, n_steps=20), NDelayedMatch(2, heads="multi", n_steps=20)]:
        ood = task.ood()
        assert type(ood) is type(task) and ood.n_steps == 80
        assert (ood.n, ood.heads, ood.n_out) == (task.n, task.heads, task.n_out)
    hmm = HMMEmission(n_steps=25, topology="linear").ood()
    assert (hmm.n_steps, hmm.topology) == (100, "linear")


# --- scores -------------------------------------------------------------------------


@pytest.mark.parametrize("name", SIGN_TASKS)
def test_sign_scores(getkey, name):
    task = TASKS[name]
    batch = batch_of(task, getkey())
    assert score(task, batch.targets, batch) == 1.0
    assert score(task, -batch.targets, batch) == 0.0
    jitter = RNG.uniform(-0.4, 0.4, size=batch.targets.shape)
    assert score(task, 0.5 * batch.targets + jitter, batch) == 1.0
    assert 0.4 < score(task, jitter, batch) < 0.6  # chance level


def test_sign_score_hand_computed():
    task = FlipFlop(n_bits=1, n_steps=8, settle_steps=1)
    u = jnp.array([0.0, 1.0, 0.0, 0.0, -1.0, -1.0, 0.0, 1.0]).reshape(8, 1)
    batch = label(task, u)  # scored: indices 3, 4, 7 with targets 1, 1, -1
    out = jnp.array([5.0, 5.0, 5.0, -1.0, 1.0, 1.0, 1.0, -1.0]).reshape(8, 1)
    np.testing.assert_allclose(score(task, out, batch), 2 / 3)


def test_r_squared_scores(getkey):
    y = jnp.array([1.0, 2.0, 3.0]).reshape(3, 1)
    batch = TaskBatch(inputs=jnp.zeros((3, 1)), targets=y, mask=jnp.ones((3, 1)))
    out = jnp.array([1.0, 2.0, 4.0]).reshape(3, 1)  # SSE 1, SST 2
    np.testing.assert_allclose(score(SineWave(n_steps=3), out, batch), 0.5)
    for name in ["sine", "integration"]:
        task = TASKS[name]
        b = batch_of(task, getkey())
        np.testing.assert_allclose(score(task, b.targets, b), 1.0)
        mean = jnp.broadcast_to(jnp.mean(b.targets, axis=(0, 1)), b.targets.shape)
        np.testing.assert_allclose(score(task, mean, b), 0.0, atol=1e-12)
        assert score(task, -b.targets, b) < -1.0


def test_score_rejects_wrong_shape(getkey):
    task = TASKS["flipflop"]
    batch = batch_of(task, getkey())
    with unchecked(), pytest.raises(ValueError, match="outputs"):
        task.score(batch.targets[..., :2], batch)
    hmm = TASKS["hmm"]
    batch = batch_of(hmm, getkey())
    with unchecked(), pytest.raises(ValueError, match="outputs"):
        hmm.score(batch.targets[0], batch)


# --- hidden Markov model -------------------------------------------------------------


@eqx.filter_jit
def hmm_matrices(task):
    return (
        task.transition_matrix(),
        task.emission_matrix(),
        task.stationary_states(),
        task.stationary_emissions(),
    )


def test_hmm_matrices():
    eye = np.eye(5, dtype=bool)
    patterns = {
        "full": np.ones((5, 5), bool),
        "cyclic": eye | np.roll(eye, 1, axis=1),
        "linear": np.abs(np.subtract.outer(np.arange(5), np.arange(5))) <= 1,
    }
    for topology, pattern in patterns.items():
        task = HMMEmission(n_states=5, n_emissions=3, topology=topology, stay=0.7)
        P, E, pi, pi_e = (np.asarray(x) for x in hmm_matrices(task))
        np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-14)
        np.testing.assert_array_equal(P > 0, pattern)
        np.testing.assert_allclose(np.diag(P), 0.7)
        np.testing.assert_allclose(pi @ P, pi, atol=1e-14)  # stationary
        np.testing.assert_allclose(pi.sum(), 1.0)
        np.testing.assert_allclose(E.sum(axis=1), 1.0, rtol=1e-14)
        np.testing.assert_allclose(E[np.arange(5), np.arange(5) % 3], 0.8)
        np.testing.assert_allclose(pi_e, pi @ E, atol=1e-14)
    # Linear (reflecting) chain, by detailed balance: pi ∝ (1/2, 1, 1, 1, 1/2).
    linear = HMMEmission(n_states=5, n_emissions=3, topology="linear", stay=0.7)
    pi = hmm_matrices(linear)[2]
    np.testing.assert_allclose(pi, np.array([0.5, 1, 1, 1, 0.5]) / 4, atol=1e-14)
    # Full chain, 4 states, 3 symbols: pi uniform; symbol 0 is emitted mostly by
    # states 0 and 3, so pi E = (.8 + .1 + .1 + .8, .1 + .8 + .1 + .1, ...) / 4.
    pi_e = hmm_matrices(TASKS["hmm"])[3]
    np.testing.assert_allclose(pi_e, [0.45, 0.275, 0.275], rtol=1e-14)


# The sampler is the same code for every topology (and the matrices are checked
# above): "full" is the shared registry task; "cyclic" has an asymmetric P, so
# the pair statistics below would catch a transposed transition matrix.
@pytest.mark.parametrize("topology", ["full", "cyclic"])
def test_hmm_emission_statistics(getkey, topology):
    base = TASKS["hmm"]
    task = HMMEmission(topology=topology, n_steps=base.n_steps, noise_dim=2)
    _, y, m = arrays_of(task, getkey())
    np.testing.assert_array_equal(y.sum(axis=-1), 1.0)
    np.testing.assert_array_equal(m, 1.0)
    P, E, pi, pi_e = (np.asarray(x) for x in hmm_matrices(task))
    # Trials are independent: compare the mean of per-trial frequencies with the
    # stationary law, within 5 standard errors estimated across trials.
    per_trial = y.mean(axis=1)
    err = per_trial.std(axis=0, ddof=1) / math.sqrt(N)
    assert np.all(np.abs(per_trial.mean(axis=0) - pi_e) < 5 * err)
    # Consecutive emissions: P(e_k = a, e_k+1 = b) = sum_ij pi_i E_ia P_ij E_jb.
    joint = (pi[:, None] * E).T @ P @ E
    pairs = np.einsum("ska,skb->sab", y[:, :-1], y[:, 1:]) / (task.n_steps - 1)
    err = pairs.std(axis=0, ddof=1) / math.sqrt(N)
    assert np.all(np.abs(pairs.mean(axis=0) - joint) < 5 * err)
    # ... which differs from independent draws (the chain has memory).
    assert np.any(np.abs(joint - np.outer(pi_e, pi_e)) > 5 * err)


def test_hmm_score(getkey):
    task = TASKS["hmm"]
    batch = batch_of(task, getkey())
    logits = jnp.broadcast_to(jnp.log(task.stationary_emissions()), batch.targets.shape)
    np.testing.assert_allclose(score(task, logits + 7.0, batch), 1.0, atol=1e-12)
    # Uniform prediction: 1 - TV((1/3, 1/3, 1/3), (.45, .275, .275)) = 1 - .35 / 3.
    uniform = jnp.zeros_like(batch.targets)
    np.testing.assert_allclose(score(task, uniform, batch), 1 - 0.35 / 3, rtol=1e-12)
    # Near one-hot logits of the targets: 1 - TV(empirical, stationary law).
    empirical = np.asarray(batch.targets).mean(axis=(0, 1))
    expected = 1 - 0.5 * np.sum(np.abs(empirical - [0.45, 0.275, 0.275]))
    np.testing.assert_allclose(score(task, 100.0 * batch.targets, batch), expected)


# --- validation and curriculum -------------------------------------------------------


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: FlipFlop(n_bits=0), "n_bits"),
        (lambda: FlipFlop(n_bits=2.0), "n_bits"),  # type: ignore[arg-type]
        (lambda: FlipFlop(p_pulse=1.5), "p_pulse"),
        (lambda: FlipFlop(p_pulse=-0.1), "p_pulse"),
        (lambda: FlipFlop(n_steps=1), "n_steps"),
        (lambda: FlipFlop(dt=0.0), "dt"),
        (lambda: FlipFlop(settle_steps=-1), "settle_steps"),
        (lambda: SineWave(n_freqs=1), "n_freqs"),
        (lambda: SineWave(freq_min=0.5, freq_max=0.4), "freq_max"),
        (lambda: SineWave(freq_min=0.0), "freq_min"),
        (lambda: DelayedDiscrimination(delay_min=5, delay_max=4), "delay_max"),
        (lambda: DelayedDiscrimination(min_gap=0.4), "min_gap"),
        (lambda: DelayedDiscrimination(f_min=0.0), "f_min"),
        (lambda: DelayedDiscrimination(n_steps=45), "n_steps"),
        (lambda: DelayedDiscrimination(stim_steps=0), "stim_steps"),
        (lambda: PathIntegration(dim=0), "dim"),
        (lambda: PathIntegration(tau_v=-1.0), "tau_v"),
        (lambda: PathIntegration(speed=0.0), "speed"),
        (lambda: NParity(0), "n"),
        (lambda: NParity(2, heads="both"), "heads"),
        (lambda: NParity(5, n_steps=5), "n_steps"),
        (lambda: NParity(2, bit_steps=2, settle_steps=2), "settle_steps"),
        (lambda: NDelayedMatch(3, heads="multi", n_steps=4), "n_steps"),
        (lambda: NDelayedMatch(2, bit_steps=0), "bit_steps"),
        (lambda: HMMEmission(topology="ring"), "topology"),
        (lambda: HMMEmission(n_states=1), "n_states"),
        (lambda: HMMEmission(n_emissions=1), "n_emissions"),
        (lambda: HMMEmission(stay=1.0), "stay"),
        (lambda: HMMEmission(purity=2.0), "purity"),
        (lambda: HMMEmission(noise_dim=0), "noise_dim"),
        (lambda: curriculum(NParity, 2, n_min=3), "n_max"),
        (lambda: curriculum(NParity, 3, n_min=0), "n_min"),
    ],
)
def test_bad_arguments_raise(make, match):
    with unchecked(), pytest.raises(ValueError, match=rf"^{match}: expected"):
        make()


def test_minimum_sizes_are_accepted():
    assert DelayedDiscrimination().n_steps == 5 + 2 * 5 + 20 + 1 + 10
    assert NParity(5, n_steps=6).n_steps == 6  # bit 4 is scored at index 5
    assert NDelayedMatch(3, heads="multi", n_steps=5).n_out == 3
    b = label(NParity(5, n_steps=6), jnp.ones((6, 1)))
    np.testing.assert_array_equal(b.mask[:, 0], [0, 0, 0, 0, 0, 1])
    np.testing.assert_array_equal(b.targets[:, 0], [0, 0, 0, 0, 0, 1])


def test_curriculum():
    stages = curriculum(NParity, 5, n_min=2, n_steps=30)
    assert [t.n for t in stages] == [2, 3, 4, 5]
    assert all(t.n_out == 1 and t.n_steps == 30 for t in stages)
    multi = curriculum(NDelayedMatch, 3, heads="multi")
    assert [t.n_out for t in multi] == [1, 2, 3]
    assert all(isinstance(t, NDelayedMatch) for t in multi)

"""dx.train.fit: learning, ensembles vs loops, failure isolation, hyper-parameters."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest
from typecheck import unchecked

import dynax as dx

TASK = dict(n_bits=2, p_pulse=0.1, n_steps=20, dt=0.2)


def _net(key, n_hidden=8, **kw):
    return dx.models.CTRNN(2, n_hidden, 2, tau=0.5, key=key, **kw)


def _ensemble(n, seed=0, **kw):
    return dx.make_ensemble(lambda k: _net(k, **kw), jr.split(jr.PRNGKey(seed), n))


def _leaves(tree):
    return [np.asarray(x) for x in jax.tree.leaves(eqx.filter(tree, eqx.is_array))]


def measure_fit_single_network(seed: int) -> dict:
    """Held-out loss after / before 60 Adam steps (bound 0.7; tests/margins.py)."""
    k_net, k_fit = jr.split(jr.PRNGKey(seed))
    task = dx.tasks.FlipFlop(**TASK)
    net = _net(k_net)
    trained, hist = dx.train.fit(
        net, task, optimizer=optax.adam(2e-2), n_steps=60, batch_size=16, key=k_fit
    )
    before = dx.train.evaluate(net, task, key=jr.PRNGKey(7), n_trials=64)
    after = dx.train.evaluate(trained, task, key=jr.PRNGKey(7), n_trials=64)
    ratio = float(after.loss) / float(before.loss)
    return dict(value=ratio, bound=0.7, margin=0.7 - ratio, hist=hist, net=net,
                trained=trained)  # fmt: skip


@pytest.mark.training
def test_fit_reduces_loss_single_network(capsys):
    out = measure_fit_single_network(0)
    hist, net, trained = out["hist"], out["net"], out["trained"]
    assert hist.loss.shape == (60,)
    assert hist.steps_done == 60 and not bool(hist.failed)
    assert int(hist.failed_step) == -1
    assert out["value"] < out["bound"]
    assert float(np.mean(hist.loss[-10:])) < float(np.mean(hist.loss[:10]))
    assert type(trained) is type(net)
    # No progress bar off a terminal (CI logs stay quiet): at most a few
    # "fit: step ..." lines, if the run took over 10 s.
    captured = capsys.readouterr()
    assert captured.out == "" and "\r" not in captured.err
    assert all(line.startswith("fit: ") for line in captured.err.splitlines())


def test_ensemble_equals_loop_over_members():
    task = dx.tasks.FlipFlop(**TASK)
    ens = _ensemble(3)
    kw = dict(optimizer=optax.adam(1e-2), n_steps=12, batch_size=8, key=jr.PRNGKey(3))
    trained, hist = dx.train.fit(ens, task, ensemble=True, log_every=6, **kw)
    assert hist.loss.shape == (12, 3)
    for i in range(3):
        one, one_hist = dx.train.fit(dx.member(ens, i), task, log_every=6, **kw)
        np.testing.assert_allclose(one_hist.loss, hist.loss[:, i], rtol=1e-12)
        for a, b in zip(_leaves(one), _leaves(dx.member(trained, i)), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_member_keys_make_each_member_equal_its_own_run():
    # One key per member: member i's run (trials and private noise) is the run of
    # fit(member i, key=keys[i]), whichever members it is packed with.
    task = dx.tasks.FlipFlop(**TASK)
    ens = _ensemble(3, sigma_rec=0.3)
    keys = jr.split(jr.PRNGKey(5), 3)
    kw = dict(optimizer=optax.adam(1e-2), n_steps=6, batch_size=4, log_every=3)
    # in groups of 2 members (lax.map over vmap; the last group padded)
    trained, hist = dx.train.fit(ens, task, ensemble=True, key=keys, chunk_size=2, **kw)
    for i in range(3):
        one, one_hist = dx.train.fit(dx.member(ens, i), task, key=keys[i], **kw)
        np.testing.assert_allclose(one_hist.loss, hist.loss[:, i], rtol=1e-12)
        for a, b in zip(_leaves(one), _leaves(dx.member(trained, i)), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    # other keys for the other members leave member 0 as it was; member 1 changes
    _, other = dx.train.fit(
        ens, task, ensemble=True, key=jnp.stack([keys[0], keys[2], keys[1]]), **kw
    )
    np.testing.assert_allclose(other.loss[:, 0], hist.loss[:, 0], rtol=1e-12)
    assert not np.allclose(other.loss[:, 1], hist.loss[:, 1])
    with unchecked(), pytest.raises(ValueError, match="key: expected one key, or one"):
        dx.train.fit(ens, task, ensemble=True, key=keys[:2], **kw)
    with unchecked(), pytest.raises(ValueError, match="key: expected one PRNG key"):
        dx.train.fit(dx.member(ens, 0), task, key=keys, **kw)


@pytest.mark.usefixtures("optimized")  # run time > compile time
def test_failed_member_is_frozen_and_others_unaffected():
    """An infinite learning rate makes member 1's parameters non-finite at step 0."""
    task = dx.tasks.FlipFlop(**TASK)
    ens = _ensemble(3)
    kw = dict(optimizer=optax.adam, n_steps=10, batch_size=8, key=jr.PRNGKey(4))
    lrs = jnp.array([1e-2, jnp.inf, 2e-2])
    trained, hist = dx.train.fit(
        ens, task, ensemble=True, hyperparams={"learning_rate": lrs}, **kw
    )
    np.testing.assert_array_equal(np.asarray(hist.failed), [False, True, False])
    np.testing.assert_array_equal(np.asarray(hist.failed_step), [-1, 0, -1])
    # The failed member keeps its last good (here: initial) parameters.
    for a, b in zip(
        _leaves(dx.member(trained, 1)), _leaves(dx.member(ens, 1)), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    # The healthy members equal a run without the bad one.
    healthy = jax.tree.map(
        lambda x: x[jnp.array([0, 2])] if eqx.is_array(x) else x, ens
    )
    ref, ref_hist = dx.train.fit(
        healthy,
        task,
        ensemble=True,
        hyperparams={"learning_rate": lrs[jnp.array([0, 2])]},
        **kw,
    )
    np.testing.assert_allclose(hist.loss[:, [0, 2]], ref_hist.loss, rtol=1e-12)
    for j, i in enumerate((0, 2)):
        for a, b in zip(
            _leaves(dx.member(trained, i)), _leaves(dx.member(ref, j)), strict=True
        ):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert np.all(np.isfinite(np.concatenate(_leaves(trained), axis=None)))


def test_diverging_solve_flags_member():
    """A member whose network blows up (NaN weights) is flagged, not trained."""
    task = dx.tasks.FlipFlop(**TASK)
    ens = _ensemble(2)
    ens = eqx.tree_at(lambda m: m.W, ens, ens.W.at[0, 0, 0].set(jnp.nan))
    _, hist = dx.train.fit(
        ens,
        task,
        ensemble=True,
        optimizer=optax.adam(1e-2),
        n_steps=4,
        batch_size=4,
        key=jr.PRNGKey(0),
    )
    np.testing.assert_array_equal(np.asarray(hist.failed), [True, False])


def test_per_member_learning_rate_zero_leaves_member_unchanged():
    task = dx.tasks.FlipFlop(**TASK)
    ens = _ensemble(2)
    trained, _ = dx.train.fit(
        ens,
        task,
        ensemble=True,
        optimizer=optax.sgd,
        hyperparams={"learning_rate": jnp.array([0.0, 0.1])},
        n_steps=5,
        batch_size=4,
        key=jr.PRNGKey(0),
    )
    same = [
        np.array_equal(a, b)
        for a, b in zip(_leaves(trained), _leaves(ens), strict=True)
    ]
    for a, b in zip(
        _leaves(dx.member(trained, 0)), _leaves(dx.member(ens, 0)), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    assert not all(same)


def test_default_filter_freezes_noise_scale_and_fixed_tau(getkey):
    task = dx.tasks.FlipFlop(**TASK)
    net = _net(getkey(), sigma_rec=0.1, learn_tau=False)
    trained, _ = dx.train.fit(
        net,
        task,
        optimizer=optax.adamw(1e-2, weight_decay=0.1),
        n_steps=5,
        batch_size=4,
        key=getkey(),
    )
    np.testing.assert_array_equal(trained.sigma_rec, net.sigma_rec)
    np.testing.assert_array_equal(trained.log_tau, net.log_tau)
    assert not np.array_equal(trained.W, net.W)


def test_custom_filter_spec_freezes_recurrent_weights(getkey):
    task = dx.tasks.FlipFlop(**TASK)
    net = _net(getkey())
    spec = eqx.tree_at(lambda m: m.W, dx.train.trainable(net), False)
    trained, _ = dx.train.fit(
        net,
        task,
        optimizer=optax.adam(1e-2),
        n_steps=5,
        batch_size=4,
        key=getkey(),
        filter_spec=spec,
    )
    np.testing.assert_array_equal(trained.W, net.W)
    assert not np.array_equal(trained.W_out, net.W_out)


def test_noise_is_used_and_reproducible(getkey):
    task = dx.tasks.FlipFlop(**TASK)
    net = _net(getkey(), sigma_rec=0.5)
    kw = dict(optimizer=optax.adam(1e-2), n_steps=3, batch_size=4, key=getkey())
    _, h1 = dx.train.fit(net, task, **kw)
    _, h2 = dx.train.fit(net, task, **kw)
    _, quiet = dx.train.fit(net, task, noise=False, **kw)
    np.testing.assert_array_equal(h1.loss, h2.loss)
    assert not np.allclose(h1.loss, quiet.loss)


def test_one_trace_per_chunk_length(getkey):
    """Equal chunks reuse one compiled program: the loss is traced once."""
    traces = []

    def counting_mse(outputs, targets, mask):
        traces.append(1)
        return dx.train.masked_mse(outputs, targets, mask)

    task = dx.tasks.FlipFlop(**TASK)
    dx.train.fit(
        _net(getkey()),
        task,
        optimizer=optax.adam(1e-2),
        n_steps=12,
        batch_size=4,
        key=getkey(),
        loss=counting_mse,
        log_every=4,
    )
    assert len(traces) == 1


def test_regularizer_matches_hand_computation(getkey):
    net = _net(getkey())
    params = eqx.filter(net, dx.train.trainable(net))
    ys = jr.normal(getkey(), (3, 5, 8))
    reg = dx.train.Regularizer(l1_weights=0.1, l2_weights=0.2, l2_rates=0.3)
    leaves = [np.asarray(x) for x in jax.tree.leaves(params)]
    expected = (
        0.1 * sum(np.abs(x).sum() for x in leaves)
        + 0.2 * sum((x**2).sum() for x in leaves)
        + 0.3 * np.mean(np.tanh(np.asarray(ys)) ** 2)
    )
    np.testing.assert_allclose(float(reg(params, net, ys)), expected, rtol=1e-12)
    with unchecked(), pytest.raises(ValueError, match="l2_rates"):
        dx.train.Regularizer(l2_rates=-1.0)


def test_regularizer_of_a_float32_model_under_x64_and_strict_promotion(getkey):
    """The suite runs float64 with strict promotion: a float32 network's penalty
    stays float32 (it was a float64 zero plus float32 terms, a promotion error)."""
    net = dx.models.CTRNN(2, 6, 2, dtype=jnp.float32, key=getkey())
    params = eqx.filter(net, dx.train.trainable(net))
    ys = jr.normal(getkey(), (3, 5, 6), jnp.float32)
    value = dx.train.Regularizer(l2_weights=0.2)(params, net, ys)
    assert value.dtype == jnp.float32
    want = 0.2 * sum(
        (np.asarray(x, np.float64) ** 2).sum() for x in jax.tree.leaves(params)
    )
    np.testing.assert_allclose(float(value), want, rtol=1e-5)
    assert dx.train.weight_penalty(params, p=1).dtype == jnp.float32


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(batch_size=0), ValueError, "batch_size"),
        (dict(n_steps=0), ValueError, "n_steps"),
        (dict(batch_size=2.0), TypeError, "batch_size"),
        (dict(optimizer=optax.adam), TypeError, "optimizer"),
        (dict(log_every=3, checkpoint_every=4), ValueError, "checkpoint_every"),
        (dict(filter_spec=(True, False)), ValueError, "filter_spec"),
        (dict(hyperparams={"learning_rate": jnp.ones(3)}), ValueError, "hyperparams"),
        (dict(key=0), TypeError, "key"),
    ],
)
def test_bad_input(kwargs, exc, match, getkey):
    kw = dict(optimizer=optax.adam(1e-2), n_steps=4, batch_size=2, key=getkey())
    if "hyperparams" in kwargs:
        kw["optimizer"] = optax.adam
    kw.update(kwargs)
    with unchecked(), pytest.raises(exc, match=match):
        dx.train.fit(_net(getkey()), dx.tasks.FlipFlop(**TASK), **kw)


def test_bad_task_and_empty_filter(getkey):
    kw = dict(optimizer=optax.adam(1e-2), n_steps=4, batch_size=2, key=getkey())
    with unchecked(), pytest.raises(TypeError, match="task"):
        dx.train.fit(_net(getkey()), object(), **kw)
    with (
        unchecked(),
        pytest.raises(ValueError, match="ensemble: expected False for one network"),
    ):
        dx.train.fit(_net(getkey()), dx.tasks.FlipFlop(**TASK), ensemble=True, **kw)
    with unchecked(), pytest.raises(ValueError, match="filter_spec"):
        dx.train.fit(_net(getkey()), dx.tasks.FlipFlop(**TASK), filter_spec=False, **kw)


def test_losses_against_numpy(getkey):
    out = np.asarray(jr.normal(getkey(), (4, 6, 3)))
    tgt = np.asarray(jr.normal(getkey(), (4, 6, 3)))
    mask = np.asarray(jr.bernoulli(getkey(), 0.6, (4, 6, 3))).astype(float)
    expected = ((out - tgt) ** 2 * mask).sum() / mask.sum()
    got = dx.train.masked_mse(jnp.asarray(out), jnp.asarray(tgt), jnp.asarray(mask))
    np.testing.assert_allclose(float(got), expected, rtol=1e-12)
    classes = np.asarray(jr.randint(getkey(), (4, 6), 0, 3))
    onehot = np.eye(3)[classes]
    step_mask = mask[..., :1] * np.ones((1, 1, 3))
    logp = out - np.log(np.exp(out).sum(-1, keepdims=True))
    nll = -np.take_along_axis(logp, classes[..., None], -1)[..., 0]
    expected = (nll * step_mask[..., 0]).sum() / step_mask[..., 0].sum()
    got = dx.train.cross_entropy(
        jnp.asarray(out), jnp.asarray(onehot), jnp.asarray(step_mask)
    )
    np.testing.assert_allclose(float(got), expected, rtol=1e-12)
    assert math.isclose(
        float(dx.train.masked_mse(jnp.ones(3), jnp.zeros(3), jnp.zeros(3))), 0.0
    )


TASKS = {
    "flipflop": lambda: dx.tasks.FlipFlop(**TASK),
    "sine": lambda: dx.tasks.SineWave(n_freqs=5, n_steps=30, dt=0.5),
    "discrimination": lambda: dx.tasks.DelayedDiscrimination(
        pre_steps=2, stim_steps=2, delay_min=3, delay_max=6, response_steps=4
    ),
    "path": lambda: dx.tasks.PathIntegration(dim=2, n_steps=20, dt=0.2),
    "parity": lambda: dx.tasks.NParity(n=2, n_steps=20),
    "dms_multi": lambda: dx.tasks.NDelayedMatch(n=2, heads="multi", n_steps=20),
    "hmm": lambda: dx.tasks.HMMEmission(n_steps=20),
}


def measure_task_training(name: str, seed: int) -> dict:
    """Excess held-out loss after / before 60 Adam steps (bound 0.9)."""
    k_net, k_fit, k_eval = jr.split(jr.PRNGKey(seed), 3)
    task = TASKS[name]()
    net = dx.models.CTRNN(task.n_in, 16, task.n_out, tau=0.5, key=k_net)
    trained, hist = dx.train.fit(
        net, task, optimizer=optax.adam(2e-2), n_steps=60, batch_size=16, key=k_fit
    )
    assert not bool(hist.failed)
    before = dx.train.evaluate(net, task, key=k_eval, n_trials=64)
    after = dx.train.evaluate(trained, task, key=k_eval, n_trials=64)
    floor = 0.0
    if name == "hmm":
        # Noise inputs carry no information on the emissions: the best per-step
        # cross-entropy is the entropy of the stationary emission law.
        p = np.asarray(task.stationary_emissions())
        floor = float(-np.sum(p * np.log(p)))
    ratio = (float(after.loss) - floor) / (float(before.loss) - floor)
    return dict(value=ratio, bound=0.9, margin=0.9 - ratio)


@pytest.mark.training
@pytest.mark.parametrize("name", sorted(TASKS))
def test_training_reduces_loss_on_every_task(name):
    """At small sizes, 60 Adam steps lower the held-out loss of every task."""
    out = measure_task_training(name, 0)
    assert out["value"] < out["bound"], out


def test_per_member_init_gain_and_weight_decay(getkey):
    """Init gains are vmapped constructor arguments; weight decay an optax leaf."""
    gains = jnp.array([0.5, 1.0, 2.0])
    ens = eqx.filter_vmap(lambda k, g: dx.models.CTRNN(2, 64, 2, g=g, key=k))(
        jr.split(getkey(), 3), gains
    )
    std = np.std(np.asarray(ens.W).reshape(3, -1), axis=1) * np.sqrt(64)
    np.testing.assert_allclose(std, np.asarray(gains), rtol=0.1)
    trained, hist = dx.train.fit(
        ens,
        dx.tasks.FlipFlop(**TASK),
        optimizer=optax.adamw,
        hyperparams={
            "learning_rate": 1e-2,
            "weight_decay": jnp.array([0.0, 0.0, 50.0]),
        },
        n_steps=5,
        batch_size=4,
        key=getkey(),
        ensemble=True,
    )
    shrink = np.linalg.norm(np.asarray(trained.W), axis=(1, 2)) / np.linalg.norm(
        np.asarray(ens.W), axis=(1, 2)
    )
    # AdamW with decay 50 and lr 1e-2 multiplies W by (1 - 0.5) per step.
    assert shrink[2] < 0.1 < 0.9 < shrink[0]


def test_default_chunks_share_one_program(monkeypatch):
    """150 steps: two chunks of 75 (one compiled program), not 100 + 50 (two);
    the run equals one cut into chunks of 50."""
    import dynax.train._fit as fit_module
    from dynax.train._fit import default_log_every

    assert [default_log_every(n) for n in (7, 100, 150, 250, 1000, 101)] == [
        7, 100, 75, 50, 100, 100,
    ]  # fmt: skip
    sizes = []
    run_chunk = fit_module.run_chunk

    def spy(*args):
        sizes.append(args[6])  # n_steps of the chunk (static)
        return run_chunk(*args)

    monkeypatch.setattr(fit_module, "run_chunk", spy)
    task = dx.tasks.FlipFlop(n_bits=1, n_steps=6, dt=0.2)
    net = dx.models.CTRNN(1, 4, 1, key=jr.PRNGKey(0))
    kw = dict(optimizer=optax.sgd(1e-2), n_steps=150, batch_size=2, key=jr.PRNGKey(1))
    a, hist = dx.train.fit(net, task, progress=False, **kw)
    assert sizes == [75, 75]
    b, other = dx.train.fit(net, task, progress=False, log_every=50, **kw)
    np.testing.assert_array_equal(np.asarray(hist.loss), np.asarray(other.loss))
    np.testing.assert_array_equal(np.asarray(a.W), np.asarray(b.W))


def test_fit_with_a_solver_step_finer_than_the_task_spacing():
    # options=SimulateOptions(dt=...) takes 2 Euler steps per sample of task.ts: the
    # first loss is the one simulate gives on step 0's trials with the same dt (fit
    # knows the task's times on the host, so the sub-step count is fixed outside jit)
    from dynax.train._data import step_batch

    net = dx.models.CTRNN(3, 8, 3, key=jr.PRNGKey(0))
    task = dx.tasks.FlipFlop(n_bits=3, n_steps=10, dt=0.1)
    key = jr.PRNGKey(1)
    kw = dict(optimizer=optax.adam(1e-2), n_steps=2, batch_size=4, key=key)
    _, fine = dx.train.fit(net, task, options=dx.SimulateOptions(dt=0.05), **kw)
    _, coarse = dx.train.fit(net, task, **kw)
    batch = step_batch(task, key, 0, 4)
    losses = []
    for dt in (0.05, None):
        traj = dx.simulate(net, net.init_state(), task.ts, inputs=batch.inputs,
                           trials=True, dt=dt)  # fmt: skip
        losses.append(dx.train.masked_mse(traj.outputs, batch.targets, batch.mask))
    np.testing.assert_allclose(fine.loss[0], losses[0], rtol=1e-10)
    np.testing.assert_allclose(coarse.loss[0], losses[1], rtol=1e-10)
    assert abs(float(losses[0] - losses[1])) > 1e-4 * float(losses[1])

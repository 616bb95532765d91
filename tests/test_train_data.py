"""dx.train.Dataset: fit and evaluate on fixed trials, equal to the task path."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest
from typecheck import unchecked

import dynax as dx
from dynax.train._data import _minibatch_index

TASK = dx.tasks.FlipFlop(n_bits=2, p_pulse=0.1, n_steps=15, dt=0.2)
B, STEPS = 4, 6


def _net(key):
    return dx.models.CTRNN(2, 6, 2, tau=0.5, key=key)


def _task_trials(key, n_steps, batch_size):
    """The trials fit(task) draws at each step, in order (the task path's keys)."""
    batches = [
        jax.vmap(TASK.sample)(jr.split(jr.split(jr.fold_in(key, s))[0], batch_size))
        for s in range(n_steps)
    ]
    return jax.tree.map(lambda *x: jnp.concatenate(x), *batches)


def test_fit_on_the_task_trials_equals_fit_on_the_task():
    key = jr.PRNGKey(3)
    trials = _task_trials(key, STEPS, B)
    data = dx.train.Dataset(
        TASK.ts, trials.inputs, trials.targets, trials.mask, shuffle=False
    )
    kw = dict(optimizer=optax.adam(1e-2), n_steps=STEPS, batch_size=B, key=key)
    net = _net(jr.PRNGKey(0))
    a, ha = dx.train.fit(net, TASK, **kw)
    b, hb = dx.train.fit(net, data, **kw)
    np.testing.assert_array_equal(ha.loss, hb.loss)
    np.testing.assert_array_equal(a.W, b.W)


def test_shuffled_minibatches_visit_every_trial_once_per_epoch():
    key = jr.PRNGKey(1)
    for n, b in ((12, 4), (10, 4), (7, 7)):
        idx = np.concatenate(
            [np.asarray(_minibatch_index(n, b, s, key, True)) for s in range(3 * n)]
        )
        epochs = idx[: (len(idx) // n) * n].reshape(-1, n)
        for e in epochs:
            np.testing.assert_array_equal(np.sort(e), np.arange(n))
        assert not np.array_equal(epochs[0], epochs[1])  # a fresh order per epoch
    plain = [np.asarray(_minibatch_index(10, 4, s, key, False)) for s in range(3)]
    np.testing.assert_array_equal(np.concatenate(plain), np.arange(12) % 10)


def test_evaluate_on_a_data_set_uses_every_trial():
    trials = jax.vmap(TASK.sample)(jr.split(jr.PRNGKey(2), 9))
    data = dx.train.Dataset(TASK.ts, trials.inputs, trials.targets, trials.mask)
    net = _net(jr.PRNGKey(0))
    got = dx.train.evaluate(net, data, key=jr.PRNGKey(0))
    out = dx.simulate(
        net, net.init_state(), TASK.ts, inputs=trials.inputs, trials=True
    ).outputs
    want = dx.train.masked_mse(out, trials.targets, trials.mask)
    np.testing.assert_allclose(float(got.loss), float(want), rtol=1e-12)
    y, w = np.asarray(trials.targets), np.asarray(trials.mask)
    mean = (w * y).sum((0, 1)) / w.sum((0, 1))
    r2 = 1 - (w * (y - np.asarray(out)) ** 2).sum() / (w * (y - mean) ** 2).sum()
    np.testing.assert_allclose(float(got.score), r2, rtol=1e-10)


def test_ensemble_with_independent_orders():
    trials = jax.vmap(TASK.sample)(jr.split(jr.PRNGKey(2), 8))
    data = dx.train.Dataset(TASK.ts, trials.inputs, trials.targets, trials.mask)
    ens = dx.make_ensemble(_net, jr.split(jr.PRNGKey(0), 2))
    ens = jax.tree.map(lambda x: x, ens)
    ens_same = jax.tree.map(  # two identical members
        lambda x: jnp.stack([x[0], x[0]]) if isinstance(x, jax.Array) else x, ens
    )
    kw = dict(optimizer=optax.adam(1e-2), n_steps=3, batch_size=3, key=jr.PRNGKey(4))
    _, shared = dx.train.fit(ens_same, data, ensemble=True, **kw)
    np.testing.assert_array_equal(shared.loss[:, 0], shared.loss[:, 1])
    _, own = dx.train.fit(ens_same, data, ensemble=True, independent_batches=True, **kw)
    assert not np.array_equal(own.loss[:, 0], own.loss[:, 1])


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(ts=jnp.zeros(1)), ValueError, "ts: expected a 1-d time grid"),
        (dict(inputs=jnp.zeros((3, 14, 2))), ValueError, "inputs: expected shape"),
        (dict(targets=jnp.zeros((2, 15, 2))), ValueError, "targets: expected 3 tr"),
        (dict(mask=jnp.zeros((3, 15, 1))), ValueError, "mask: expected the shape"),
        (dict(loss_kind="nll"), ValueError, "loss_kind: expected 'mse'"),
        (dict(shuffle=1), TypeError, "shuffle: expected a bool"),
    ],
)
def test_bad_data_sets(kwargs, error, match):
    kw = (
        dict(ts=TASK.ts, inputs=jnp.zeros((3, 15, 2)), targets=jnp.zeros((3, 15, 2)))
        | kwargs
    )
    with unchecked(), pytest.raises(error, match=match):
        dx.train.Dataset(**kw)


def test_batch_larger_than_the_data_set():
    trials = jax.vmap(TASK.sample)(jr.split(jr.PRNGKey(2), 3))
    data = dx.train.Dataset(TASK.ts, trials.inputs, trials.targets)
    with (
        unchecked(),
        pytest.raises(ValueError, match="batch_size: expected at most the data"),
    ):
        dx.train.fit(
            _net(jr.PRNGKey(0)),
            data,
            optimizer=optax.adam(1e-2),
            n_steps=2,
            batch_size=4,
            key=jr.PRNGKey(0),
        )

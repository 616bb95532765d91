"""Checkpoints: orbax round trips, atomicity, and bitwise resume of dx.train.fit."""

import shutil

import equinox as eqx
import jax
import jax.random as jr
import numpy as np
import optax
import pytest
from typecheck import unchecked

import dynax as dx

TASK = dict(n_bits=2, p_pulse=0.1, n_steps=20, dt=0.2)


class Stop(Exception):
    """Raised by a callback to interrupt training."""


def _leaves(tree):
    return [np.asarray(x) for x in jax.tree.leaves(eqx.filter(tree, eqx.is_array))]


def _setup():
    ens = dx.make_ensemble(
        lambda k: dx.models.CTRNN(2, 8, 2, tau=0.5, key=k), jr.split(jr.PRNGKey(0), 2)
    )
    kw = dict(
        optimizer=optax.adam(1e-2),
        n_steps=12,
        batch_size=4,
        key=jr.PRNGKey(5),
        ensemble=True,
        log_every=3,
    )
    return ens, dx.tasks.FlipFlop(**TASK), kw


def test_resume_is_bitwise_equal_and_skips_partial_checkpoints(tmp_path):
    ens, task, kw = _setup()
    reference, ref_hist = dx.train.fit(ens, task, **kw)

    def stop_after_six(step, history):
        assert history.steps_done == step
        if step == 6:
            raise Stop

    folder = tmp_path / "ckpt"
    with unchecked(), pytest.raises(Stop):
        dx.train.fit(
            ens,
            task,
            checkpoint_dir=folder,
            checkpoint_every=6,
            callback=stop_after_six,
            **kw,
        )
    assert sorted(p.name for p in folder.iterdir()) == ["6"]
    # A crash while saving leaves orbax's temporary folder, or (worse) a step folder
    # without its commit marker; neither may be loaded.
    shutil.copytree(folder / "6", folder / "9")
    (folder / "9" / "commit_success.txt").unlink()
    (folder / "12.orbax-checkpoint-tmp-1234").mkdir()
    resumed, hist = dx.train.fit(
        ens, task, checkpoint_dir=folder, checkpoint_every=6, **kw
    )
    assert hist.resumed_from == 6 and hist.steps_done == 12
    np.testing.assert_array_equal(np.asarray(hist.loss), np.asarray(ref_hist.loss))
    for a, b in zip(_leaves(resumed), _leaves(reference), strict=True):
        np.testing.assert_array_equal(a, b)
    # A finished run in the folder: calling again trains nothing and returns it.
    again, hist2 = dx.train.fit(
        ens, task, checkpoint_dir=folder, checkpoint_every=6, **kw
    )
    assert hist2.resumed_from == 12
    for a, b in zip(_leaves(again), _leaves(reference), strict=True):
        np.testing.assert_array_equal(a, b)


def test_resume_with_other_key_or_length_is_refused(tmp_path):
    ens, task, kw = _setup()
    kw.update(n_steps=3)
    dx.train.fit(ens, task, checkpoint_dir=tmp_path, **kw)
    with unchecked(), pytest.raises(ValueError, match="key"):
        dx.train.fit(
            ens, task, checkpoint_dir=tmp_path, **(kw | {"key": jr.PRNGKey(9)})
        )
    with unchecked(), pytest.raises(ValueError, match="n_steps"):
        dx.train.fit(ens, task, checkpoint_dir=tmp_path, **(kw | {"n_steps": 6}))


def test_save_and_load_a_module(tmp_path, getkey):
    net = dx.models.CTRNN(2, 5, 1, key=getkey())
    params = eqx.filter(net, eqx.is_array)
    dx.train.save_checkpoint(tmp_path / "a", 3, params, {"name": "ctrnn"})
    like = eqx.filter(dx.models.CTRNN(2, 5, 1, key=getkey()), eqx.is_array)
    state, meta, step = dx.train.load_checkpoint(tmp_path / "a", like)
    restored = eqx.combine(state, eqx.filter(net, eqx.is_array, inverse=True))
    assert step == 3 and meta == {"name": "ctrnn"}
    assert type(restored) is type(net)
    for a, b in zip(_leaves(restored), _leaves(net), strict=True):
        np.testing.assert_array_equal(a, b)
    wrong = eqx.filter(dx.models.CTRNN(2, 6, 1, key=getkey()), eqx.is_array)
    with unchecked(), pytest.raises(ValueError, match="shape"):
        dx.train.load_checkpoint(tmp_path / "a", wrong)
    with unchecked(), pytest.raises(FileNotFoundError):
        dx.train.load_checkpoint(tmp_path / "empty", like)
    with unchecked(), pytest.raises(TypeError, match="checkpoint_dir"):
        dx.train.load_checkpoint(3, like)

"""dx.train.memory_retention against closed forms and hand-built memories."""

import itertools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from typecheck import unchecked

import dynax as dx
from dynax.train._retention import bit_patterns

TASK = dx.tasks.FlipFlop(n_bits=3, n_steps=50, dt=0.1, settle_steps=2)


class Leaky(dx.models.AbstractDynamics):
    """dy/dt = -k * y + gain * u, readout y: pulses set y, which then decays."""

    k: jax.Array
    gain: jax.Array

    def __call__(self, t, y, args):
        return -self.k * y + self.gain * args.evaluate(t)

    def init_state(self):
        return jnp.zeros(self.k.shape, self.k.dtype)

    def readout(self, y):
        return y


class Pairwise(dx.models.AbstractDynamics):
    """Integrators, except that channel 0 decays while channels 0 and 1 are both
    positive: exactly the patterns (+, +, *) are lost."""

    gain: jax.Array

    def __call__(self, t, y, args):
        drain = jnp.where((y[0] > 0) & (y[1] > 0), -2.0 * y[0], 0.0)
        return self.gain * args.evaluate(t) + drain * jnp.eye(3, dtype=y.dtype)[0]

    def init_state(self):
        return jnp.zeros(3)

    def readout(self, y):
        return y


def test_bit_patterns_are_every_sign_pattern_once():
    got = {tuple(p) for p in bit_patterns(3).astype(int)}
    assert got == set(itertools.product((-1, 1), repeat=3))
    assert bit_patterns(4).shape == (16, 4)


def test_perfect_memory_holds_every_pattern():
    model = Leaky(jnp.zeros(3), jnp.full(3, 10.0))  # a pulse sets |y| = 1
    ret = dx.train.memory_retention(model, TASK, hold_steps=(10, 200))
    assert ret.held.shape == (8, 2) and bool(ret.held.all())
    np.testing.assert_array_equal(ret.lost_at, -1)
    np.testing.assert_array_equal(ret.fraction, [1.0, 1.0])
    assert int(ret.n_held) == 8


def test_leaky_memory_is_lost_when_the_closed_form_says():
    """Euler on the task grid: channel c is set to gain*dt*p at index c*gap + 1 and
    then shrinks by (1 - k dt) per step; a pattern is lost at the first hold step
    where some channel is at or below the threshold."""
    k = jnp.array([0.05, 0.2, 0.1])
    gain, dt, thr = 10.0, TASK.dt, 0.5
    model = Leaky(k, jnp.full(3, gain))
    holds = (5, 20, 40, 400)
    ret = dx.train.memory_retention(model, TASK, hold_steps=holds, threshold=thr)
    gap = TASK.settle_steps + 1
    start = 3 * gap
    t = np.arange(401)
    # value of channel c at hold step t (sample start + t)
    value = np.stack(
        [
            gain * dt * (1 - float(k[c]) * dt) ** (start + t - c * gap - 1)
            for c in range(3)
        ]
    )
    ok = np.all(value > thr, axis=0)
    lost = int(np.argmin(ok))
    assert 20 < lost < 400  # the chosen rates make some holds pass and some fail
    np.testing.assert_array_equal(ret.lost_at, lost)  # the same for every pattern
    want = np.array([h < lost for h in holds])
    np.testing.assert_array_equal(ret.held, np.broadcast_to(want, (8, 4)))
    np.testing.assert_allclose(ret.fraction, want.astype(float))
    assert int(ret.n_held) == 0


def test_pattern_dependent_loss_and_ensemble_equals_loop():
    ens = eqx.filter_vmap(lambda g: Pairwise(g))(jnp.array([10.0, 10.0]))
    ens = eqx.tree_at(lambda m: m.gain, ens, jnp.array([10.0, 3.0]))
    ret = dx.train.memory_retention(ens, TASK, hold_steps=(50,), ensemble=True)
    pats = bit_patterns(3)
    lost = (pats[:, 0] > 0) & (pats[:, 1] > 0)
    # gain 10: |y| = 1 after a pulse; gain 3: |y| = 0.3 < threshold: nothing held.
    np.testing.assert_array_equal(ret.held[0, :, 0], ~lost)
    assert not bool(ret.held[1].any())
    np.testing.assert_array_equal(ret.n_held, [6, 0])
    np.testing.assert_array_equal(ret.lost_at[1], 0)
    for i in range(2):
        one = dx.train.memory_retention(dx.member(ens, i), TASK, hold_steps=(50,))
        np.testing.assert_array_equal(one.held, ret.held[i])
        np.testing.assert_array_equal(one.lost_at, ret.lost_at[i])


def test_float32_network():
    model = Leaky(jnp.zeros(3, jnp.float32), jnp.full(3, 10.0, jnp.float32))
    ret = dx.train.memory_retention(model, TASK, hold_steps=(10,))
    assert int(ret.n_held) == 8


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(task=dx.tasks.SineWave()), TypeError, "task: expected"),
        (dict(hold_steps=()), ValueError, "hold_steps: expected"),
        (dict(hold_steps=(0, 10)), ValueError, "hold_steps: expected"),
        (dict(hold_steps=(1.5,)), ValueError, "hold_steps: expected"),
        (dict(gap=2), ValueError, "gap: expected"),
        (dict(threshold=-1.0), ValueError, "threshold: expected"),
    ],
)
def test_bad_input(kwargs, error, match):
    model = Leaky(jnp.zeros(3), jnp.full(3, 10.0))
    kw = dict(task=TASK, hold_steps=(10,)) | kwargs
    task = kw.pop("task")
    with unchecked(), pytest.raises(error, match=match):
        dx.train.memory_retention(model, task, **kw)

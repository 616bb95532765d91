"""Speed along trajectories, slow/fast segments, closed orbits, kick neurons.

References: closed forms (the theta neuron's speed, the Stuart-Landau period
2 pi / (omega - c lambda) and phase = polar angle on the cycle), NumPy quantiles
and run finding, and a relaxation oscillator whose driving units are known.
"""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from typecheck import unchecked

import dynax as dx
from dynax.analysis import (
    closed_orbit,
    kick_neurons,
    speed,
    speed_segments,
)


class Theta(dx.models.AbstractDynamics):
    """dtheta/dt = w - cos(theta) + u: slow near theta = 0 when w is just above 1."""

    w: jax.Array

    def __call__(self, t, y, args):
        u = 0.0 if args is None else args.evaluate(t)[0]
        return self.w - jnp.cos(y) + u

    def init_state(self):
        return jnp.zeros(1)


def test_speed_equals_the_closed_form_with_inputs_and_for_maps():
    th = jnp.linspace(-3.0, 3.0, 50)[:, None]
    q = speed(Theta(jnp.array(1.05)), th)
    np.testing.assert_allclose(q, 0.5 * (1.05 - np.cos(th[:, 0])) ** 2, rtol=1e-13)
    u = jnp.linspace(0.0, 1.0, 50)[:, None]
    q = speed(Theta(jnp.array(1.05)), th, ts=jnp.arange(50.0), inputs=u)
    np.testing.assert_allclose(q, 0.5 * (1.05 - np.cos(th[:, 0]) + u[:, 0]) ** 2)
    # a map's speed is its step: F(y) - y
    rnn = dx.models.VanillaRNN(0, 3, 1, key=jr.key(0))
    ys = jr.normal(jr.key(1), (4, 7, 3))
    y = np.asarray(ys)
    step = np.tanh(y @ np.asarray(rnn.W).T + np.asarray(rnn.b)) - y
    want = 0.5 * np.sum(step**2, axis=-1)
    np.testing.assert_allclose(speed(rnn, ys), want, rtol=1e-12)


def numpy_runs(label):
    """(start, end, kind) of the maximal runs of one nonzero label (plain loop)."""
    out, k = [], 0
    while k < len(label):
        if label[k] == 0:
            k += 1
            continue
        j = k
        while j + 1 < len(label) and label[j + 1] == label[k]:
            j += 1
        out.append((k, j + 1, label[k]))
        k = j + 1
    return out


def test_speed_segments_of_a_theta_neuron_match_numpy():
    model = Theta(jnp.array(1.02))
    ts = jnp.linspace(0.0, 60.0, 1201)
    traj = dx.simulate(model, jnp.array([-2.0]), ts, solver=diffrax.Tsit5())
    q = speed(model, traj.ys, ts=ts)
    seg = speed_segments(q, slow_quantile=0.3, fast_quantile=0.7)
    qn = np.asarray(q)
    lo, hi = np.quantile(qn, 0.3), np.quantile(qn, 0.7)
    label = np.where(qn <= lo, 1, np.where(qn >= hi, -1, 0))
    np.testing.assert_array_equal(seg.label, label)
    np.testing.assert_allclose([seg.slow_threshold, seg.fast_threshold], [lo, hi])
    runs = numpy_runs(label)
    n = int(seg.n_segments)
    assert n == len(runs) and n >= 4  # two slow passages (period 31), fast spikes
    parts = (np.asarray(seg.start[:n]), np.asarray(seg.end[:n]), seg.kind[:n])
    got = [(int(a), int(b), int(c)) for a, b, c in zip(*parts, strict=True)]
    assert got == runs
    assert np.all(np.asarray(seg.start[n:]) == 1201) and np.all(
        np.asarray(seg.kind[n:]) == 0
    )
    # slow segments sit near theta = 0 (mod 2 pi), where w - cos is smallest
    th = np.mod(np.asarray(traj.ys[:, 0]) + np.pi, 2 * np.pi) - np.pi
    assert np.abs(th[label == 1]).max() < np.abs(th[label == -1]).min()
    batched = jax.vmap(lambda v: speed_segments(v).n_segments)(jnp.stack([q, q[::-1]]))
    assert batched.shape == (2,)


@pytest.mark.parametrize("start, y0", [(0, None), (1000, [[0.2, 0.0]])])
def test_stuart_landau_period_and_phase(start, y0):
    """Period 2 pi / (omega - c lambda) (omega = 2 pi 0.8, c = 0.5, lambda = 1) to
    1e-6 relative (measured ~1e-8: 21 returns, crossing times O(dt^3)); on the
    cycle the phase is the polar angle, to 1e-4 rad (measured 6e-6)."""
    om, c = 2 * np.pi * 0.8, 0.5
    model = dx.models.StuartLandau(jnp.array([om]), 0.0, lam=1.0, shear=c)
    ts = jnp.linspace(0.0, 30.0, 3001)
    start_state = model.init_state() if y0 is None else jnp.asarray(y0)
    ys = dx.simulate(model, start_state, ts, solver=diffrax.Tsit5()).ys.reshape(3001, 2)
    orb = closed_orbit(ys, ts, start=start)
    period = 2 * np.pi / (om - c)
    assert abs(float(orb.period) / period - 1) < 1e-6
    assert bool(orb.closed) and float(orb.period_std) < 1e-5
    assert int(orb.n_returns) == int((30.0 - float(ts[start])) // period)
    angle = np.arctan2(ys[:, 1], ys[:, 0])
    ref = np.mod(angle - angle[start], 2 * np.pi)
    on_cycle = np.arange(3001) >= start
    diff = np.angle(np.exp(1j * (np.asarray(orb.phase) - ref)))[on_cycle]
    assert np.abs(diff).max() < 1e-4


def test_no_closed_orbit_for_a_decaying_spiral_and_vmap_over_trials():
    model = dx.models.StuartLandau(jnp.array([5.0]), 0.0, lam=-0.3)
    ts = jnp.linspace(0.0, 30.0, 3001)
    ys = dx.simulate(model, jnp.array([[1.0, 0.0]]), ts, solver=diffrax.Tsit5()).ys
    orb = closed_orbit(ys.reshape(3001, 2), ts)
    assert not bool(orb.closed) and int(orb.n_returns) == 0
    assert np.isnan(float(orb.period))
    cyc = dx.models.StuartLandau(jnp.array([5.0]), 0.0, lam=1.0)
    starts = jnp.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    yss = jax.vmap(lambda y: dx.simulate(cyc, y, ts, solver=diffrax.Tsit5()).ys)(starts)
    periods = jax.vmap(lambda y: closed_orbit(y.reshape(3001, 2), ts).period)(yss)
    np.testing.assert_allclose(periods, 2 * np.pi / 5.0, rtol=1e-6)


class Relaxation(dx.models.AbstractDynamics):
    """A van der Pol relaxation oscillator (x, y) in Lienard form driving two
    passive units (z1 <- x, z2 <- y) that act on nothing:

    dx = mu (x - x^3/3 - y), dy = x / mu, dz1 = -z1 + x, dz2 = -2 z2 + y.
    """

    mu: jax.Array

    def __call__(self, t, s, args):
        x, y, z1, z2 = s[0], s[1], s[2], s[3]
        return jnp.stack(
            [self.mu * (x - x**3 / 3 - y), x / self.mu, -z1 + x, -2 * z2 + y]
        )

    def init_state(self):
        return jnp.array([2.0, 0.0, 0.0, 0.0])


def test_kick_neurons_of_a_relaxation_oscillator():
    """Without x or y the oscillation stops (x settles at +-sqrt(3) or y freezes),
    so no fast jumps remain: effect near 1 (only the first transient is fast).
    The passive units act on nothing: the other units' trajectories and speeds are
    exactly those of the intact run, effect exactly 0."""
    model = Relaxation(jnp.array(5.0))
    ts = jnp.linspace(0.0, 60.0, 3001)
    res = kick_neurons(model, model.init_state(), ts, solver=diffrax.Tsit5())
    np.testing.assert_array_equal(res.units, np.arange(4))
    np.testing.assert_array_equal(res.effect[2:], 0.0)
    np.testing.assert_array_equal(res.transitions[2:], res.transitions_intact[2:])
    assert np.all(np.asarray(res.effect[:2]) > 0.9)
    assert np.all(np.asarray(res.transitions_intact) >= 10)  # two jumps per period
    np.testing.assert_allclose(res.fast_fraction_intact, 0.25, atol=1e-3)
    one = kick_neurons(model, model.init_state(), ts, units=[1], solver=diffrax.Tsit5())
    np.testing.assert_allclose(one.effect, res.effect[1:2], rtol=1e-12)


def test_kick_neurons_of_a_noise_driven_rnn_share_the_noise():
    """A noisy CTRNN with one unit that has no outgoing weights: with the same key
    for every run, that unit scores exactly 0."""
    net = dx.models.CTRNN(0, 5, 1, g=2.0, sigma_rec=0.3, key=jr.key(3))
    net = eqx.tree_at(lambda n: n.W, net, net.W.at[:, 4].set(0.0))
    ts = jnp.linspace(0.0, 20.0, 2001)
    res = kick_neurons(net, jnp.zeros(5), ts, key=jr.key(4))
    assert float(res.effect[4]) == 0.0
    assert np.all(np.isfinite(np.asarray(res.effect)))


def test_bad_input_raises_naming_the_argument():
    with unchecked():
        with pytest.raises(ValueError, match="start"):
            closed_orbit(jnp.zeros((10, 2)), jnp.arange(10.0), start=9)
        with pytest.raises(ValueError, match="ts: expected shape"):
            closed_orbit(jnp.zeros((10, 2)), jnp.arange(9.0))
        with pytest.raises(ValueError, match="fast_quantile"):
            speed_segments(jnp.ones(10), slow_quantile=0.6, fast_quantile=0.5)
        with pytest.raises(ValueError, match="inputs: expected leading axes"):
            speed(Theta(jnp.array(1.0)), jnp.zeros((5, 1)), inputs=jnp.zeros((4, 1)))
        model = Relaxation(jnp.array(5.0))
        with pytest.raises(ValueError, match=r"units: expected indices in \[0, 4\)"):
            kick_neurons(model, model.init_state(), jnp.linspace(0, 1, 11), units=[4])


def test_kick_neurons_of_a_map_use_the_step_and_flag_a_blow_up():
    """For a map the speed is that of the step, f(x) - x (NumPy by hand here).
    Unit 0 holds back a self-exciting unit 1: ablating unit 0 blows the run up,
    which is flagged and counted as fast (negative effect), never as stopping."""
    net = dx.models.VanillaRNN(1, 3, 1, activation=jax.nn.relu, key=jr.key(0))
    W = jnp.array([[0.0, 0.0, 0.0], [-100.0, 10.0, 0.0], [0.5, 0.0, 0.3]])
    net = eqx.tree_at(lambda n: (n.W, n.W_in), net, (W, jnp.ones((3, 1))))
    ts = jnp.arange(400.0)
    u = jnp.abs(jnp.sin(ts))[:, None]
    res = kick_neurons(net, jnp.zeros(3), ts, inputs=u)
    ys = np.asarray(dx.simulate(net, jnp.zeros(3), ts, inputs=u).ys)
    step = np.maximum(ys @ np.asarray(W).T + np.asarray(u), 0.0) - ys
    for i in range(3):
        q = 0.5 * np.sum(np.delete(step, i, axis=1) ** 2, axis=1)
        frac = np.mean(q >= np.quantile(q, 0.75))
        assert float(res.fast_fraction_intact[i]) == pytest.approx(frac)
    assert not bool(res.intact_diverged)
    np.testing.assert_array_equal(res.diverged, [True, False, False])
    assert float(res.effect[0]) < 0
    assert float(res.effect[1]) == 0.0  # unit 1 acts on nothing else

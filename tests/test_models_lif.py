"""Leaky integrate-and-fire reservoir: closed form, numpy loop, Dale's law, vmap."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from typecheck import unchecked

import dynax as dx
from dynax.models import LIFReservoir, LIFState


def spike_steps(model, n_steps):
    ts = jnp.arange(n_steps + 1.0) * model.dt  # a stepped map: ts spaced by dt
    traj = dx.simulate(model, model.init_state(), ts)
    return np.flatnonzero(np.asarray(traj.ys.spikes[:, 0]))


@pytest.mark.parametrize(
    ("current", "tau_m", "t_ref", "dt"),
    [(1.3, 20.0, 2.0, 1.0), (2.0, 10.0, 0.0, 1.0), (5.0, 20.0, 2.5, 1.0),
     (1.7, 15.0, 3.0, 0.5)],
)  # fmt: skip
def test_single_neuron_period_matches_closed_form(current, tau_m, t_ref, dt, getkey):
    # v_k = I (1 - alpha^k) from v = 0, alpha = exp(-dt/tau_m): the first spike is
    # at n* = ceil(ln(1 - theta/I) / ln alpha); after a spike the neuron is held
    # for ceil(t_ref/dt) steps, then restarts from 0: period n* + ceil(t_ref/dt).
    model = LIFReservoir(
        0, 1, tau_m=tau_m, t_ref=t_ref, dt=dt, bias=current, threshold=1.0,
        key=getkey(),
    )  # fmt: skip
    alpha = math.exp(-dt / tau_m)
    n_star = math.ceil(math.log(1 - 1.0 / current) / math.log(alpha))
    period = n_star + math.ceil(t_ref / dt)
    steps = spike_steps(model, 400)
    expected = np.arange(n_star, 401, period)
    np.testing.assert_array_equal(steps, expected)


def test_no_spikes_below_rheobase(getkey):
    model = LIFReservoir(0, 1, bias=0.999, threshold=1.0, key=getkey())
    assert spike_steps(model, 3000).size == 0
    above = LIFReservoir(0, 1, bias=1.001, threshold=1.0, key=getkey())
    assert spike_steps(above, 3000).size > 0


def test_subthreshold_potential_is_differentiable(getkey):
    # Below threshold v_k = b (1 - alpha^k) exactly, so dv_k/db = 1 - alpha^k.
    model = LIFReservoir(0, 1, bias=0.5, tau_m=20.0, key=getkey())

    def final_v(b):
        m = eqx.tree_at(lambda m: m.bias, model, jnp.reshape(b, (1,)))
        return dx.simulate(m, m.init_state(), jnp.arange(31.0)).ys.v[-1, 0]

    grad = jax.grad(final_v)(jnp.asarray(0.5))
    np.testing.assert_allclose(grad, 1 - math.exp(-30 / 20.0), rtol=1e-12)


def numpy_lif(model, u):
    """The documented update, written out in NumPy."""
    W, W_in = np.asarray(model.W), np.asarray(model.W_in)
    dt, theta = float(model.dt), float(model.threshold)
    a_s, a_m = np.exp(-dt / float(model.tau_syn)), np.exp(-dt / float(model.tau_m))
    n = W.shape[0]
    v = np.full(n, float(model.v_reset))
    i_syn, ref, s = np.zeros(n), np.zeros(n), np.zeros(n)
    out_v, out_s = [v.copy()], [s.copy()]
    for k in range(u.shape[0]):
        i_syn = a_s * i_syn + W @ s + W_in @ u[k]
        v_new = a_m * v + (1 - a_m) * (i_syn + np.asarray(model.bias))
        v_new[ref > 0] = float(model.v_reset)
        s = ((v_new >= theta) & (ref <= 0)).astype(float)
        v = np.where(s > 0, float(model.v_reset), v_new)
        ref = np.where(s > 0, float(model.t_ref), np.maximum(ref - dt, 0.0))
        out_v.append(v.copy())
        out_s.append(s.copy())
    return np.array(out_v), np.array(out_s)


def test_network_matches_numpy_loop(getkey):
    model = LIFReservoir(
        8, 60, density=0.3, w_exc=0.8, w_inh=1.5, w_in=1.0, w_max=2.0,
        v_reset=-0.2, t_ref=3.0, bias=0.3, key=getkey(),
    )  # fmt: skip
    u = np.asarray(jr.bernoulli(getkey(), 0.2, (120, 8)), np.float64)
    traj = dx.simulate(
        model, model.init_state(), jnp.arange(121.0), inputs=np.vstack([u, u[:1]])
    )
    ref_v, ref_s = numpy_lif(model, u)
    np.testing.assert_array_equal(np.asarray(traj.ys.spikes), ref_s)
    np.testing.assert_allclose(np.asarray(traj.ys.v), ref_v, rtol=1e-12, atol=1e-12)
    assert ref_s.sum() > 50  # the network is active: the comparison means something


def test_dale_law_and_weight_bounds(getkey):
    model = LIFReservoir(
        8, 200, frac_exc=0.75, density=0.2, input_density=0.5, w_exc=1.5,
        w_inh=1.5, w_in=1.5, w_max=2.0, key=getkey(),
    )  # fmt: skip
    W, mask = np.asarray(model.W), np.asarray(model.mask)
    exc = np.asarray(model.is_exc)
    assert exc.sum() == 150 and exc[:150].all()
    assert (W[:, exc] >= 0).all() and (W[:, ~exc] <= 0).all()
    assert np.abs(W).max() == pytest.approx(2.0)  # clipped at w_max
    assert (W[~mask] == 0).all() and (np.diag(W) == 0).all() and not np.diag(mask).any()
    assert abs(mask.mean() - 0.2 * 199 / 200) < 0.01
    W_in = np.asarray(model.W_in)
    assert (W_in >= 0).all() and (W_in <= 2.0).all()
    assert (W_in[~np.asarray(model.input_mask)] == 0).all()


def test_ensemble_equals_loop_and_float32(getkey):
    keys = jr.split(getkey(), 3)
    ens = dx.make_ensemble(
        lambda k: LIFReservoir(8, 60, density=0.3, w_exc=1.0, dtype=jnp.float32, key=k),
        keys,
    )
    u = jr.bernoulli(getkey(), 0.3, (80, 8)).astype(jnp.float32)
    ts = jnp.arange(80.0, dtype=jnp.float32)

    def run(m):
        return dx.simulate(m, m.init_state(), ts, inputs=u).ys

    batched = eqx.filter_vmap(run)(ens)
    assert batched.v.dtype == jnp.float32
    for i in range(3):
        one = run(dx.member(ens, i))
        assert isinstance(one, LIFState)
        np.testing.assert_array_equal(np.asarray(batched.spikes[i]), one.spikes)
        np.testing.assert_allclose(np.asarray(batched.v[i]), one.v, rtol=1e-6)
    assert float(batched.spikes.sum()) > 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"tau_m": 0.0}, "tau_m"), ({"tau_syn": -1.0}, "tau_syn"),
     ({"t_ref": -1.0}, "t_ref"), ({"dt": 0.0}, "dt"),
     ({"threshold": 0.0}, "threshold"), ({"frac_exc": 0.0}, "frac_exc"),
     ({"density": 1.5}, "density"), ({"input_density": 0.0}, "input_density"),
     ({"w_exc": 3.0}, "w_exc"), ({"w_in": -1.0}, "w_in"), ({"w_max": 0.0}, "w_max"),
     ({"bias": np.ones(3)}, "bias")],
)  # fmt: skip
def test_bad_arguments_name_the_argument(kwargs, match, getkey):
    with unchecked(), pytest.raises(ValueError, match=match):
        LIFReservoir(2, 10, key=getkey(), **kwargs)


def test_wrong_input_width_is_reported(getkey):
    model = LIFReservoir(3, 10, key=getkey())
    with unchecked(), pytest.raises(ValueError, match="inputs"):
        dx.simulate(model, model.init_state(), jnp.arange(5.0), inputs=jnp.ones((5, 2)))

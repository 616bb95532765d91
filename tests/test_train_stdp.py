"""STDP and the NALSM astrocyte: pair timing, bounds, recursion, ensembles."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import jax.tree_util as jtu
import numpy as np
import pytest
from typecheck import unchecked

import dynax as dx
from dynax.models import LIFReservoir
from dynax.train import STDP, Astrocyte, stdp


def two_neurons(frac_exc, key):
    """Neuron 0 (E) and 1 (E or I) each driven by its own input channel.

    An input spike at step k makes its neuron spike at step k + 1 (25 x (1 -
    e^{-1/20}) > 1 = threshold), and the recurrent synapses are too weak to cause
    spikes, so the spike times are set by the input.
    """
    m = LIFReservoir(
        2, 2, frac_exc=frac_exc, density=1.0, input_density=1.0, w_max=30.0,
        w_exc=0.0, w_inh=0.0, w_in=0.0, tau_syn=0.05, key=key,
    )  # fmt: skip
    sign = jnp.where(m.is_exc, 1.0, -1.0)
    W = jnp.array([[0.0, 0.5], [0.5, 0.0]]) * sign[None, :]
    return eqx.tree_at(
        lambda m: (m.W, m.W_in, m.input_mask),
        m,
        (W, 25.0 * jnp.eye(2), jnp.eye(2, dtype=bool)),
    )


def expected_change(pre_exc, d, rule):
    """Weight change of a synapse whose post spike follows its pre spike by d."""
    a_p, a_m = float(rule.a_plus), float(rule.a_minus)
    t_p, t_m = float(rule.tau_plus), float(rule.tau_minus)
    if d == 0:
        return 0.0
    if d > 0:  # causal: A+ for E/input, -A- for I (mirrored)
        return (a_p if pre_exc else -a_m) * math.exp(-d / t_p)
    return (-a_m if pre_exc else a_p) * math.exp(d / t_m)


@pytest.mark.parametrize("frac_exc", [1.0, 0.5])
@pytest.mark.parametrize(
    ("t0", "t1"), [(10, 11), (10, 13), (10, 17), (15, 9), (12, 12)]
)
def test_pair_weight_change_matches_exponential_window(frac_exc, t0, t1, getkey):
    model = two_neurons(frac_exc, getkey())
    rule = STDP(a_plus=0.01, a_minus=0.02, tau_plus=8.0, tau_minus=12.0)
    u = np.zeros((30, 2))
    u[t0 - 1, 0] = u[t1 - 1, 1] = 1.0  # neuron 0 spikes at t0, neuron 1 at t1
    ys = dx.simulate(model, model.init_state(), jnp.arange(30.0), inputs=u).ys
    assert np.flatnonzero(ys.spikes[:, 0]).tolist() == [t0]
    assert np.flatnonzero(ys.spikes[:, 1]).tolist() == [t1]
    trained, _ = stdp(model, u, rule=rule)
    dW = np.asarray(trained.W - model.W)
    exc = np.asarray(model.is_exc)
    np.testing.assert_allclose(dW[1, 0], expected_change(exc[0], t1 - t0, rule))
    np.testing.assert_allclose(dW[0, 1], expected_change(exc[1], t0 - t1, rule))
    # input j -> neuron j: pre one step before post, potentiation A+ e^{-1/tau+}
    dW_in = np.asarray(trained.W_in - model.W_in)
    np.testing.assert_allclose(np.diag(dW_in), 0.01 * math.exp(-1 / 8.0))
    assert (np.asarray(trained.W_in)[~np.eye(2, dtype=bool)] == 0).all()


def test_astrocyte_rate_sets_depression(getkey):
    model = two_neurons(1.0, getkey())
    u = np.zeros((30, 2))
    u[14, 0] = u[9, 1] = 1.0  # post (neuron 0) at 15 after pre (neuron 1) at 10
    astro = Astrocyte(tau=50.0, weight=0.002, bias=0.03, initial=0.01)
    trained, hist = stdp(model, u, rule=STDP(a_plus=0.01), astrocyte=astro)
    rate_at_15 = float(hist.rate[15])
    dW = float(trained.W[1, 0] - model.W[1, 0])  # pre 0 at 15, post 1 at 10
    np.testing.assert_allclose(dW, -rate_at_15 * math.exp(-5 / 10.0))


def random_net(key, n=60, **kw):
    kw = {"density": 0.3, "w_exc": 0.6, "w_inh": 1.0, "w_in": 1.0, "w_max": 1.5, **kw}
    return LIFReservoir(8, n, frac_exc=0.75, **kw, key=key)


def test_bounds_signs_and_missing_synapses(getkey):
    model = random_net(getkey())
    u = jr.bernoulli(getkey(), 0.2, (3, 60, 8)).astype(jnp.float64)
    exc, w_max = np.asarray(model.is_exc), 1.5
    existing_exc = np.asarray(model.mask) & exc[None, :]
    existing_inh = np.asarray(model.mask) & ~exc[None, :]
    for a_plus, a_minus in [(0.3, 0.2), (0.0, 0.3)]:  # mostly up; only down
        trained, _ = stdp(model, u, rule=STDP(a_plus=a_plus, a_minus=a_minus))
        W, W_in = np.asarray(trained.W), np.asarray(trained.W_in)
        assert (W[:, exc] >= 0).all() and (W[:, exc] <= w_max).all()
        assert (W[:, ~exc] <= 0).all() and (W[:, ~exc] >= -w_max).all()
        assert (np.abs(W_in) <= w_max).all()
        assert (W[~np.asarray(model.mask)] == 0).all()
        assert (W_in[~np.asarray(model.input_mask)] == 0).all()
        assert not np.allclose(W, np.asarray(model.W))
    # the rates are large: the bounds are reached, so the checks mean something
    assert (W[existing_exc] == 0).any() and np.isclose(W[existing_inh], -w_max).any()
    assert np.isclose(W_in, -w_max).any()
    first, _ = stdp(model, u, rule=STDP(a_plus=0.3, a_minus=0.2))
    assert np.isclose(np.asarray(first.W), w_max).any()


def test_history_matches_simulate_and_astrocyte_recursion(getkey):
    model = random_net(getkey())
    u = jr.bernoulli(getkey(), 0.15, (3, 60, 8)).astype(jnp.float64)
    frozen, hist = stdp(model, u, rule=STDP(a_plus=0.0, a_minus=0.0))
    assert (frozen.W == model.W).all() and (frozen.W_in == model.W_in).all()
    ts = jnp.arange(60.0)
    for i in range(3):  # each sample starts from rest: the raster of dx.simulate
        ys = dx.simulate(model, model.init_state(), ts, inputs=u[i]).ys
        np.testing.assert_array_equal(hist.n_liquid[i], ys.spikes.sum(axis=1))
    np.testing.assert_array_equal(hist.n_input, u.sum(axis=2))
    astro = Astrocyte(tau=40.0, weight=0.004, bias=0.02, initial=0.01)
    _, hist = stdp(model, u, rule=STDP(a_plus=0.01), astrocyte=astro)
    liquid, inputs = np.ravel(hist.n_liquid), np.ravel(hist.n_input)
    A, expected = 0.01, []
    for k in range(liquid.size):  # NALSM's recursion, dt = 1 ms
        expected.append(A)
        A = A + (0.004 * (liquid[k] - inputs[k]) + 0.02 - A) / 40.0
    np.testing.assert_allclose(np.ravel(hist.rate), expected, rtol=1e-12)
    assert liquid.sum() > 0


def test_vmap_over_ensemble_equals_loop(getkey):
    ens = dx.make_ensemble(random_net, jr.split(getkey(), 2))
    u = jr.bernoulli(getkey(), 0.15, (3, 60, 8)).astype(jnp.float64)
    astro = Astrocyte(tau=40.0, weight=0.004, bias=0.02, initial=0.01)

    def run(m):
        return stdp(m, u, rule=STDP(a_plus=0.01), astrocyte=astro)

    batched, hist = eqx.filter_vmap(run)(ens)
    for i in range(2):
        one, h = run(dx.member(ens, i))
        np.testing.assert_allclose(batched.W[i], one.W, rtol=1e-12)
        np.testing.assert_allclose(hist.rate[i], h.rate, rtol=1e-12)


def test_bad_arguments(getkey):
    model = random_net(getkey())
    with unchecked(), pytest.raises(ValueError, match="inputs"):
        stdp(model, jnp.zeros((5, 3)))
    with unchecked(), pytest.raises(ValueError, match="inputs"):
        stdp(model, jnp.zeros((8,)))
    with unchecked(), pytest.raises(TypeError, match="model"):
        stdp("not a network", jnp.zeros((5, 8)))  # type: ignore[arg-type]
    with unchecked(), pytest.raises(ValueError, match="tau_plus"):
        STDP(tau_plus=0.0)
    with unchecked(), pytest.raises(ValueError, match="a_minus"):
        STDP(a_minus=-1.0)
    with unchecked(), pytest.raises(ValueError, match="tau"):
        Astrocyte(tau=-1.0)


def measure_astrocyte(seed: int) -> dict:
    """Branching factors and rates of the NALSM validation (tests/margins.py)."""
    f32, n_steps = jnp.float32, 100
    k_train, k_test, k_net = jr.split(jr.PRNGKey(seed), 3)

    def poisson(key, n_samples):  # image-like: a fixed random rate per channel
        k_rate, k_spike = jr.split(key)
        rates = jr.uniform(k_rate, (n_samples, 1, 64), maxval=0.066)
        return jr.bernoulli(k_spike, rates, (n_samples, n_steps, 64)).astype(f32)

    u_train, u_test = poisson(k_train, 60), poisson(k_test, 20)
    nets = [
        LIFReservoir(
            64, 200, density=0.15, input_density=0.2, w_exc=w, w_inh=2.0, w_in=0.5,
            w_max=3.0, dtype=f32, key=k_net,
        )
        for w in (0.4, 0.0)
    ]  # fmt: skip
    ens = jtu.tree_map(lambda *x: jnp.stack(x) if eqx.is_array(x[0]) else x[0], *nets)
    ts = jnp.arange(n_steps + 1.0, dtype=f32)

    @eqx.filter_jit
    def measure(ens):
        def net(m):
            def one(u):
                u = jnp.concatenate([u, jnp.zeros_like(u[:1])])
                s = dx.simulate(m, m.init_state(), ts, inputs=u).ys.spikes[1:]
                return dx.analysis.branching_factor(s, m.W).value, jnp.sum(s)

            bf, count = jax.vmap(one)(u_test)
            return jnp.nanmean(bf), jnp.mean(count) / n_steps

        return eqx.filter_vmap(net)(ens)

    rule = STDP(a_plus=0.03)
    astro = Astrocyte(tau=100.0, weight=0.009, bias=0.044, initial=0.03)
    bf0, rate0 = (np.asarray(a) for a in measure(ens))
    plain = eqx.filter_vmap(lambda m: stdp(m, u_train, rule=rule)[0])(ens)
    bf_plain, rate_plain = (np.asarray(a) for a in measure(plain))
    modulated = eqx.filter_vmap(
        lambda m: stdp(m, u_train, rule=rule, astrocyte=astro)[0]
    )(ens)
    bf_astro, rate_astro = (np.asarray(a) for a in measure(modulated))
    return dict(bf0=bf0, bf_plain=bf_plain, bf_astro=bf_astro, rate0=rate0,
                rate_plain=rate_plain, rate_astro=rate_astro)  # fmt: skip


def astrocyte_margins(m: dict) -> dict:
    """Each bound of the test as ``bound - value`` (or ``value - bound``): >0 passes."""
    sup, sub = 0, 1
    dist0, dist_plain, dist_astro = (
        np.abs(m[k] - 1) for k in ("bf0", "bf_plain", "bf_astro")
    )
    return {
        "supercritical start bf0 > 1.2": float(m["bf0"][sup] - 1.2),
        "subcritical start bf0 < 0.3": float(0.3 - m["bf0"][sub]),
        # supercritical start: the astrocyte removes most of the distance to 1 while
        # keeping activity bounded; plain STDP's activity runs away
        "sup: dist_astro < 0.6 dist0": float(0.6 * dist0[sup] - dist_astro[sup]),
        "sup: rate_astro < 1.5 rate0": float(
            1.5 * m["rate0"][sup] - m["rate_astro"][sup]
        ),
        "sup: rate_plain > 3 rate_astro": float(
            m["rate_plain"][sup] - 3 * m["rate_astro"][sup]
        ),
        # subcritical start: the astrocyte lands near 1, plain STDP overshoots further
        "sub: dist_astro < 0.25": float(0.25 - dist_astro[sub]),
        "sub: dist_astro < dist_plain": float(dist_plain[sub] - dist_astro[sub]),
    }  # fmt: skip


@pytest.mark.usefixtures("optimized")  # run time > compile time
@pytest.mark.training
def test_astrocyte_moves_branching_factor_towards_one():
    """The NALSM validation: astrocyte STDP drives the branching factor towards 1.

    Two liquids (same wiring; strong or no recurrent excitation) start super- and
    subcritical. Plain STDP (A- = A+) potentiates without limit: from the
    subcritical start it overshoots past 1, from the supercritical one activity
    runs away (the NALSM measure then tends to ~1.1 because every neuron fires at
    saturation). The astrocyte holds the liquid's activity near the input's and
    brings the branching factor close to 1 from both sides.
    """
    margins = astrocyte_margins(measure_astrocyte(0))
    assert all(v > 0 for v in margins.values()), margins

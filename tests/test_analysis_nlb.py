"""NLB metrics against nlb_tools.evaluation on the same arrays."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from typecheck import unchecked

import dynax as dx
from dynax.analysis import bits_per_spike, co_bps, fp_bps, psth_r2, velocity_r2

ev = pytest.importorskip("nlb_tools.evaluation")

# Everything here is float64 arithmetic on the same numbers in a different order
# (nlb_tools sums NLL(null) and NLL(model) separately, dynax their difference; the
# ridge solves differ: LAPACK Cholesky in scikit-learn, dynax's plain-XLA one), so
# the results agree to rounding: measured differences <= 1e-15. RTOL = 1e-9
# leaves room for other BLAS builds and is far below any difference of definition
# (a different null model, fold split or alpha choice moves these scores by
# >= 1e-4).
RTOL = 1e-9


def poisson_data(rng, shape, low=0.05, high=1.5):
    rates = rng.uniform(low, high, shape)
    return rates, rng.poisson(rates).astype(float)


@pytest.mark.parametrize("shape", [(20, 35, 11), (3, 7, 2), (574, 35, 45)])
def test_bits_per_spike_equals_nlb_tools(shape):
    """Random shapes and MC_Maze-like val held-out (574 trials, 35 bins of 20 ms,
    45 held-out neurons); predictions are the true rates blurred by noise."""
    rng = np.random.default_rng(sum(shape))
    rates, spikes = poisson_data(rng, shape)
    pred = rates * rng.lognormal(0.0, 0.3, shape)
    spikes[0, : shape[1] // 2] = np.nan  # bins outside a trial, as NLB marks them
    ours = bits_per_spike(pred, spikes)
    theirs = ev.bits_per_spike(pred.copy(), spikes.copy())
    np.testing.assert_allclose(ours, theirs, rtol=RTOL)
    assert abs(float(ours) - float(theirs)) < 1e-12
    # per neuron: nlb_tools applied to one neuron at a time
    per = bits_per_spike(pred, spikes, per_neuron=True)
    each = [
        ev.bits_per_spike(pred[..., [i]], spikes[..., [i]]) for i in range(shape[2])
    ]
    np.testing.assert_allclose(per, each, rtol=RTOL)
    np.testing.assert_allclose(co_bps(pred, spikes), theirs, rtol=RTOL)


def test_neuron_mean_baseline_scores_zero_and_truth_scores_above():
    rng = np.random.default_rng(1)
    rates, spikes = poisson_data(rng, (50, 20, 8))
    spikes[4, 3:] = np.nan
    null = np.broadcast_to(np.nanmean(spikes, axis=(0, 1)), spikes.shape)
    assert abs(float(bits_per_spike(null, spikes))) < 1e-14
    np.testing.assert_allclose(bits_per_spike(null, spikes, per_neuron=True), 0.0,
                               atol=1e-14)  # fmt: skip
    assert float(bits_per_spike(rates, spikes)) > 0.05


def test_zero_rates_and_silent_neurons_as_nlb_tools():
    rng = np.random.default_rng(2)
    rates, spikes = poisson_data(rng, (10, 12, 5))
    spikes[..., 2] = 0.0  # a silent neuron: null rate 0 -> 1e-9 in both
    rates[0, 0, :] = 0.0
    theirs = ev.bits_per_spike(rates.copy(), spikes)
    ours = bits_per_spike(rates, spikes, zero_rate=1e-9)
    np.testing.assert_allclose(ours, theirs, rtol=RTOL)
    per = bits_per_spike(rates, spikes, per_neuron=True, zero_rate=1e-9)
    assert np.isnan(per[2]) or np.isinf(per[2])  # no spikes: undefined
    with unchecked(), pytest.raises(ValueError, match="^rates:.*zero_rate=1e-9"):
        bits_per_spike(rates, spikes)


def test_fp_bps_and_integer_spikes():
    rng = np.random.default_rng(3)
    r_in, s_in = poisson_data(rng, (30, 10, 9))
    r_out, s_out = poisson_data(rng, (30, 10, 4))
    rates, spikes = np.dstack([r_in, r_out]), np.dstack([s_in, s_out])
    theirs = ev.bits_per_spike(rates.copy(), spikes)
    np.testing.assert_allclose(fp_bps(rates, spikes.astype(np.int32)), theirs,
                               rtol=RTOL)  # fmt: skip


def test_jit_and_vmap_over_an_ensemble_of_predictions():
    rng = np.random.default_rng(4)
    rates, spikes = poisson_data(rng, (6, 9, 3))
    preds = rates[None] * rng.lognormal(0, 0.2, (4, 6, 9, 3))
    batched = jax.vmap(bits_per_spike, in_axes=(0, None))(preds, spikes)
    loop = [ev.bits_per_spike(p.copy(), spikes) for p in preds]
    np.testing.assert_allclose(batched, loop, rtol=RTOL)
    jitted = jax.jit(bits_per_spike)(jnp.asarray(preds[0]), jnp.asarray(spikes))
    np.testing.assert_allclose(jitted, loop[0], rtol=RTOL)


def test_psth_r2_equals_nlb_tools_with_jitter_and_empty_conditions():
    rng = np.random.default_rng(5)
    n_trials, n_time, n_neurons = 40, 30, 7
    rates = rng.gamma(2.0, 0.2, (n_trials, n_time, n_neurons))
    psth = rng.gamma(2.0, 0.2, (5, n_time, n_neurons))
    psth[:, :3] = np.nan  # outside the required window (covers the jitter)
    psth[:, -3:] = np.nan
    psth[2, :8] = np.nan
    order = rng.permutation(n_trials)
    cond = [order[:6], order[6:9], np.array([], int), order[9:20], order[20:33]]
    jitter = rng.integers(-3, 4, n_trials)
    theirs = ev.eval_psth(psth, rates, cond, jitter=jitter)
    np.testing.assert_allclose(psth_r2(rates, psth, cond, jitter=jitter), theirs,
                               rtol=RTOL)  # fmt: skip
    ids = np.full(n_trials, -1)
    for c, idx in enumerate(cond):
        ids[idx] = c
    np.testing.assert_allclose(psth_r2(rates, psth, jnp.asarray(ids), jitter=jitter),
                               theirs, rtol=RTOL)  # fmt: skip
    no_jitter = ev.eval_psth(psth, rates, cond)
    np.testing.assert_allclose(psth_r2(rates, psth, cond), no_jitter, rtol=RTOL)


def decoding_data(rng, n_train, n_eval, n_time, n_neurons, scale=1.0, noise=2.0):
    W = rng.normal(size=(n_neurons, 2))
    x = scale * rng.gamma(2.0, 0.3, (n_train + n_eval, n_time, n_neurons))
    y = 0.3 * x @ W / scale + noise * rng.normal(size=x.shape[:2] + (2,))
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


def test_velocity_r2_equals_nlb_tools_grid_search():
    """GridSearchCV(Ridge, logspace(-4, 0, 9)) on 5 unshuffled folds: 111 kept
    training rows (ragged folds, 111 % 5 = 1) after dropping NaN behaviour rows.
    40 neurons against 111 rows and small rates put the cross-validated optimum
    inside the grid (alpha = 1e-2 here), so the fold split and the choice
    matter: the grid's end points score differently."""
    rng = np.random.default_rng(6)
    x, y, xe, ye = decoding_data(rng, 23, 9, 5, 40, scale=0.03, noise=1.0)
    y[2, 1:5] = np.nan  # behaviour missing in some bins (nlb_tools drops them)
    ye[1, :3] = np.nan
    assert (23 * 5 - 4) % 5 != 0
    masks = np.ones((23, 1), bool), np.ones((9, 1), bool)
    theirs = ev.velocity_decoding(x, y, masks[0], xe, ye, masks[1])
    ours = velocity_r2(x, y, xe, ye)
    np.testing.assert_allclose(ours, theirs, rtol=RTOL)
    for end in (1e-4, 1.0):
        assert abs(float(velocity_r2(x, y, xe, ye, alpha=end)) - theirs) > 1e-3
    fixed = ev.velocity_decoding(x, y, masks[0], xe, ye, masks[1], grid_search=False)
    np.testing.assert_allclose(velocity_r2(x, y, xe, ye, alpha=1e-2), fixed, rtol=RTOL)
    flat = velocity_r2(x.reshape(-1, 40), y.reshape(-1, 2), xe.reshape(-1, 40),
                       ye.reshape(-1, 2))  # fmt: skip
    np.testing.assert_allclose(flat, theirs, rtol=RTOL)


def test_velocity_r2_with_decode_masks_equals_nlb_tools():
    rng = np.random.default_rng(7)
    x, y, xe, ye = decoding_data(rng, 30, 12, 8, 6, noise=1.0)
    group_t, group_e = rng.integers(0, 2, 30) == 1, rng.integers(0, 2, 12) == 1
    mt = np.stack([group_t, ~group_t], axis=1)
    me = np.stack([group_e, ~group_e], axis=1)
    theirs = ev.velocity_decoding(x, y, mt, xe, ye, me)
    ours = velocity_r2(x, y, xe, ye, train_mask=mt, eval_mask=me)
    np.testing.assert_allclose(ours, theirs, rtol=RTOL)


def test_all_metrics_equal_nlb_tools_evaluate_on_mc_maze_shapes():
    """nlb_tools' own `evaluate` (the EvalAI scorer) on MC_Maze-like 20 ms arrays:
    182 neurons (137 held-in, 45 held-out), 35 bins + 10 forward bins, 120
    training and 60 evaluation trials, 6 conditions."""
    rng = np.random.default_rng(8)
    n_tr, n_ev, t, f, n_in, n_out = 120, 60, 35, 10, 137, 45
    true = rng.gamma(2.0, 0.15, (n_tr + n_ev, t + f, n_in + n_out))
    spikes = rng.poisson(true).astype(float)
    pred = true * rng.lognormal(0.0, 0.25, true.shape)
    W = rng.normal(size=(n_in + n_out, 2)) / 10
    vel = true[:, :t] @ W + 0.3 * rng.normal(size=(n_tr + n_ev, t, 2))
    cond_of = rng.integers(0, 6, n_ev)
    cond_idx = [np.flatnonzero(cond_of == c) for c in range(6)]
    psth = np.stack([true[n_tr:][idx, :t].mean(0) for idx in cond_idx])
    psth += 0.05 * rng.normal(size=psth.shape)
    ev_sl, tr_sl = slice(n_tr, None), slice(None, n_tr)
    target = {"mc_maze_20": {
        "eval_spikes_heldout": spikes[ev_sl, :t, n_in:],
        "train_behavior": vel[tr_sl], "eval_behavior": vel[ev_sl],
        "psth": psth, "eval_cond_idx": np.array(cond_idx + [None], object)[:-1],
        "eval_spikes_heldin_forward": spikes[ev_sl, t:, :n_in],
        "eval_spikes_heldout_forward": spikes[ev_sl, t:, n_in:],
    }}  # fmt: skip
    user = {"mc_maze_20": {
        "eval_rates_heldin": pred[ev_sl, :t, :n_in],
        "eval_rates_heldout": pred[ev_sl, :t, n_in:],
        "train_rates_heldin": pred[tr_sl, :t, :n_in],
        "train_rates_heldout": pred[tr_sl, :t, n_in:],
        "eval_rates_heldin_forward": pred[ev_sl, t:, :n_in],
        "eval_rates_heldout_forward": pred[ev_sl, t:, n_in:],
    }}  # fmt: skip
    theirs = ev.evaluate(target, user)[0]["mc_maze_20_split"]
    ours = {
        "co-bps": co_bps(pred[ev_sl, :t, n_in:], spikes[ev_sl, :t, n_in:]),
        "vel R2": velocity_r2(pred[tr_sl, :t], vel[tr_sl], pred[ev_sl, :t],
                              vel[ev_sl]),
        "psth R2": psth_r2(pred[ev_sl, :t], psth, cond_idx),
        "fp-bps": fp_bps(pred[ev_sl, t:], spikes[ev_sl, t:]),
    }  # fmt: skip
    assert set(theirs) == set(ours)
    for name, value in ours.items():
        np.testing.assert_allclose(value, theirs[name], rtol=RTOL, err_msg=name)
    assert 0.05 < theirs["co-bps"] and 0.1 < theirs["vel R2"] < 1.0


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda r, s: bits_per_spike(r, -s), "spikes"),
        (lambda r, s: bits_per_spike(r, s + 0.5), "spikes"),
        (lambda r, s: bits_per_spike(-r, s), "rates"),
        (lambda r, s: bits_per_spike(r * np.nan, s), "rates"),
        (lambda r, s: bits_per_spike(r[:, :2], s), "rates"),
        (lambda r, s: bits_per_spike(r, s, zero_rate=-1.0), "zero_rate"),
        (lambda r, s: psth_r2(r, r[:2], [np.array([0, 1]), np.array([1])]),
         "conditions"),
        (lambda r, s: psth_r2(r, r[:2], np.zeros(4)), "conditions"),
        (lambda r, s: psth_r2(r, r[:2, :1], [np.array([0])] * 2), "psths"),
        (lambda r, s: psth_r2(r, r[:2], np.zeros(4, int), jitter=np.zeros(3, int)),
         "jitter"),
        (lambda r, s: velocity_r2(r, s[..., :2], r, s[..., :1]), "rates_eval"),
        (lambda r, s: velocity_r2(r[:1, :2], s[:1, :2, :2], r, s[..., :2]),
         "vel_train"),
        (lambda r, s: velocity_r2(r, s[..., :2], r, s[..., :2], alpha=0.0), "alpha"),
        (lambda r, s: velocity_r2(r, s[..., :2], r, s[..., :2], n_folds=1),
         "n_folds"),
        (lambda r, s: velocity_r2(r, s[..., :2], r, s[..., :2],
                                  train_mask=np.ones((4, 1), bool)), "eval_mask"),
    ],
)  # fmt: skip
def test_bad_inputs_name_the_argument(call, name):
    rng = np.random.default_rng(9)
    rates, spikes = poisson_data(rng, (4, 5, 3))
    with unchecked(), pytest.raises((ValueError, TypeError), match=f"^{name}:"):
        call(rates, spikes)


def test_public_names():
    assert dx.analysis.bits_per_spike is bits_per_spike
    assert dx.analysis.velocity_r2 is velocity_r2


def test_metrics_compile_once_per_shape():
    from dynax.analysis import _nlb, _nlb_decoding

    rng = np.random.default_rng(10)
    cores = (_nlb._bits_per_spike, _nlb._psth_r2, _nlb_decoding._velocity_r2)

    def run():
        rates, spikes = poisson_data(rng, (12, 6, 4))
        bits_per_spike(rates, spikes)
        psth_r2(rates, rates[:3], rng.integers(-1, 3, 12))
        velocity_r2(rates, spikes[..., :2], rates, spikes[..., :2])

    run()
    before = [core._cached._cache_size() for core in cores]
    for _ in range(3):
        run()
    assert [core._cached._cache_size() for core in cores] == before

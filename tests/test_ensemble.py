"""dynax._ensemble: the ensemble check, the shared/per-member rule, chunking, and
simulate's members x trials axes against Python loops."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from helpers import Linear
from typecheck import unchecked

import dynax as dx
from dynax._ensemble import check_ensemble, map_members, member_axis

E, B, T = 3, 4, 12


def ctrnn_ensemble(sigma=0.0):
    return dx.make_ensemble(
        lambda k: dx.models.CTRNN(2, 5, 1, sigma_rec=sigma, key=k),
        jr.split(jr.PRNGKey(0), E),
    )


TS = 0.1 * jnp.arange(float(T))
U = jr.normal(jr.PRNGKey(1), (B, T, 2))


@pytest.mark.parametrize(
    "make",
    [
        ctrnn_ensemble,
        lambda: dx.make_ensemble(
            lambda k: dx.models.ESN(1, 10, key=k), jr.split(jr.PRNGKey(0), 2)
        ),
        lambda: dx.make_ensemble(
            lambda k: dx.models.LowRankRNN(1, 6, 1, rank=2, key=k),
            jr.split(jr.PRNGKey(0), 2),
        ),
    ],
)
def test_check_ensemble_both_directions(make):
    ens = make()
    check_ensemble(ens, True)
    check_ensemble(dx.member(ens, 0), False)
    with (
        unchecked(),
        pytest.raises(
            ValueError,
            match="ensemble: expected True for a stacked ensemble .* Pass "
            "ensemble=True",
        ),
    ):
        check_ensemble(ens, False)
    with (
        unchecked(),
        pytest.raises(ValueError, match="ensemble: expected False for one network"),
    ):
        check_ensemble(dx.member(ens, 0), True)
    with unchecked(), pytest.raises(TypeError, match="ensemble: expected a bool"):
        check_ensemble(ens, 1)  # type: ignore[arg-type]


def test_simulate_names_ensemble_before_tracing():
    ens = ctrnn_ensemble()
    one = dx.member(ens, 0)
    with (
        unchecked(),
        pytest.raises(
            ValueError, match="^ensemble: expected True for a stacked ensemble"
        ),
    ):
        dx.simulate(ens, one.init_state(), TS, inputs=U[0])
    with (
        unchecked(),
        pytest.raises(ValueError, match="^ensemble: expected False for one network"),
    ):
        dx.simulate(one, one.init_state(), TS, inputs=U[0], ensemble=True)


def test_member_axis_rule():
    assert member_axis("y0", jnp.zeros(5), 1, 3) is None
    assert member_axis("y0", jnp.zeros((3, 5)), 1, 3) == 0
    with (
        unchecked(),
        pytest.raises(ValueError, match=r"y0: expected rank 1 .* got shape \(4, 5\)"),
    ):
        member_axis("y0", jnp.zeros((4, 5)), 1, 3)
    with unchecked(), pytest.raises(ValueError, match="y0: expected rank 1"):
        member_axis("y0", jnp.zeros((3, 3, 5)), 1, 3)


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 5])
def test_chunks_equal_one_vmap(chunk_size):
    ens = ctrnn_ensemble()
    ys = jr.normal(jr.PRNGKey(2), (E, 5))

    def fn(m, y, x, k):
        return m(0.0, y, None) + x + jr.normal(k, y.shape)

    args, axes = (ys, jnp.ones(5)), (0, None)
    key = jr.PRNGKey(3)
    full = map_members(fn, ens, args, axes, key)
    chunked = jax.jit(
        lambda e, a: map_members(fn, e, a, axes, key, chunk_size=chunk_size)
    )(ens, args)
    np.testing.assert_allclose(chunked, full, rtol=1e-12)
    for i in range(E):  # member i sees its own state and its own key
        k = jr.split(key, E)[i]
        ref = fn(dx.member(ens, i), ys[i], jnp.ones(5), k)
        np.testing.assert_allclose(full[i], ref, rtol=1e-12)


def test_trials_equal_loop_over_trials():
    net = dx.member(ctrnn_ensemble(), 0)
    traj = dx.simulate(net, net.init_state(), TS, inputs=U, trials=True)
    assert traj.ys.shape == (B, T, 5) and traj.outputs.shape == (B, T, 1)
    assert traj.ok.shape == (B,)
    for b in range(B):
        one = dx.simulate(net, net.init_state(), TS, inputs=U[b])
        np.testing.assert_allclose(traj.ys[b], one.ys, rtol=1e-12)


def test_members_times_trials_with_shared_and_per_member_arguments():
    ens = ctrnn_ensemble()
    y0s = jr.normal(jr.PRNGKey(4), (E, 5))
    us = jr.normal(jr.PRNGKey(5), (E, B, T, 2))
    cases = [
        (jnp.zeros(5), U, lambda i: jnp.zeros(5), lambda i: U),
        (y0s, U, lambda i: y0s[i], lambda i: U),
        (jnp.zeros(5), us, lambda i: jnp.zeros(5), lambda i: us[i]),
    ]
    for y0, u, y0_of, u_of in cases:
        traj = dx.simulate(ens, y0, TS, inputs=u, ensemble=True, trials=True)
        assert traj.ys.shape == (E, B, T, 5)
        for i in range(E):
            m = dx.member(ens, i)
            for b in range(B):
                ref = dx.simulate(m, y0_of(i), TS, inputs=u_of(i)[b]).ys
                np.testing.assert_allclose(traj.ys[i, b], ref, rtol=1e-12)


def test_per_trial_initial_states():
    net = Linear(-jnp.eye(2), jnp.eye(2))
    y0 = jr.normal(jr.PRNGKey(6), (B, 2))
    traj = dx.simulate(net, y0, TS, inputs=jnp.zeros((B, T, 2)), trials=True)
    np.testing.assert_allclose(traj.ys[:, 0], y0)
    decay = (1 - 0.1) ** (T - 1)  # Euler on dy/dt = -y
    np.testing.assert_allclose(traj.ys[:, -1], y0 * decay, rtol=1e-10)


def test_noise_is_independent_per_member_and_trial():
    ens = ctrnn_ensemble(sigma=0.5)
    u = jnp.zeros((B, T, 2))
    traj = dx.simulate(
        ens, jnp.zeros(5), TS, inputs=u, ensemble=True, trials=True, key=jr.PRNGKey(7)
    )
    ends = np.asarray(traj.ys[:, :, -1]).reshape(E * B, 5)
    # all trajectories differ: no two members or trials share a Brownian path
    d = np.linalg.norm(ends[:, None] - ends[None], axis=-1)
    assert np.all(d[~np.eye(E * B, dtype=bool)] > 1e-6)


def test_chunked_simulate_equals_unchunked():
    ens = ctrnn_ensemble()
    kw = dict(inputs=U, ensemble=True, trials=True)
    full = dx.simulate(ens, jnp.zeros(5), TS, **kw)
    chunked = dx.simulate(ens, jnp.zeros(5), TS, chunk_size=2, **kw)
    np.testing.assert_allclose(chunked.ys, full.ys, rtol=1e-12)
    np.testing.assert_array_equal(chunked.ok, full.ok)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(inputs=U[0], trials=True), ValueError, "inputs: with trials=True"),
        (dict(inputs=None, trials=True), ValueError, "inputs: with trials=True"),
        (dict(inputs=U, trials="yes"), TypeError, "trials: expected a bool"),
        (dict(inputs=U[0], chunk_size=2), ValueError, "chunk_size: expected None"),
        (
            dict(y0=jnp.zeros((B + 1, 5)), inputs=U, trials=True),
            ValueError,
            "y0: expected one state",
        ),
    ],
)
def test_bad_batch_arguments(kwargs, error, match):
    net = dx.member(ctrnn_ensemble(), 0)
    y0 = kwargs.pop("y0", net.init_state())
    with unchecked(), pytest.raises(error, match=match):
        dx.simulate(net, y0, TS, **kwargs)


def test_bad_ensemble_arguments():
    ens = ctrnn_ensemble()
    with (
        unchecked(),
        pytest.raises(ValueError, match=r"y0: expected rank 1 \(shared by all 3"),
    ):
        dx.simulate(ens, jnp.zeros((E + 1, 5)), TS, inputs=U[0], ensemble=True)
    with unchecked(), pytest.raises(ValueError, match=r"inputs: expected rank 2"):
        dx.simulate(ens, jnp.zeros(5), TS, inputs=U, ensemble=True)
    with (
        unchecked(),
        pytest.raises(ValueError, match="chunk_size: expected an int >= 1"),
    ):
        dx.simulate(ens, jnp.zeros(5), TS, inputs=U[0], ensemble=True, chunk_size=0)


def test_one_trace_for_trials():
    net = dx.member(ctrnn_ensemble(), 0)
    run = eqx.debug.assert_max_traces(max_traces=1)(
        lambda u: dx.simulate(net, net.init_state(), TS, inputs=u, trials=True).ys
    )
    jax.jit(run)(U)
    jax.jit(run)(U + 1.0)

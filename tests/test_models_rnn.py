"""Continuous-time rate RNNs: CTRNN, LowRankRNN, EIRNN and their shared base."""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from typecheck import unchecked

import dynax as dx
from dynax.models import (
    CTRNN,
    EIRNN,
    AbstractRateRNN,
    AbstractStochasticDynamics,
    LowRankRNN,
)

N_IN, N, N_OUT = 2, 7, 3
FRAC = 0.8
TAU = np.linspace(0.5, 2.0, N)
KINDS = ["ctrnn", "lowrank", "eirnn"]
RECURRENT = {"ctrnn": "W", "lowrank": "m", "eirnn": "W_mag"}


def make(kind, key, *, dtype=None, **kw):
    """A model with per-unit tau, noise and random (non-zero) biases."""
    k_model, k_b, k_bo = jr.split(key, 3)
    opts = dict(tau=TAU, sigma_rec=0.3, dtype=dtype, key=k_model) | kw
    if kind == "ctrnn":
        model = CTRNN(N_IN, N, N_OUT, g=1.3, **opts)
    elif kind == "lowrank":
        model = LowRankRNN(N_IN, N, N_OUT, rank=2, **opts)
    else:
        model = EIRNN(N_IN, N, N_OUT, frac_exc=FRAC, **opts)
    dt = model.b.dtype
    biases = (0.3 * jr.normal(k_b, (N,), dt), 0.3 * jr.normal(k_bo, (N_OUT,), dt))
    return eqx.tree_at(lambda m: (m.b, m.b_out), model, biases)


def reference(kind, model):
    """Dense J, phi and parameters in NumPy, rebuilt from the model equations."""
    P = {
        k: np.asarray(getattr(model, k), np.float64)
        for k in ("W_in", "b", "W_out", "b_out", "log_tau", "sigma_rec")
    }
    if kind == "ctrnn":
        return np.asarray(model.W, np.float64), np.tanh, P
    if kind == "lowrank":
        m, n = np.asarray(model.m, np.float64), np.asarray(model.n, np.float64)
        return m @ n.T / N, np.tanh, P
    n_exc = int(round(FRAC * N))
    sign = np.where(np.arange(N) < n_exc, 1.0, -1.0)
    J = np.maximum(np.asarray(model.W_mag, np.float64), 0.0) * sign[None, :]
    np.fill_diagonal(J, 0.0)
    return J, (lambda x: np.maximum(x, 0.0)), P


def np_drift(J, phi, P, x, u):
    return (-x + J @ phi(x) + P["W_in"] @ u + P["b"]) / np.exp(P["log_tau"])


def fd_grad(loss, p, eps=1e-6):
    """Central finite differences of a scalar loss w.r.t. every entry of p."""
    flat = p.reshape(-1)
    basis = eps * jnp.eye(flat.size, dtype=p.dtype)
    f = jax.vmap(lambda e: loss((flat + e).reshape(p.shape)))
    return ((f(basis) - f(-basis)) / (2 * eps)).reshape(p.shape)


def euler_loss(model, x0, args, steps=15, dt=0.1):
    x = x0
    for k in range(steps):
        x = x + dt * model(k * dt, x, args)
    return jnp.sum(model.readout(x) ** 2)


@pytest.mark.parametrize("kind", KINDS)
def test_euler_and_readout_match_numpy(kind, getkey):
    model = make(kind, getkey())
    u = np.array([0.7, -0.4])
    args = dx.ConstantInput(jnp.asarray(u))
    x0 = np.asarray(jr.normal(getkey(), (N,), jnp.float64))
    J, phi, P = reference(kind, model)
    dt, steps = 0.05, 40
    x = x0.copy()
    for _ in range(steps):
        x = x + dt * np_drift(J, phi, P, x, u)
    step = eqx.filter_jit(lambda m, t, y: y + dt * m(t, y, args))
    y = jnp.asarray(x0)
    for k in range(steps):
        y = step(model, jnp.asarray(k * dt), y)
    assert not np.allclose(x, x0)
    np.testing.assert_allclose(y, x, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(
        model.readout(y), P["W_out"] @ phi(x) + P["b_out"], rtol=1e-11, atol=1e-12
    )
    np.testing.assert_allclose(
        model.diffusion(0.0, y, args), P["sigma_rec"] * np.sqrt(2.0 / TAU), rtol=1e-12
    )


@pytest.mark.parametrize("kind", KINDS)
def test_vmap_ensemble_equals_loop(kind, getkey):
    keys = jr.split(getkey(), 3)
    ens = eqx.filter_vmap(lambda k: make(kind, k))(keys)
    xs = jr.normal(getkey(), (3, N), jnp.float64)
    args = dx.ConstantInput(jnp.array([0.5, -1.0]))

    def evaluate(m, x):
        return m(0.3, x, args), m.diffusion(0.3, x, args), m.readout(x)

    batched = eqx.filter_vmap(evaluate)(ens, xs)
    for i in range(3):
        single = evaluate(make(kind, keys[i]), xs[i])
        for got, want in zip(batched, single, strict=True):
            np.testing.assert_allclose(got[i], want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", KINDS)
def test_jit_equals_no_jit(kind, getkey):
    model = make(kind, getkey())
    x = jr.normal(getkey(), (N,), jnp.float64)
    args = dx.ConstantInput(jnp.array([0.5, -1.0]))

    def evaluate(m, x):
        return m(0.1, x, args), m.diffusion(0.1, x, args), m.readout(x), m.tau

    for got, want in zip(
        eqx.filter_jit(evaluate)(model, x), evaluate(model, x), strict=True
    ):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", ["recurrent", "log_tau", "W_in"])
def test_grad_matches_finite_differences(kind, name, getkey):
    model = make(kind, getkey())
    x0 = jr.normal(getkey(), (N,), jnp.float64)
    args = dx.ConstantInput(jnp.array([0.5, -1.0]))
    name = RECURRENT[kind] if name == "recurrent" else name
    p = getattr(model, name)

    def loss(q):
        return euler_loss(eqx.tree_at(lambda m: getattr(m, name), model, q), x0, args)

    grad = jax.grad(loss)(p)
    fd = fd_grad(jax.jit(loss), p)
    # relu(W_mag) has a kink at 0 (clipped and diagonal magnitudes): skip those.
    away_from_kink = np.abs(np.asarray(p)) > 1e-4 if name == "W_mag" else True
    assert np.any(np.abs(grad) > 1e-6)
    np.testing.assert_allclose(
        np.where(away_from_kink, grad, 0.0),
        np.where(away_from_kink, fd, 0.0),
        rtol=1e-5,
        atol=1e-8,
    )


@pytest.mark.parametrize("kind", KINDS)
def test_float32_stays_float32(kind, getkey):
    model = make(kind, getkey(), dtype=jnp.float32)
    leaves = jax.tree.leaves(eqx.filter(model, eqx.is_inexact_array))
    assert {leaf.dtype for leaf in leaves} == {jnp.dtype(jnp.float32)}
    x = jr.normal(getkey(), (N,), jnp.float32)
    for u_dtype in (jnp.float32, jnp.float64):
        args = dx.ConstantInput(jnp.array([0.5, -1.0], u_dtype))
        outs = eqx.filter_jit(
            lambda m, x, a: (m(0.0, x, a), m.diffusion(0.0, x, a), m.readout(x))
        )(model, x, args)
        outs += (model(0.0, x, args), model.init_state(), model.tau)
        assert all(o.dtype == jnp.float32 for o in outs)


@pytest.mark.parametrize("kind", KINDS)
def test_learn_tau_false_stops_gradient(kind, getkey):
    key, x0 = getkey(), jr.normal(getkey(), (N,), jnp.float64)
    args = dx.ConstantInput(jnp.array([0.5, -1.0]))
    free, fixed = make(kind, key), make(kind, key, learn_tau=False)
    np.testing.assert_array_equal(free.tau, fixed.tau)
    np.testing.assert_allclose(free.tau, TAU, rtol=1e-12)
    g_free = eqx.filter_grad(euler_loss)(free, x0, args)
    g_fixed = eqx.filter_grad(euler_loss)(fixed, x0, args)
    assert np.any(np.abs(g_free.log_tau) > 1e-6)  # relu units may stay silent
    np.testing.assert_array_equal(g_fixed.log_tau, 0.0)
    np.testing.assert_allclose(g_fixed.W_in, g_free.W_in, rtol=1e-12)


def test_stationary_noise_std_is_sigma_rec(getkey):
    """With J = 0, dx = -x/tau dt + sigma sqrt(2/tau) dW has stationary std sigma."""
    sigma, tau, dt, n = 0.5, 2.0, 0.02, 500
    model = CTRNN(0, n, 1, tau=tau, g=0.0, sigma_rec=sigma, key=getkey())
    np.testing.assert_allclose(
        model.diffusion(0.0, model.init_state(), None), sigma * np.sqrt(2 / tau)
    )

    def step(x, key):
        noise = model.diffusion(0.0, x, None) * jr.normal(key, x.shape, x.dtype)
        return x + dt * model(0.0, x, None) + np.sqrt(dt) * noise, None

    def step_and_save(x, key):
        x, _ = step(x, key)
        return x, x

    x, _ = jax.lax.scan(step, model.init_state(), jr.split(getkey(), 1000))
    _, xs = jax.lax.scan(step_and_save, x, jr.split(getkey(), 2000))
    # Euler-Maruyama's stationary variance is sigma^2 / (1 - alpha / 2).
    want = sigma / np.sqrt(1 - dt / tau / 2)
    np.testing.assert_allclose(np.std(np.asarray(xs)), want, rtol=0.03)
    assert abs(np.mean(np.asarray(xs))) < 0.05 * sigma


def test_ctrnn_initialisation_statistics(getkey):
    n, n_in, n_out, g = 400, 4, 3, 1.5
    model = CTRNN(n_in, n, n_out, g=g, tau=3.0, key=getkey())
    np.testing.assert_allclose(np.std(model.W) * np.sqrt(n), g, rtol=0.03)
    np.testing.assert_allclose(np.std(model.W_in) * np.sqrt(n_in), 1.0, rtol=0.06)
    np.testing.assert_allclose(np.std(model.W_out) * np.sqrt(n), 1.0, rtol=0.07)
    np.testing.assert_array_equal(model.b, 0.0)
    np.testing.assert_array_equal(model.b_out, 0.0)
    np.testing.assert_allclose(model.log_tau, np.full(n, np.log(3.0)))
    assert model.log_tau.shape == (n,) and model.sigma_rec.shape == ()
    assert isinstance(model, AbstractRateRNN)
    assert isinstance(model, AbstractStochasticDynamics)


def test_no_input_channels(getkey):
    model = CTRNN(0, N, 1, key=getkey())
    x = jr.normal(getkey(), (N,), jnp.float64)
    J, phi, P = reference("ctrnn", model)
    want = np_drift(J, phi, P, np.asarray(x), np.zeros(0))
    np.testing.assert_allclose(model(0.0, x, None), want, rtol=1e-12)
    np.testing.assert_allclose(model(0.0, x, dx.ConstantInput(jnp.zeros(0))), want)
    assert model.W_in.shape == (N, 0)


def test_lowrank_recurrent_equals_dense(getkey):
    model = LowRankRNN(1, 12, 1, rank=3, key=getkey())
    r = jr.normal(getkey(), (12,), jnp.float64)
    m, n = np.asarray(model.m), np.asarray(model.n)
    np.testing.assert_allclose(model.J, m @ n.T / 12, rtol=1e-12)
    np.testing.assert_allclose(model.recurrent(r), model.J @ r, rtol=1e-12)
    assert np.linalg.matrix_rank(np.asarray(model.J)) == 3
    jaxpr = jax.make_jaxpr(model.recurrent)(r)
    shapes = [v.aval.shape for eqn in jaxpr.eqns for v in eqn.outvars]
    assert (12, 12) not in shapes  # the N x N matrix is never formed


def test_eirnn_dale_law_survives_any_w_mag(getkey):
    n = 10
    model = EIRNN(0, n, 1, frac_exc=0.7, key=getkey())
    assert model.n_exc == 7
    assert np.all(np.asarray(model.W_mag) >= 0)
    perturbed = eqx.tree_at(
        lambda m: m.W_mag, model, model.W_mag + 3.0 * jr.normal(getkey(), (n, n))
    )
    assert np.any(np.asarray(perturbed.W_mag) < 0)
    for net in (model, perturbed):
        W = np.asarray(net.W)
        assert np.all(W[:, :7] >= 0) and np.all(W[:, 7:] <= 0)
        np.testing.assert_array_equal(np.diag(W), 0.0)
        assert np.any(W[:, :7] > 0) and np.any(W[:, 7:] < 0)
        np.testing.assert_allclose(
            net.recurrent(jnp.ones(n)), W.sum(axis=1), rtol=1e-12, atol=1e-12
        )
    leaves = jax.tree.leaves(model)
    assert len(leaves) == 7  # W_mag, W_in, b, W_out, b_out, log_tau, sigma_rec


def test_eirnn_initialisation_is_balanced_with_radius_near_g(getkey):
    n, g = 200, 1.5
    model = EIRNN(0, n, 1, g=g, key=getkey())
    W = np.asarray(model.W)
    n_exc = model.n_exc
    assert n_exc == 160
    radius = np.max(np.abs(np.linalg.eigvals(W)))
    assert 0.8 * g < radius < 1.35 * g
    assert np.max(np.abs(W.sum(axis=1))) < 0.05 * g
    mean_e, mean_i = W[:, :n_exc].mean(), -W[:, n_exc:].mean()
    np.testing.assert_allclose(mean_i / mean_e, n_exc / (n - n_exc), rtol=0.1)


class Diagonal(AbstractRateRNN):
    """A user variant: J = diag(w), built on the public base class."""

    w: jax.Array
    log_tau: jax.Array
    W_in: jax.Array
    b: jax.Array
    W_out: jax.Array
    b_out: jax.Array
    sigma_rec: jax.Array
    activation: Callable = eqx.field(static=True, default=jnp.tanh)
    learn_tau: bool = eqx.field(static=True, default=True)
    n_in: int = eqx.field(static=True, default=0)
    n_hidden: int = eqx.field(static=True, default=3)
    n_out: int = eqx.field(static=True, default=1)

    def recurrent(self, r):
        return self.w * r


def test_user_variant_of_abstract_rate_rnn():
    z = jnp.zeros
    net = Diagonal(
        w=jnp.array([1.0, -2.0, 0.5]),
        log_tau=z(3),
        W_in=z((3, 0)),
        b=z(3),
        W_out=jnp.ones((1, 3)),
        b_out=z(1),
        sigma_rec=z(()),
    )
    x = np.array([0.1, -0.3, 2.0])
    want = -x + np.array([1.0, -2.0, 0.5]) * np.tanh(x)
    np.testing.assert_allclose(net(0.0, jnp.asarray(x), None), want, rtol=1e-12)
    np.testing.assert_allclose(net.readout(jnp.asarray(x)), [np.tanh(x).sum()])
    with unchecked(), pytest.raises(TypeError):
        AbstractRateRNN()  # pyright: ignore


def test_tau_swept_with_vmap(getkey):
    key = getkey()
    taus = jnp.array([0.5, 1.0, 4.0])
    ens = eqx.filter_vmap(lambda t: CTRNN(1, 4, 1, tau=t, key=key))(taus)
    got = eqx.filter_vmap(lambda m: m.tau)(ens)
    np.testing.assert_allclose(got, np.repeat(taus[:, None], 4, axis=1))
    with (
        unchecked(),
        pytest.raises(
            eqx.EquinoxRuntimeError, match=r"tau: expected (a value|every element) > 0"
        ),
    ):
        eqx.filter_vmap(lambda t: CTRNN(1, 4, 1, tau=t, key=key))(-taus)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(tau=0.0), r"tau: expected (a value|every element) > 0"),
        (dict(tau=-1.0), r"tau: expected (a value|every element) > 0"),
        (
            dict(tau=np.array([1.0, 1.0, -1.0, 1.0, 1.0])),
            r"tau: expected (a value|every element) > 0",
        ),
        (dict(tau=np.ones(3)), r"tau: expected a scalar or shape \(n_hidden,\)"),
        (dict(g=-0.5), r"g: expected (a value|every element) >= 0"),
        (dict(sigma_rec=-0.1), r"sigma_rec: expected (a value|every element) >= 0"),
        (dict(n_hidden=0), "n_hidden: expected an integer >= 1"),
        (dict(n_in=-1), "n_in: expected an integer >= 0"),
        (dict(n_out=-1), "n_out: expected an integer >= 0"),
    ],
)
def test_ctrnn_errors(kwargs, match, getkey):
    kwargs, sizes = dict(kwargs), dict(n_in=1, n_hidden=5, n_out=1)
    sizes.update({k: kwargs.pop(k) for k in list(kwargs) if k in sizes})
    with unchecked(), pytest.raises(ValueError, match=match):
        CTRNN(sizes["n_in"], sizes["n_hidden"], sizes["n_out"], **kwargs, key=getkey())


@pytest.mark.parametrize("rank", [0, 6])
def test_lowrank_rank_errors(rank, getkey):
    with (
        unchecked(),
        pytest.raises(ValueError, match=r"rank: expected an integer in \[1, 5\]"),
    ):
        LowRankRNN(1, 5, 1, rank=rank, key=getkey())


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(frac_exc=0.0), r"frac_exc: expected a number in \(0, 1\)"),
        (dict(frac_exc=1.0), r"frac_exc: expected a number in \(0, 1\)"),
        (dict(frac_exc=1.5), r"frac_exc: expected a number in \(0, 1\)"),
        (dict(frac_exc=0.05), "gives 0 excitatory and 5 inhibitory"),
        (dict(frac_exc=0.95), "gives 5 excitatory and 0 inhibitory"),
        (dict(g=-1.0), r"g: expected (a value|every element) >= 0"),
        (dict(sigma_rec=-1.0), r"sigma_rec: expected (a value|every element) >= 0"),
        (dict(tau=-1.0), r"tau: expected (a value|every element) > 0"),
    ],
)
def test_eirnn_errors(kwargs, match, getkey):
    with unchecked(), pytest.raises(ValueError, match=match):
        EIRNN(1, 5, 1, **kwargs, key=getkey())

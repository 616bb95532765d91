"""Discrete-time maps: GRU and VanillaRNN."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from typecheck import unchecked

import dynax as dx
from dynax.models import GRU, AbstractMap, VanillaRNN

N_IN, N, N_OUT = 3, 5, 2
KINDS = ["gru", "vanilla"]


def make(kind, key, *, dtype=None):
    """A model with random (non-zero) biases."""
    k_model, k_b, k_bo = jr.split(key, 3)
    if kind == "gru":
        model = GRU(N_IN, N, N_OUT, dtype=dtype, key=k_model)
        dt = model.W_out.dtype
        return eqx.tree_at(
            lambda m: m.b_out, model, 0.3 * jr.normal(k_bo, (N_OUT,), dt)
        )
    model = VanillaRNN(N_IN, N, N_OUT, g=1.2, dtype=dtype, key=k_model)
    dt = model.b.dtype
    biases = (0.3 * jr.normal(k_b, (N,), dt), 0.3 * jr.normal(k_bo, (N_OUT,), dt))
    return eqx.tree_at(lambda m: (m.b, m.b_out), model, biases)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_step(kind, model, h, u):
    """One step from the textbook equations, with NumPy."""
    if kind == "vanilla":
        W, W_in, b = (np.asarray(a) for a in (model.W, model.W_in, model.b))
        return np.tanh(W @ h + W_in @ u + b)
    # PyTorch's GRU layout (r, z, n blocks); equinox folds b_ir + b_hr etc. into
    # `bias` and keeps b_hn separately as `bias_n`.
    cell = model.cell
    W_ir, W_iz, W_in = np.split(np.asarray(cell.weight_ih), 3)
    W_hr, W_hz, W_hn = np.split(np.asarray(cell.weight_hh), 3)
    b_r, b_z, b_n = np.split(np.asarray(cell.bias), 3)
    r = _sigmoid(W_ir @ u + W_hr @ h + b_r)
    z = _sigmoid(W_iz @ u + W_hz @ h + b_z)
    n = np.tanh(W_in @ u + b_n + r * (W_hn @ h + np.asarray(cell.bias_n)))
    return (1.0 - z) * n + z * h


def np_readout(model, h):
    return np.asarray(model.W_out) @ h + np.asarray(model.b_out)


def fd_grad(loss, p, eps=1e-6):
    flat = p.reshape(-1)
    basis = eps * jnp.eye(flat.size, dtype=p.dtype)
    f = jax.vmap(lambda e: loss((flat + e).reshape(p.shape)))
    return ((f(basis) - f(-basis)) / (2 * eps)).reshape(p.shape)


def rollout_loss(model, h0, args, steps=8):
    h = h0
    for k in range(steps):
        h = model(k * 1.0, h, args)
    return jnp.sum(model.readout(h) ** 2)


@pytest.mark.parametrize("kind", KINDS)
def test_iterates_match_numpy(kind, getkey):
    model = make(kind, getkey())
    us = np.asarray(jr.normal(getkey(), (12, N_IN), jnp.float64))
    h0 = np.asarray(jr.normal(getkey(), (N,), jnp.float64))
    step = eqx.filter_jit(lambda m, t, h, u: m(t, h, dx.ConstantInput(u)))
    h_np, h_jax = h0.copy(), jnp.asarray(h0)
    for k, u in enumerate(us):
        h_np = np_step(kind, model, h_np, u)
        h_jax = step(model, jnp.asarray(float(k)), h_jax, jnp.asarray(u))
        np.testing.assert_allclose(h_jax, h_np, rtol=1e-12, atol=1e-13)
    assert not np.allclose(h_np, h0)
    np.testing.assert_allclose(model.readout(h_jax), np_readout(model, h_np), 1e-12)
    np.testing.assert_array_equal(model.init_state(), np.zeros(N))
    assert isinstance(model, AbstractMap)


@pytest.mark.parametrize("kind", KINDS)
def test_vmap_ensemble_equals_loop(kind, getkey):
    keys = jr.split(getkey(), 3)
    ens = eqx.filter_vmap(lambda k: make(kind, k))(keys)
    hs = jr.normal(getkey(), (3, N), jnp.float64)
    args = dx.ConstantInput(jnp.array([0.5, -1.0, 0.2]))

    def evaluate(m, h):
        return m(0.0, h, args), m.readout(h)

    batched = eqx.filter_vmap(evaluate)(ens, hs)
    for i in range(3):
        single = evaluate(make(kind, keys[i]), hs[i])
        for got, want in zip(batched, single, strict=True):
            np.testing.assert_allclose(got[i], want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", KINDS)
def test_jit_equals_no_jit(kind, getkey):
    model = make(kind, getkey())
    h = jr.normal(getkey(), (N,), jnp.float64)
    args = dx.ConstantInput(jnp.array([0.5, -1.0, 0.2]))

    def evaluate(m, h):
        return m(0.0, h, args), m.readout(h), m.init_state()

    for got, want in zip(
        eqx.filter_jit(evaluate)(model, h), evaluate(model, h), strict=True
    ):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    "kind, where",
    [
        ("gru", lambda m: m.cell.weight_hh),
        ("gru", lambda m: m.cell.bias_n),
        ("vanilla", lambda m: m.W),
        ("vanilla", lambda m: m.W_in),
    ],
)
def test_grad_matches_finite_differences(kind, where, getkey):
    model = make(kind, getkey())
    h0 = jr.normal(getkey(), (N,), jnp.float64)
    args = dx.ConstantInput(jnp.array([0.5, -1.0, 0.2]))

    def loss(q):
        return rollout_loss(eqx.tree_at(where, model, q), h0, args)

    p = where(model)
    grad = jax.grad(loss)(p)
    assert np.any(np.abs(grad) > 1e-6)
    np.testing.assert_allclose(grad, fd_grad(jax.jit(loss), p), rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("kind", KINDS)
def test_float32_stays_float32(kind, getkey):
    model = make(kind, getkey(), dtype=jnp.float32)
    leaves = jax.tree.leaves(eqx.filter(model, eqx.is_inexact_array))
    assert {leaf.dtype for leaf in leaves} == {jnp.dtype(jnp.float32)}
    h = jr.normal(getkey(), (N,), jnp.float32)
    for u_dtype in (jnp.float32, jnp.float64):
        args = dx.ConstantInput(jnp.array([0.5, -1.0, 0.2], u_dtype))
        outs = eqx.filter_jit(lambda m, h, a: (m(0.0, h, a), m.readout(h)))(
            model, h, args
        )
        outs += (model(0.0, h, args), model.init_state())
        assert all(o.dtype == jnp.float32 for o in outs)


@pytest.mark.parametrize("kind", KINDS)
def test_no_input_channels(kind, getkey):
    key = getkey()
    model = GRU(0, N, 1, key=key) if kind == "gru" else VanillaRNN(0, N, 1, key=key)
    h = jr.normal(getkey(), (N,), jnp.float64)
    want = np_step(kind, model, np.asarray(h), np.zeros(0))
    np.testing.assert_allclose(model(0.0, h, None), want, rtol=1e-12)
    np.testing.assert_allclose(model(0.0, h, dx.ConstantInput(jnp.zeros(0))), want)


def test_vanilla_initialisation_statistics(getkey):
    n, n_in, g = 300, 4, 0.9
    model = VanillaRNN(n_in, n, 3, g=g, key=getkey())
    np.testing.assert_allclose(np.std(model.W) * np.sqrt(n), g, rtol=0.03)
    np.testing.assert_allclose(np.std(model.W_in) * np.sqrt(n_in), 1.0, rtol=0.07)
    np.testing.assert_allclose(np.std(model.W_out) * np.sqrt(n), 1.0, rtol=0.08)
    np.testing.assert_array_equal(model.b, 0.0)


@pytest.mark.parametrize("cls", [GRU, VanillaRNN])
@pytest.mark.parametrize(
    "sizes, match",
    [
        ((1, 0, 1), "n_hidden: expected an integer >= 1"),
        ((-1, 4, 1), "n_in: expected an integer >= 0"),
        ((1, 4, -2), "n_out: expected an integer >= 0"),
    ],
)
def test_size_errors(cls, sizes, match, getkey):
    with unchecked(), pytest.raises(ValueError, match=match):
        cls(*sizes, key=getkey())


def test_vanilla_negative_gain_error(getkey):
    with (
        unchecked(),
        pytest.raises(ValueError, match=r"g: expected (a value|every element) >= 0"),
    ):
        VanillaRNN(1, 4, 1, g=-1.0, key=getkey())

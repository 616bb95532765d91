"""Constructors keep their values: the jitted initialisers equal the op-by-op formulas.

Each model's docstring promises its draws as plain ``jr.split`` / ``jr.normal`` /
``jr.uniform`` calls; the constructors build them in one jitted program, and these
tests pin them bit for bit (float32 and float64, raw and typed keys, under vmap).
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import dynax as dx
from dynax.models import scale_to_spectral_radius, sparse_matrix

DTYPES = [jnp.float32, jnp.float64]
KEYS = [lambda: jr.PRNGKey(3), lambda: jr.key(11)]


def _same(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def _gauss(key, shape, std, dtype):
    return jnp.asarray(std, dtype) * jr.normal(key, shape, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("make_key", KEYS)
def test_ctrnn_values_equal_the_documented_draws(dtype, make_key):
    key, tau = make_key(), jnp.linspace(1.0, 2.0, 40)
    net = dx.models.CTRNN(3, 40, 2, g=1.3, tau=tau, dtype=dtype, key=key)
    k_rec, k_rest = jr.split(key)
    k_in, k_out = jr.split(k_rest)
    _same(net.W, _gauss(k_rec, (40, 40), jnp.asarray(1.3, dtype) / 40**0.5, dtype))
    _same(net.W_in, _gauss(k_in, (40, 3), 1 / 3**0.5, dtype))
    _same(net.W_out, _gauss(k_out, (2, 40), 1 / 40**0.5, dtype))
    _same(net.log_tau, jnp.log(tau.astype(dtype)))
    _same(net.b, jnp.zeros(40, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("make_key", KEYS)
def test_lowrank_and_discrete_values_equal_the_documented_draws(dtype, make_key):
    key = make_key()
    net = dx.models.LowRankRNN(0, 30, 1, rank=2, dtype=dtype, key=key)
    k_m, k_n, k_rest = jr.split(key, 3)
    k_in, k_out = jr.split(k_rest)
    _same(net.m, jr.normal(k_m, (30, 2), dtype))
    _same(net.n, jr.normal(k_n, (30, 2), dtype))
    _same(net.W_in, _gauss(k_in, (30, 0), 1.0, dtype))
    _same(net.W_out, _gauss(k_out, (1, 30), 1 / 30**0.5, dtype))
    rnn = dx.models.VanillaRNN(2, 20, 3, g=1.2, dtype=dtype, key=key)
    k_rec, k_in, k_out = jr.split(key, 3)
    _same(rnn.W, _gauss(k_rec, (20, 20), jnp.asarray(1.2, dtype) / 20**0.5, dtype))
    _same(rnn.W_in, _gauss(k_in, (20, 2), 2**-0.5, dtype))
    _same(rnn.W_out, _gauss(k_out, (3, 20), 20**-0.5, dtype))
    gru = dx.models.GRU(2, 20, 3, dtype=dtype, key=key)
    k_cell, k_out = jr.split(key)
    cell = eqx.nn.GRUCell(2, 20, dtype=dtype, key=k_cell)
    for got, want in zip(jax.tree.leaves(gru.cell), jax.tree.leaves(cell), strict=True):
        _same(got, want)
    _same(gru.W_out, _gauss(k_out, (3, 20), 20**-0.5, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("density", [1.0, 0.2])
def test_esn_values_equal_sparse_matrix_draws(dtype, density):
    key = jr.PRNGKey(5)
    esn = dx.models.ESN(
        2, 50, n_out=2, feedback=True, density=density, input_scaling=0.5,
        bias_scaling=0.3, dtype=dtype, key=key,
    )  # fmt: skip
    k_w, k_in, k_b, k_fb = jr.split(key, 4)
    W = sparse_matrix(k_w, (50, 50), density=density, dtype=dtype)
    _same(esn.W, scale_to_spectral_radius(W, jnp.asarray(0.9, dtype)))
    uniform = lambda k, s: sparse_matrix(k, s, distribution="uniform", dtype=dtype)  # noqa: E731
    _same(esn.W_in, jnp.asarray(0.5, dtype) * uniform(k_in, (50, 2)))
    _same(esn.b, jnp.asarray(0.3, dtype) * uniform(k_b, (50, 1)).reshape(50))
    _same(esn.W_fb, jnp.asarray(1.0, dtype) * uniform(k_fb, (50, 2)))


def test_ensemble_members_equal_single_constructions():
    keys = jr.split(jr.PRNGKey(0), 3)
    for make in (
        lambda k: dx.models.CTRNN(2, 16, 1, key=k),
        lambda k: dx.models.EIRNN(2, 20, 1, key=k),
        lambda k: dx.models.ESN(1, 20, density=0.5, key=k),
    ):
        ens = dx.make_ensemble(make, keys)
        for i in range(len(keys)):
            for got, want in zip(
                jax.tree.leaves(dx.member(ens, i)),
                jax.tree.leaves(make(keys[i])),
                strict=True,
            ):
                np.testing.assert_allclose(got, want, rtol=0, atol=0)


@pytest.mark.xfail(
    strict=True,
    reason="known gap: with jax_threefry_partitionable=False (not JAX's default) the "
    "jitted initialiser differs from the op-by-op draws by 1 ulp",
)
def test_fallback_without_partitionable_threefry_matches_plain_draws():
    key = jr.PRNGKey(2)
    with jax.threefry_partitionable(False):
        net = dx.models.CTRNN(1, 12, 1, key=key)
        k_rec, k_rest = jr.split(key)
        k_in, k_out = jr.split(k_rest)
        _same(net.W, _gauss(k_rec, (12, 12), jnp.asarray(1.5) / 12**0.5, net.W.dtype))
        _same(net.W_out, _gauss(k_out, (1, 12), 1 / 12**0.5, net.W.dtype))


def test_initialiser_compiles_once_per_configuration():
    from dynax.models import _init

    programs = (_init._rate_rnn_bits, _init._rate_rnn_from_bits)
    dx.models.CTRNN(2, 24, 1, key=jr.PRNGKey(0))
    before = [f._cache_size() for f in programs]
    assert min(before) >= 1
    for seed in range(1, 4):
        dx.models.CTRNN(2, 24, 1, g=1.0 + seed, key=jr.PRNGKey(seed))
    assert [f._cache_size() for f in programs] == before

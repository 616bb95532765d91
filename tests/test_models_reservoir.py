"""Echo-state networks and reservoir initialisers."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from reservoirpy.nodes import Reservoir, Ridge
from typecheck import unchecked

import dynax as dx
from dynax.models import ESN, scale_to_spectral_radius, sparse_matrix, spectral_radius


def make(key, *, n_in=2, n=20, dtype=None, **kw):
    kw = {"leak": 0.4, "bias_scaling": 0.3, "density": 0.3, **kw}
    return ESN(n_in, n, spectral_radius=0.95, dtype=dtype, key=key, **kw)


def np_step(m, x, u, y=None):
    W, W_in, b = (np.asarray(a) for a in (m.W, m.W_in, m.b))
    pre = W @ x + W_in @ u + b
    if y is not None:
        pre = pre + np.asarray(m.W_fb) @ y
    a = np.asarray(m.leak)
    return (1 - a) * x + a * np.tanh(pre)


@pytest.mark.parametrize(
    ("n", "density", "dtype"),
    [(5, 1.0, jnp.float64), (120, 0.1, jnp.float64), (120, 1.0, jnp.float32),
     (20, 0.1, jnp.float32)],
)  # fmt: skip
def test_spectral_radius_matches_numpy_eigvals(n, density, dtype, getkey):
    W = sparse_matrix(getkey(), (n, n), density=density, dtype=dtype)
    ref = np.max(np.abs(np.linalg.eigvals(np.asarray(W, np.float64))))
    rho = spectral_radius(W)
    assert rho.dtype == dtype
    rtol = 1e-7 if dtype == jnp.float64 else 2e-5
    np.testing.assert_allclose(float(rho), ref, rtol=rtol)
    scaled = scale_to_spectral_radius(W, 0.7)
    got = np.max(np.abs(np.linalg.eigvals(np.asarray(scaled, np.float64))))
    np.testing.assert_allclose(got, 0.7, rtol=rtol)


def test_sparse_matrix_density(getkey):
    W = sparse_matrix(getkey(), (300, 300), density=0.1)
    frac = float(jnp.mean(W != 0))
    assert abs(frac - 0.1) < 0.005  # 9e4 Bernoulli(0.1) draws: std 0.001
    U = sparse_matrix(getkey(), (50, 50), distribution="uniform")
    assert float(jnp.max(jnp.abs(U))) <= 1.0 and float(jnp.min(jnp.abs(U))) > 0


def test_esn_matches_numpy_loop(getkey):
    m = make(getkey())
    ref_rho = np.max(np.abs(np.linalg.eigvals(np.asarray(m.W))))
    np.testing.assert_allclose(ref_rho, 0.95, rtol=1e-7)
    u = np.asarray(jr.normal(getkey(), (30, 2), jnp.float64))
    x0 = np.asarray(jr.normal(getkey(), (20,), jnp.float64))
    traj = dx.simulate(m, jnp.asarray(x0), jnp.arange(30.0), inputs=jnp.asarray(u))
    xs = [x0]
    for k in range(29):  # inputs[k] drives ys[k] -> ys[k+1]
        xs.append(np_step(m, xs[-1], u[k]))
    np.testing.assert_allclose(
        np.asarray(traj.ys), np.array(xs), rtol=1e-12, atol=1e-14
    )


def test_feedback_matches_numpy_loop(getkey):
    m = make(getkey(), n_out=2, feedback=True, feedback_scaling=0.5)
    W_out = 0.1 * jr.normal(getkey(), (2, 20), jnp.float64)
    b_out = jr.normal(getkey(), (2,), jnp.float64)
    m = m.with_readout(W_out, b_out)
    u = np.asarray(jr.normal(getkey(), (15, 2), jnp.float64))
    traj = dx.simulate(m, m.init_state(), jnp.arange(15.0), inputs=jnp.asarray(u))
    xs = [np.zeros(20)]
    for k in range(14):
        y = np.asarray(W_out) @ xs[-1] + np.asarray(b_out)
        xs.append(np_step(m, xs[-1], u[k], y))
    # states are O(1): an absolute floor of ~50 ulp for elements near zero
    np.testing.assert_allclose(
        np.asarray(traj.ys), np.array(xs), rtol=1e-12, atol=1e-14
    )
    outs = np.array(xs) @ np.asarray(W_out).T + np.asarray(b_out)
    np.testing.assert_allclose(np.asarray(traj.outputs), outs, rtol=1e-12, atol=1e-14)


def test_generate_matches_numpy_closed_loop(getkey):
    m = make(getkey(), n_in=1, n_out=1, feedback=True)
    m = m.with_readout(0.2 * jr.normal(getkey(), (1, 20)), jnp.array([0.1]))
    x0 = jr.normal(getkey(), (20,))
    preds, states = m.generate(x0, 12)
    x, ys = np.asarray(x0), []
    for _ in range(12):
        y = np.asarray(m.W_out) @ x + np.asarray(m.b_out)
        ys.append(y)
        x = np_step(m, x, y, y)
    np.testing.assert_allclose(np.asarray(preds), np.array(ys), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(np.asarray(states[0]), np.asarray(x0))


def test_same_states_as_reservoirpy(getkey):
    """reservoirpy's x(k) (made with u(k)) equals dynax's ys[k + 1]."""
    m = make(getkey(), n_in=1, n=50)
    u = np.asarray(jr.uniform(getkey(), (200, 1), jnp.float64))
    res = Reservoir(W=np.asarray(m.W), Win=np.asarray(m.W_in), bias=np.asarray(m.b))
    res.lr = float(m.leak)
    ref = res.run(u)
    ys = dx.simulate(m, m.init_state(), jnp.arange(200.0), inputs=jnp.asarray(u)).ys
    np.testing.assert_allclose(np.asarray(ys[1:]), ref[:-1], rtol=1e-10, atol=1e-13)


def test_mackey_glass_nrmse_equals_reservoirpy(getkey):
    """Same weights, same series, same fit: dynax and reservoirpy agree."""
    s = dx.data.mackey_glass(1600, washout=100)
    m = ESN(1, 300, spectral_radius=0.99, leak=0.3, density=0.1, key=getkey())
    ys = dx.simulate(m, m.init_state(), jnp.arange(1600.0), inputs=s[:, None]).ys
    readout = dx.train.ridge_readout(ys[:1200], s[:1200], alpha=1e-4, washout=101)
    pred = readout.predict(ys[1200:])[:, 0]
    err = float(dx.analysis.nrmse(pred, s[1200:]))
    sn = np.asarray(s)[:, None]
    res = Reservoir(W=np.asarray(m.W), Win=np.asarray(m.W_in), bias=np.asarray(m.b))
    res.lr = 0.3
    esn = res >> Ridge(ridge=1e-4)
    esn.fit(sn[:1199], sn[1:1200], warmup=100)
    pred_rp = esn.run(sn[1199:1599])[:, 0]
    err_rp = float(dx.analysis.nrmse(jnp.asarray(pred_rp), s[1200:]))
    assert err < 0.05  # a working one-step predictor (1 = predicting the mean)
    np.testing.assert_allclose(err, err_rp, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(pred), pred_rp, atol=1e-8)


def test_vmap_ensemble_equals_loop(getkey):
    keys = jr.split(getkey(), 3)
    ens = eqx.filter_jit(lambda ks: dx.make_ensemble(make, ks))(keys)
    u = jr.normal(getkey(), (10, 2))
    ts = jnp.arange(10.0)
    ys = dx.simulate(ens, jnp.zeros(20), ts, inputs=u, ensemble=True).ys
    for i, k in enumerate(keys):
        ref = dx.simulate(make(k), jnp.zeros(20), ts, inputs=u).ys
        np.testing.assert_allclose(
            np.asarray(ys[i]), np.asarray(ref), rtol=1e-12, atol=1e-14
        )
    # a swept spectral radius is an array leaf: one vmap over radii
    sweep = jax.jit(jax.vmap(lambda r: ESN(2, 20, spectral_radius=r, key=keys[0]).W))
    Ws = sweep(jnp.array([0.5, 1.1]))
    for W, r in zip(Ws, (0.5, 1.1), strict=True):
        got = np.max(np.abs(np.linalg.eigvals(np.asarray(W))))
        np.testing.assert_allclose(got, r, rtol=1e-7)


def test_float32_stays_float32(getkey):
    m = make(getkey(), dtype=jnp.float32, n_out=1, feedback=True)
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(m))
    u = jnp.ones((5, 2), jnp.float32)
    traj = dx.simulate(m, m.init_state(), jnp.arange(5.0, dtype=jnp.float32), inputs=u)
    assert traj.ys.dtype == jnp.float32 and traj.outputs.dtype == jnp.float32


def test_jit_equals_nojit_and_grad_equals_finite_differences(getkey):
    m = make(getkey(), n=6)
    u = jr.normal(getkey(), (8, 2))

    def loss(W_in):
        mm = eqx.tree_at(lambda e: e.W_in, m, W_in)
        x = mm.init_state()
        for k in range(5):
            x = mm.step(x, u[k])
        return jnp.sum(x**2)

    np.testing.assert_allclose(jax.jit(loss)(m.W_in), loss(m.W_in), rtol=1e-12)
    g = jax.jit(jax.grad(loss))(m.W_in)
    eps, flat = 1e-6, m.W_in.reshape(-1)
    f = jax.jit(jax.vmap(lambda e: loss((flat + e).reshape(6, 2))))
    basis = eps * jnp.eye(12)
    fd = (f(basis) - f(-basis)) / (2 * eps)
    np.testing.assert_allclose(np.asarray(g).reshape(-1), np.asarray(fd), rtol=1e-6)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"spectral_radius": 0.0}, "spectral_radius"),
        ({"spectral_radius": -1.0}, "spectral_radius"),
        ({"leak": 0.0}, "leak"),
        ({"leak": 1.5}, "leak"),
        ({"density": 0.0}, "density"),
        ({"input_scaling": -1.0}, "input_scaling"),
        ({"feedback": True}, "n_out"),
    ],
)
def test_bad_input(kw, match, getkey):
    with unchecked(), pytest.raises(ValueError, match=match):
        ESN(1, 10, key=getkey(), **kw)


def test_bad_readout_and_generate(getkey):
    m = ESN(1, 10, n_out=1, feedback=True, key=getkey())
    with unchecked(), pytest.raises(ValueError, match="weights, bias"):
        m.with_readout(jnp.zeros((1, 9)), jnp.zeros(1))
    with (
        unchecked(),
        pytest.raises(
            ValueError, match=r"weights: expected n_out = 1 outputs \(the feedback's\)"
        ),
    ):
        m.with_readout(jnp.zeros((2, 10)), jnp.zeros(2))
    with (
        unchecked(),
        pytest.raises(ValueError, match="generate: expected n_out = n_in = 2"),
    ):
        ESN(2, 10, n_out=1, key=getkey()).generate(jnp.zeros(10), 3)


def test_teacher_force_matches_numpy_and_ridge_generates_sine(getkey):
    """Jaeger's pattern generator: fit by ridge on teacher-forced states, run free."""
    m = make(getkey(), n_in=1, n=12, feedback=True, n_out=2)
    u, y = jr.normal(getkey(), (30, 1)), jr.normal(getkey(), (30, 2))
    states = m.teacher_force(jnp.zeros(12), u, y)
    x, ref = np.zeros(12), [np.zeros(12)]
    for k in range(29):
        x = np_step(m, x, np.asarray(u[k]), np.asarray(y[k]))
        ref.append(x)
    np.testing.assert_allclose(
        np.asarray(states), np.array(ref), rtol=1e-12, atol=1e-14
    )

    n, T, period = 200, 1500, 40
    gen = ESN(0, n, n_out=1, feedback=True, spectral_radius=0.8, leak=0.5,
              density=0.1, key=jr.PRNGKey(3))  # fmt: skip
    target = jnp.sin(2 * jnp.pi * jnp.arange(T + 300.0) / period)[:, None]
    xs = gen.teacher_force(jnp.zeros(n), None, target[:T])
    r = dx.train.ridge_readout(xs, target[:T], alpha=1e-8, washout=200)
    trained = gen.with_readout(r.weights, r.bias)
    out = dx.simulate(trained, xs[-1], jnp.arange(300.0)).outputs
    # xs[-1] has seen target[:T-1]; its output should be target[T-1], then onwards
    assert float(dx.analysis.nrmse(out, target[T - 1 : T + 299])) < 0.05
    with unchecked(), pytest.raises(ValueError, match="no feedback"):
        make(getkey()).teacher_force(jnp.zeros(20), u, y)
    with unchecked(), pytest.raises(ValueError, match="targets"):
        m.teacher_force(jnp.zeros(12), u, y[:, :1])
    with unchecked(), pytest.raises(ValueError, match="inputs"):
        m.teacher_force(jnp.zeros(12), u[:-1], y)


def test_known_hyperparameters_are_checked_on_the_host_inside_jit(getkey):
    """A Python number is checked at trace time, even under jit: an error at once,
    and no host callback in the compiled program (those can stall XLA's CPU runtime
    in large vmapped programs)."""
    key = getkey()
    with (
        unchecked(),
        pytest.raises(
            ValueError, match=r"leak: expected (a value|every element) in \(0, 1\]"
        ),
    ):
        jax.jit(lambda k: ESN(1, 5, leak=1.5, key=k).W)(key)

    def fit(m):
        ys = dx.simulate(m, m.init_state(), jnp.arange(20.0), inputs=jnp.ones((20, 1)))
        return dx.train.ridge_readout(ys.ys, jnp.ones(20), alpha=1e-3).weights

    ens = dx.make_ensemble(lambda k: ESN(1, 8, leak=0.5, key=k), jr.split(key, 3))
    hlo = eqx.filter_jit(eqx.filter_vmap(fit)).lower(ens).as_text()
    assert "callback" not in hlo
    # a swept (traced) value is still checked, when the program runs
    sweep = jax.jit(jax.vmap(lambda a: ESN(1, 5, leak=a, key=key).leak))
    with (
        unchecked(),
        pytest.raises(
            Exception, match=r"leak: expected (a value|every element) in \(0, 1\]"
        ),
    ):
        jax.block_until_ready(sweep(jnp.array([0.5, 1.5])))

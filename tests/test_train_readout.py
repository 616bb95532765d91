"""Ridge and FORCE readouts."""

import subprocess
import sys

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
import scipy.linalg
from reservoirpy.nodes import Ridge
from typecheck import unchecked

import dynax as dx
from dynax.train import force_readout, ridge_readout


def data(key, T=200, N=15, n_out=3):
    kx, kw, ke = jr.split(key, 3)
    X = jr.normal(kx, (T, N), jnp.float64) + 0.5
    W = jr.normal(kw, (n_out, N), jnp.float64)
    Y = X @ W.T + 0.3 * jr.normal(ke, (T, n_out), jnp.float64) + 2.0
    return X, Y


def lstsq_ridge(X, Y, alpha, washout):
    """Unpenalised bias: lstsq on [X 1; sqrt(alpha) I 0] [W; c] = [Y; 0]."""
    X, Y = np.asarray(X)[washout:], np.asarray(Y)[washout:]
    T, N = X.shape
    A = np.block([[X, np.ones((T, 1))], [np.sqrt(alpha) * np.eye(N), np.zeros((N, 1))]])
    B = np.vstack([Y, np.zeros((N, Y.shape[1]))])
    sol = np.linalg.lstsq(A, B, rcond=None)[0]
    return sol[:N].T, sol[N]


@pytest.mark.parametrize("alpha", [0.0, 1e-3, 10.0])
def test_ridge_equals_numpy_lstsq(alpha, getkey):
    X, Y = data(getkey())
    r = ridge_readout(X, Y, alpha=alpha, washout=7)
    W, c = lstsq_ridge(X, Y, alpha, 7)
    np.testing.assert_allclose(np.asarray(r.weights), W, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(np.asarray(r.bias), c, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(
        np.asarray(r.predict(X)), np.asarray(X) @ W.T + c, rtol=1e-9
    )
    np.testing.assert_allclose(np.asarray(r(X[3])), np.asarray(X[3]) @ W.T + c)


@pytest.mark.parametrize("n", [80, 200])
def test_ridge_blocked_cholesky_equals_lstsq(getkey, n):
    """n_features > 64 exercises the recursive blocked Cholesky (200: two levels)."""
    X, Y = data(getkey(), T=300, N=n, n_out=2)
    r = ridge_readout(X, Y, alpha=1e-2, washout=3)
    W, c = lstsq_ridge(X, Y, 1e-2, 3)
    np.testing.assert_allclose(np.asarray(r.weights), W, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(np.asarray(r.bias), c, rtol=1e-8, atol=1e-10)


@pytest.mark.slow  # a subprocess that compiles several vmapped fits
def test_two_vmapped_ridge_fits_in_one_program_finish(getkey):
    """Two ridge fits in one vmapped program (e.g. validation and test memory
    capacity) stalled forever with jaxlib's batched LAPACK Cholesky on a 2-thread
    pool, and two fits over arrays of alpha with its batched ``eigh``; in a
    subprocess with a timeout so a regression fails instead of hanging. Also
    float32 (the subprocess runs without x64) fits at tiny and zero ridge values on
    collinear states, which must stay finite."""
    code = """
import jax, jax.numpy as jnp, jax.random as jr
import dynax as dx
X = jr.normal(jr.PRNGKey(0), (2, 2000, 200))
u = jr.uniform(jr.PRNGKey(1), (2000,))
def two(x):
    a = dx.analysis.memory_capacity(x[:1000], u[:1000], max_delay=50).total
    b = dx.analysis.memory_capacity(x[1000:], u[1000:], max_delay=50).total
    w = dx.train.ridge_readout(x, u, alpha=1e-3).weights
    v = dx.train.ridge_readout(x[::-1], u, alpha=1e-2).weights
    return a + b + w.sum() + v.sum()
def sweeps(x):
    w = dx.train.ridge_readout(x, u, alpha=jnp.array([1e-3, 1e-2])).weights
    v = dx.train.ridge_readout(x[::-1], u, alpha=jnp.array([1e-3, 1e-1])).weights
    # float32 at zero and tiny ridge values on collinear states: finite
    c = jnp.concatenate([x[:400, :70], x[:400, :30] + 1e-7], axis=1)
    z = dx.train.ridge_readout(c, u[:400], alpha=jnp.array([0.0, 1e-10])).weights
    return jnp.stack([w.sum() + v.sum(), z.sum()])
for i in range(1):
    out = jax.block_until_ready(jax.jit(jax.vmap(sweeps))(X + i))
    assert out.dtype == jnp.float32 and bool(jnp.all(jnp.isfinite(out))), out
print(jax.jit(jax.vmap(two))(X).shape)
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "(2,)" in done.stdout


def esn_states(n, dtype):
    """The README's reservoir example: ESN states on Mackey-Glass, in ``dtype``."""
    s = dx.data.mackey_glass(1000, washout=100, dtype=dtype)
    esn = dx.models.ESN(
        1, n, spectral_radius=0.99, leak=0.3, density=0.1, key=jr.PRNGKey(10),
        dtype=dtype,
    )  # fmt: skip
    ts = jnp.arange(1000, dtype=dtype)
    return dx.simulate(esn, esn.init_state(), ts, inputs=s[:, None]).ys, s


def numpy_ridge(X, Y, alpha, how):
    """Centred ridge in NumPy, in the dtype of X: normal equations or lstsq."""
    x_mean, y_mean = X.mean(0), Y.mean(0)
    Xc, Yc = X - x_mean, Y - y_mean
    n, dt = X.shape[1], X.dtype
    if how == "solve":
        W = np.linalg.solve(Xc.T @ Xc + dt.type(alpha) * np.eye(n, dtype=dt), Xc.T @ Yc)
    else:
        A = np.vstack([Xc, np.sqrt(dt.type(alpha)) * np.eye(n, dtype=dt)])
        B = np.vstack([Yc, np.zeros((n, Y.shape[1]), dt)])
        W = np.linalg.lstsq(A, B, rcond=None)[0]
    return W.T, y_mean - x_mean @ W


def test_ridge_float32_esn_states_as_good_as_float64():
    """float32 reservoir states are numerically rank deficient: X^T X + alpha I is
    not numerically positive definite for alpha <= 1e-4 (300 units), where a plain
    Cholesky gave NaN weights. The fit must be finite and predict as well as a
    float64 fit of the same states and NumPy's float32 lstsq (and at least as well
    as NumPy's float32 normal-equation solve)."""
    ys, s = esn_states(300, jnp.float32)
    alphas = np.logspace(-10, -2, 9).astype(np.float32)
    r = ridge_readout(ys[:800], s[:800], alpha=jnp.asarray(alphas), washout=100)
    assert r.weights.dtype == jnp.float32 and r.weights.shape == (9, 1, 300)
    for field in (r.weights, r.bias, r.condition, r.residual):
        assert np.all(np.isfinite(np.asarray(field)))
    X, Y = np.asarray(ys[100:800]), np.asarray(s[100:800])[:, None]
    Xt, test = np.asarray(ys[800:]), np.asarray(s[800:])

    def err(W, c):
        pred = (Xt.astype(W.dtype) @ W.T + c)[:, 0]
        return np.sqrt(np.mean((pred - test) ** 2)) / np.std(test)

    for i, a in enumerate(alphas):
        ours = err(np.asarray(r.weights[i]), np.asarray(r.bias[i]))
        f64 = err(*numpy_ridge(X.astype(np.float64), Y.astype(np.float64), a, "lstsq"))
        lstsq32 = err(*numpy_ridge(X, Y, a, "lstsq"))
        solve32 = err(*numpy_ridge(X, Y, a, "solve"))
        assert ours < 1.5 * f64 and ours < 1.5 * lstsq32, (a, ours, f64, lstsq32)
        assert ours < 1.05 * solve32, (a, ours, solve32)


def test_ridge_alpha_zero_is_minimum_norm_least_squares(getkey):
    """Rank-deficient states (duplicated and constant columns; more features than
    rows) with alpha = 0: the minimum-norm least-squares solution (NumPy's pinv),
    where the plain normal equations gave NaN."""
    X, Y = data(getkey(), T=60, N=8, n_out=2)
    X = jnp.concatenate([X, X[:, :3], jnp.ones((60, 1))], axis=1)  # rank 8 of 12
    wide = jr.normal(getkey(), (10, 25), jnp.float64)  # rank 9 after centring
    for states, targets in ((X, Y), (wide, Y[:10])):
        r = ridge_readout(states, targets, alpha=0.0)
        Xc = np.asarray(states) - np.asarray(states).mean(0)
        Yc = np.asarray(targets) - np.asarray(targets).mean(0)
        W = (np.linalg.pinv(Xc) @ Yc).T
        np.testing.assert_allclose(np.asarray(r.weights), W, rtol=1e-8, atol=1e-10)
        c = np.asarray(targets).mean(0) - W @ np.asarray(states).mean(0)
        np.testing.assert_allclose(np.asarray(r.bias), c, rtol=1e-8, atol=1e-10)
    # float32: finite, the same fitted values as float32 lstsq, minimum norm
    r = ridge_readout(X.astype(jnp.float32), Y.astype(jnp.float32), alpha=0.0)
    W, c = numpy_ridge(np.asarray(X, np.float32), np.asarray(Y, np.float32), 0, "lstsq")
    np.testing.assert_allclose(
        np.asarray(r.predict(X.astype(jnp.float32))),
        np.asarray(X, np.float32) @ W.T + c,
        rtol=1e-4, atol=1e-4,
    )  # fmt: skip
    np.testing.assert_allclose(np.asarray(r.weights), W, rtol=1e-3, atol=1e-4)


def test_ridge_diagnostics_equal_numpy(getkey):
    X, Y = data(getkey(), T=120, N=10, n_out=2)
    alphas = jnp.array([0.0, 1e-2, 30.0])
    r = ridge_readout(X, Y, alpha=alphas, washout=4)
    assert r.condition is not None and r.residual is not None
    assert r.condition.shape == (3,) and r.residual.shape == (3, 2)
    Xn, Yn = np.asarray(X)[4:], np.asarray(Y)[4:]
    Xc = Xn - Xn.mean(0)
    for i, a in enumerate(np.asarray(alphas)):
        W, c = lstsq_ridge(X, Y, a, 4)
        rms = np.sqrt(np.mean((Xn @ W.T + c - Yn) ** 2, axis=0))
        np.testing.assert_allclose(np.asarray(r.residual[i]), rms, rtol=1e-9)
        cond = np.linalg.cond(Xc.T @ Xc + a * np.eye(10))
        np.testing.assert_allclose(float(r.condition[i]), cond, rtol=0.05)
    one = ridge_readout(X, Y, alpha=1e-2, washout=4)
    assert one.condition is not None and one.residual is not None
    assert one.condition.shape == () and one.residual.shape == (2,)
    # other readouts carry no diagnostics
    assert dx.train.Readout(one.weights, one.bias).condition is None


def test_ridge_gradient_equals_finite_differences(getkey):
    """d/dX of a loss of the fitted weights (float64), through the factorisation."""
    X, Y = data(getkey(), T=30, N=5, n_out=2)
    R = jr.normal(getkey(), (2, 5), jnp.float64)

    def loss(X):
        r = ridge_readout(X, Y, alpha=jnp.array([0.1, 1e-3]))
        return jnp.sum(r.weights * R[None]) + jnp.sum(r.bias)

    g = np.asarray(jax.grad(loss)(X))
    h, fd = 1e-6, np.zeros(X.shape)
    for i, j in [(0, 0), (3, 2), (17, 4), (29, 1)]:
        dX = jnp.zeros(X.shape).at[i, j].set(h)
        fd[i, j] = (float(loss(X + dX)) - float(loss(X - dX))) / (2 * h)
        np.testing.assert_allclose(g[i, j], fd[i, j], rtol=1e-6, atol=1e-8)


def test_ridge_without_bias_equals_scipy_solve(getkey):
    X, Y = data(getkey())
    r = ridge_readout(X, Y, alpha=0.5, bias=False)
    Xn, Yn = np.asarray(X), np.asarray(Y)
    ref = scipy.linalg.solve(Xn.T @ Xn + 0.5 * np.eye(15), Xn.T @ Yn, assume_a="pos")
    np.testing.assert_allclose(np.asarray(r.weights), ref.T, rtol=1e-10)
    assert np.all(np.asarray(r.bias) == 0)


def test_ridge_equals_reservoirpy_ridge(getkey):
    X, Y = data(getkey())
    node = Ridge(ridge=1e-2)
    node.fit(np.asarray(X), np.asarray(Y))
    r = ridge_readout(X, Y, alpha=1e-2)
    np.testing.assert_allclose(np.asarray(r.weights), node.Wout.T, rtol=1e-9)
    np.testing.assert_allclose(np.asarray(r.bias), np.ravel(node.bias), rtol=1e-9)


def test_ridge_batched_alphas_equal_loop(getkey):
    X, Y = data(getkey())
    alphas = jnp.array([1e-6, 1e-3, 1.0, 100.0])
    batched = ridge_readout(X, Y, alpha=alphas, washout=5)
    assert batched.weights.shape == (4, 3, 15) and batched.bias.shape == (4, 3)
    for i, a in enumerate(alphas):
        one = ridge_readout(X, Y, alpha=a, washout=5)
        np.testing.assert_allclose(batched.weights[i], one.weights, rtol=1e-7)
        np.testing.assert_allclose(batched.bias[i], one.bias, rtol=1e-7)


def test_ridge_vmap_over_ensemble_equals_loop(getkey):
    Xs, Ys = jax.vmap(lambda k: data(k, T=80, N=6, n_out=1))(jr.split(getkey(), 5))
    alphas = jnp.array([1e-4, 1.0])
    fit = jax.jit(jax.vmap(lambda x, y: ridge_readout(x, y, alpha=alphas, washout=3)))
    batched = fit(Xs, Ys)
    assert batched.weights.shape == (5, 2, 1, 6)
    for i in range(5):
        for j in range(2):
            W, c = lstsq_ridge(Xs[i], Ys[i], float(alphas[j]), 3)
            np.testing.assert_allclose(batched.weights[i, j], W, rtol=1e-8)
            np.testing.assert_allclose(batched.bias[i, j], c, rtol=1e-8)


def test_ridge_1d_targets_and_float32(getkey):
    X, Y = data(getkey(), n_out=1)
    r = ridge_readout(X.astype(jnp.float32), Y[:, 0].astype(jnp.float32), alpha=1e-2)
    assert r.weights.shape == (1, 15) and r.weights.dtype == jnp.float32
    W, _ = lstsq_ridge(X, Y, 1e-2, 0)
    np.testing.assert_allclose(np.asarray(r.weights), W, rtol=1e-3)


def test_ridge_bad_input(getkey):
    X, Y = data(getkey())
    with (
        unchecked(),
        pytest.raises(
            ValueError, match=r"alpha: expected (a value|every element) >= 0"
        ),
    ):
        ridge_readout(X, Y, alpha=-1.0)
    with (
        unchecked(),
        pytest.raises(
            ValueError, match=r"alpha: expected (a value|every element) >= 0"
        ),
    ):
        ridge_readout(X, Y, alpha=jnp.array([1.0, -1.0]))
    with unchecked(), pytest.raises(ValueError, match="washout"):
        ridge_readout(X, Y, alpha=1.0, washout=200)
    with unchecked(), pytest.raises(ValueError, match="washout"):
        ridge_readout(X, Y, alpha=1.0, washout=-1)
    with unchecked(), pytest.raises(ValueError, match="targets"):
        ridge_readout(X, Y[:-1], alpha=1.0)
    with unchecked(), pytest.raises(ValueError, match="states"):
        ridge_readout(X[:, :, None], Y, alpha=1.0)


def test_force_equals_numpy_rls(getkey):
    """The RLS recursion of Sussillo & Abbott (2009), step by step in NumPy."""
    m = dx.models.ESN(0, 12, n_out=2, feedback=True, spectral_radius=1.2, key=getkey())
    f = np.asarray(jr.normal(getkey(), (25, 2), jnp.float64))
    x0 = np.asarray(jr.normal(getkey(), (12,), jnp.float64))
    res = force_readout(m, jnp.asarray(x0), jnp.asarray(f), alpha=2.0)
    W, W_fb, a = np.asarray(m.W), np.asarray(m.W_fb), float(m.leak)
    x, w, P, zs = x0, np.zeros((2, 12)), np.eye(12) / 2.0, []
    for k in range(25):
        z = w @ x
        zs.append(z)
        P = P - np.outer(P @ x, x @ P) / (1 + x @ P @ x)
        w = w - np.outer(z - f[k], P @ x)
        x = (1 - a) * x + a * np.tanh(W @ x + W_fb @ (w @ x))
    np.testing.assert_allclose(np.asarray(res.outputs), np.array(zs), atol=1e-10)
    np.testing.assert_allclose(np.asarray(res.readout.weights), w, atol=1e-10)
    np.testing.assert_allclose(np.asarray(res.state), x, atol=1e-10)


def test_force_on_ei_reservoir_learns_open_loop_and_keeps_the_gains(getkey):
    """An EIAdaptiveReservoir declares no output feedback: FORCE learns its readout
    by RLS on the reservoir's own (open-loop) states, step by step as NumPy does,
    and never touches the inhibitory gains (it used to feed w @ x into them)."""
    m = dx.models.EIAdaptiveReservoir(2, 16, inhibitory_gain=0.7, key=getkey())
    u = np.asarray(jr.uniform(getkey(), (40, 2), jnp.float64))
    f = np.asarray(jr.normal(getkey(), (40, 3), jnp.float64))
    x0 = np.full(16, 0.3)
    res = force_readout(m, jnp.asarray(x0), jnp.asarray(f), inputs=u, alpha=0.5)
    W_E, W_I, W_in = (np.asarray(a) for a in (m.W_E, m.W_I, m.W_in))
    b, g, a, n_e = np.asarray(m.b), np.asarray(m.g), float(m.leak), m.n_exc
    x, w, P, zs = x0, np.zeros((3, 16)), np.eye(16) / 0.5, []
    for k in range(40):
        z = w @ x
        zs.append(z)
        P = P - np.outer(P @ x, x @ P) / (1 + x @ P @ x)
        w = w - np.outer(z - f[k], P @ x)
        pre = W_E @ x[:n_e] - g * (W_I @ x[n_e:]) + W_in @ u[k] + b
        x = (1 - a) * x + a / (1 + np.exp(-pre))
    np.testing.assert_allclose(np.asarray(res.outputs), np.array(zs), atol=1e-10)
    np.testing.assert_allclose(np.asarray(res.readout.weights), w, atol=1e-10)
    np.testing.assert_allclose(np.asarray(res.state), x, atol=1e-12)
    # the states are the network's own: simulate with the same gains agrees
    u_sim = np.concatenate([u, u[-1:]])  # simulate wants one row per time
    ys = dx.simulate(m, jnp.asarray(x0), jnp.arange(41.0), inputs=u_sim).ys
    np.testing.assert_allclose(np.asarray(res.state), np.asarray(ys[-1]), atol=1e-12)


def test_force_needs_a_declared_reservoir(getkey):
    ctrnn = dx.models.CTRNN(2, 8, 1, key=getkey())
    with (
        unchecked(),
        pytest.raises(TypeError, match=r"model: expected a discrete-time reservoir"),
    ):
        force_readout(ctrnn, jnp.zeros(8), jnp.zeros((10, 1)))
    with unchecked(), pytest.raises(TypeError, match=r"got a CTRNN"):
        force_readout(ctrnn, jnp.zeros(8), jnp.zeros((10, 1)))
    fb = dx.models.ESN(0, 8, n_out=2, feedback=True, key=getkey())
    with (
        unchecked(),
        pytest.raises(ValueError, match=r"targets: expected shape \(time, n_fb\)"),
    ):
        force_readout(fb, jnp.zeros(8), jnp.zeros((10, 3)))


def test_force_learns_sine_in_closed_loop(getkey):
    """Train with the output fed back, then run autonomously: the sine continues."""
    n, T, period = 300, 3000, 50
    m = dx.models.ESN(
        0, n, n_out=1, feedback=True, spectral_radius=1.5, leak=0.2, density=0.1,
        key=jr.PRNGKey(1),
    )  # fmt: skip
    target = jnp.sin(2 * jnp.pi * jnp.arange(T + 500.0) / period)[:, None]
    x0 = 0.5 * jr.normal(jr.PRNGKey(2), (n,), jnp.float64)
    res = force_readout(m, x0, target[:T], alpha=1.0)
    trained = m.with_readout(res.readout.weights, res.readout.bias)
    ts = jnp.arange(500.0)
    out = dx.simulate(trained, res.state, ts).outputs
    err = float(dx.analysis.nrmse(out, target[T:]))
    assert err < 0.05, err
    # the untrained network (zero readout) does not produce the sine
    untrained = dx.simulate(m, res.state, ts).outputs
    assert float(dx.analysis.nrmse(untrained, target[T:])) > 0.9


def test_one_trace_across_repeated_calls(getkey, monkeypatch):
    import dynax.train._readout as mod

    traces = []
    ridge = mod.ridge

    def counted(*args, **kwargs):
        traces.append(1)  # runs at trace time only
        return ridge(*args, **kwargs)

    monkeypatch.setattr(mod, "ridge", counted)
    for _ in range(3):
        X, Y = data(getkey())
        ridge_readout(X, Y, alpha=0.1, washout=2)
    assert len(traces) == 1

    m = dx.models.ESN(0, 8, n_out=1, feedback=True, key=getkey())
    calls = []
    step = type(m).step_feedback

    def counted_step(self, x, u, y):
        calls.append(1)
        return step(self, x, u, y)

    monkeypatch.setattr(dx.models.ESN, "step_feedback", counted_step)
    for _ in range(3):
        f = jr.normal(getkey(), (20, 1))
        force_readout(m, jnp.zeros(8), f, alpha=1.0)
    assert len(calls) == 1

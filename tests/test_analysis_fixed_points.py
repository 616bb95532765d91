import itertools

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optimistix as optx
import pytest
import scipy.optimize
from helpers import Linear
from typecheck import unchecked

import dynax as dx


def golub_W(n):
    """FixedPointFinder's test RNN: h <- tanh(W h), W symmetric circulant."""
    return np.stack([-np.roll(np.linspace(-1, 1, n), -i) for i in range(n)])


def scipy_roots(F, jac, grid, tol=1e-9):
    """Every distinct root scipy's hybrid Powell method finds from a grid."""
    roots = []
    for x0 in grid:
        sol = scipy.optimize.root(F, x0, jac=jac, tol=1e-14)
        if sol.success and np.linalg.norm(F(sol.x)) < tol:
            if not any(np.linalg.norm(sol.x - r) < 1e-6 for r in roots):
                roots.append(sol.x)
    return np.array(roots)


def match(found, reference, atol):
    """Every reference point has exactly one found point within atol, and back."""
    d = np.linalg.norm(found[:, None] - reference[None], axis=-1)
    assert found.shape == reference.shape, (found.shape, reference.shape)
    assert np.all(np.sum(d < atol, axis=0) == 1), d.min(axis=0)
    assert np.all(np.sum(d < atol, axis=1) == 1), d.min(axis=1)
    return np.argmin(d, axis=1)


def grid_points(n, lim=1.2, k=5):
    return np.array(list(itertools.product(np.linspace(-lim, lim, k), repeat=n)))


@pytest.mark.parametrize("n", [2, 3, 4])
def test_golub_maps_equal_scipy_roots(n):
    """Sets, stability and eigenvalues of h = tanh(W h) vs scipy roots, to 1e-5."""
    W = golub_W(n)
    f = lambda t, h, args: jnp.tanh(jnp.asarray(W) @ h)  # noqa: E731
    grid = grid_points(n, k=7 if n < 4 else 5)
    fps = dx.analysis.find_fixed_points(
        f, grid, kind="map", outlier_distance_scale=None
    )
    found = dx.analysis.unique_fixed_points(fps)
    F = lambda h: np.tanh(W @ h) - h  # noqa: E731
    jac_f = lambda h: (1 - np.tanh(W @ h) ** 2)[:, None] * W  # noqa: E731
    ref = scipy_roots(F, lambda h: jac_f(h) - np.eye(n), grid)
    order = match(found.points, ref, 1e-5)
    assert len(ref) == {2: 3, 3: 3, 4: 9}[n]  # algorithms.md: the published counts
    for i, j in enumerate(order):
        eig = np.linalg.eigvals(jac_f(ref[j]))
        np.testing.assert_allclose(
            np.sort(np.abs(found.eigvals[i])), np.sort(np.abs(eig)), atol=1e-5
        )
        assert found.n_unstable[i] == np.sum(np.abs(eig) > 1)
        assert found.stable[i] == np.all(np.abs(eig) < 1)


def test_golub_n4_published_values():
    """The n = 4 fixed points listed in algorithms.md (FixedPointFinder's test)."""
    f = lambda t, h, args: jnp.tanh(jnp.asarray(golub_W(4)) @ h)  # noqa: E731
    fps = dx.analysis.find_fixed_points(
        f, grid_points(4), kind="map", outlier_distance_scale=None
    )
    u = dx.analysis.unique_fixed_points(fps)
    published = {  # point -> (n_unstable, |lambda|max)
        (0.775516, -0.775516, 0.775516, -0.775516): (0, 0.751559),
        (0.962892, 0.525235, -0.962892, -0.525235): (1, 1.047430),
        (0.877263, -0.569696, 0.339745, -0.789648): (2, 1.315957),
        (0.339745, -0.789648, 0.877263, -0.569696): (2, 1.315957),
        (0.0, 0.0, 0.0, 0.0): (3, 1.885618),
    }
    for point, (n_unstable, lam) in published.items():
        for sign in (1, -1):
            d = np.linalg.norm(u.points - sign * np.array(point), axis=-1)
            i = int(np.argmin(d))
            assert d[i] < 1e-6
            assert u.n_unstable[i] == n_unstable
            assert abs(np.max(np.abs(u.eigvals[i])) - lam) < 1e-6


def hopfield(W, b):
    return lambda t, x, args: -x + jnp.asarray(W) @ jnp.tanh(x) + jnp.asarray(b)


def test_symmetric_flow_equals_scipy_roots(getkey):
    """A symmetric (Hopfield) rate network: every root scipy finds, same stability."""
    n = 4
    A = np.asarray(jr.normal(getkey(), (n, n)))
    W = 1.2 * (A + A.T) / 2
    b = 0.1 * np.asarray(jr.normal(getkey(), (n,)))
    grid = grid_points(n, lim=3.0, k=5)
    fps = dx.analysis.find_fixed_points(hopfield(W, b), grid)
    u = dx.analysis.unique_fixed_points(fps)
    F = lambda x: -x + W @ np.tanh(x) + b  # noqa: E731
    jac = lambda x: -np.eye(n) + W * (1 - np.tanh(x) ** 2)[None, :]  # noqa: E731
    ref = scipy_roots(F, jac, grid)
    assert len(ref) >= 3
    order = match(u.points, ref, 1e-5)
    for i, j in enumerate(order):
        eig = np.linalg.eigvals(jac(ref[j]))
        np.testing.assert_allclose(
            np.sort(u.eigvals[i].real), np.sort(eig.real), atol=1e-5
        )
        np.testing.assert_allclose(u.jacobians[i], jac(ref[j]), atol=1e-5)
        assert u.stable[i] == np.all(eig.real < 0)
        assert u.n_unstable[i] == np.sum(eig.real > 0)


def test_linear_flow_with_input_closed_form(getkey):
    """dx/dt = A x + B u: the one fixed point is -A^{-1} B u, eigenvalues eig(A)."""
    n = 5
    A = -2.0 * jnp.eye(n) + 0.5 * jr.normal(getkey(), (n, n))
    B = jr.normal(getkey(), (n, 2))
    u = jnp.array([0.3, -1.0])
    model = Linear(A, B)
    cands = jr.normal(getkey(), (64, n))
    fps = dx.analysis.find_fixed_points(model, cands, inputs=u)
    x_star = -np.linalg.solve(np.asarray(A), np.asarray(B @ u))
    assert int(fps.n_unique) == 1
    assert bool(fps.unique[0]) and bool(fps.converged[0])
    np.testing.assert_allclose(fps.points[0], x_star, atol=1e-9)
    assert np.all(np.linalg.norm(np.asarray(fps.points) - x_star, axis=-1) < 1e-9)
    eig = np.linalg.eigvals(np.asarray(A))
    np.testing.assert_allclose(
        np.sort_complex(np.asarray(fps.eigvals[0])), np.sort_complex(eig), atol=1e-9
    )
    assert bool(fps.stable[0]) == bool(np.all(eig.real < 0))
    same = dx.analysis.find_fixed_points(model, cands, args=dx.ConstantInput(u))
    np.testing.assert_array_equal(same.points, fps.points)


def test_slow_point_reported_with_speed():
    """dx/dt = x^2 + eps has no fixed point; q is smallest at x = 0, q = eps^2 / 2."""
    eps = 0.1
    f = lambda t, x, args: x**2 + eps  # noqa: E731
    cands = jnp.linspace(-1.0, 1.0, 11)[:, None]
    fps = dx.analysis.find_fixed_points(f, cands, tol=1e-12)
    assert int(fps.n_unique) == 1
    assert bool(fps.unique[0]) and not bool(fps.converged[0])
    np.testing.assert_allclose(fps.points[0], [0.0], atol=1e-4)
    np.testing.assert_allclose(fps.speed[0], eps**2 / 2, rtol=1e-6)
    assert len(dx.analysis.unique_fixed_points(fps).points) == 0
    slow = dx.analysis.unique_fixed_points(fps, include_slow=True)
    assert len(slow.points) == 1


def test_duplicates_outliers_and_truncation():
    """Duplicates collapse to the slowest copy; far points are outliers; max_points."""
    f = lambda t, x, args: -(x - 1.0) * (x + 1.0) * x  # noqa: E731  roots -1, 0, 1
    cands = jnp.concatenate([jnp.linspace(-1.5, 1.5, 31), jnp.array([1e3])])[:, None]
    fps = dx.analysis.find_fixed_points(f, cands)
    u = dx.analysis.unique_fixed_points(fps)
    np.testing.assert_allclose(np.sort(u.points[:, 0]), [-1.0, 0.0, 1.0], atol=1e-9)
    np.testing.assert_array_equal(np.sort(u.n_unstable), [0, 0, 1])
    assert int(fps.n_unique) == 3
    # The far candidate is itself a far start; with outlier removal off it is kept
    # as a slow or diverged point, never a fourth fixed point near the others.
    assert not np.any(np.asarray(fps.unique) & (np.abs(fps.points[:, 0]) > 2))
    cut = dx.analysis.find_fixed_points(f, cands, max_points=2)
    assert cut.points.shape == (2, 1) and int(cut.n_unique) == 3
    assert cut.jacobians is not None and cut.jacobians.shape == (2, 1, 1)
    np.testing.assert_array_equal(cut.points, fps.points[:2])
    coarse = dx.analysis.find_fixed_points(f, cands, unique_tol=1.5)
    assert int(coarse.n_unique) == 2  # 0 and one of +-1 absorb the rest greedily


def test_optimistix_solver_agrees(getkey):
    n = 3
    A = np.asarray(jr.normal(getkey(), (n, n)))
    W = 1.5 * (A + A.T) / 2
    grid = grid_points(n, lim=2.0, k=4)
    ours = dx.analysis.unique_fixed_points(
        dx.analysis.find_fixed_points(hopfield(W, np.zeros(n)), grid)
    )
    theirs = dx.analysis.unique_fixed_points(
        dx.analysis.find_fixed_points(
            hopfield(W, np.zeros(n)),
            grid,
            solver=optx.LevenbergMarquardt(rtol=1e-12, atol=1e-12),
        )
    )
    match(theirs.points, ours.points, 1e-6)


@pytest.mark.parametrize(
    "solver", [None, optx.LevenbergMarquardt(rtol=1e-10, atol=1e-10)]
)
def test_fixed_points_are_differentiable(getkey, solver):
    """d x*/d u of dx/dt = A x + B u is -A^{-1} B (implicit function theorem)."""
    A = -jnp.eye(3) + 0.3 * jr.normal(getkey(), (3, 3))
    B = jr.normal(getkey(), (3, 2))

    def point(u):
        fps = dx.analysis.find_fixed_points(
            Linear(A, B), jnp.zeros((1, 3)), inputs=u, solver=solver
        )
        return fps.points[0]

    u = jnp.array([0.5, -0.2])
    ref = -np.linalg.solve(np.asarray(A), np.asarray(B))
    np.testing.assert_allclose(jax.jacrev(point)(u), ref, atol=1e-10)
    np.testing.assert_allclose(jax.jacfwd(point)(u), ref, atol=1e-10)


def test_gradient_equals_finite_differences(getkey):
    """A nonlinear fixed point's derivative in a weight vs central differences."""
    n = 3
    A = np.asarray(jr.normal(getkey(), (n, n)))
    S = (A + A.T) / 2
    W0 = jnp.asarray(0.8 * S / np.max(np.abs(np.linalg.eigvalsh(S))))  # contracting

    def stable_point(scale):
        fps = dx.analysis.find_fixed_points(
            hopfield(scale * W0, 0.3 * np.ones(n)), jnp.zeros((1, n))
        )
        assert bool(fps.converged[0])  # the gradient is that of a true fixed point
        return jnp.sum(fps.points[0] ** 2)

    h = 1e-5
    fd = (stable_point(1.0 + h) - stable_point(1.0 - h)) / (2 * h)
    np.testing.assert_allclose(jax.grad(stable_point)(1.0), fd, rtol=1e-6)


@pytest.mark.usefixtures("optimized")  # run time > compile time
def test_gradient_on_a_line_attractor_is_the_minimum_norm_one():
    """A line of fixed points (dx/dt = -(x0 - th, 0): J singular). The linear solve
    of the implicit function theorem gave NaN, and the NaN reached the gradient of
    every point; the derivative is now -pinv(J) dF/dth: no motion along the line."""
    cands = jnp.array([[0.3, 1.0], [-1.0, 2.0], [2.0, 0.0]])

    def points(th):
        f = lambda t, y, args: -jnp.stack([y[0] - th, 0.0 * y[1]])  # noqa: E731
        return dx.analysis.find_fixed_points(f, cands, compute_jacobians=False).points

    J, dF = np.array([[-1.0, 0.0], [0.0, 0.0]]), np.array([1.0, 0.0])
    ref = -np.linalg.pinv(J) @ dF
    for d in (jax.jacfwd(points)(0.5), jax.jacrev(points)(0.5)):
        np.testing.assert_allclose(np.asarray(d), np.tile(ref, (3, 1)), atol=1e-12)
    np.testing.assert_allclose(jax.grad(lambda th: points(th)[0, 0])(0.5), 1.0)


def test_levenberg_marquardt_float32_when_cholesky_fails():
    """float32, a degenerate root on a line (J of rank 1, H = J^T J singular): at
    small damping the Cholesky of H + lam mu I fails (NaN), which must reject the
    step and raise the damping, never reach the iterate."""
    a = jnp.array([0.6, 0.8], jnp.float32)

    def f(t, y, args):
        e = (a @ y - 0.5) ** 3
        return jnp.stack([e, -e])

    cands = jnp.array([[1.0, 1.0], [-1.0, 0.5], [2.0, -1.0]], jnp.float32)
    fps = dx.analysis.find_fixed_points(f, cands, compute_jacobians=False)
    assert fps.points.dtype == jnp.float32
    assert np.all(np.isfinite(np.asarray(fps.points)))
    assert np.all(np.asarray(fps.converged))
    # converged: q = (a.y - 0.5)^6 <= tol = 1e-10, so |a.y - 0.5| <= 0.022
    np.testing.assert_allclose(np.asarray(fps.points) @ np.asarray(a), 0.5, atol=0.025)
    # the premise: LAPACK's float32 Cholesky does fail at the damping reached
    J = jax.jacfwd(lambda y: f(0.0, y, None))(fps.points[0])
    H = J.T @ J
    damped = H + 1e-8 * jnp.trace(H) / 2 * jnp.eye(2, dtype=jnp.float32)
    assert np.any(np.isnan(np.asarray(jnp.linalg.cholesky(damped))))


def small_ctrnn(key, n=6):
    return dx.models.CTRNN(2, n, 1, g=2.0, tau=0.5, key=key)


@pytest.mark.slow  # six compiled variants
def test_ensemble_equals_loop(getkey):
    keys = jr.split(getkey(), 3)
    ens = dx.make_ensemble(small_ctrnn, keys)
    cands = jr.normal(getkey(), (3, 32, 6))
    u = jnp.array([0.2, -0.1])
    fps = dx.analysis.find_fixed_points(ens, cands, inputs=u, ensemble=True)
    assert fps.points.shape == (3, 32, 6) and fps.n_unique.shape == (3,)
    for i in range(3):
        one = dx.analysis.find_fixed_points(dx.member(ens, i), cands[i], inputs=u)
        for a, b in zip(jax.tree.leaves(fps), jax.tree.leaves(one), strict=True):
            if a.ndim == 0 or a.shape[0] != 3:
                continue
            np.testing.assert_allclose(a[i], b, atol=1e-10, rtol=1e-10)
    per_member = jnp.stack([u, -u, 2 * u])
    fps2 = dx.analysis.find_fixed_points(ens, cands, inputs=per_member, ensemble=True)
    one = dx.analysis.find_fixed_points(dx.member(ens, 2), cands[2], inputs=2 * u)
    np.testing.assert_allclose(fps2.points[2], one.points, atol=1e-10)
    lists = dx.analysis.unique_fixed_points(fps)
    assert len(lists) == 3 and len(lists[1].points) <= int(fps.n_unique[1])
    # two members at a time: a group of two, then one padded group
    paired = dx.analysis.find_fixed_points(
        ens, cands, inputs=per_member, ensemble=True, chunk_size=2
    )
    single = dx.analysis.find_fixed_points(
        ens, cands, inputs=per_member, ensemble=True, chunk_size=1
    )
    for other in (paired, single):
        for a, b in zip(jax.tree.leaves(other), jax.tree.leaves(fps2), strict=True):
            np.testing.assert_allclose(a, b, atol=1e-10, rtol=1e-10)
    # shared candidates: every member starts from the same states
    shared = dx.analysis.find_fixed_points(ens, cands[0], inputs=u, ensemble=True)
    one = dx.analysis.find_fixed_points(dx.member(ens, 1), cands[0], inputs=u)
    np.testing.assert_allclose(shared.points[1], one.points, atol=1e-10)


def test_one_trace_across_repeated_calls(getkey):
    traces = []

    class Counting(eqx.Module):
        def __call__(self, t, y, args):
            traces.append(1)  # runs at trace time only
            return -y + jnp.tanh(2.0 * y)

    cands = jr.normal(getkey(), (16, 3))
    dx.analysis.find_fixed_points(Counting(), cands)
    n = len(traces)
    assert n > 0
    dx.analysis.find_fixed_points(Counting(), cands + 1.0)
    assert len(traces) == n


def test_float32_stays_float32(getkey):
    model = dx.models.CTRNN(1, 8, 1, g=1.5, dtype=jnp.float32, key=getkey())
    cands = jr.normal(getkey(), (16, 8), jnp.float32)
    fps = dx.analysis.find_fixed_points(model, cands)
    assert fps.points.dtype == jnp.float32 and fps.speed.dtype == jnp.float32
    assert fps.jacobians is not None and fps.jacobians.dtype == jnp.float32


def test_sample_candidates(getkey):
    traj = jr.normal(getkey(), (4, 10, 3))
    c = dx.analysis.sample_candidates(traj, 50, noise=0.0, key=getkey())
    flat = np.asarray(traj).reshape(-1, 3)
    assert c.shape == (50, 3)
    assert all(np.any(np.all(flat == row, axis=1)) for row in np.asarray(c))
    mask = jnp.zeros((4, 10), bool).at[2, 5].set(True)
    c = dx.analysis.sample_candidates(traj, 20, noise=0.0, key=getkey(), mask=mask)
    np.testing.assert_array_equal(c, jnp.broadcast_to(traj[2, 5], (20, 3)))
    big = dx.analysis.sample_candidates(
        jnp.zeros((2, 3)), 20000, noise=0.5, key=getkey()
    )
    assert abs(float(jnp.std(big)) - 0.5) < 0.01  # 60,000 draws: sd of sd ~0.002


def test_bad_input(getkey):
    model = small_ctrnn(getkey())
    good = jr.normal(getkey(), (8, 6))
    with (
        unchecked(),
        pytest.raises(ValueError, match=r"candidates: expected states of shape \(6,\)"),
    ):
        dx.analysis.find_fixed_points(model, jnp.zeros((8, 5)))
    with unchecked(), pytest.raises(ValueError, match="candidates: expected shape"):
        dx.analysis.find_fixed_points(model, jnp.zeros(6))
    with unchecked(), pytest.raises(ValueError, match="candidates: expected finite"):
        dx.analysis.find_fixed_points(model, good.at[3, 2].set(jnp.nan))
    with unchecked(), pytest.raises(ValueError, match="tol: expected a number > 0"):
        dx.analysis.find_fixed_points(model, good, tol=0.0)
    with unchecked(), pytest.raises(ValueError, match="kind: expected"):
        dx.analysis.find_fixed_points(model, good, kind="ode")  # pyright: ignore
    with (
        unchecked(),
        pytest.raises(ValueError, match="inputs: expected None when args is given"),
    ):
        dx.analysis.find_fixed_points(
            model, good, inputs=jnp.zeros(2), args=dx.ConstantInput(jnp.zeros(2))
        )
    with unchecked(), pytest.raises(TypeError, match="solver: expected"):
        dx.analysis.find_fixed_points(model, good, solver="lm")  # pyright: ignore
    with unchecked(), pytest.raises(TypeError, match="f: expected"):
        dx.analysis.find_fixed_points(3.0, good)  # pyright: ignore
    with unchecked(), pytest.raises(ValueError, match="noise: expected"):
        dx.analysis.sample_candidates(good[None], 4, noise=-1.0, key=getkey())
    ens = dx.make_ensemble(small_ctrnn, jr.split(getkey(), 2))
    with unchecked(), pytest.raises(ValueError, match="leading member axis of 2"):
        dx.analysis.find_fixed_points(ens, jnp.zeros((3, 8, 6)), ensemble=True)


def test_linearise_time_constants():
    A = jnp.array([[-2.0, 0.0, 0.0], [0.0, -0.5, -3.0], [0.0, 3.0, -0.5]])
    lin = dx.analysis.linearise(Linear(A, jnp.zeros((3, 1))), jnp.zeros(3))
    np.testing.assert_allclose(lin.jacobian, A)
    np.testing.assert_allclose(lin.eigvals.real, [-0.5, -0.5, -2.0])
    np.testing.assert_allclose(lin.time_constants, [2.0, 2.0, 0.5])
    np.testing.assert_allclose(
        np.sort(lin.frequencies), [-3 / (2 * np.pi), 0, 3 / (2 * np.pi)]
    )
    for v, lam in zip(np.asarray(lin.eigvecs).T, np.asarray(lin.eigvals), strict=True):
        np.testing.assert_allclose(np.asarray(A) @ v, lam * v, atol=1e-12)
    assert bool(lin.stable) and int(lin.n_unstable) == 0
    step = lambda t, y, args: jnp.array([0.5, 2.0]) * y  # noqa: E731
    lin = dx.analysis.linearise(step, jnp.ones(2), kind="map", dt=0.1)
    np.testing.assert_allclose(
        lin.time_constants, [-0.1 / np.log(2.0), 0.1 / np.log(2.0)]
    )
    assert int(lin.n_unstable) == 1 and not bool(lin.stable)
    with unchecked(), pytest.raises(ValueError, match="y: expected one state"):
        dx.analysis.jacobian(step, jnp.ones((2, 2)))


def test_linearise_ensemble_equals_loop_and_checks_the_state(getkey):
    ens = dx.make_ensemble(small_ctrnn, jr.split(getkey(), 3))
    ys = jr.normal(getkey(), (3, 6))
    u = jnp.array([0.3, -0.2])
    lin = dx.analysis.linearise(ens, ys, inputs=u, ensemble=True)
    assert lin.jacobian.shape == (3, 6, 6) and lin.n_unstable.shape == (3,)
    shared = dx.analysis.linearise(ens, ys[0], inputs=u, ensemble=True, chunk_size=2)
    for i in range(3):
        one = dx.analysis.linearise(dx.member(ens, i), ys[i], inputs=u)
        np.testing.assert_allclose(lin.jacobian[i], one.jacobian, rtol=1e-12)
        np.testing.assert_allclose(lin.eigvals[i], one.eigvals, rtol=1e-10)
        at0 = dx.analysis.linearise(dx.member(ens, i), ys[0], inputs=u)
        np.testing.assert_allclose(shared.jacobian[i], at0.jacobian, rtol=1e-12)
    with (
        unchecked(),
        pytest.raises(
            ValueError,
            match=r"y: expected a state f can be evaluated on \(model.init_state\(\) "
            r"has shape \(6,\)\), got shape \(7,\)",
        ),
    ):
        dx.analysis.linearise(dx.member(ens, 0), jnp.ones(7), inputs=u)
    with (
        unchecked(),
        pytest.raises(
            ValueError, match="^ensemble: expected True for a stacked ensemble"
        ),
    ):
        dx.analysis.linearise(ens, ys[0], inputs=u)

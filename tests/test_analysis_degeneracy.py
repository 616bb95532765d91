"""Degeneracy measures: DSA, CKA, Procrustes, permutation distance, the report.

References: closed forms (a noise-free linear system's eigenvalues; an orthogonally
transformed copy), NumPy/scipy written out by hand (delay embedding, CKA through the
HSIC formula, scipy's orthogonal Procrustes, brute force over signed permutations), and
dsa-metric 2.0.2 run side by side (a test extra).
"""

import itertools

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
import scipy.linalg
from typecheck import unchecked

import dynax as dx

A = dx.analysis


def linear_system(m: np.ndarray, n_trials: int, n_steps: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_trials, m.shape[0]))
    out = []
    for _ in range(n_steps):
        out.append(x)
        x = x @ m.T
    return np.stack(out, axis=1)


def tanh_rnn(gain, n, n_trials, n_steps, seed, trial_seed=None):
    rng = np.random.default_rng(seed)
    w = gain * rng.normal(size=(n, n)) / np.sqrt(n)
    if trial_seed is not None:
        rng = np.random.default_rng(trial_seed)
    x = rng.normal(size=(n_trials, n))
    out = []
    for _ in range(n_steps):
        out.append(x)
        x = x + 0.2 * (-x + np.tanh(x @ w.T))
    return np.stack(out, axis=1)


def stable_matrix(r: int, rng, radius=0.95) -> np.ndarray:
    m = rng.normal(size=(r, r))
    return radius * m / np.max(np.abs(np.linalg.eigvals(m)))


def random_orthogonal(r: int, rng, det: int) -> np.ndarray:
    q = np.linalg.qr(rng.normal(size=(r, r)))[0]
    if np.sign(np.linalg.det(q)) != det:
        q[:, 0] *= -1
    return q


# --- delay embedding and DMD ----------------------------------------------------------


def test_hankel_matches_the_definition():
    x = np.arange(2 * 7 * 3, dtype=float).reshape(2, 7, 3)
    h = np.asarray(A.hankel(x, n_delays=3, delay_interval=2))
    assert h.shape == (2, 7 - 4, 9)
    for k, t in itertools.product(range(2), range(3)):
        row = np.concatenate([x[k, t + 4], x[k, t + 2], x[k, t]])  # lags 0, 2, 4
        np.testing.assert_array_equal(h[k, t], row)


def test_dmd_eigenvalues_of_a_noise_free_linear_system_are_exact():
    rng = np.random.default_rng(1)
    m = stable_matrix(5, rng)
    xs = linear_system(m, n_trials=3, n_steps=30)
    res = A.dsa(xs, xs, score="wasserstein")  # full rank, one delay, lamb = 0
    got = np.sort_complex(np.linalg.eigvals(np.asarray(res.dmd_x.A)))
    want = np.sort_complex(np.linalg.eigvals(m))
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert float(res.score) < 1e-12


def test_trials_are_not_concatenated():
    """A trial boundary would add a spurious transition: with two trials of a
    linear system, the regression stays exact only if trials are kept apart."""
    rng = np.random.default_rng(2)
    m = stable_matrix(3, rng)
    xs = linear_system(m, n_trials=4, n_steps=10)
    a = np.asarray(A.dsa(xs, xs, score="wasserstein").dmd_x.A)
    np.testing.assert_allclose(
        np.sort_complex(np.linalg.eigvals(a)),
        np.sort_complex(np.linalg.eigvals(m)),
        atol=1e-8,
    )


# --- Procrustes over vector fields ----------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_an_orthogonally_transformed_copy_scores_zero(seed):
    rng = np.random.default_rng(seed)
    r = 10
    a = stable_matrix(r, rng)
    q = random_orthogonal(r, rng, det=-1 if seed % 2 else 1)
    p = A.vector_field_procrustes(a, q @ a @ q.T, key=jr.PRNGKey(seed))
    assert float(p.angular) < 1e-2
    assert float(p.euclidean) < 1e-2
    c = np.asarray(p.C)
    np.testing.assert_allclose(c @ c.T, np.eye(r), atol=1e-10)


def test_angular_and_euclidean_scores_agree_with_their_definitions():
    rng = np.random.default_rng(7)
    a, b = stable_matrix(6, rng), stable_matrix(6, rng)
    p = A.vector_field_procrustes(a, b)
    an, bn = a / np.linalg.norm(a), b / np.linalg.norm(b)
    c = np.asarray(p.C)
    aligned = c @ bn @ c.T
    np.testing.assert_allclose(
        float(p.angular), np.arccos(np.sum(an * aligned)), atol=1e-10
    )
    np.testing.assert_allclose(
        float(p.euclidean), np.linalg.norm(an - aligned), atol=1e-10
    )
    # the minimum is no worse than the identity and the best of 50 random rotations
    trial = [np.eye(6)] + [random_orthogonal(6, rng, d) for d in (1, -1) * 25]
    floor = min(np.linalg.norm(an - q @ bn @ q.T) for q in trial)
    assert float(p.euclidean) <= floor + 1e-12


def test_wasserstein_score_is_the_assignment_cost_of_eigenvalues():
    """Closed form for diagonal operators: brute force over the assignments."""
    a = np.diag([0.9, 0.5, -0.2, 0.1])
    b = np.diag([0.4, 0.85, 0.0, -0.3])
    got = A._dsa.eigenvalue_wasserstein(a, b)
    want = min(
        np.mean((np.diag(a) - np.diag(b)[list(p)]) ** 2)
        for p in itertools.permutations(range(4))
    )
    np.testing.assert_allclose(got, want, rtol=1e-12)


# --- dsa and dsa_matrix on trajectories -----------------------------------------------


def rotation(theta: float) -> np.ndarray:
    return np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])


@pytest.fixture(scope="module")
def two_groups():
    """Two linear systems (two damped rotations; four pure decays), each observed
    three times: from other initial states and through another random rotation
    (either determinant). DSA should group the six by system."""
    rng = np.random.default_rng(0)
    z = np.zeros((2, 2))
    m1 = 0.97 * np.block([[rotation(0.3), z], [z, rotation(0.7)]])
    m2 = np.diag([0.95, 0.9, 0.8, 0.6])
    xs, system = [], []
    for s, m in enumerate((m1, m2)):
        for k in range(3):
            x = linear_system(m, n_trials=10, n_steps=30, seed=10 * s + k)
            xs.append(x @ random_orthogonal(4, rng, 1 if k % 2 else -1))
            system.append(s)
    return np.stack(xs), np.array(system)


def test_dsa_matrix_groups_by_dynamics_and_equals_pairwise_dsa(two_groups):
    xs, system = two_groups
    opts = dict(n_delays=2, rank=6, max_iter=3000)
    res = A.dsa_matrix(xs, **opts, score="angular")
    s = np.asarray(res.scores)
    assert s.shape == (6, 6) and res.rank == 6
    np.testing.assert_array_equal(s, s.T)
    np.testing.assert_array_equal(np.diag(s), 0.0)
    same = system[:, None] == system[None, :]
    off = ~np.eye(6, dtype=bool)
    nearest = np.argmin(np.where(off, s, np.inf), axis=1)
    np.testing.assert_array_equal(system[nearest], system)
    assert s[same & off].mean() < 0.8 * s[~same].mean()
    assert bool(np.asarray(res.converged).all())
    for i, j in [(0, 1), (2, 4)]:
        one = A.dsa(xs[i], xs[j], **opts, score="angular")
        np.testing.assert_allclose(float(one.score), s[i, j], rtol=1e-3, atol=1e-6)
    w = np.asarray(A.dsa_matrix(xs, n_delays=2, rank=6, score="wasserstein").scores)
    for i, j in [(0, 4), (1, 2)]:
        one = A.dsa(xs[i], xs[j], n_delays=2, rank=6, score="wasserstein")
        np.testing.assert_allclose(float(one.score), w[i, j], rtol=1e-9)


def test_rank_rules(two_groups):
    xs, _ = two_groups
    s = np.linalg.svd(
        np.asarray(A.hankel(xs[0], 2)).reshape(-1, 8).T, compute_uv=False
    )  # two delays of 4 units
    thresh = float(s[4] + s[5]) / 2  # five singular values above it
    res = A.dsa(xs[0], xs[0], n_delays=2, rank_thresh=thresh, score="wasserstein")
    assert res.dmd_x.rank == 5
    cum = np.cumsum(s**2) / np.sum(s**2)
    # the smallest rank whose cumulative explained variance reaches the value
    value = float(cum[2]) - 1e-9
    res = A.dsa(xs[0], xs[0], n_delays=2, rank_explained_variance=value)
    assert res.dmd_x.rank == 3


# --- dsa-metric side by side ----------------------------------------------------------


def test_agrees_with_dsa_metric():
    """Wasserstein equal on the same data; angular equal or lower (ours minimises
    better). dsa-metric runs in float32."""
    DSA = pytest.importorskip("DSA").DSA
    x = tanh_rnn(0.9, 12, n_trials=6, n_steps=40, seed=0)
    y = tanh_rnn(1.5, 12, n_trials=6, n_steps=40, seed=1)
    for score in ("wasserstein", "angular"):
        ours = float(A.dsa(x, y, n_delays=3, rank=6, score=score).score)
        theirs = float(
            DSA(
                x.astype(np.float32),
                y.astype(np.float32),
                n_delays=3,
                rank=6,
                score_method=score,
            ).fit_score()
        )
        if score == "wasserstein":
            np.testing.assert_allclose(ours, theirs, rtol=1e-3)
        else:
            assert ours <= theirs + 1e-4, (ours, theirs)


def test_reaches_the_minimum_where_dsa_metric_stops_short():
    """A rotated copy: ours is ~0, dsa-metric's Adam stops short (same matrices)."""
    simdist = pytest.importorskip("DSA.simdist")
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    a = stable_matrix(10, rng)
    q = random_orthogonal(10, rng, det=-1)
    b = q @ a @ q.T
    ours = float(A.vector_field_procrustes(a, b).angular)
    torch.manual_seed(0)
    sd = simdist.SimilarityTransformDist(iters=1000, lr=1e-2, score_method="angular")
    theirs = float(sd.fit_score(a.astype(np.float32), b.astype(np.float32)))
    assert ours < 1e-4
    assert ours <= theirs


# --- representational baselines -------------------------------------------------------


def test_linear_cka_equals_the_hsic_formula():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(50, 6))
    y = np.tanh(x @ rng.normal(size=(6, 4))) + 0.1 * rng.normal(size=(50, 4))
    k, l_ = x @ x.T, y @ y.T
    h = np.eye(50) - 1 / 50
    hsic = lambda p, q: np.trace(p @ h @ q @ h)  # noqa: E731
    want = hsic(k, l_) / np.sqrt(hsic(k, k) * hsic(l_, l_))
    np.testing.assert_allclose(float(A.linear_cka(x, y)), want, rtol=1e-10)
    q = random_orthogonal(6, rng, 1)
    np.testing.assert_allclose(float(A.linear_cka(x, 3.0 * x @ q + 1.0)), 1.0)


def test_procrustes_distance_equals_scipy_orthogonal_procrustes():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(40, 5))
    y = x @ rng.normal(size=(5, 5)) + 0.3 * rng.normal(size=(40, 5))
    xc, yc = x - x.mean(0), y - y.mean(0)
    xc, yc = xc / np.linalg.norm(xc), yc / np.linalg.norm(yc)
    r, _ = scipy.linalg.orthogonal_procrustes(yc, xc)
    want = np.arccos(np.sum(xc * (yc @ r)))
    np.testing.assert_allclose(float(A.procrustes_distance(x, y)), want, rtol=1e-9)
    np.testing.assert_allclose(
        float(A.procrustes_distance(x, y, score="euclidean")),
        np.linalg.norm(xc - yc @ r),
        rtol=1e-9,
    )
    # zero-padding: a rotated copy embedded in more units is at distance 0
    q = random_orthogonal(7, rng, -1)
    wide = np.concatenate([x, np.zeros((40, 2))], axis=1) @ q
    assert float(A.procrustes_distance(x, wide)) < 1e-6


def test_all_pairs_equal_the_pairwise_functions(two_groups):
    xs, _ = two_groups
    cka = np.asarray(A.linear_cka_matrix(xs))
    proc = np.asarray(A.procrustes_matrix(xs))
    np.testing.assert_allclose(np.diag(cka), 1.0)
    np.testing.assert_array_equal(np.diag(proc), 0.0)
    for i, j in [(0, 1), (1, 5)]:
        np.testing.assert_allclose(cka[i, j], float(A.linear_cka(xs[i], xs[j])))
        np.testing.assert_allclose(
            proc[j, i], float(A.procrustes_distance(xs[i], xs[j])), rtol=1e-12
        )


# --- weight space ---------------------------------------------------------------------


def relabel(net, perm, signs):
    """Unit i of the result is unit perm[i] of net, times signs[i]."""
    q = signs[:, None] * np.eye(len(perm))[perm]
    return eqx.tree_at(
        lambda m: (m.W, m.W_in, m.b, m.W_out, m.log_tau),
        net,
        (
            jnp.asarray(q @ np.asarray(net.W) @ q.T),
            jnp.asarray(q @ np.asarray(net.W_in)),
            jnp.asarray(q @ np.asarray(net.b)),
            jnp.asarray(np.asarray(net.W_out) @ q.T),
            jnp.asarray(np.asarray(net.log_tau)[perm]),
        ),
    )


def perturb(net, scale, seed):
    keys = jr.split(jr.PRNGKey(seed), 3)
    return eqx.tree_at(
        lambda m: (m.W, m.W_in, m.W_out),
        net,
        (
            net.W + scale * jr.normal(keys[0], net.W.shape),
            net.W_in + scale * jr.normal(keys[1], net.W_in.shape),
            net.W_out + scale * jr.normal(keys[2], net.W_out.shape),
        ),
    )


@pytest.mark.parametrize("seed", range(3))
def test_permuted_and_sign_flipped_copy_is_at_distance_zero(seed):
    rng = np.random.default_rng(seed)
    net = dx.models.CTRNN(2, 12, 2, key=jr.PRNGKey(seed))
    perm = rng.permutation(12)
    signs = np.where(rng.random(12) < 0.5, -1.0, 1.0)
    copy = relabel(net, perm, signs)
    r = A.permutation_distance(net, copy)
    assert float(r.distance) < 1e-12 and float(r.parameter_distance) < 1e-12
    np.testing.assert_array_equal(np.asarray(r.permutation), np.argsort(perm))
    # without sign flips the flipped copy is far
    far = A.permutation_distance(net, copy, sign_flips=False)
    assert float(far.distance) > 0.1


def test_permutation_distance_is_symmetric_and_scaled():
    nets = [dx.models.CTRNN(2, 16, 2, key=jr.PRNGKey(k)) for k in (1, 2)]
    ab = A.permutation_distance(*nets)
    ba = A.permutation_distance(*nets[::-1])
    np.testing.assert_allclose(float(ab.distance), float(ba.distance), rtol=1e-12)
    # independent random matrices of equal norm: between 1 and sqrt(2) after matching
    assert 1.0 < float(ab.distance) < np.sqrt(2.0)


@pytest.mark.parametrize("seed", range(3))
def test_matching_finds_the_brute_force_optimum_for_a_noisy_copy(seed):
    """Five units: all 5! * 2^5 signed permutations, against the iterated matching."""
    rng = np.random.default_rng(seed)
    net = dx.models.CTRNN(1, 5, 1, key=jr.PRNGKey(10 + seed))
    other = perturb(
        relabel(net, rng.permutation(5), np.where(rng.random(5) < 0.5, -1.0, 1.0)),
        0.05,
        seed,
    )
    got = A.permutation_distance(net, other)

    def params(m, perm, signs):
        q = signs[:, None] * np.eye(5)[perm]
        w, wi, b = (np.asarray(v, np.float64) for v in (m.W, m.W_in, m.b))
        wo, lt = np.asarray(m.W_out, np.float64), np.asarray(m.log_tau, np.float64)
        return (
            q @ w @ q.T,
            np.concatenate([q @ wi, (q @ b)[:, None], (wo @ q.T).T], 1),
            lt[perm],
        )

    wa, sa, ta = params(net, np.arange(5), np.ones(5))
    best = np.inf
    for perm in itertools.permutations(range(5)):
        for signs in itertools.product((-1.0, 1.0), repeat=5):
            wb, sb, tb = params(other, np.array(perm), np.array(signs))
            cost = (
                np.sum((wa - wb) ** 2) + np.sum((sa - sb) ** 2) + np.sum((ta - tb) ** 2)
            )
            if cost < best:
                best, best_w = cost, wb
    want = np.linalg.norm(wa - best_w) / np.sqrt(
        np.linalg.norm(wa) * np.linalg.norm(np.asarray(other.W, np.float64))
    )
    np.testing.assert_allclose(float(got.distance), want, rtol=1e-9)


def test_ei_networks_match_e_with_e_and_never_flip():
    net = dx.models.EIRNN(1, 10, 1, frac_exc=0.8, key=jr.PRNGKey(0))
    other = dx.models.EIRNN(1, 10, 1, frac_exc=0.8, key=jr.PRNGKey(1))
    r = A.permutation_distance(net, other)
    perm = np.asarray(r.permutation)
    assert set(perm[:8]) == set(range(8)) and set(perm[8:]) == {8, 9}
    np.testing.assert_array_equal(np.asarray(r.signs), 1.0)


def test_permutation_distance_matrix_equals_pairs():
    ens = dx.make_ensemble(
        lambda k: dx.models.CTRNN(2, 8, 2, key=k), jr.split(jr.PRNGKey(0), 3)
    )
    m = A.permutation_distance_matrix(ens)
    d = np.asarray(m.distance)
    np.testing.assert_array_equal(np.diag(d), 0.0)
    for i, j in [(0, 1), (1, 2)]:
        one = A.permutation_distance(dx.member(ens, i), dx.member(ens, j))
        np.testing.assert_allclose(d[i, j], float(one.distance), rtol=1e-12)
        np.testing.assert_allclose(d[j, i], d[i, j])


# --- the report -----------------------------------------------------------------------


def test_degeneracy_report_matches_its_parts():
    task = dx.tasks.FlipFlop(n_bits=2, n_steps=30)
    ens = dx.make_ensemble(
        lambda k: dx.models.CTRNN(2, 10, 2, key=k), jr.split(jr.PRNGKey(0), 3)
    )
    key = jr.PRNGKey(1)
    rep = A.degeneracy_report(
        ens, task, key=key, n_trials=4, n_ood_trials=8, n_delays=2, rank=6
    )
    k_ood, k_states = jr.split(key)
    ev = dx.train.evaluate(ens, task.ood(), key=k_ood, n_trials=8, ensemble=True)
    np.testing.assert_allclose(
        np.asarray(rep.ood_error), 1.0 - np.asarray(ev.score), rtol=1e-6
    )
    np.testing.assert_allclose(
        float(rep.behaviour), np.std(1.0 - np.asarray(ev.score)), rtol=1e-6
    )
    batch = jax.vmap(task.sample)(jr.split(k_states, 4))
    states = dx.simulate(
        ens, dx.member(ens, 0).init_state(), task.ts, inputs=batch.inputs,
        ensemble=True, trials=True,
    ).ys  # fmt: skip
    np.testing.assert_allclose(np.asarray(rep.states), np.asarray(states))
    d = A.dsa_matrix(states, n_delays=2, rank=6)
    off = ~np.eye(3, dtype=bool)
    np.testing.assert_allclose(
        float(rep.dynamics), np.asarray(d.scores)[off].mean(), rtol=1e-6
    )
    w = A.permutation_distance_matrix(ens)
    np.testing.assert_allclose(float(rep.weights), np.asarray(w.distance)[off].mean())
    summary = rep.summary()
    assert set(summary) >= {"behaviour", "dynamics", "weights", "cka", "procrustes"}
    np.testing.assert_array_equal(np.asarray(rep.ok), True)
    assert summary["n_diverged"] == 0


def test_degeneracy_report_flags_a_diverging_member():
    """A member whose states overflow is flagged (frozen by simulate), not hidden
    in the matrices; the others are unaffected."""
    task = dx.tasks.FlipFlop(n_bits=1, n_steps=20)
    ens = dx.make_ensemble(
        lambda k: dx.models.CTRNN(1, 6, 1, key=k), jr.split(jr.PRNGKey(0), 3)
    )
    # tau far below dt: each Euler step multiplies the state by about -dt/tau
    bad = eqx.tree_at(lambda m: m.log_tau, ens, ens.log_tau.at[1].set(-46.0))
    rep = A.degeneracy_report(
        bad, task, key=jr.PRNGKey(1), n_trials=2, n_ood_trials=2, n_delays=2, rank=4
    )
    np.testing.assert_array_equal(np.asarray(rep.ok), [True, False, True])
    assert rep.summary()["n_diverged"] == 1


# --- bad input ------------------------------------------------------------------------


def test_bad_inputs_are_named():
    x = np.zeros((20, 3)) + np.arange(20.0)[:, None]
    with unchecked():
        with pytest.raises(ValueError, match="rank: expected at most"):
            A.dsa(x, x, rank=10)
        with pytest.raises(ValueError, match="n_delays: expected"):
            A.dsa(x, x, n_delays=20)
        with pytest.raises(ValueError, match="Y: expected the same number of samples"):
            A.linear_cka(x, x[:10])
        with pytest.raises(ValueError, match="rank_thresh: expected None"):
            A.dsa(x, x, rank=2, rank_thresh=0.1)
        with pytest.raises(ValueError, match="net_b: expected a network of the same"):
            A.permutation_distance(
                dx.models.CTRNN(1, 4, 1, key=jr.PRNGKey(0)),
                dx.models.CTRNN(1, 5, 1, key=jr.PRNGKey(0)),
            )
        with pytest.raises(ValueError, match="sign_flips: expected False"):
            A.permutation_distance(
                *[
                    dx.models.CTRNN(1, 4, 1, activation=jax.nn.relu, key=jr.PRNGKey(k))
                    for k in (0, 1)
                ],
                sign_flips=True,
            )

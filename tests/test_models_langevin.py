"""UnderdampedLangevin and its potentials against closed forms and hand formulas."""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
import scipy.linalg
from typecheck import unchecked

import dynax as dx
from dynax.models import (
    CoupledOscillatorPotential,
    MLPPotential,
    UnderdampedLangevin,
)

# --- (a) stationary variances: the phase-space Ornstein-Uhlenbeck closed form -------


def em_stationary_cov(gamma, kappa, sigma, h):
    """Exact stationary covariance of the Euler-Maruyama chain for one latent.

    z' = z + h v, v' = v + h (-gamma v - kappa z) + sigma sqrt(h) xi: the linear
    recursion x' = A x + noise, so P = A P A^T + Q (a discrete Lyapunov equation).
    """
    A = np.array([[1.0, h], [-kappa * h, 1.0 - gamma * h]])
    return scipy.linalg.solve_discrete_lyapunov(A, np.diag([0.0, sigma**2 * h]))


def test_harmonic_stationary_variances_match_ou_closed_form(optimized):
    """Var v = s^2/(2 g), Var z = s^2/(2 g k), Cov(z, v) = 0 for U = k z^2 / 2.

    Four uncoupled latents with different (g, k, s), 5,000 independent trials from
    rest, integrated with Euler-Maruyama (simulate's default) at h = 0.005 to
    T = 20. Relaxation: every latent's slowest covariance mode decays at rate
    >= 1, so the transient left at T is < e^-20 of the variance.

    Tolerance per latent and quantity: 4.5 standard errors plus the solver's
    discretisation bias. For N independent Gaussian samples the relative standard
    error of a variance estimate is sqrt(2 / (N - 1)) = 2.0% at N = 5,000, so
    4.5 SE = 9.0% (a false failure among the 8 checks has probability ~5e-5).
    The bias is exact, not a guess: the Euler-Maruyama chain's stationary
    covariance solves a discrete Lyapunov equation (em_stationary_cov); at
    h = 0.005 it is 0.25% to 1.7% above the continuous value. The pooled check
    (all four latents normalised by their closed form, 20,000 samples,
    4.5 SE = 4.5%) is tighter. Cov(z, v) is compared in correlation units, whose
    standard error is 1 / sqrt(N) = 1.3%.
    """
    gamma = np.array([1.0, 2.0, 1.0, 1.5])
    kappa = np.array([0.5, 1.0, 2.0, 4.0])
    sigma = np.array([1.0, 0.5, 2.0, 1.0])
    h, t1, n_trials = 0.005, 20.0, 5000
    model = UnderdampedLangevin(
        CoupledOscillatorPotential(4, stiffness=kappa), gamma=gamma, sigma=sigma
    )
    ts = jnp.array([0.0, t1])

    def final(key):
        save = dx.Save(final=True)
        return dx.simulate(model, model.init_state(), ts, key=key, dt=h, save=save).ys

    keys = jr.split(jr.key(0), n_trials)
    y = np.asarray(jax.lax.map(final, keys, batch_size=500))[:, -1]
    z, v = y[:, :4], y[:, 4:]
    var_z, var_v = sigma**2 / (2 * gamma * kappa), sigma**2 / (2 * gamma)
    se = np.sqrt(2.0 / (n_trials - 1))
    for i in range(4):
        em = em_stationary_cov(gamma[i], kappa[i], sigma[i], h)
        bias_z, bias_v = em[0, 0] / var_z[i] - 1, em[1, 1] / var_v[i] - 1
        assert abs(bias_z) < 0.02 and abs(bias_v) < 0.02
        err_z = np.var(z[:, i]) / var_z[i] - 1
        err_v = np.var(v[:, i]) / var_v[i] - 1
        assert abs(err_z) < 4.5 * se + abs(bias_z), (i, err_z, bias_z)
        assert abs(err_v) < 4.5 * se + abs(bias_v), (i, err_v, bias_v)
        corr = np.corrcoef(z[:, i], v[:, i])[0, 1]
        assert abs(corr) < 4.5 / np.sqrt(n_trials) + 0.01, (i, corr)
    pooled_se = np.sqrt(2.0 / (4 * n_trials - 1))
    pooled_z = np.mean(z**2 / var_z) - 1  # the means are 0
    pooled_v = np.mean(v**2 / var_v) - 1
    assert abs(pooled_z) < 4.5 * pooled_se + 0.02, pooled_z
    assert abs(pooled_v) < 4.5 * pooled_se + 0.02, pooled_v
    assert abs(np.mean(z)) < 4.5 * np.sqrt(var_z.max() / n_trials)


# --- (b) strong convergence with one Brownian path -----------------------------------


def test_step_halving_converges_with_strong_order_one():
    """Halving the step with the same Brownian path: differences shrink 2x.

    simulate's adaptive path draws the noise from a diffrax VirtualBrownianTree
    built from the key (no Levy area; resolution brownian_tol = 2^-14 here, far
    below the steps), so every step size sees the same path. A PIDController
    with dtmin = dtmax = h and tolerances it always meets takes exactly the
    steps h (as arrays, so one compilation serves every h). Heun with additive
    noise (noise on v only, not depending on the state) has strong order 1, so
    d(h) = RMS |y_h - y_{h/2}| over 32 paths should halve with h: ratios ~2
    (measured 2.10, 1.98, 1.88 on a coupled nonlinear double well). Strong order
    1/2 would give ~1.41, and mismatched paths no decrease at all; [1.7, 2.4]
    tells them apart.
    """
    U = CoupledOscillatorPotential(
        3, stiffness=jnp.array([1.0, 2.0, 0.5]), coupling=0.3, onsite="double_well"
    )
    model = UnderdampedLangevin(U, gamma=1.0, sigma=0.8)
    y0 = jnp.array([0.5, -1.0, 0.2, 0.0, 0.3, 0.0])
    ts = jnp.linspace(0.0, 2.0, 5)

    def run(keys, h):
        h_ = jnp.asarray(h)
        ctrl = diffrax.PIDController(rtol=1e8, atol=1e8, dtmin=h_, dtmax=h_)

        def one(key):
            return dx.simulate(
                model, y0, ts, key=key, solver=diffrax.Heun(), dt=float(h),
                stepsize_controller=ctrl, brownian_tol=2.0**-14, max_steps=512,
            ).ys  # fmt: skip

        return np.asarray(jax.vmap(one)(keys))

    keys = jr.split(jr.key(1), 32)
    hs = [2.0**-k for k in range(3, 8)]
    ys = [run(keys, h) for h in hs]
    d = [np.sqrt(np.mean((a - b) ** 2)) for a, b in zip(ys[:-1], ys[1:], strict=True)]
    ratios = np.array(d[:-1]) / np.array(d[1:])
    assert np.all(ratios > 1.7) and np.all(ratios < 2.4), (d, ratios)
    assert d[-1] < 4e-3


# --- (c) forces are -grad U -----------------------------------------------------------


@eqx.filter_jit
def energy_and_force(U, z):
    return U(z), U.force(z)


def dense_stiffness(potential_shape, kappa, k, r, periodic):
    """diag(kappa) + sum over springs of k (e_i - e_j)(e_i - e_j)^T, by hand."""
    n = int(np.prod(potential_shape))
    K = np.diag(np.asarray(kappa, float))
    coords = list(np.ndindex(*potential_shape))
    o = 0
    for axis, length in enumerate(potential_shape):
        for d in range(1, r + 1):
            for i, c in enumerate(coords):
                c2 = list(c)
                c2[axis] += d
                if c2[axis] >= length:
                    if not periodic:
                        continue
                    c2[axis] -= length
                j = coords.index(tuple(c2))
                K[i, i] += k[i, o]
                K[j, j] += k[i, o]
                K[i, j] -= k[i, o]
                K[j, i] -= k[i, o]
            o += 1
    assert K.shape == (n, n)
    return K


@pytest.mark.parametrize(
    "n, grid, r, periodic",
    [(7, None, 1, True), (9, None, 2, True), (6, None, 2, False), (15, (3, 5), 1, True),
     (12, (3, 4), 1, False)],
)  # fmt: skip
def test_harmonic_coupling_equals_dense_quadratic_form(getkey, n, grid, r, periodic):
    shape = (n,) if grid is None else grid
    n_off = len(shape) * r
    kappa = np.asarray(jr.uniform(getkey(), (n,), minval=0.5, maxval=2.0))
    k = np.asarray(jr.normal(getkey(), (n, n_off)))
    U = CoupledOscillatorPotential(
        n, stiffness=kappa, coupling=k, coupling_range=r, grid=grid, periodic=periodic
    )
    K = dense_stiffness(shape, kappa, k, r, periodic)
    for _ in range(3):
        z = np.asarray(jr.normal(getkey(), (n,)))
        energy, force = energy_and_force(U, jnp.asarray(z))
        np.testing.assert_allclose(energy, 0.5 * z @ K @ z, rtol=1e-12)
        np.testing.assert_allclose(force, -K @ z, atol=1e-12)


def dense_by_distance(shape, k_axis, r):
    """Springs k_axis[a][delta - 1] between sites at circular distance delta <= r
    along axis a (same other coordinates), each unordered pair once."""
    coords = list(np.ndindex(*shape))
    K = np.zeros((len(coords), len(coords)))
    for i, c in enumerate(coords):
        for j, c2 in enumerate(coords):
            diff = [a != b for a, b in zip(c, c2, strict=True)]
            if j <= i or sum(diff) != 1:
                continue
            axis = diff.index(True)
            gap = abs(c[axis] - c2[axis])
            delta = min(gap, shape[axis] - gap)
            if delta <= r:
                w = k_axis[axis][delta - 1]
                K[i, i] += w
                K[j, j] += w
                K[i, j] -= w
                K[j, i] -= w
    return K


@pytest.mark.parametrize("shape, r", [((4,), 2), ((2,), 1), ((1,), 1), ((2, 4), 2)])
def test_short_periodic_axes_couple_each_pair_once(getkey, shape, r):
    n = int(np.prod(shape))
    k = np.asarray(jr.uniform(getkey(), (len(shape), r), minval=0.5, maxval=2.0))
    grid = shape if len(shape) == 2 else None
    U = CoupledOscillatorPotential(
        n, stiffness=0.0, coupling=k.reshape(-1), coupling_range=r, grid=grid
    )
    K = dense_by_distance(shape, k, r)
    z = np.asarray(jr.normal(getkey(), (n,)))
    energy, force = energy_and_force(U, jnp.asarray(z))
    np.testing.assert_allclose(energy, 0.5 * z @ K @ z, rtol=1e-12)
    np.testing.assert_allclose(force, -K @ z, atol=1e-12)


@pytest.mark.parametrize("onsite", ["double_well", "cosine"])
def test_nonlinear_wells_closed_form_forces(getkey, onsite):
    n = 8
    kappa = np.asarray(jr.uniform(getkey(), (n,), minval=0.5, maxval=2.0))
    U = CoupledOscillatorPotential(n, stiffness=kappa, coupling=0.7, onsite=onsite)
    K = dense_stiffness((n,), np.zeros(n), np.full((n, 1), 0.7), 1, True)
    z = np.asarray(3.0 * jr.normal(getkey(), (n,)))
    if onsite == "double_well":
        energy = kappa / 8 * (z**2 - 1) ** 2
        force = -kappa / 2 * z * (z**2 - 1)
    else:
        energy, force = kappa * (1 - np.cos(z)), -kappa * np.sin(z)
    got_energy, got_force = energy_and_force(U, jnp.asarray(z))
    np.testing.assert_allclose(got_energy, energy.sum() + 0.5 * z @ K @ z)
    np.testing.assert_allclose(got_force, force - K @ z, atol=1e-12)
    # minima and barrier as documented
    wells = CoupledOscillatorPotential(1, stiffness=2.0, onsite=onsite)
    z_min = 1.0 if onsite == "double_well" else 2 * np.pi
    barrier = 2.0 / 8 if onsite == "double_well" else 4.0
    np.testing.assert_allclose(wells(jnp.array([z_min])), 0.0, atol=1e-12)
    top = 0.0 if onsite == "double_well" else np.pi
    np.testing.assert_allclose(wells(jnp.array([top])), barrier, rtol=1e-12)
    curv = jax.hessian(wells)(jnp.array([z_min]))[0, 0]
    np.testing.assert_allclose(curv, 2.0, rtol=1e-12)  # stiffness = curvature


def test_mlp_force_matches_finite_differences(getkey):
    U = MLPPotential(5, width=16, depth=2, confinement=0.5, key=getkey())
    z = jr.normal(getkey(), (5,))
    eps = 1e-6
    fd = np.array([(U(z + eps * e) - U(z - eps * e)) / (2 * eps) for e in np.eye(5)])
    np.testing.assert_allclose(U.force(z), -fd, rtol=1e-7, atol=1e-9)
    assert U.force(jnp.zeros(5)).dtype == jnp.float64


def test_drift_diffusion_and_layout(getkey):
    U = CoupledOscillatorPotential(3, stiffness=np.array([1.0, 2.0, 3.0]), coupling=0.2)
    model = UnderdampedLangevin(
        U, gamma=np.array([0.5, 1.0, 2.0]), sigma=0.3, n_in=2, key=getkey()
    )
    y = jr.normal(getkey(), (6,))
    u = jnp.array([0.4, -1.0])
    out = model(0.0, y, dx.ConstantInput(u))
    z, v = np.asarray(y[:3]), np.asarray(y[3:])
    K = dense_stiffness((3,), [1.0, 2.0, 3.0], np.full((3, 1), 0.2), 1, True)
    want_dv = -np.array([0.5, 1.0, 2.0]) * v - K @ z + np.asarray(model.B) @ u
    np.testing.assert_allclose(out, np.r_[v, want_dv], atol=1e-12)
    np.testing.assert_allclose(model.diffusion(0.0, y, None), [0, 0, 0, 0.3, 0.3, 0.3])
    np.testing.assert_allclose(model.gamma, [0.5, 1.0, 2.0])
    np.testing.assert_array_equal(model.positions(y), y[:3])
    np.testing.assert_array_equal(model.velocities(y[None]), y[None, 3:])
    np.testing.assert_allclose(model.energy(y), U(y[:3]) + 0.5 * np.sum(v**2))
    assert model.init_state().shape == (6,)
    # a plain callable potential with n
    free = UnderdampedLangevin(lambda q: 0.5 * jnp.sum(q**2), n=2, gamma=1.0)
    np.testing.assert_allclose(free(0.0, jnp.array([1.0, 0.0, 0.0, 1.0]), None),
                               [0.0, 1.0, -1.0, -1.0])  # fmt: skip


# --- transforms: ensembles, jit, grad, float32 ----------------------------------------


def test_ensemble_equals_loop_and_grad_matches_finite_differences(getkey):
    def make(key):
        return UnderdampedLangevin(
            MLPPotential(2, width=8, depth=1, key=key), gamma=0.7, sigma=0.4
        )

    keys = jr.split(getkey(), 3)
    ens = dx.make_ensemble(make, keys)
    ts = jnp.linspace(0.0, 1.0, 6)
    y0 = jnp.array([0.3, -0.2, 0.0, 0.1])
    noise = getkey()
    both = dx.simulate(ens, y0, ts, key=noise, dt=0.05, ensemble=True).ys
    member_keys = jr.split(noise, 3)
    for i in range(3):
        one = dx.simulate(dx.member(ens, i), y0, ts, key=member_keys[i], dt=0.05).ys
        np.testing.assert_allclose(both[i], one, rtol=1e-12, atol=1e-12)

    model = make(keys[0])

    def loss(log_gamma):
        m = eqx.tree_at(lambda m: m.log_gamma, model, log_gamma)
        return jnp.sum(dx.simulate(m, y0, ts, key=noise, dt=0.05).ys ** 2)

    lg = model.log_gamma
    grad = jax.grad(loss)(lg)
    eps = 1e-6
    fd = [(loss(lg + eps * e) - loss(lg - eps * e)) / (2 * eps) for e in jnp.eye(2)]
    np.testing.assert_allclose(grad, fd, rtol=1e-6)

    m32 = UnderdampedLangevin(
        CoupledOscillatorPotential(3, dtype=jnp.float32), dtype=jnp.float32
    )
    ys = dx.simulate(m32, m32.init_state(), ts.astype(jnp.float32), key=noise).ys
    assert ys.dtype == jnp.float32


# --- (d) bad inputs ---------------------------------------------------------------


TWO = CoupledOscillatorPotential(2)


@pytest.mark.parametrize(
    "build, name",
    [
        (lambda: UnderdampedLangevin(TWO, gamma=0.0), "gamma"),
        (lambda: UnderdampedLangevin(TWO, sigma=-1.0), "sigma"),
        (lambda: UnderdampedLangevin(TWO, gamma=np.ones(3)), "gamma"),
        (lambda: UnderdampedLangevin(TWO, n=3), "n"),
        (lambda: UnderdampedLangevin(lambda z: jnp.sum(z)), "n"),
        (lambda: UnderdampedLangevin(TWO, n_in=1), "key"),
        (lambda: UnderdampedLangevin(3.0), "potential"),
        (lambda: CoupledOscillatorPotential(4, onsite="quartic"), "onsite"),
        (lambda: CoupledOscillatorPotential(4, grid=(3, 2)), "grid"),
        (lambda: CoupledOscillatorPotential(4, coupling_range=0), "coupling_range"),
        (lambda: CoupledOscillatorPotential(4, coupling=np.ones((4, 3))), "coupling"),
        (lambda: CoupledOscillatorPotential(4, stiffness=np.ones(3)), "stiffness"),
        (lambda: CoupledOscillatorPotential(0), "n"),
        (lambda: MLPPotential(3, confinement=-1.0, key=jr.key(0)), "confinement"),
    ],
)  # fmt: skip
def test_bad_inputs_name_the_argument(build, name):
    with unchecked(), pytest.raises((ValueError, TypeError), match=f"^{name}:"):
        build()

"""CoupledGradientNetwork: stationary noise statistics vs the closed form, and more."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from typecheck import unchecked

import dynax as dx
from dynax.analysis import consensus_noise, laplacian, sync_error
from dynax.models import CoupledGradientNetwork, ring_graph


class Quadratic(eqx.Module):
    """f(x) = lam/2 |x - x*|^2 (+ a quartic term): parameters as array leaves."""

    lam: jax.Array
    target: jax.Array
    quartic: jax.Array

    def __call__(self, x):
        return 0.5 * self.lam * jnp.sum((x - self.target) ** 2) + 0.25 * jnp.sum(
            self.quartic * x**4
        )


@pytest.mark.usefixtures("optimized")  # run time > compile time
def test_stationary_dispersion_and_center_error_match_closed_form(getkey):
    """n = 10 copies on a ring, lam = 1, sigma = 0.5, k in {0, 1, 10}.

    Closed form (algorithms.md section 7, for d = 1; consensus_noise): dispersion
    1.1250 / 0.4341 / 0.0877 and centre-of-mass error 0.0125 for every k, both
    proportional to d. Here d = 16 independent coordinates per copy multiply the
    Monte Carlo samples for free. Euler-Maruyama at dt = 0.01 has dt k mu_max =
    0.4 for k = 10, a ~10% bias on the dispersion; consensus_noise(..., dt=dt)
    gives the chain's exact stationary moments, so the simulation is checked
    against it at 4 Monte Carlo standard errors (estimated from 64 independent
    runs per k, each averaged over 20 time units after 5 of burn-in; the relative
    standard error is ~0.3% for the dispersion and ~1% for the centre error), and
    against the SDE's closed form at 4 standard errors plus that known bias.
    """
    n, d, lam, sigma, x_star, dt = 10, 16, 1.0, 0.5, 0.7, 0.01
    lap = laplacian(ring_graph(n))
    ks = jnp.array([0.0, 1.0, 10.0])
    runs, n_chunks = 64, 5
    f = Quadratic(jnp.asarray(lam), jnp.asarray(x_star), jnp.asarray(0.0))
    ens = eqx.filter_vmap(
        lambda k: CoupledGradientNetwork(f, lap, coupling=k, sigma=sigma, dim=d)
    )(jnp.repeat(ks, runs))
    ts = jnp.linspace(0.0, 5.0, 51)

    @eqx.filter_jit
    def chunk(ens, x0, keys):
        def one(model, x, key):
            traj = dx.simulate(model, x, ts, key=key, dt=dt)
            center = jnp.sum((traj.outputs[1:] - x_star) ** 2, axis=-1)
            return traj.ys[-1], jnp.mean(sync_error(traj.ys[1:])), jnp.mean(center)

        return eqx.filter_vmap(one)(ens, x0, keys)

    x = jnp.full((3 * runs, n, d), x_star, dtype=jnp.float64)
    sums = np.zeros((2, 3, runs))
    for c in range(n_chunks):
        x, disp, cent = chunk(ens, x, jr.split(jr.fold_in(getkey(), c), 3 * runs))
        if c > 0:  # the first chunk is burn-in
            sums += np.stack([disp, cent]).reshape(2, 3, runs)
    means = sums / (n_chunks - 1)
    sim = means.mean(axis=-1)
    se = means.std(axis=-1, ddof=1) / np.sqrt(runs)
    for i, k in enumerate(np.asarray(ks)):
        kw = dict(coupling=k, contraction=lam, sigma=sigma, dim=d)
        sde, chain = consensus_noise(lap, **kw), consensus_noise(lap, **kw, dt=dt)
        for j, (want_sde, want_chain) in enumerate(
            [(sde.dispersion, chain.dispersion), (sde.center_error, chain.center_error)]
        ):
            assert se[j, i] < 0.02 * want_chain  # the test has the power it claims
            assert abs(sim[j, i] - want_chain) < 4 * se[j, i]
            bias = abs(float(want_chain - want_sde))
            assert abs(sim[j, i] - want_sde) < 4 * se[j, i] + bias
    d1 = [consensus_noise(lap, coupling=k, contraction=lam, sigma=sigma) for k in ks]
    np.testing.assert_allclose(
        [c.dispersion for c in d1], [1.125, 0.4341, 0.0877], atol=5e-5
    )
    np.testing.assert_allclose([c.center_error for c in d1], 0.0125, rtol=1e-12)


def test_drift_matches_numpy():
    n, d = 6, 2
    rng = np.random.default_rng(0)
    A = (rng.uniform(size=(n, n)) < 0.7) * rng.uniform(0.5, 2.0, (n, n))
    A = np.triu(A, k=1) + np.triu(A, k=1).T
    lap = np.diag(A.sum(1)) - A
    f = Quadratic(jnp.asarray(0.8), jnp.array([0.3, -0.2]), jnp.array([0.5, 1.5]))
    model = CoupledGradientNetwork(f, lap, coupling=2.5, sigma=0.3, dim=d)
    x = rng.normal(size=(n, d))
    want = -(0.8 * (x - [0.3, -0.2]) + np.array([0.5, 1.5]) * x**3) - 2.5 * lap @ x
    np.testing.assert_allclose(model(0.0, jnp.asarray(x), None), want, rtol=1e-12)
    np.testing.assert_allclose(model.diffusion(0.0, jnp.asarray(x), None), 0.3)
    np.testing.assert_allclose(model.readout(jnp.asarray(x)), x.mean(axis=0))
    assert model.init_state().shape == (n, d)


LAP5 = np.asarray(laplacian(ring_graph(5)))


def make(seed, dtype=jnp.float64, d=2):
    rng = np.random.default_rng(seed)
    f = Quadratic(
        jnp.asarray(1.0, dtype),
        jnp.asarray(rng.normal(size=d), dtype),
        jnp.asarray(0.3, dtype),
    )
    lap = jnp.asarray(LAP5, dtype)
    coupling = jnp.asarray(rng.uniform(0.5, 2.0), dtype)
    return CoupledGradientNetwork(f, lap, coupling=coupling, sigma=0.2, dim=d)


def evaluate(model, x):
    return model(0.0, x, None), model.diffusion(0.0, x, None), model.readout(x)


def test_vmap_jit_and_float32(getkey):
    xs = jnp.asarray(np.random.default_rng(1).normal(size=(3, 5, 2)))
    models = [make(seed) for seed in range(3)]
    ens = jax.tree.map(lambda *leaves: jnp.stack(leaves), *models)
    batched = eqx.filter_jit(eqx.filter_vmap(evaluate))(ens, xs)
    for i in range(3):
        model = models[i]
        eager, jitted = evaluate(model, xs[i]), eqx.filter_jit(evaluate)(model, xs[i])
        for b, e, j in zip(batched, eager, jitted, strict=True):
            np.testing.assert_allclose(b[i], e, rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(j, e, rtol=1e-13, atol=1e-14)
    model32 = make(4, dtype=jnp.float32)
    leaves = jax.tree.leaves(eqx.filter(model32, eqx.is_inexact_array))
    assert {leaf.dtype for leaf in leaves} == {jnp.dtype(jnp.float32)}
    x32 = xs[0].astype(jnp.float32)
    assert all(o.dtype == jnp.float32 for o in evaluate(model32, x32))
    ts = jnp.linspace(0.0, 0.2, 3, dtype=jnp.float32)
    assert dx.simulate(model32, x32, ts, key=getkey()).ys.dtype == jnp.float32


def test_grad_matches_finite_differences():
    """d/d(coupling, lam, target) of a loss after 20 Euler steps, float64."""
    model = make(5)
    x0 = jnp.asarray(np.random.default_rng(6).normal(size=(5, 2)))
    params = (model.coupling, model.f.lam, model.f.target)  # pyright: ignore

    def loss(p):
        m = eqx.tree_at(lambda m: (m.coupling, m.f.lam, m.f.target), model, p)
        x = jax.lax.fori_loop(0, 20, lambda _, x: x + 0.05 * m(0.0, x, None), x0)
        return jnp.sum(jnp.cos(x))

    grads = jax.jit(jax.grad(loss))(params)
    eps = 1e-6
    for i, p in enumerate(params):
        for idx in np.ndindex(p.shape):

            def shifted(h, i=i, idx=idx):
                return tuple(
                    q.at[idx].add(h) if j == i else q for j, q in enumerate(params)
                )

            fd = (loss(shifted(eps)) - loss(shifted(-eps))) / (2 * eps)
            assert abs(float(grads[i][idx])) > 1e-4
            np.testing.assert_allclose(grads[i][idx], fd, rtol=1e-6)


@pytest.mark.parametrize(
    "lap, kwargs, match",
    [
        (np.zeros((3, 4)), {}, r"laplacian: expected a square \(n, n\)"),
        (np.array([[1.0, 1.0], [1.0, 1.0]]), {}, "negative edge weight"),
        (np.array([[1.0, -1.0], [0.0, 0.0]]), {}, "not symmetric"),
        (np.array([[2.0, -1.0], [-1.0, 2.0]]), {}, "a row does not sum to zero"),
        (None, dict(coupling=-1.0), r"coupling: expected (a value|every element) >= 0"),
        (None, dict(sigma=-0.1), r"sigma: expected (a value|every element) >= 0"),
        (None, dict(sigma=np.ones(2)), "sigma: expected a scalar"),
        (None, dict(dim=0), "dim: expected an integer >= 1"),
        (None, dict(f=3.0), "f: expected a callable"),
    ],
)
def test_errors(lap, kwargs, match):
    lap = np.asarray(laplacian(ring_graph(4))) if lap is None else lap
    kwargs = dict(f=lambda x: jnp.sum(x**2), coupling=1.0, sigma=0.1) | kwargs
    f = kwargs.pop("f")
    with unchecked(), pytest.raises(ValueError, match=match):
        CoupledGradientNetwork(f, lap, **kwargs)

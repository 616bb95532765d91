"""``simulate(..., save=dx.Save(...))``: what is kept equals a slice of a full run.

The reference is always the default run (every state, every output) sliced or mapped
by hand; the kept run must not store what it was told to drop (checked on the
compiled program's output shapes).
"""

import re

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from typecheck import unchecked

import dynax as dx

TS = jnp.linspace(0.0, 5.0, 51)


@pytest.fixture(scope="module")
def net():
    return dx.models.CTRNN(2, 12, 3, g=1.5, key=jr.PRNGKey(0))


@pytest.fixture(scope="module")
def u():
    return jr.normal(jr.PRNGKey(1), (51, 2))


def run(model, u, save=None, **kw):
    return dx.simulate(model, model.init_state(), TS, inputs=u, save=save, **kw)


def close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12, atol=1e-12)


def test_outputs_only_equals_the_readout_of_every_state(net, u):
    full, kept = run(net, u), run(net, u, dx.Save(states=False))
    assert kept.ys is None
    close(kept.outputs, full.outputs)
    close(kept.ts, TS)
    assert bool(kept.ok)


@pytest.mark.parametrize("every", [1, 5, 7, 50])
def test_every_kth_time_equals_the_full_run_sliced(net, u, every):
    full = run(net, u)
    kept = run(net, u, dx.Save(every=every))
    close(kept.ts, TS[::every])
    close(kept.ys, full.ys[::every])
    close(kept.outputs, full.outputs[::every])


def test_final_state_only(net, u):
    full, kept = run(net, u), run(net, u, dx.Save(final=True, outputs=False))
    close(kept.ts, TS[-1:])
    close(kept.ys, full.ys[-1:])
    assert kept.outputs is None


def test_a_function_of_the_state(net, u):
    def rates(t, y):
        return {"mean": jnp.tanh(y).mean(), "t": t}

    full = run(net, u)
    kept = run(net, u, dx.Save(fn=rates, every=5))
    close(kept.ys["mean"], jnp.tanh(full.ys[::5]).mean(axis=-1))
    close(kept.ys["t"], TS[::5])
    close(kept.outputs, full.outputs[::5])


def test_substeps_solver_and_noise_are_unchanged(net, u):
    noisy = dx.models.CTRNN(2, 12, 3, sigma_rec=0.3, key=jr.PRNGKey(2))
    kw = {"solver": diffrax.Heun(), "dt": 0.02, "key": jr.PRNGKey(3)}
    full = run(noisy, u, **kw)
    kept = run(noisy, u, dx.Save(states=False, every=7), **kw)
    close(kept.outputs, full.outputs[::7])


def test_maps_and_adaptive_solves(u):
    gru = dx.models.GRU(2, 10, 3, key=jr.PRNGKey(4))
    close(run(gru, u, dx.Save(every=10)).ys, run(gru, u).ys[::10])
    net = dx.models.CTRNN(2, 12, 3, key=jr.PRNGKey(5))
    kw = {
        "solver": diffrax.Tsit5(),
        "stepsize_controller": diffrax.PIDController(rtol=1e-8, atol=1e-8),
    }
    full = run(net, u, **kw)
    kept = run(net, u, dx.Save(states=False, every=10), **kw)
    assert kept.ys is None
    close(kept.ts, TS[::10])
    np.testing.assert_allclose(kept.outputs, full.outputs[::10], rtol=1e-9, atol=1e-9)


def test_ensemble_and_trials(u):
    ens = dx.make_ensemble(
        lambda k: dx.models.CTRNN(2, 12, 3, key=k), jr.split(jr.PRNGKey(6), 3)
    )
    us = jr.normal(jr.PRNGKey(7), (4, 51, 2))
    kw = {"ensemble": True, "trials": True}
    full = dx.simulate(ens, ens.init_state(), TS, inputs=us, **kw)
    kept = dx.simulate(
        ens, ens.init_state(), TS, inputs=us, save=dx.Save(states=False, every=5), **kw
    )
    assert kept.outputs.shape == (3, 4, 11, 3)
    close(kept.outputs, full.outputs[:, :, ::5])


def test_a_diverging_member_is_held_and_flagged_whatever_is_kept(u):
    def make(tau):
        return dx.models.CTRNN(2, 12, 3, tau=tau, dtype=jnp.float32, key=jr.PRNGKey(8))

    # Euler with dt = 0.1 on tau = 1e-3 multiplies the state by ~ -99 per step, so a
    # float32 state overflows within the 50 steps
    good, bad = make(1.0), make(1e-3)
    for save in (dx.Save(states=False), dx.Save(every=5), dx.Save(final=True)):
        kept_bad, full_bad = run(bad, u, save), run(bad, u)
        assert not bool(kept_bad.ok) and not bool(full_bad.ok)
        leaves = [x for x in (kept_bad.ys, kept_bad.outputs) if x is not None]
        assert all(bool(jnp.all(jnp.isfinite(x))) for x in leaves)
    assert bool(run(good, u, dx.Save(states=False)).ok)
    # outputs only: held at the last finite save, as the full run's outputs are
    # (float32: the readout inside the loop rounds differently from the one after it)
    held, full = run(bad, u, dx.Save(states=False)).outputs, run(bad, u).outputs
    np.testing.assert_allclose(held, full, rtol=1e-5, atol=1e-6)
    assert bool(jnp.all(held[-1] == held[-2]))  # frozen


def test_gradients_through_the_kept_outputs(net, u):
    def loss(model, save):
        out = run(model, u, save).outputs
        return jnp.sum(out**2)

    g_full = eqx.filter_grad(loss)(net, None)
    g_kept = eqx.filter_grad(loss)(net, dx.Save(states=False))
    for a, b in zip(jax.tree.leaves(g_full), jax.tree.leaves(g_kept), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_nothing_dropped_is_stored(net, u):
    """The compiled program of an outputs-only run returns no (time, units) array."""

    def outputs(model, u):
        return run(model, u, dx.Save(states=False))

    shapes = [
        x.shape
        for x in jax.tree.leaves(eqx.filter_eval_shape(outputs, net, u))
        if hasattr(x, "shape")
    ]
    assert (51, 12) not in shapes and (51, 3) in shapes
    hlo = eqx.filter_jit(outputs).lower(net, u).compile().compiled.as_text()
    assert not re.search(r"f64\[51,12\]", hlo), "a (time, units) buffer was kept"


def test_bad_save_arguments(net, u):
    with pytest.raises(ValueError, match="every: expected an integer >= 1"):
        dx.Save(every=0)
    with pytest.raises(ValueError, match="states: expected True, or outputs=True"):
        dx.Save(states=False, outputs=False)
    with pytest.raises(ValueError, match="every: expected 1 with final=True"):
        dx.Save(final=True, every=2)
    with pytest.raises(ValueError, match="fn: expected None with states=False"):
        dx.Save(states=False, fn=lambda t, y: y)
    with unchecked(), pytest.raises(TypeError, match="fn: expected a callable"):
        dx.Save(fn=3)  # pyright: ignore[reportArgumentType]
    with pytest.raises(ValueError, match="save: expected every <= len"):
        run(net, u, dx.Save(every=51))
    with unchecked(), pytest.raises(TypeError, match="save: expected None or a dx"):
        run(net, u, "outputs")  # pyright: ignore[reportArgumentType]


def _dots(hlo: str) -> list[tuple[list[int], int]]:
    """Every dot of a compiled HLO text: (result shape, number of batch dims)."""
    found = []
    for line in hlo.splitlines():
        m = re.search(r"= \w+\[([\d,]*)\]\{[^}]*\} dot\(", line)
        if m:
            shape = [int(d) for d in m.group(1).split(",") if d]
            batch = re.search(r"lhs_batch_dims=\{([\d,]*)\}", line)
            n_batch = len(batch.group(1).split(",")) if batch else 0
            found.append((shape, n_batch))
    return found


def test_trials_reach_xla_as_matrix_matrix_products():
    """Each member's recurrent product over a batch of trials is one matrix product.

    A vmapped matrix-vector product would leave a dot whose result, less its batch
    dimensions, is a vector; every dot here must produce a matrix per member, and
    the recurrent one must be (units x trials) per member.
    """
    n_members, n_trials, n_units = 3, 8, 16
    ens = dx.make_ensemble(
        lambda k: dx.models.CTRNN(2, n_units, 3, key=k),
        jr.split(jr.PRNGKey(9), n_members),
    )
    us = jnp.ones((n_trials, 11, 2))
    ts = jnp.linspace(0.0, 1.0, 11)

    def outputs(e, us):
        return dx.simulate(
            e, e.init_state(), ts, inputs=us, ensemble=True, trials=True,
            save=dx.Save(states=False),
        ).outputs  # fmt: skip

    hlo = eqx.filter_jit(outputs).lower(ens, us).compile().compiled.as_text()
    dots = _dots(hlo)
    assert dots, "no dot in the compiled program"
    for shape, n_batch in dots:
        assert len(shape) - n_batch >= 2, f"matrix-vector product {shape}"
    recurrent = sorted([n_members, n_units, n_trials])
    assert any(sorted(shape) == recurrent for shape, _ in dots), dots

"""The one online runner behind FORCE, adaptation, STDP, teacher forcing, generate."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from typecheck import unchecked

import dynax as dx
from dynax.models._online import run_online


def test_runner_steps_like_simulate_and_subsamples_records(getkey):
    m = dx.models.ESN(2, 10, spectral_radius=0.9, key=getkey())
    u = jr.normal(getkey(), (12, 2), jnp.float64)
    x0 = jr.normal(getkey(), (10,), jnp.float64)

    def before(x, u_k, c):
        return m, u_k, None, c + 1

    def after(x, x_next, u_k, c):
        return c, (x_next, c)

    x, c, (xs, counts) = run_online(x0, u, jnp.zeros((), jnp.int32), before, after)
    u_sim = jnp.concatenate([u, u[-1:]])  # simulate wants one row per time
    ys = dx.simulate(m, x0, jnp.arange(13.0), inputs=u_sim).ys
    np.testing.assert_allclose(np.asarray(xs), np.asarray(ys[1:]), atol=1e-12)
    np.testing.assert_array_equal(np.asarray(counts), np.arange(1, 13))
    assert int(c) == 12
    _, _, (sub, sub_counts) = run_online(
        x0, u, jnp.zeros((), jnp.int32), before, after, record_every=4
    )
    np.testing.assert_allclose(np.asarray(sub), np.asarray(xs[3::4]), atol=1e-12)
    np.testing.assert_array_equal(np.asarray(sub_counts), [4, 8, 12])


def test_declared_interfaces():
    key = jr.PRNGKey(0)
    esn = dx.models.ESN(1, 6, n_out=1, feedback=True, key=key)
    eia = dx.models.EIAdaptiveReservoir(1, 6, key=key)
    lif = dx.models.LIFReservoir(1, 6, key=key)
    for m in (esn, eia, lif):
        assert isinstance(m, dx.models.AbstractReservoir)
    assert isinstance(esn, dx.models.AbstractFeedbackReservoir)
    assert not isinstance(eia, dx.models.AbstractFeedbackReservoir)
    assert esn.n_fb == 1 and dx.models.ESN(1, 6, key=key).n_fb == 0
    # step feeds back the stored readout: the same as step_feedback with it
    x, u = jnp.linspace(-1, 1, 6), jnp.ones(1)
    np.testing.assert_allclose(
        np.asarray(esn.step(x, u)),
        np.asarray(esn.step_feedback(x, u, esn.readout(x))),
    )

    def before(x, item, c):  # a rule that feeds back into a model without feedback
        return eia, jnp.ones(1), jnp.ones(1), c

    with (
        unchecked(),
        pytest.raises(TypeError, match="EIAdaptiveReservoir does not declare"),
    ):
        run_online(eia.init_state(), None, None, before, length=3)

"""Spike-count features and the ridge classifier."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from test_models_lif import numpy_lif
from typecheck import unchecked

from dynax.models import LIFReservoir
from dynax.train import predict_labels, ridge_classifier, spike_counts


def test_spike_counts_match_numpy_loop(getkey):
    model = LIFReservoir(
        8, 60, frac_exc=0.75, density=0.3, w_exc=0.6, w_in=1.0, w_max=1.5,
        key=getkey(),
    )  # fmt: skip
    u = np.asarray(jr.bernoulli(getkey(), 0.15, (3, 60, 8)), np.float64)
    counts = spike_counts(model, u, batch_size=2)
    assert counts.shape == (3, 60)
    for i in range(3):
        _, ref = numpy_lif(model, u[i])
        np.testing.assert_array_equal(counts[i], ref.sum(axis=0))
        np.testing.assert_array_equal(spike_counts(model, u[i]), ref.sum(axis=0))
    assert float(counts.sum()) > 0
    with unchecked(), pytest.raises(ValueError, match="inputs"):
        spike_counts(model, u[0, 0])


def test_ridge_classifier_separates_clusters(getkey):
    centres = 3.0 * jr.normal(getkey(), (4, 10))
    labels = jnp.repeat(jnp.arange(4), 30)
    features = centres[labels] + 0.3 * jr.normal(getkey(), (120, 10))
    readout = ridge_classifier(features, labels, n_classes=4, alpha=1e-3)
    assert readout.weights.shape == (4, 10)
    np.testing.assert_array_equal(predict_labels(readout, features), labels)
    with unchecked(), pytest.raises(ValueError, match="labels"):
        ridge_classifier(features, labels.astype(jnp.float64), n_classes=4)
    with unchecked(), pytest.raises(ValueError, match="n_classes"):
        ridge_classifier(features, labels, n_classes=1)


def test_ridge_classifier_with_silent_neurons(getkey):
    """Spike counts often have silent neurons (constant columns) and duplicates:
    alpha = 0 gave NaN weights; it is the minimum-norm least-squares fit (pinv)."""
    centres = 3.0 * jr.normal(getkey(), (3, 6))
    labels = jnp.repeat(jnp.arange(3), 20)
    active = centres[labels] + 0.3 * jr.normal(getkey(), (60, 6))
    features = jnp.concatenate([active, jnp.zeros((60, 2)), active[:, :2]], axis=1)
    readout = ridge_classifier(features, labels, n_classes=3, alpha=0.0)
    F = np.asarray(features) - np.asarray(features).mean(0)
    onehot = np.eye(3)[np.asarray(labels)]
    W = (np.linalg.pinv(F) @ (onehot - onehot.mean(0))).T
    np.testing.assert_allclose(np.asarray(readout.weights), W, rtol=1e-8, atol=1e-10)
    np.testing.assert_array_equal(predict_labels(readout, features), labels)
    f32 = ridge_classifier(features.astype(jnp.float32), labels, n_classes=3, alpha=0.0)
    assert np.all(np.isfinite(np.asarray(f32.weights)))
    np.testing.assert_array_equal(
        predict_labels(f32, features.astype(jnp.float32)), labels
    )

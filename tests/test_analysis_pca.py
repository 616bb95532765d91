"""dx.analysis.pca against NumPy's SVD and scikit-learn."""

import numpy as np
import pytest
from sklearn.decomposition import PCA as SkPCA

import dynax as dx


def _data(seed=0, shape=(3, 40, 6)):
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(6, 6)) @ np.diag([4.0, 2.0, 1.0, 0.5, 0.2, 0.1])
    return rng.normal(size=shape) @ mix + rng.normal(size=6)


@pytest.mark.parametrize("k", [None, 1, 3])
def test_pca_equals_numpy_svd(k):
    x = _data()
    fit = dx.analysis.pca(x, k)
    flat = x.reshape(-1, 6)
    centred = flat - flat.mean(0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    kk = 6 if k is None else k
    vt = vt[:kk]
    vt *= np.sign(vt[np.arange(kk), np.abs(vt).argmax(1)])[:, None]  # the convention
    np.testing.assert_allclose(fit.components, vt, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fit.mean, flat.mean(0), rtol=1e-12)
    np.testing.assert_allclose(fit.explained_variance, s[:kk] ** 2 / (len(flat) - 1))
    np.testing.assert_allclose(fit.explained_variance_ratio, s[:kk] ** 2 / np.sum(s**2))
    proj = np.asarray(fit.project(x))
    assert proj.shape == (3, 40, kk)
    np.testing.assert_allclose(proj.reshape(-1, kk), centred @ vt.T, atol=1e-10)
    # projections are uncorrelated with the stated variances
    np.testing.assert_allclose(np.var(proj.reshape(-1, kk), axis=0, ddof=1),
                               fit.explained_variance, rtol=1e-10)  # fmt: skip


def test_pca_equals_scikit_learn():
    x = _data(1).reshape(-1, 6)
    ours = dx.analysis.pca(x, 4)
    ref = SkPCA(n_components=4, svd_solver="full").fit(x)
    np.testing.assert_allclose(
        ours.explained_variance, ref.explained_variance_, rtol=1e-10
    )
    np.testing.assert_allclose(
        ours.explained_variance_ratio, ref.explained_variance_ratio_, rtol=1e-10
    )
    # the same axes up to each one's sign
    np.testing.assert_allclose(np.abs(ours.components @ ref.components_.T), np.eye(4),
                               atol=1e-10)  # fmt: skip

"""dynax.plot: every figure draws labelled axes, a legend where needed, a real file."""

import jax.numpy as jnp
import jax.random as jr
import matplotlib
import numpy as np
import pytest

import dynax as dx

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _saved(fig, tmp_path, name):
    out = tmp_path / f"{name}.png"
    fig.savefig(out)
    assert out.stat().st_size > 5_000  # a drawn figure, not an empty canvas
    pdf = tmp_path / f"{name}.pdf"
    fig.savefig(pdf)
    assert pdf.stat().st_size > 1_000
    return fig.axes[0]


def test_trajectories_pca_marks_fixed_points_by_stability(tmp_path):
    rng = np.random.default_rng(0)
    corners = np.array([[1.0, 1, 0], [-1, -1, 0], [1, -1, 0]])
    traj = corners[rng.integers(0, 3, 20)][:, None] * np.linspace(0, 1, 30)[:, None]
    traj = traj + 0.05 * rng.normal(size=traj.shape)
    fig = dx.plot.trajectories_pca(traj, corners, stable=[True, True, False], title="x")
    ax = _saved(fig, tmp_path, "pca")
    assert ax.get_xlabel().startswith("PC1 (") and ax.get_ylabel().startswith("PC2 (")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["trajectories (20)", "stable fixed points (2)",
                      "unstable fixed points (1)"]  # fmt: skip
    # the points sit where the PCA of the trajectories puts them
    fit = dx.analysis.pca(traj, 2)
    offsets = ax.collections[0].get_offsets()
    np.testing.assert_allclose(offsets, np.asarray(fit.project(corners[:2])), atol=1e-9)
    fig3 = dx.plot.trajectories_pca(traj, n_components=3)
    assert fig3.axes[0].get_zlabel().startswith("PC3 (")
    with pytest.raises(ValueError, match="fixed_points: expected points of size 3"):
        dx.plot.trajectories_pca(traj, np.zeros((2, 4)))


def test_loss_curves_per_member_and_from_a_sweep_dict(tmp_path):
    losses = np.exp(-np.linspace(0, 3, 50))[:, None] * np.arange(1, 13)
    fig = dx.plot.loss_curves(losses, failed=np.arange(12) == 3)
    ax = _saved(fig, tmp_path, "loss")
    assert ax.get_xlabel() == "training step" and ax.get_yscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["median", "failed (1)", "members (12)"]
    median = ax.lines[12].get_ydata()
    np.testing.assert_allclose(median, np.median(np.delete(losses, 3, axis=1), axis=1))
    fig = dx.plot.loss_curves({"m00000": losses[:, 0], "m00001": losses[:, 1]})
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == [
        "m00000", "m00001", "median"]  # fmt: skip


def test_loss_curves_only_failed_members_are_red(tmp_path):
    """With up to 8 members each has its own colour, never the failures' red
    (the default cycle's fourth colour is tab:red)."""
    from matplotlib.colors import to_rgb

    losses = np.exp(-np.linspace(0, 3, 20))[:, None] * np.arange(1, 9)
    failed = np.arange(8) == 7
    ax = _saved(dx.plot.loss_curves(losses, failed=failed), tmp_path, "red")
    colours = [to_rgb(line.get_color()) for line in ax.lines[:8]]
    red = to_rgb("tab:red")
    assert [c == red for c in colours] == failed.tolist()
    assert len(set(colours[:7])) == 7


def test_raster_order_parameter_lyapunov_and_eigenvalues(tmp_path):
    spikes = np.random.default_rng(1).random((200, 30)) < 0.05
    ax = _saved(dx.plot.raster(spikes, dt=0.001), tmp_path, "raster")
    assert ax.get_ylabel() == "neuron" and ax.get_title() == f"{spikes.sum()} spikes"
    ts = np.linspace(0, 10, 101)
    model = dx.models.Kuramoto(jnp.linspace(-0.5, 0.5, 20), 2.0)
    theta = dx.simulate(model, jr.uniform(jr.PRNGKey(0), (20,), maxval=6.28), ts).ys
    r, psi = dx.analysis.order_parameter(theta)
    ax = _saved(dx.plot.order_parameter(ts, r, psi=psi), tmp_path, "order")
    assert ax.get_ylabel() == "order parameter r"
    spec = dx.analysis.lyapunov_spectrum(
        dx.models.Lorenz(), jnp.array([1.0, 1.0, 1.0]), dt=0.01, n_steps=2000,
        n_blocks=10,
    )  # fmt: skip
    ax = _saved(dx.plot.lyapunov_convergence(spec), tmp_path, "lyap")
    assert len(ax.get_legend().get_texts()) == 3
    ev = np.linalg.eigvals(np.random.default_rng(2).normal(size=(2, 8, 8)) / 3)
    ax = _saved(dx.plot.eigenvalues(ev, kind="map"), tmp_path, "eig")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "|λ| = 1", "set 1", "set 2"]  # fmt: skip
    with pytest.raises(ValueError, match="kind: expected 'flow' or 'map'"):
        dx.plot.eigenvalues(ev, kind="ode")


def test_metric_by_draws_medians_per_hue(tmp_path):
    table = {
        "lr": np.repeat([1e-3, 1e-2, 1e-1], 4).tolist() * 2,
        "size": [8] * 12 + [16] * 12,
        "score": np.arange(24.0).tolist(),
    }
    ax = _saved(dx.plot.metric_by(table, "lr", "score", hue="size"), tmp_path, "m")
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "lr"
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [1.5, 5.5, 9.5])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "size = 8",
        "size = 16",
    ]

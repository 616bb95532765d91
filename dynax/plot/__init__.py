"""Figures researchers redraw by hand (matplotlib: ``pip install dynax[plot]``).

matplotlib is imported when a function is called, never by ``import dynax``. Every
function draws into ``ax`` when one is given (else a new figure), labels its axes,
draws a legend where there is more than one kind of thing, and returns the figure.
Save it with ``fig.savefig("name.png")`` (or ``.pdf``).
"""

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "eigenvalues",
    "loss_curves",
    "lyapunov_convergence",
    "metric_by",
    "order_parameter",
    "raster",
    "trajectories_pca",
]


# tab10 without red: healthy members never take the colour of a failed one
_HEALTHY = (
    "tab:blue",
    "tab:orange",
    "tab:green",
    "tab:purple",
    "tab:brown",
    "tab:pink",
    "tab:gray",
    "tab:olive",
    "tab:cyan",
)


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - the plot extra is missing
        raise ImportError(
            "dynax.plot needs matplotlib: pip install 'dynax[plot]'"
        ) from error
    return plt


def _axes(ax, figsize=(5.0, 4.0), projection: str | None = None):
    plt = _pyplot()
    if ax is None:
        fig = plt.figure(figsize=figsize, layout="constrained")
        ax = fig.add_subplot(projection=projection)
    return ax.figure, ax


def _np(name: str, x: Any, ndim: Sequence[int]) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim not in ndim:
        raise ValueError(
            f"{name}: expected an array of rank {tuple(ndim)}, got shape {arr.shape}."
        )
    return arr


def trajectories_pca(
    trajectories,
    fixed_points=None,
    *,
    stable=None,
    n_components: int = 2,
    ax=None,
    max_lines: int = 200,
    title: str | None = None,
):
    """Trajectories in the space of their top principal components.

    The PCA is fitted to the trajectories; fixed points are projected onto it and
    marked by stability (filled: stable; open: unstable, as in Sussillo & Barak).

    Args:
        trajectories: states, ``(time, n)`` or ``(trials, time, n)`` (e.g. firing
            rates ``tanh(ys)`` for a rate RNN).
        fixed_points: points ``(k, n)`` to mark, e.g. from
            ``dx.analysis.unique_fixed_points``.
        stable: a bool per fixed point (default: all stable).
        n_components: 2 or 3 (a 3-D axes).
        ax: axes to draw into (3-D ones for ``n_components=3``).
        max_lines: draw at most this many trials (faint lines).
        title: the axes' title.
    """
    from ..analysis import pca

    x: Any = _np("trajectories", trajectories, (2, 3))
    x = x[None] if x.ndim == 2 else x
    if n_components not in (2, 3):
        raise ValueError(f"n_components: expected 2 or 3, got {n_components}.")
    fit = pca(x, n_components)
    proj = np.asarray(fit.project(x))
    ratio = np.asarray(fit.explained_variance_ratio)
    fig, ax = _axes(ax, projection="3d" if n_components == 3 else None)
    for trial in proj[:max_lines]:
        ax.plot(*trial.T, color="0.45", lw=0.6, alpha=0.35)
    ax.plot([], [], color="0.45", lw=0.8, label=f"trajectories ({len(proj)})")
    if fixed_points is not None:
        pts: Any = _np("fixed_points", fixed_points, (2,))
        if pts.shape[-1] != x.shape[-1]:
            raise ValueError(
                f"fixed_points: expected points of size {x.shape[-1]}, got {pts.shape}."
            )
        st = np.ones(len(pts), bool) if stable is None else np.asarray(stable, bool)
        if st.shape != (len(pts),):
            raise ValueError(f"stable: expected shape ({len(pts)},), got {st.shape}.")
        p = np.asarray(fit.project(pts)) if len(pts) else np.zeros((0, n_components))
        kw = dict(s=60, zorder=5, edgecolors="k", linewidths=1.2)
        ax.scatter(*p[st].T, c="k", label=f"stable fixed points ({st.sum()})", **kw)
        ax.scatter(
            *p[~st].T, c="w", label=f"unstable fixed points ({(~st).sum()})", **kw
        )
    setters: list[Any] = [ax.set_xlabel, ax.set_ylabel, getattr(ax, "set_zlabel", None)]
    for i, set_label in enumerate(setters[:n_components]):
        set_label(f"PC{i + 1} ({100 * ratio[i]:.0f}% var.)")
    ax.legend(loc="best", fontsize="small")
    if title:
        ax.set_title(title)
    return fig


def loss_curves(
    losses, *, failed=None, labels=None, log: bool = True, ax=None, title=None
):
    """Training loss per member: faint lines, the median in bold, failures in red.

    Args:
        losses: ``(steps,)``, ``(steps, members)`` (``History.loss``), or a dict
            ``{name: (steps,)}`` (``Sweep.losses()``).
        failed: a bool per member (``History.failed``): drawn in red.
        labels: a name per member (a legend entry each when there are at most 8).
        log: a logarithmic loss axis.
        ax: axes to draw into (default: a new figure).
        title: the axes' title.
    """
    if isinstance(losses, dict):
        if not losses:
            raise ValueError("losses: expected at least one member's curve, got {}.")
        labels = list(losses) if labels is None else labels
        curves = np.stack([np.asarray(v) for v in losses.values()], axis=1)
    else:
        curves = _np("losses", losses, (1, 2))
        curves = curves[:, None] if curves.ndim == 1 else curves
    n = curves.shape[1]
    bad = np.zeros(n, bool) if failed is None else np.asarray(failed, bool).reshape(n)
    fig, ax = _axes(ax)
    steps = np.arange(1, len(curves) + 1)
    few = n <= 8
    for i in range(n):
        name = labels[i] if labels is not None and few else None
        healthy = _HEALTHY[i % len(_HEALTHY)] if few else "tab:blue"
        color = "tab:red" if bad[i] else healthy
        ax.plot(steps, curves[:, i], lw=1.0 if few else 0.6, alpha=1.0 if few else 0.3,
                color=color, label=name)  # fmt: skip
    if n > 1:
        good = curves[:, ~bad] if (~bad).any() else curves
        ax.plot(steps, np.nanmedian(good, axis=1), color="k", lw=2.0, label="median")
    if bad.any():
        ax.plot([], [], color="tab:red", label=f"failed ({bad.sum()})")
    if not few:
        ax.plot([], [], color="tab:blue", alpha=0.5, label=f"members ({n})")
    ax.set_xlabel("training step")
    ax.set_ylabel("loss")
    if log:
        ax.set_yscale("log")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize="small")
    if title:
        ax.set_title(title)
    return fig


def raster(spikes, *, dt: float = 1.0, ax=None, title=None, max_neurons: int = 500):
    """A spike raster: ``spikes`` ``(time, neurons)`` (counts or booleans)."""
    s = _np("spikes", spikes, (2,))[:, :max_neurons]
    t, n = np.nonzero(s)
    fig, ax = _axes(ax, figsize=(6.0, 3.5))
    ax.scatter(t * dt, n, marker="|", s=12, c="k", linewidths=0.8)
    ax.set_xlim(0, len(s) * dt)
    ax.set_ylim(-0.5, s.shape[1] - 0.5)
    ax.set_xlabel("time")
    ax.set_ylabel("neuron")
    ax.set_title(title or f"{int(s.sum())} spikes")
    return fig


def order_parameter(ts, r, *, psi=None, ax=None, title=None, labels=None):
    """Kuramoto order parameter ``r(t)`` (one curve per column of a 2-D ``r``)."""
    tt = _np("ts", ts, (1,))
    rr = _np("r", r, (1, 2))
    rr = rr[:, None] if rr.ndim == 1 else rr
    if len(rr) != len(tt):
        raise ValueError(f"r: expected {len(tt)} time points (len(ts)), got {len(rr)}.")
    fig, ax = _axes(ax, figsize=(6.0, 3.5))
    for i in range(rr.shape[1]):
        ax.plot(tt, rr[:, i], label=None if labels is None else labels[i])
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("time")
    ax.set_ylabel("order parameter r")
    if psi is not None:
        twin = ax.twinx()
        twin.plot(tt, np.asarray(psi), color="0.6", lw=0.7, label="mean phase ψ")
        twin.set_ylabel("mean phase ψ (rad)")
    if labels is not None:
        ax.legend(loc="best", fontsize="small")
    if title:
        ax.set_title(title)
    return fig


def lyapunov_convergence(
    spectrum, *, block_time: float | None = None, ax=None, title=None
):
    """Running Lyapunov exponent estimates per block (``LyapunovSpectrum.history``).

    A converged estimate is flat; the final values and their standard errors are
    given in the legend.
    """
    hist = _np("spectrum.history", spectrum.history, (2,))
    final = np.asarray(spectrum.exponents)
    err = np.asarray(spectrum.stderr)
    x = np.arange(1, len(hist) + 1) * (1.0 if block_time is None else block_time)
    fig, ax = _axes(ax)
    for i in range(hist.shape[1]):
        ax.plot(x, hist[:, i], label=f"λ{i + 1} = {final[i]:.3g} ± {err[i]:.1g}")
    ax.axhline(0.0, color="k", lw=0.6, ls=":")
    ax.set_xlabel("time" if block_time is not None else "block")
    ax.set_ylabel("running estimate")
    ax.legend(loc="best", fontsize="small")
    if title:
        ax.set_title(title)
    return fig


def eigenvalues(eigvals, *, kind: str = "flow", ax=None, title=None, labels=None):
    """Eigenvalues in the complex plane, with the stability boundary.

    Args:
        eigvals: complex, ``(k,)`` or ``(m, k)`` (one set per fixed point, each
            drawn in its own colour).
        kind: ``"flow"`` (boundary Re λ = 0) or ``"map"`` (the unit circle).
        ax: axes to draw into (default: a new figure).
        title: the axes' title.
        labels: a legend name per set.
    """
    ev = _np("eigvals", eigvals, (1, 2))
    ev = ev[None] if ev.ndim == 1 else ev
    if kind not in ("flow", "map"):
        raise ValueError(f"kind: expected 'flow' or 'map', got {kind!r}.")
    fig, ax = _axes(ax)
    if kind == "map":
        theta = np.linspace(0, 2 * np.pi, 400)
        ax.plot(
            np.cos(theta), np.sin(theta), color="k", lw=0.8, ls="--", label="|λ| = 1"
        )
        ax.set_aspect("equal")
    else:
        ax.axvline(0.0, color="k", lw=0.8, ls="--", label="Re λ = 0")
    for i, row in enumerate(ev):
        name = (
            labels[i]
            if labels is not None
            else (f"set {i + 1}" if len(ev) > 1 else "eigenvalues")
        )
        ax.scatter(row.real, row.imag, s=14, alpha=0.8, label=name)
    ax.set_xlabel("Re λ")
    ax.set_ylabel("Im λ")
    ax.legend(loc="best", fontsize="small")
    if title:
        ax.set_title(title)
    return fig


def metric_by(
    table, x: str, y: str, *, hue: str | None = None, ax=None, title=None, logx=None
):
    """A metric against a hyper-parameter over a sweep's members.

    Every member is a dot; the line joins the medians at each ``x``, one line per
    value of ``hue``. ``table`` is a ``Sweep.table`` (a pandas DataFrame) or a
    dict of columns.
    """
    cols = {k: np.asarray(table[k]) for k in (x, y) + ((hue,) if hue else ())}
    xs, ys = cols[x].astype(float), cols[y].astype(float)
    groups = [None] if hue is None else list(dict.fromkeys(cols[hue].tolist()))
    fig, ax = _axes(ax)
    for g in groups:
        sel = np.ones(len(xs), bool) if hue is None else cols[hue] == g
        levels = np.array(sorted(set(xs[sel].tolist())))
        med = [np.nanmedian(ys[sel & (xs == v)]) for v in levels]
        line = ax.plot(
            levels, med, marker="o", label=None if g is None else f"{hue} = {g}"
        )
        ax.scatter(xs[sel], ys[sel], s=10, alpha=0.4, color=line[0].get_color())
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    values = np.asarray(xs, float)
    positive = bool(np.all(values > 0))
    if logx or (logx is None and positive and values.max() / values.min() >= 3):
        ax.set_xscale("log")
    levels = np.unique(values)
    if len(levels) <= 8:
        ax.set_xticks(levels, [f"{v:g}" for v in levels])
        ax.minorticks_off()
    if hue is not None:
        ax.legend(loc="best", fontsize="small")
    if title:
        ax.set_title(title)
    return fig

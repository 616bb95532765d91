# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lyapunov spectra: the Lorenz attractor and the onset of chaos in random RNNs
#
# The Lyapunov exponents $\lambda_1 \ge \lambda_2 \ge \dots$ of a trajectory are the
# average exponential growth rates of small perturbations: a positive $\lambda_1$
# means chaos, and their sum is the average rate at which phase-space volume
# contracts. `dx.analysis.lyapunov_spectrum` computes the $k$ largest by the QR
# (Benettin) method: $k$ tangent vectors are carried along the trajectory by the
# Jacobian of one solver step (Tsit5 by default), re-orthonormalised by a QR
# decomposition, and $\lambda_i$ is the time average of $\log |R_{ii}|$. A transient
# (`n_transient` steps) is run and discarded first, so that the state reaches the
# attractor and the tangent vectors line up.
#
# This notebook checks the method on the Lorenz system against published values and
# closed forms, then measures the largest exponent of a whole ensemble of random
# rate networks across their coupling gain $g$, in one call: the transition to
# chaos at $g = 1$ of Sompolinsky, Crisanti & Sommers (1988).
#
# Set the environment variable `DYNAX_SMALL=1` for a quick run (the tests do).

# %%
import os

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import matplotlib.pyplot as plt
import numpy as np

import dynax as dx

SMALL = os.environ.get("DYNAX_SMALL", "0") == "1"
n_lorenz = 30_000 if SMALL else 500_000  # steps of dt = 0.01 averaged over
n_units = 200 if SMALL else 400  # random-network size N
seeds = 1 if SMALL else 4  # networks per gain
n_rnn, n_rnn_transient = (1000, 500) if SMALL else (2500, 1000)  # steps of 0.2

# %% [markdown]
# ## The Lorenz system
# $\dot x = \sigma(y - x)$, $\dot y = x(\rho - z) - y$, $\dot z = xy - \beta z$ at
# the classic $\sigma = 10$, $\rho = 28$, $\beta = 8/3$. Sprott (*Chaos and
# Time-Series Analysis*, 2003) gives the spectrum $(0.9056, 0, -14.5723)$. Three
# checks:
#
# - **$\lambda_1$** against the published value. It is a finite-time average over
#   a chaotic trajectory, so it carries a statistical error that shrinks like
#   $1/\sqrt{T}$; `stderr` estimates it from the spread of 10 consecutive blocks.
# - **$\lambda_2 = 0$** exactly for any bounded, non-fixed-point trajectory of a
#   flow (a perturbation along the flow neither grows nor shrinks on average); the
#   finite-time estimate is off by $O(1/T)$.
# - **The sum** $\lambda_1 + \lambda_2 + \lambda_3$ equals the average trace of the
#   Jacobian, here the constant $-(\sigma + 1 + \beta) = -13.667$: the volume
#   contraction is the same everywhere on the attractor, so this holds at any $T$,
#   up to the solver's error.

# %%
lorenz = dx.models.Lorenz()
dt = 0.01
spectrum = dx.analysis.lyapunov_spectrum(
    lorenz, jnp.ones(3), dt=dt, n_steps=n_lorenz, n_transient=1000
)
T = n_lorenz * dt
published = np.array([0.9056, 0.0, -14.5723])  # Sprott 2003
lam, err = np.asarray(spectrum.exponents), np.asarray(spectrum.stderr)
print(f"averaged over T = {T:g} time units (after a transient of 10)")
for i in range(3):
    print(
        f"lambda_{i + 1}: measured {lam[i]:+8.4f} +/- {err[i]:.4f}, "
        f"published {published[i]:+8.4f}"
    )
trace = -(10.0 + 1.0 + 8.0 / 3.0)
print(
    f"sum: measured {lam.sum():.5f}, closed form -(sigma + 1 + beta) = {trace:.5f} "
    f"(difference {lam.sum() - trace:+.1e})"
)

# %% [markdown]
# ### Kaplan–Yorke dimension
# With $j$ the largest index whose partial sum $\lambda_1 + \dots + \lambda_j$ is
# still $\ge 0$ (here $j = 2$), $D_{KY} = j + (\lambda_1 + \dots + \lambda_j) /
# |\lambda_{j+1}|$: a fractal dimension a little above 2 for the Lorenz attractor
# (2.062 from the published spectrum).


# %%
def kaplan_yorke(exponents):
    """The Kaplan-Yorke dimension of a spectrum sorted in decreasing order."""
    partial = np.cumsum(exponents)
    j = int(np.sum(partial >= 0))
    return float(j + partial[j - 1] / abs(exponents[j])) if j else 0.0


print(f"Kaplan-Yorke dimension: measured {kaplan_yorke(lam):.4f}, "
      f"from the published spectrum {kaplan_yorke(published):.4f}")  # fmt: skip

# %% [markdown]
# ### Convergence
# `spectrum.history` holds the running estimate at the end of each of the 10
# blocks; a converged run has flat curves. Left: all three exponents; right: a
# zoom on $\lambda_1$ and $\lambda_2$ with the published values.

# %%
fig, (ax_all, ax_zoom) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
dx.plot.lyapunov_convergence(
    spectrum, block_time=T / 10, ax=ax_all, title="Lorenz: running estimates"
)
dx.plot.lyapunov_convergence(
    spectrum, block_time=T / 10, ax=ax_zoom, title="zoom on λ1 and λ2"
)
ax_zoom.axhline(published[0], color="k", ls="--", lw=1, label="λ1, Sprott 2003")
ax_zoom.set_ylim(-0.3, 1.3)
ax_zoom.legend(loc="center right", fontsize="small")
for ax in (ax_all, ax_zoom):
    ax.set_xlabel("averaging time (time units of the Lorenz system)")
    ax.set_ylabel("running estimate (1 / time unit)")
plt.show()

# %% [markdown]
# With $T = 300$ (the small run) the standard error of $\lambda_1$ is about 0.01,
# and $\lambda_1$ typically lands within a few hundredths of 0.906 and $\lambda_2$
# within 0.01 of zero; $T = 5000$ (the full run) brings both errors down
# several-fold (to a few thousandths). The sum matches the closed form to about
# $10^{-5}$ or better at any length. The exponents are those of the discretised
# flow (one Tsit5 step of 0.01 is the map that is differentiated); at this step
# size that difference is far below the statistical error.
#
# ## The transition to chaos in random rate networks
# Sompolinsky, Crisanti & Sommers (1988, PRL 61:259) studied
# $\dot x = -x + J \tanh(x)$ with $J_{ij} \sim \mathcal N(0, g^2/N)$, which is
# `dx.models.CTRNN(0, N, ...)` without input ($\tau = 1$, zero bias). As
# $N \to \infty$, $x = 0$ is the only attractor for $g < 1$ and the dynamics is
# chaotic for $g > 1$.
#
# Below $g = 1$ the largest exponent is known in closed form for each network:
# trajectories fall into $x = 0$, so $\lambda_1$ is the largest real part of the
# Jacobian $-I + J$ there, $\max \operatorname{Re} \operatorname{eig}(J) - 1$, which
# tends to $g - 1$ for large $N$ (the eigenvalues of $J$ fill the disc of radius
# $g$).
#
# One ensemble holds `seeds` random networks for each gain (per-member gains are
# set when the ensemble is built), and one call of `lyapunov_spectrum` measures
# every member's $\lambda_1$.

# %%
gains = np.array([0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0] if SMALL else
                 [0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 2.5, 3.0])  # fmt: skip
g = np.repeat(gains, seeds)  # member i has gain g[i]
keys = jr.split(jr.PRNGKey(0), len(g))  # and its own random matrix
nets = eqx.filter_vmap(lambda k, gain: dx.models.CTRNN(0, n_units, 1, g=gain, key=k))(
    keys, jnp.asarray(g)
)
y0 = jr.normal(jr.PRNGKey(1), (len(g), n_units))  # one initial state per member
rnn = dx.analysis.lyapunov_spectrum(
    nets,
    y0,
    dt=0.2,  # Tsit5 steps of 0.2 tau (fifth order: accurate at this step)
    n_steps=n_rnn,
    n_transient=n_rnn_transient,
    n_exponents=1,
    ensemble=True,
)
lam1, err1 = np.asarray(rnn.exponents[:, 0]), np.asarray(rnn.stderr[:, 0])
print(f"{len(g)} networks of N = {n_units}: exponents {rnn.exponents.shape}, "
      f"averaged over T = {n_rnn * 0.2:g} after a transient of "
      f"{n_rnn_transient * 0.2:g}")  # fmt: skip

# the closed form below g = 1: the largest real part of the Jacobian -I + J at x = 0
below = g < 1
linear = np.linalg.eigvals(np.asarray(nets.W[below])).real.max(axis=1) - 1.0
for gi, lm, e, lin in zip(g[below], lam1[below], err1[below], linear, strict=True):
    print(f"g = {gi:.2f}: lambda_1 {lm:+.4f} +/- {e:.4f}, "
          f"max Re eig(J) - 1 = {lin:+.4f}, g - 1 = {gi - 1:+.2f}")  # fmt: skip
for gi in gains[gains >= 1]:
    sel = g == gi
    chaotic = int(np.sum(lam1[sel] > 3 * err1[sel]))
    print(f"g = {gi:.2f}: lambda_1 = {np.round(lam1[sel], 3)}, "
          f"{chaotic}/{sel.sum()} clearly positive (> 3 stderr)")  # fmt: skip

# %%
fig = dx.plot.metric_by(
    {"g": g, "λ1 (1/τ)": lam1},
    "g",
    "λ1 (1/τ)",
    logx=False,
    title=f"largest Lyapunov exponent of random rate networks, N = {n_units}",
)
ax = fig.axes[0]
fig.set_size_inches(7, 4.5)
ax.errorbar(g, lam1, yerr=err1, fmt="none", color="tab:blue", alpha=0.5)
ax.scatter(g[below], linear, marker="x", color="tab:red", zorder=3,
           label="max Re eig(J) - 1 (each network)")  # fmt: skip
grid = np.linspace(gains.min(), 1.0, 50)
ax.plot(grid, grid - 1, color="k", ls="--", lw=1, label="g - 1 (N → ∞)")
ax.axhline(0, color="k", lw=0.6, ls=":")
ax.axvline(1, color="0.5", lw=0.8, label="onset of chaos, N → ∞")
ax.plot([], [], "o-", color="tab:blue", label="measured λ1 ± stderr (line: median)")
ax.legend(loc="lower right", fontsize="small")
plt.show()

# %% [markdown]
# Below $g = 1$ each measured $\lambda_1$ agrees with its own network's closed
# form to within about its standard error (a few $10^{-3}$ or better: the
# finite-time error), and the networks scatter around $g - 1$ by the finite-$N$
# fluctuations of the top eigenvalue of $J$. Near $g = 1$ the decay is slow
# (critical slowing down), so transients and averages must be long there.
#
# Above $g = 1$, $x = 0$ is unstable (for large $N$) and there is no closed form
# for the exponent.
# At the larger gains the networks are chaotic, with a small $\lambda_1$ (of order
# $0.1/\tau$ at $g = 2$ to 3, so nearby trajectories separate slowly). Just above
# $g = 1$, networks of a few hundred units often are not: after a chaotic
# transient they settle on a fixed point ($\lambda_1 < 0$) or a limit cycle
# ($\lambda_1 \approx 0$), or their chaos is too weak to resolve in this averaging
# time. This is a finite-size effect that becomes rarer as $N$ grows; the sharp
# transition at $g = 1$ holds for $N \to \infty$. The small run has one network
# of $N = 200$ per gain; the full run has four of $N = 400$ per gain, which shows
# how much networks at the same gain differ. Increase `n_units` (and the times) to
# watch the transition sharpen.
#
# Related: [`fixed_points.py`](fixed_points.py) uses the same function on trained
# networks (the exponents at a memory equal the real parts of the Jacobian's
# leading eigenvalues there).

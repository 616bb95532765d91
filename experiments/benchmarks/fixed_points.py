"""Benchmark: fixed points of trained RNNs, dynax vs a per-candidate scipy loop.

An ensemble of CTRNNs (N=64 units) is trained on the 3-bit flip-flop with
``dx.train.fit``; candidates are visited states plus Gaussian noise (0.5), 1,024
per network, and the input is held at zero. In one process:

- ``dynax``: ``dx.analysis.find_fixed_points`` on one network, all candidates in one
  jitted call (Jacobians and eigenvalues of the 64 best unique points included);
- ``scipy_bfgs``: the usual approach, a Python loop of
  ``scipy.optimize.minimize(q, x0, jac=True, method="BFGS")`` per candidate on the
  speed ``q(x) = |F(x)|^2 / 2`` with its analytic gradient in NumPy (no Jacobians
  or eigenvalues); converged means q <= tol as for dynax;
- ``scipy_root``: ``scipy.optimize.root(F, x0, jac=J, method="hybr")`` per candidate,
  a faster root finder that cannot report slow points;
- ``torch_fpf``: a FixedPointFinder-style PyTorch search (Golub & Sussillo 2018;
  not on PyPI, so written here from ``FixedPointFinderTorch.py``'s defaults): Adam
  on all candidates jointly, minimising the mean of the same speed ``q`` (float32,
  initial learning rate 1.0, ``ReduceLROnPlateau(factor=0.95, patience=2)`` on the
  mean ``q``; stop when every candidate has ``q < tol_q = 1e-12`` or
  ``|dq| < tol_dq * lr``, ``tol_dq = 1e-20``, or after ``max_iters = 5000``), then
  de-duplication (``tol_unique = 1e-3``, lowest ``q`` kept), distance-outlier
  exclusion (scale 10), Jacobians (its batched ``torch.autograd`` trick) and
  eigenvalues (``np.linalg.eig``); skipped when torch is not installed;
- ``ensemble``: one ``find_fixed_points(..., ensemble=True)`` call on every member
  vs a Python loop of single-network calls (compiled once, reused).

Compile times (first call minus a timed call) are reported apart from run times.
Both finders' unique fixed points are de-duplicated with the same tolerance and
compared. One JSON object is printed.

Usage: ``python experiments/benchmarks/fixed_points.py [--n-members 64] [--cache f]``;
``--small`` trains a small ensemble briefly (a smoke test; later flags override it).
"""

import argparse
import json
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import scipy
import scipy.optimize

import dynax as dx


@dataclass
class Config:
    """Sizes of the benchmark."""

    n_members: int = 64
    n_hidden: int = 64
    n_candidates: int = 1024
    noise: float = 0.5
    train_steps: int = 400
    scipy_candidates: int = 1024
    tol: float = 1e-10
    max_points: int = 64
    seed: int = 0
    cache: str = ""  # a file to keep the trained ensemble in between runs
    fpf_max_iters: int = 5000
    torch_threads: int = 0  # 0: the CPU count

    @classmethod
    def small(cls) -> "Config":
        """A quick run (a minute): brief training, few candidates."""
        return cls(
            n_members=2,
            n_hidden=16,
            n_candidates=128,
            train_steps=50,
            scipy_candidates=16,
            max_points=16,
            fpf_max_iters=1000,
        )


def train(cfg: Config):
    """A flip-flop ensemble and per-member candidates from its trajectories."""
    task = dx.tasks.FlipFlop(n_bits=3, n_steps=100, dt=0.1, settle_steps=2)
    k_ens, k_fit, k_trials, k_cand = jr.split(jr.PRNGKey(cfg.seed), 4)
    ens = dx.make_ensemble(
        lambda k: dx.models.CTRNN(3, cfg.n_hidden, 3, tau=0.3, g=0.9, key=k),
        jr.split(k_ens, cfg.n_members),
    )
    if cfg.cache and Path(cfg.cache).exists():
        ens = eqx.tree_deserialise_leaves(cfg.cache, ens)
    else:
        ens, _ = dx.train.fit(
            ens,
            task,
            optimizer=optax.chain(optax.clip_by_global_norm(1.0), optax.adam(1e-2)),
            n_steps=cfg.train_steps,
            batch_size=32,
            key=k_fit,
            ensemble=True,
            progress=False,
        )
        if cfg.cache:
            eqx.tree_serialise_leaves(cfg.cache, ens)
    score = dx.train.evaluate(ens, task, key=k_trials, ensemble=True).score
    inputs = jax.vmap(task.sample)(jr.split(k_trials, 32)).inputs

    def visited(m):
        run = lambda u: dx.simulate(m, m.init_state(), task.ts, inputs=u).ys  # noqa: E731
        return jax.vmap(run)(inputs)

    ys = eqx.filter_vmap(visited)(ens)
    cands = jax.vmap(
        lambda y, k: dx.analysis.sample_candidates(
            y, cfg.n_candidates, noise=cfg.noise, key=k
        )
    )(ys, jr.split(k_cand, cfg.n_members))
    return ens, cands, np.asarray(score)


def timed(fn, *args):
    """(first-call seconds, second-call seconds, result)."""
    t = time.perf_counter()
    jax.block_until_ready(fn(*args))
    first = time.perf_counter() - t
    t = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return first, time.perf_counter() - t, out


def scipy_loops(model, cands, cfg: Config) -> dict:
    """The per-candidate scipy loops on one network (NumPy maths, float64)."""
    W, b = np.asarray(model.W, np.float64), np.asarray(model.b, np.float64)
    tau = np.exp(np.asarray(model.log_tau, np.float64))

    def F(x):
        return (-x + W @ np.tanh(x) + b) / tau

    def J(x):
        return (-np.eye(len(x)) + W * (1 - np.tanh(x) ** 2)[None, :]) / tau[:, None]

    def q_and_grad(x):
        r = F(x)
        return 0.5 * r @ r, J(x).T @ r

    x0s = np.asarray(cands, np.float64)[: cfg.scipy_candidates]
    out = {}
    for name, solve in (
        (
            "scipy_bfgs",
            lambda x0: (
                scipy.optimize.minimize(
                    q_and_grad, x0, jac=True, method="BFGS", options={"gtol": 1e-10}
                ).x
            ),
        ),
        (
            "scipy_root",
            lambda x0: scipy.optimize.root(F, x0, jac=J, method="hybr", tol=1e-12).x,
        ),
    ):
        t = time.perf_counter()
        xs = np.stack([solve(x0) for x0 in x0s])
        seconds = time.perf_counter() - t
        q = 0.5 * np.sum(np.stack([F(x) for x in xs]) ** 2, axis=1)
        out[name] = {
            "run_s_measured": round(seconds, 3),
            "candidates_measured": len(x0s),
            "run_s_per_1024": round(seconds / len(x0s) * 1024, 3),
            "n_converged": int(np.sum(q <= cfg.tol)),
            "unique_fixed_points": _unique(xs[q <= cfg.tol]),
        }
    return out


def torch_fpf(model, cands, cfg: Config) -> dict:
    """FixedPointFinder's PyTorch search and post-processing on one network."""
    try:
        import torch
    except ImportError:
        return {}
    torch.set_num_threads(cfg.torch_threads or os.cpu_count() or 1)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    W, b, log_tau = (
        torch.tensor(np.asarray(getattr(model, n)), device=device)
        for n in ("W", "b", "log_tau")
    )
    tau = torch.exp(log_tau)

    def F(x):  # dx/dt at zero input, one state per row
        return (torch.tanh(x) @ W.T + b - x) / tau

    x0 = np.asarray(cands, np.float32)

    def search():
        x = torch.tensor(x0, device=device, requires_grad=True)
        opt = torch.optim.Adam([x], lr=1.0)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode="min", factor=0.95, patience=2, cooldown=0
        )
        q_prev = torch.full((len(x0),), float("nan"), device=device)
        for it in range(1, cfg.fpf_max_iters + 1):
            q = 0.5 * torch.sum(F(x) ** 2, dim=1)
            opt.zero_grad()
            q.mean().backward()
            opt.step()
            sched.step(q.mean().item())
            lr = opt.param_groups[0]["lr"]
            stop = ((q - q_prev).abs() < 1e-20 * lr) | (q < 1e-12)
            if it > 1 and bool(torch.all(stop)):  # one host sync per step, as FPF
                break
            q_prev = q.detach()
        x = x.detach()
        q = 0.5 * torch.sum(F(x) ** 2, dim=1)
        keep = _fpf_unique(x.cpu().numpy(), q.cpu().numpy())
        centroid = x0.mean(axis=0)
        scale = np.mean(np.linalg.norm(x0 - centroid, axis=1))
        xs = x.cpu().numpy()[keep]
        keep = keep[np.linalg.norm(xs - centroid, axis=1) / scale <= 10.0]
        xs = x[keep]  # FPF's batched Jacobian: d(sum_b F(x)_b)/dx, then permute
        J = torch.autograd.functional.jacobian(lambda y: F(y).sum(0), xs)
        eig = np.linalg.eigvals(J.permute(1, 0, 2).cpu().numpy())
        return it, xs.cpu().numpy(), q[keep].cpu().numpy(), eig

    t = time.perf_counter()
    search()
    first = time.perf_counter() - t
    t = time.perf_counter()
    n_iters, xs, q, eig = search()
    seconds = time.perf_counter() - t
    return {
        "first_call_s": round(first, 3),
        "run_s": round(seconds, 3),
        "n_iters": n_iters,
        "torch_device": str(device),
        "torch_num_threads": torch.get_num_threads(),
        "unique_points": len(xs),  # FPF's output: unique minima, slow points too
        "n_stable": int(np.sum(np.all(eig.real < 0, axis=1) & (q <= cfg.tol))),
        "unique_fixed_points": xs[q <= cfg.tol],
    }


def _fpf_unique(x: np.ndarray, q: np.ndarray, tol: float = 1e-3) -> np.ndarray:
    """FixedPoints.get_unique: of each group within ``tol``, the point of lowest q."""
    d = np.linalg.norm(x[:, None] - x[None], axis=-1)
    checked, keep = np.zeros(len(x), bool), []
    for i in range(len(x)):
        if checked[i]:
            continue
        match = np.flatnonzero(~checked & (d[i] <= tol))
        keep.append(match[np.argmin(q[match])])
        if len(match) > 1:
            checked[match] = True
    return np.array(keep, int)


def _unique(points: np.ndarray, tol: float = 1e-3) -> np.ndarray:
    kept: list[np.ndarray] = []
    for p in points:
        if all(np.linalg.norm(p - k) > tol for k in kept):
            kept.append(p)
    return np.array(kept).reshape(-1, points.shape[-1])


def main(cfg: Config) -> dict:
    """Train, then time every method; return the JSON-ready summary."""
    t = time.perf_counter()
    ens, cands, score = train(cfg)
    train_s = time.perf_counter() - t
    zeros = jnp.zeros(3)
    kw = dict(inputs=zeros, tol=cfg.tol, max_points=cfg.max_points)
    one = dx.member(ens, 0)
    find_one = lambda m, c: dx.analysis.find_fixed_points(m, c, **kw)  # noqa: E731
    first, run_s, fps = timed(find_one, one, cands[0])
    ours = dx.analysis.unique_fixed_points(fps)
    baselines = scipy_loops(one, cands[0], cfg)
    fpf = torch_fpf(one, cands[0], cfg)
    if fpf:
        baselines["torch_fpf"] = fpf
    results = {
        "dynax": {
            "first_call_s": round(first, 3),
            "compile_s": round(first - run_s, 3),
            "run_s": round(run_s, 3),
            "n_steps": int(fps.n_steps),
            "unique_fixed_points": int(len(ours.points)),
            "unique_slow_points": int(
                np.sum(np.asarray(fps.unique) & ~np.asarray(fps.converged))
            ),
            "n_stable": int(np.sum(ours.stable)),
        }
    }
    for name, row in baselines.items():
        found = row.pop("unique_fixed_points")
        d = np.linalg.norm(found[:, None] - ours.points[None], axis=-1)
        row["unique_fixed_points"] = int(len(found))
        row["also_found_by_dynax"] = int(np.sum(d.min(axis=1) < 1e-3)) if d.size else 0
        results[name] = row
    ens_first, ens_run, ens_fps = timed(
        lambda e, c: dx.analysis.find_fixed_points(e, c, ensemble=True, **kw),
        ens,
        cands,
    )
    t = time.perf_counter()
    for i in range(cfg.n_members):
        jax.block_until_ready(find_one(dx.member(ens, i), cands[i]))
    loop_s = time.perf_counter() - t
    return {
        "benchmark": "fixed_points",
        "device": str(jax.devices()[0]),
        "platform": platform.platform(),
        "versions": {
            "jax": jax.__version__,
            "equinox": eqx.__version__,
            "scipy": scipy.__version__,
            "dynax": dx.__version__,
        },
        "config": asdict(cfg),
        "train_s_or_cache_load_s": round(train_s, 1),
        "held_out_accuracy_min": round(float(score.min()), 4),
        "single_network": results,
        "ratio_vs_scipy_bfgs": round(
            baselines["scipy_bfgs"]["run_s_per_1024"] / run_s, 1
        ),
        "ratio_vs_scipy_root": round(
            baselines["scipy_root"]["run_s_per_1024"] / run_s, 1
        ),
        "ratio_vs_torch_fpf": (
            round(fpf["run_s"] / run_s, 1) if fpf else "skipped: torch not installed"
        ),
        "first_call_ratio_vs_torch_fpf": (
            round(fpf["first_call_s"] / first, 2) if fpf else None
        ),
        "ensemble": {
            "n_members": cfg.n_members,
            "one_call_compile_s": round(ens_first - ens_run, 3),
            "one_call_run_s": round(ens_run, 3),
            "loop_of_single_calls_s": round(loop_s, 3),
            "ratio": round(loop_s / ens_run, 2),
            "unique_fixed_or_slow_points_per_member": np.asarray(
                ens_fps.n_unique
            ).tolist(),
        },
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="quick smoke-test sizes")
    defaults = Config()
    for name, value in asdict(defaults).items():
        parser.add_argument("--" + name.replace("_", "-"), type=type(value))
    given = {k: v for k, v in vars(parser.parse_args()).items() if v is not None}
    cfg = Config.small() if given.pop("small") else defaults
    print(json.dumps(main(Config(**{**asdict(cfg), **given})), indent=1))

"""Benchmark: forward simulation of a CTRNN ensemble, dynax vs lax.scan and PyTorch.

E CTRNNs (N=128 units, tanh, one time constant per unit, 3 inputs, 3 outputs) are run
forward with Euler steps (dt=0.1) on 64 trials of 1,000 steps each; the outputs of
every member, trial and time are returned. In one process, on the same weights and
inputs (dynax's parameters copied into torch tensors):

- ``dynax``: ``dx.simulate(ens, ens.init_state(), ts, inputs=u, ensemble=True,
  trials=True, save=dx.Save(states=False)).outputs`` under ``jax.jit`` (the outputs
  are all the caller wants, so only they are kept);
- ``dynax_all_states``: the same call with the default ``save`` (every state kept,
  the readout applied after the loop), to show what keeping the states costs;
- ``scan``: a hand-written ``lax.scan`` carrying the ``(E, B, N)`` state, with
  ``einsum``, returning the outputs (the baseline a JAX user writes);
- ``torch_batched``: PyTorch under ``torch.no_grad()``, the members stacked and
  multiplied with ``torch.bmm``, a Python loop over time (how a PyTorch user writes
  it);
- ``torch_loop``: PyTorch, one network at a time (a loop over members, each batched
  over trials).

The outputs of every method are checked against dynax's (``allclose`` at float32
tolerance) before anything is timed. Methods are timed in a shuffled round-robin
(``repeats`` rounds, median); compile time (JAX) is the first call minus a timed
call. Ratios are speedups ``t(peer) / t(dynax)`` (> 1: dynax is faster). With
``--device auto`` PyTorch uses CUDA when it is available, so the same script gives
GPU numbers (JAX uses its default device). One JSON object is printed.

Usage: ``python experiments/benchmarks/torch_forward.py [--sizes 1 8 32] [--small]``.
"""

import argparse
import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

try:
    import torch
except ImportError:  # the JAX methods still run (e.g. on a GPU image without torch)
    torch = None

import dynax as dx


@dataclass
class Config:
    """Benchmark sizes (the issue's workload)."""

    sizes: list[int] = field(default_factory=lambda: [1, 8, 32])
    n_hidden: int = 128
    n_trials: int = 64
    n_steps: int = 1000
    n_in: int = 3
    n_out: int = 3
    dt: float = 0.1
    g: float = 0.9  # below the chaotic regime: float32 rounding stays small
    repeats: int = 5
    device: str = "auto"
    torch_threads: int = 0  # 0: the CPU count
    rtol: float = 1e-3  # 1,000 float32 steps: methods differ by ~1e-4 at most
    atol: float = 1e-3

    @classmethod
    def small(cls) -> "Config":
        """A quick run (seconds): a smoke test of every method."""
        return cls(sizes=[1, 4], n_hidden=32, n_trials=8, n_steps=50, repeats=2)


def make_ensemble(cfg: Config, n_nets: int):
    """E CTRNNs, each with its own time constants drawn in [0.5, 2]."""

    def make(k):
        k_tau, k_net = jr.split(k)
        tau = jr.uniform(k_tau, (cfg.n_hidden,), minval=0.5, maxval=2.0)
        return dx.models.CTRNN(
            cfg.n_in, cfg.n_hidden, cfg.n_out, tau=tau, g=cfg.g, key=k_net
        )

    return dx.make_ensemble(make, jr.split(jr.PRNGKey(0), n_nets))


def dynax_forward(ts, save):
    """Return the jitted dynax call: outputs of every member and trial."""

    @eqx.filter_jit
    def run(ens, u):
        return dx.simulate(
            ens, ens.init_state(), ts, inputs=u, ensemble=True, trials=True, save=save
        ).outputs

    return run


def scan_forward(dt: float):
    """Return the jitted hand-written scan over time of the (E, B, N) state."""

    @jax.jit
    def run(p, u):
        tau = jnp.exp(p["log_tau"])[:, None]  # (E, 1, N)

        def readout(x):
            return (
                jnp.einsum("ebn,eon->ebo", jnp.tanh(x), p["W_out"])
                + p["b_out"][:, None]
            )

        def step(x, u_k):
            drive = (
                jnp.einsum("ebj,eij->ebi", jnp.tanh(x), p["W"])
                + jnp.einsum("bk,eik->ebi", u_k, p["W_in"])
                + p["b"][:, None]
            )
            x = x + dt * (drive - x) / tau
            return x, readout(x)

        n_nets, n_hidden = p["b"].shape
        x0 = jnp.zeros((n_nets, u.shape[0], n_hidden), u.dtype)
        _, ys = jax.lax.scan(step, x0, jnp.swapaxes(u, 0, 1)[:-1])
        ys = jnp.concatenate([readout(x0)[None], ys])  # (time, E, B, n_out)
        return jnp.moveaxis(ys, 0, 2)

    return run


def torch_params(ens, device) -> dict:
    """The ensemble's parameters as stacked float32 torch tensors."""
    names = ("W", "W_in", "b", "W_out", "b_out", "log_tau")
    return {n: torch.tensor(np.asarray(getattr(ens, n)), device=device) for n in names}


@torch.no_grad()
def torch_batched(p: dict, u: torch.Tensor, dt: float) -> torch.Tensor:
    """PyTorch: every member at once with bmm, a Python loop over time."""
    n_nets, n_hidden = p["b"].shape
    tau = torch.exp(p["log_tau"])[:, None]
    WT, WinT, WoutT = (p[n].transpose(1, 2) for n in ("W", "W_in", "W_out"))
    b, b_out = p["b"][:, None], p["b_out"][:, None]
    x = torch.zeros(n_nets, u.shape[0], n_hidden, device=u.device)
    outs = [torch.baddbmm(b_out, torch.tanh(x), WoutT)]
    for k in range(u.shape[1] - 1):
        drive = torch.bmm(torch.tanh(x), WT) + torch.matmul(u[:, k], WinT) + b
        x = x + dt * (drive - x) / tau
        outs.append(torch.baddbmm(b_out, torch.tanh(x), WoutT))
    return torch.stack(outs, dim=2)  # (E, B, time, n_out)


@torch.no_grad()
def torch_loop(p: dict, u: torch.Tensor, dt: float) -> torch.Tensor:
    """PyTorch: one network at a time, each batched over trials."""
    results = []
    for e in range(p["b"].shape[0]):
        W, W_in, b = p["W"][e], p["W_in"][e], p["b"][e]
        W_out, b_out, tau = p["W_out"][e], p["b_out"][e], torch.exp(p["log_tau"][e])
        x = torch.zeros(u.shape[0], W.shape[0], device=u.device)
        outs = [torch.addmm(b_out, torch.tanh(x), W_out.T)]
        for k in range(u.shape[1] - 1):
            drive = torch.tanh(x) @ W.T + u[:, k] @ W_in.T + b
            x = x + dt * (drive - x) / tau
            outs.append(torch.addmm(b_out, torch.tanh(x), W_out.T))
        results.append(torch.stack(outs, dim=1))
    return torch.stack(results)


def _sync(device) -> None:
    if device is not None and device.type == "cuda":
        torch.cuda.synchronize()


def measure(cfg: Config, n_nets: int, device) -> dict:
    """Check every method against dynax, then time them (shuffled round-robin)."""
    ens = make_ensemble(cfg, n_nets)
    ts = jnp.arange(cfg.n_steps + 1, dtype=jnp.float32) * cfg.dt
    u = jr.normal(jr.PRNGKey(1), (cfg.n_trials, cfg.n_steps + 1, cfg.n_in))
    p_jax = {n: getattr(ens, n) for n in ("W", "W_in", "b", "W_out", "b_out")}
    p_jax["log_tau"] = ens.log_tau
    run_dynax, run_scan = dynax_forward(ts, dx.Save(states=False)), scan_forward(cfg.dt)
    run_all = dynax_forward(ts, None)
    calls = {
        "dynax": lambda: jax.block_until_ready(run_dynax(ens, u)),
        "dynax_all_states": lambda: jax.block_until_ready(run_all(ens, u)),
        "scan": lambda: jax.block_until_ready(run_scan(p_jax, u)),
    }
    if torch is not None:
        p_torch = torch_params(ens, device)
        u_torch = torch.tensor(np.asarray(u), device=device)
        calls["torch_batched"] = lambda: torch_batched(p_torch, u_torch, cfg.dt)
        calls["torch_loop"] = lambda: torch_loop(p_torch, u_torch, cfg.dt)
    first, outs = {}, {}
    for name, call in calls.items():
        start = time.perf_counter()
        outs[name] = call()
        _sync(device)
        first[name] = time.perf_counter() - start
    ref = np.asarray(outs["dynax"])
    assert ref.shape == (n_nets, cfg.n_trials, cfg.n_steps + 1, cfg.n_out)
    max_abs_diff = {}
    for name, out in outs.items():
        out = out.cpu().numpy() if hasattr(out, "cpu") else np.asarray(out)
        max_abs_diff[name] = float(np.max(np.abs(out - ref)))
        assert np.allclose(out, ref, rtol=cfg.rtol, atol=cfg.atol), (name, n_nets)
    times = {name: [] for name in calls}
    order, rng = list(calls), np.random.default_rng(0)
    for _ in range(cfg.repeats):
        rng.shuffle(order)
        for name in order:
            start = time.perf_counter()
            calls[name]()
            _sync(device)
            times[name].append(time.perf_counter() - start)
    rows = {}
    for name, samples in times.items():
        run = float(np.median(samples))
        rows[name] = {"first_call_s": round(first[name], 4), "run_s": round(run, 5)}
        if name in ("dynax", "dynax_all_states", "scan"):
            rows[name]["compile_s"] = round(max(first[name] - run, 0.0), 3)
    base = rows["dynax"]["run_s"]
    speedups = {n: round(r["run_s"] / base, 3) for n, r in rows.items() if n != "dynax"}
    return {
        "E": n_nets,
        "outputs_agree": True,  # asserted above
        "max_abs_diff_vs_dynax": max_abs_diff,
        "speedup_of_dynax_vs": speedups,
        "results": rows,
    }


def main(cfg: Config) -> dict:
    """Run every size; return the JSON-ready summary."""
    device = None
    if torch is not None:
        torch.set_num_threads(cfg.torch_threads or os.cpu_count() or 1)
        auto = "cuda" if torch.cuda.is_available() else "cpu"
        device = torch.device(auto if cfg.device == "auto" else cfg.device)
    sizes = [measure(cfg, n, device) for n in cfg.sizes]
    return {
        "benchmark": "torch_forward",
        "ratio_definition": "t(peer) / t(dynax); > 1 means dynax is faster",
        "jax_device": str(jax.devices()[0]),
        "jax_platform": jax.devices()[0].platform,
        "torch_device": str(device),
        "torch_num_threads": None if torch is None else torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "versions": {
            "jax": jax.__version__,
            "equinox": eqx.__version__,
            "torch": None if torch is None else torch.__version__,
            "dynax": dx.__version__,
        },
        "config": asdict(cfg),
        "sizes": sizes,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="quick smoke-test sizes")
    parser.add_argument("--sizes", type=int, nargs="+")
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--steps", type=int, dest="n_steps")
    parser.add_argument("--device", help="auto (CUDA if available), cpu or cuda")
    parser.add_argument("--torch-threads", type=int, help="default: the CPU count")
    a = vars(parser.parse_args())
    cfg = Config.small() if a.pop("small") else Config()
    given = {k: v for k, v in a.items() if v is not None}
    print(json.dumps(main(Config(**{**asdict(cfg), **given})), indent=1))

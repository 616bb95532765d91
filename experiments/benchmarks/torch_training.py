"""Benchmark: training a CTRNN ensemble with dx.train.fit vs PyTorch.

E CTRNNs (N=128 units, tanh, 64 trials per step, 100 Euler steps per trial, Adam
with learning rate 1e-3, masked MSE on the outputs) learn the 3-bit flip-flop: the
workload of ``ensemble_training.py``. A pool of batches is sampled up front with
dynax's task, one batch per optimiser step, so every method sees the same trials at
every step (``fit`` reads the pool as a ``dx.train.Dataset`` in stored order). In
one process, from the same initial weights (dynax's, copied into torch):

- ``fit``: ``dx.train.fit(..., ensemble=True)`` on the stacked ensemble;
- ``torch_batched``: one ``torch.nn.Module`` holding the parameters stacked over
  members, ``torch.bmm``, autograd, one ``torch.optim.Adam`` over the stacked
  parameters (Adam is elementwise, so this is per-member Adam);
- ``torch_loop``: one network at a time, each its own ``nn.Module`` and optimiser
  (the usual research loop): measured on up to 4 members and scaled to E.

Before anything is timed, the per-member losses of the first two steps (the initial
weights, then after one Adam step) of ``fit``, ``torch_batched`` and ``torch_loop``
are checked to agree to float32 tolerance: the workloads are the same.

Throughput is network-iterations per second (E x optimiser steps / run time);
compile time (``fit``) is the first call minus a timed call. Methods are timed in a
shuffled round-robin (``repeats`` rounds, median). Ratios are speedups
``t(peer) / t(fit)`` (> 1: dynax is faster). With ``--device auto`` PyTorch uses
CUDA when it is available. One JSON object is printed.

Usage: ``python experiments/benchmarks/torch_training.py [--sizes 1 8 32] [--small]``.
"""

import argparse
import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field

import equinox as eqx
import jax
import jax.random as jr
import numpy as np
import optax
import torch

import dynax as dx

NAMES = ("W", "W_in", "b", "W_out", "b_out", "log_tau")


@dataclass
class Config:
    """Benchmark sizes (the workload of ensemble_training.py)."""

    sizes: list[int] = field(default_factory=lambda: [1, 8, 32])
    n_hidden: int = 128
    batch_size: int = 64
    n_steps_trial: int = 100
    iterations: int = 10
    learning_rate: float = 1e-3
    loop_max: int = 4
    repeats: int = 3
    device: str = "auto"
    torch_threads: int = 0  # 0: the CPU count
    rtol: float = 1e-4

    @classmethod
    def small(cls) -> "Config":
        """A quick run (seconds): a smoke test of every method."""
        return cls(
            sizes=[1, 4], n_hidden=32, batch_size=8, n_steps_trial=20, iterations=3
        )


class _Params(torch.nn.Module):
    """Trainable copies of the given tensors (``self.p``) and the Euler step ``dt``."""

    def __init__(self, params: dict, dt: float):
        super().__init__()
        self.p = torch.nn.ParameterDict(
            {n: torch.nn.Parameter(v.clone()) for n, v in params.items()}
        )
        self.dt = dt


class TorchEnsemble(_Params):
    """E CTRNNs with parameters stacked over members; Euler steps with bmm."""

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """Outputs ``(E, B, time, n_out)`` for inputs ``(B, time, n_in)``."""
        p = self.p
        tau = torch.exp(p["log_tau"])[:, None]
        WT, WinT, WoutT = (p[n].transpose(1, 2) for n in ("W", "W_in", "W_out"))
        b, b_out = p["b"][:, None], p["b_out"][:, None]
        x = torch.zeros(len(tau), u.shape[0], tau.shape[-1], device=u.device)
        outs = [torch.baddbmm(b_out, torch.tanh(x), WoutT)]
        for k in range(u.shape[1] - 1):
            drive = torch.bmm(torch.tanh(x), WT) + torch.matmul(u[:, k], WinT) + b
            x = x + self.dt * (drive - x) / tau
            outs.append(torch.baddbmm(b_out, torch.tanh(x), WoutT))
        return torch.stack(outs, dim=2)


class TorchCTRNN(_Params):
    """One CTRNN (how a PyTorch user writes it); Euler steps batched over trials."""

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """Outputs ``(B, time, n_out)`` for inputs ``(B, time, n_in)``."""
        p = self.p
        tau = torch.exp(p["log_tau"])
        x = torch.zeros(u.shape[0], len(tau), device=u.device)
        outs = [torch.addmm(p["b_out"], torch.tanh(x), p["W_out"].T)]
        for k in range(u.shape[1] - 1):
            drive = torch.tanh(x) @ p["W"].T + u[:, k] @ p["W_in"].T + p["b"]
            x = x + self.dt * (drive - x) / tau
            outs.append(torch.addmm(p["b_out"], torch.tanh(x), p["W_out"].T))
        return torch.stack(outs, dim=1)


def masked_mse(out, target, mask):
    """dx.train.masked_mse over the trailing (trials, time, n_out) axes."""
    dims = (-3, -2, -1)
    return (mask * (out - target) ** 2).sum(dims) / mask.sum(dims).clamp(min=1.0)


def torch_train(model, pool, cfg: Config, steps: int) -> torch.Tensor:
    """Adam on ``model`` for ``steps`` batches of ``pool``; the loss of every step."""
    opt = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    losses = []
    for s in range(steps):
        u, target, mask = (x[s] for x in pool)
        loss = masked_mse(model(u), target, mask)
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()  # members' parameters are disjoint: per-member grads
        opt.step()
        losses.append(loss.detach())
    return torch.stack(losses)


def setup(cfg: Config, n_nets: int, device):
    """The ensemble, the batch pool as a Dataset and as torch tensors, the params."""
    task = dx.tasks.FlipFlop(n_bits=3, n_steps=cfg.n_steps_trial, dt=0.1)
    ens = dx.make_ensemble(
        lambda k: dx.models.CTRNN(3, cfg.n_hidden, 3, tau=0.3, g=0.9, key=k),
        jr.split(jr.PRNGKey(0), n_nets),
    )
    n = cfg.iterations * cfg.batch_size
    batch = jax.vmap(task.sample)(jr.split(jr.PRNGKey(1), n))
    data = dx.train.Dataset(
        task.ts, batch.inputs, batch.targets, batch.mask, shuffle=False
    )
    shape = (cfg.iterations, cfg.batch_size)
    pool = tuple(
        torch.tensor(np.asarray(x), device=device).reshape(*shape, *x.shape[1:])
        for x in (batch.inputs, batch.targets, batch.mask)
    )
    params = {
        n: torch.tensor(np.asarray(getattr(ens, n)), device=device) for n in NAMES
    }
    return task, ens, data, pool, params


def measure(cfg: Config, n_nets: int, device) -> dict:
    """Check that the methods agree, then time them (shuffled round-robin)."""
    task, ens, data, pool, params = setup(cfg, n_nets, device)
    dt, opt, key = float(task.dt), optax.adam(cfg.learning_rate), jr.PRNGKey(2)
    m = min(n_nets, cfg.loop_max)

    def fit(steps):
        kw = dict(optimizer=opt, n_steps=steps, batch_size=cfg.batch_size, key=key)
        out = dx.train.fit(ens, data, ensemble=True, progress=False, **kw)
        return jax.block_until_ready(out)

    def batched(steps):
        return torch_train(TorchEnsemble(params, dt).to(device), pool, cfg, steps)

    def loop(steps, members):
        return torch.stack(
            [
                torch_train(
                    TorchCTRNN({n: v[e] for n, v in params.items()}, dt),
                    pool,
                    cfg,
                    steps,
                )
                for e in range(members)
            ],
            dim=1,
        )

    ref = np.asarray(fit(2)[1].loss)  # (2, E): initial weights, then one Adam step
    check = {"torch_batched": batched(2), "torch_loop": loop(2, m)}
    diffs = {}
    for name, losses in check.items():
        losses = losses.cpu().numpy()
        diffs[name] = float(np.max(np.abs(losses / ref[:, : losses.shape[1]] - 1)))
        assert np.allclose(losses, ref[:, : losses.shape[1]], rtol=cfg.rtol), name

    def synced(fn):
        def go():
            fn()
            if device.type == "cuda":
                torch.cuda.synchronize()

        return go

    runners = {
        "fit": lambda: fit(cfg.iterations),
        "torch_batched": synced(lambda: batched(cfg.iterations)),
        "torch_loop": synced(lambda: loop(cfg.iterations, m)),
    }
    first = {}
    for name, go in runners.items():
        start = time.perf_counter()
        go()
        first[name] = time.perf_counter() - start
    times = {name: [] for name in runners}
    order, rng = list(runners), np.random.default_rng(0)
    for _ in range(cfg.repeats):
        rng.shuffle(order)
        for name in order:
            start = time.perf_counter()
            runners[name]()
            times[name].append(time.perf_counter() - start)
    rows = {}
    for name, samples in times.items():
        scale = n_nets / m if name == "torch_loop" else 1.0
        run = float(np.median(samples)) * scale
        rows[name] = {
            "first_call_s": round(first[name] * scale, 3),
            "run_s": round(run, 4),
            "network_iterations_per_s": round(n_nets * cfg.iterations / run, 1),
        }
    rows["fit"]["compile_s"] = round(max(first["fit"] - rows["fit"]["run_s"], 0.0), 2)
    rows["torch_loop"]["measured_members"] = m
    base = rows["fit"]["run_s"]
    return {
        "E": n_nets,
        "losses_agree": True,  # asserted above
        "loss_max_rel_diff_vs_fit_first_2_steps": diffs,
        "speedup_of_fit_vs": {
            n: round(r["run_s"] / base, 3) for n, r in rows.items() if n != "fit"
        },
        "results": rows,
    }


def main(cfg: Config) -> dict:
    """Run every size; return the JSON-ready summary."""
    torch.set_num_threads(cfg.torch_threads or os.cpu_count() or 1)
    if cfg.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(cfg.device)
    sizes = [measure(cfg, n, device) for n in cfg.sizes]
    return {
        "benchmark": "torch_training",
        "ratio_definition": "t(peer) / t(fit); > 1 means dynax is faster",
        "jax_device": str(jax.devices()[0]),
        "jax_platform": jax.devices()[0].platform,
        "torch_device": str(device),
        "torch_num_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "versions": {
            "jax": jax.__version__,
            "equinox": eqx.__version__,
            "optax": optax.__version__,
            "torch": torch.__version__,
            "dynax": dx.__version__,
        },
        "config": asdict(cfg),
        "sizes": sizes,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="quick smoke-test sizes")
    parser.add_argument("--sizes", type=int, nargs="+")
    parser.add_argument("--iterations", type=int)
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--device", help="auto (CUDA if available), cpu or cuda")
    parser.add_argument("--torch-threads", type=int, help="default: the CPU count")
    a = vars(parser.parse_args())
    cfg = Config.small() if a.pop("small") else Config()
    given = {k: v for k, v in a.items() if v is not None}
    print(json.dumps(main(Config(**{**asdict(cfg), **given})), indent=1))

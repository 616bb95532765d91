"""Print every training test's margin over five seeds (not collected by pytest).

Run from the repository root, optionally under other XLA settings::

    .venv/bin/python tests/margins.py > margins.json
    XLA_FLAGS=--xla_cpu_enable_fast_math=false .venv/bin/python tests/margins.py
    taskset -c 0 .venv/bin/python tests/margins.py   # one CPU thread
    .venv/bin/python tests/margins.py langevin       # only checks naming "langevin"

Each training test has a ``measure_*(seed)`` function that the test calls with its
own seed; this script calls it with seeds 0-4 (the trained flip-flop test trains
five seeds in one ensemble already) and prints one JSON object: per check, the value
for every seed and the worst seed's margin (positive: passes). See tests/README.md.
"""

import json
import sys
import time
from pathlib import Path

import jax

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
jax.config.update("jax_enable_x64", True)  # as tests/conftest.py
jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")

import test_analysis_regime as regime  # noqa: E402
import test_experiments_quickstart as quickstart  # noqa: E402
import test_models_ei_reservoir as ei  # noqa: E402
import test_models_langevin_flow as langevin_flow  # noqa: E402
import test_train_fit as fit  # noqa: E402
import test_train_sinkhorn as sinkhorn  # noqa: E402
import test_train_stdp as stdp  # noqa: E402
import test_trained_flipflop as flipflop  # noqa: E402

SEEDS = range(5)


def worst(values: dict) -> dict:
    """Per-seed margins and the worst of them."""
    return {"per_seed": values, "worst_margin": min(values.values())}


def checks():
    """(name, function of a seed returning {check: margin}) for every test."""
    yield (
        "fit_single_network: loss after/before < 0.7",
        lambda s: {"": fit.measure_fit_single_network(s)["margin"]},
    )
    for name in sorted(fit.TASKS):
        yield (
            f"task {name}: excess loss after/before < 0.9",
            lambda s, n=name: {"": fit.measure_task_training(n, s)["margin"]},
        )
    yield "quickstart (small)", quickstart.measure_quickstart
    yield (
        "ei adaptation, homogeneous",
        lambda s: ei.measure_adaptation(False, s)["margins"],
    )
    yield (
        "ei adaptation, heterogeneous",
        lambda s: ei.measure_adaptation(True, s)["margins"],
    )
    yield (
        "ei brentq gain: relative error < 0.03",
        lambda s: {"": ei.measure_brentq_gain(s)["margin"]},
    )
    yield "astrocyte STDP", lambda s: stdp.astrocyte_margins(stdp.measure_astrocyte(s))
    yield (
        "hmm emulation (Sinkhorn): emission mismatch after/before < 0.5",
        lambda s: {"": sinkhorn.measure_hmm_emulation(s)["margin"]},
    )
    yield (
        "langevin_flow: co-bps above the smoothing + GLM baseline",
        lambda s: {"": langevin_flow.measure_langevin_flow(s)["margin"]},
    )


def main(only: list[str]) -> dict:
    """Every check, or those whose name contains one of ``only`` (if given)."""
    out = {"xla_flags": __import__("os").environ.get("XLA_FLAGS", ""), "checks": {}}
    for name, measure in checks():
        if only and not any(word in name for word in only):
            continue
        start = time.perf_counter()
        per_seed = {s: measure(s) for s in SEEDS}
        for check in per_seed[0]:
            key = f"{name} {check}".strip()
            out["checks"][key] = worst({s: per_seed[s][check] for s in SEEDS})
        print(f"{name}: {time.perf_counter() - start:.0f} s", file=sys.stderr)
    name = "trained_flipflop (5 seeds in one ensemble)"
    if not only or any(word in name for word in only):
        out[name] = flipflop.margins()
    name = "learning regime (5 seeds per regime in one ensemble)"
    if not only or any(word in name for word in only):
        out[name] = regime.margins()
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:]), indent=1, default=float))

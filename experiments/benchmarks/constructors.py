"""Benchmark: the first construction of a model in a fresh process (compile cost).

For each model, ``--repeats`` fresh processes (``sys.executable -c ...``) import dynax,
then time the first construction (``block_until_ready`` on every leaf) and a second one
with another key (compiled programs cached). Two ways:

- ``dynax``: the public constructor (arrays built by one jitted initialiser);
- ``baseline``: the same values built op by op, as the constructors did before issue 19
  (``jr.split`` / ``jr.normal`` / ``sparse_matrix`` eagerly, one small program each).

Medians over the processes are reported with ``ratio = baseline first_s / dynax
first_s`` (> 1: dynax is faster); one JSON object is printed.

Usage: ``python experiments/benchmarks/constructors.py [--repeats 3]``.
"""

import argparse
import json
import platform
import statistics
import subprocess
import sys

import jax

PRELUDE = """
import json, time
t0 = time.perf_counter()
import jax, jax.numpy as jnp, jax.random as jr
import dynax as dx
t1 = time.perf_counter()

def ctrnn_ops(k, n_in=2, n=128, n_out=1, g=1.5):
    k_rec, k_rest = jr.split(k)
    k_in, k_out = jr.split(k_rest)
    d = jnp.result_type(float)
    return (jnp.asarray(g / n**0.5, d) * jr.normal(k_rec, (n, n), d),
            jnp.asarray(1 / max(n_in, 1) ** 0.5, d) * jr.normal(k_in, (n, n_in), d),
            jnp.asarray(1 / n**0.5, d) * jr.normal(k_out, (n_out, n), d),
            jnp.log(jnp.broadcast_to(jnp.asarray(1.0, d), (n,))),
            jnp.zeros((n,), d), jnp.zeros((n_out,), d))

def esn_ops(k, n=300):
    sm = dx.models.sparse_matrix
    k_w, k_in, k_b, k_fb = jr.split(k, 4)
    W = dx.models.scale_to_spectral_radius(sm(k_w, (n, n)), 0.9)
    u = lambda kk, s: sm(kk, s, distribution="uniform")
    return (W, u(k_in, (n, 1)), 0.0 * u(k_b, (n, 1)).reshape(n), u(k_fb, (n, 0)))

MAKERS = {
    ("ctrnn128", "dynax"): lambda k: dx.models.CTRNN(2, 128, 1, key=k),
    ("ctrnn128", "baseline"): ctrnn_ops,
    ("esn300", "dynax"): lambda k: dx.models.ESN(1, 300, spectral_radius=0.9, key=k),
    ("esn300", "baseline"): esn_ops,
    ("ensemble512", "dynax"): lambda k: dx.make_ensemble(
        lambda kk: dx.models.CTRNN(2, 128, 1, key=kk), jr.split(k, 512)),
    ("ensemble512", "baseline"): lambda k: jax.vmap(ctrnn_ops)(jr.split(k, 512)),
    ("eirnn128", "dynax"): lambda k: dx.models.EIRNN(2, 128, 1, key=k),
    ("lowrank128", "dynax"): lambda k: dx.models.LowRankRNN(2, 128, 1, rank=2, key=k),
    ("vanilla128", "dynax"): lambda k: dx.models.VanillaRNN(2, 128, 1, key=k),
    ("gru128", "dynax"): lambda k: dx.models.GRU(2, 128, 1, key=k),
}
"""

RUN = """
make = MAKERS[({model!r}, {way!r})]
jax.block_until_ready(jax.tree.leaves(make(jr.PRNGKey(0))))
t2 = time.perf_counter()
jax.block_until_ready(jax.tree.leaves(make(jr.PRNGKey(1))))
t3 = time.perf_counter()
print(json.dumps(dict(import_s=t1 - t0, first_s=t2 - t1, second_s=t3 - t2)))
"""

CASES = [
    ("ctrnn128", ("dynax", "baseline")),
    ("esn300", ("dynax", "baseline")),
    ("ensemble512", ("dynax", "baseline")),
    ("eirnn128", ("dynax",)),
    ("lowrank128", ("dynax",)),
    ("vanilla128", ("dynax",)),
    ("gru128", ("dynax",)),
]


def fresh_process(model: str, way: str) -> dict:
    """Time one model's constructions in a new Python process."""
    code = PRELUDE + RUN.format(model=model, way=way)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Run every case ``--repeats`` times and print one JSON object of medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results = {}
    for model, ways in CASES:
        entry = {}
        for way in ways:
            runs = [fresh_process(model, way) for _ in range(args.repeats)]
            entry[way] = {
                k: round(statistics.median(r[k] for r in runs), 4) for k in runs[0]
            }
        if "baseline" in entry:
            base, new = entry["baseline"]["first_s"], entry["dynax"]["first_s"]
            entry["ratio"] = round(base / new, 2)
        results[model] = entry
    print(
        json.dumps(
            {
                "benchmark": "constructors",
                "repeats": args.repeats,
                "results": results,
                "device": str(jax.devices()[0]),
                "jax": jax.__version__,
                "python": platform.python_version(),
            }
        )
    )


if __name__ == "__main__":
    main()

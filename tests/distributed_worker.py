"""One process of tests/test_distributed.py: train a sharded ensemble, save results.

Run as ``python distributed_worker.py PROCESS_ID N_PROCESSES PORT OUT_DIR``.
"""

import sys

import jax

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_cpu_collectives_implementation", "gloo")
pid, n, port, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
jax.distributed.initialize(
    coordinator_address=f"localhost:{port}", num_processes=n, process_id=pid
)

import equinox as eqx  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from distributed_case import ensemble, fit_kwargs, task  # noqa: E402

import dynax as dx  # noqa: E402

assert jax.process_count() == n and len(jax.devices()) == n
ens = dx.shard_ensemble(ensemble())
leaf = jax.tree.leaves(eqx.filter(ens, eqx.is_array))[0]
assert not leaf.is_fully_addressable  # members really live in other processes
trained, hist = dx.train.fit(ens, task(), **fit_kwargs())
traj = dx.simulate(trained, trained.init_state(), task().ts,
                   inputs=jnp.ones((len(task().ts), 2)), ensemble=True)  # fmt: skip
params = dx.gather_ensemble(eqx.filter(trained, eqx.is_array))
np.savez(
    f"{out}/process{pid}.npz",
    loss=np.asarray(hist.loss),
    failed=np.asarray(hist.failed),
    ys=dx.gather_ensemble(traj.ys),
    **{f"arr_{j}": np.asarray(x) for j, x in enumerate(jax.tree.leaves(params))},
)
print(f"process {pid} done", flush=True)

"""One ensemble sharded across 2 processes (jax.distributed, CPU collectives).

Two worker processes (tests/distributed_worker.py) each hold 2 of the 4 members,
train them with ``dx.train.fit`` and simulate them; the gathered results must equal
the same run in this single process, member for member.
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from distributed_case import ensemble, fit_kwargs, task
from typecheck import unchecked

import dynax as dx

HERE = Path(__file__).resolve().parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_sharded_two_process_run_equals_single_process(tmp_path):
    port = str(_free_port())
    env = dict(os.environ, PYTHONPATH=str(HERE))
    env.pop("XLA_FLAGS", None)  # one CPU device per process
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(HERE / "distributed_worker.py"),
                str(i),
                "2",
                port,
                str(tmp_path),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        for i in range(2)
    ]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    for p, out in zip(procs, outs, strict=True):
        assert p.returncode == 0, out[-3000:]
    trained, hist = dx.train.fit(ensemble(), task(), **fit_kwargs())
    traj = dx.simulate(trained, trained.init_state(), task().ts,
                       inputs=jnp.ones((len(task().ts), 2)), ensemble=True)  # fmt: skip
    leaves = [np.asarray(x) for x in jax.tree.leaves(eqx.filter(trained, eqx.is_array))]
    for i in range(2):
        got = np.load(tmp_path / f"process{i}.npz")
        np.testing.assert_allclose(got["loss"], hist.loss, rtol=1e-12)
        np.testing.assert_array_equal(got["failed"], hist.failed)
        np.testing.assert_allclose(got["ys"], traj.ys, rtol=1e-11, atol=1e-13)
        arrays = [got[f"arr_{j}"] for j in range(len(leaves))]
        for a, b in zip(arrays, leaves, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)


def test_shard_ensemble_checks_the_member_count():
    with unchecked(), pytest.raises(ValueError, match="mesh: expected an axis named"):
        dx.shard_ensemble(
            ensemble(), jax.sharding.Mesh(np.asarray(jax.devices()), ("x",))
        )
    one = dx.shard_ensemble(ensemble())  # a single device here
    assert jax.tree.leaves(one)[0].sharding.spec[0] == "members"
    np.testing.assert_array_equal(
        dx.gather_ensemble(jax.tree.leaves(eqx.filter(one, eqx.is_array))[0]),
        np.asarray(jax.tree.leaves(eqx.filter(ensemble(), eqx.is_array))[0]),
    )

"""dx.enable_compilation_cache: programs compiled in one process load in the next."""

import subprocess
import sys

import pytest
from typecheck import unchecked

import dynax as dx

PROGRAM = """
import sys, jax, jax.numpy as jnp, dynax as dx
folder = dx.enable_compilation_cache(sys.argv[1], min_compile_time_s=0)
print(folder)
print(jax.config.jax_compilation_cache_dir)
jax.jit(lambda x: jnp.tanh(x @ x.T).sum())(jnp.ones((7, 5))).block_until_ready()
"""


def test_cache_is_written_then_read(tmp_path):
    folder = tmp_path / "cache"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # no inherited JAX_* vars

    def run():
        out = subprocess.run([sys.executable, "-c", PROGRAM, str(folder)], env=env,
                             capture_output=True, text=True, timeout=300)  # fmt: skip
        assert out.returncode == 0, out.stderr
        return out.stdout.split()

    printed = run()
    assert printed == [str(folder.resolve())] * 2
    entries = {p.name for p in folder.iterdir()}
    assert any(name.startswith("jit__lambda") for name in entries)
    stamps = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    run()  # the same program: loaded, nothing new written
    assert {p.name for p in folder.iterdir()} == entries
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == stamps


def test_bad_arguments():
    with unchecked(), pytest.raises(TypeError, match="path: expected a folder path"):
        dx.enable_compilation_cache(3)
    with unchecked(), pytest.raises(ValueError, match="min_compile_time_s: expected"):
        dx.enable_compilation_cache("/tmp/x", min_compile_time_s=-1)


FIT_PROGRAM = """
import sys, jax, jax.numpy as jnp, jax.random as jr, optax, dynax as dx
dx.enable_compilation_cache(sys.argv[1], min_compile_time_s=0)
net = dx.models.CTRNN(3, 8, 3, key=jr.PRNGKey(0))
task = dx.tasks.FlipFlop(n_bits=3, n_steps=10, dt=0.1)
dx.train.fit(net, task, optimizer=optax.adam(1e-2), n_steps=2, batch_size=4,
             key=jr.PRNGKey(1), progress=False)
dx.train.evaluate(net, task, key=jr.PRNGKey(2), n_trials=4)
dx.analysis.find_fixed_points(net, jnp.zeros((4, 8)), max_points=2)
"""


def test_fit_and_fixed_point_programs_are_written_to_the_cache(tmp_path):
    # fit and evaluate check the task's times on the host, so their programs hold no
    # host callback (eqx.error_if), which JAX would not write to the cache
    folder = tmp_path / "cache"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", FIT_PROGRAM, str(folder)], env=env,
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    assert out.returncode == 0, out.stderr
    entries = {p.name.split("-")[0] for p in folder.iterdir()}
    assert {"jit_run_chunk", "jit__evaluate", "jit__find"} <= entries, sorted(entries)

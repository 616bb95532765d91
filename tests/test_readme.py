"""The README's tour is executable documentation: run its Python blocks.

They run in a fresh interpreter with JAX's defaults (float32, standard promotion), as a
user who copies them gets, not under this suite's float64 configuration.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"

CHECKS = """
import jax.numpy as jnp
assert traj.ys.shape == (101, 128) and traj.outputs.shape == (101, 1)
assert traj.ys.dtype == jnp.float32
assert bool(traj.ok)
assert trajs.ys.shape == (512, 101, 128)
assert batch.ys.shape == (8, 101, 128) and grid.ys.shape == (512, 8, 101, 128)
assert bool(jnp.allclose(grid.ys[7], jax.vmap(
    lambda u: dx.simulate(dx.member(ens, 7), ens.init_state(), traj.ts, inputs=u).ys
)(us)))  # traj.ts: the tour's first grid (the oscillator block rebinds ts)
out = dx.simulate(lorenz, lorenz.init_state(), jnp.linspace(0, 1, 11))
assert out.ys.shape == (11, 3) and out.ys.dtype == jnp.float32
assert float(lorenz.rho) == 28.0 and abs(float(lorenz.beta) - 8 / 3) < 1e-6
pendulum = Pendulum(jnp.asarray(0.5))
swing = dx.simulate(pendulum, pendulum.init_state(), jnp.linspace(0, 20, 201)).ys
assert swing.shape == (201, 2) and float(jnp.abs(swing[-1]).max()) < 0.1  # damped
assert history.loss.shape == (20, 8) and not bool(history.failed.any())
assert scores.shape == (8,)
assert record.rates.shape == (8, 100) and bool(jnp.all(ei.g >= 0))
# the units' rates approach their target as the gains adapt
err = jnp.abs(record.rates - 0.2).mean(axis=1)
assert float(err[-1]) < 0.5 * float(err[0])
assert counts.shape == (20, 200) and bool(jnp.isfinite(bf.value))
summary = report.summary()
assert report.dsa.scores.shape == (8, 8) and report.ood_error.shape == (8,)
assert all(bool(jnp.isfinite(v)) for v in summary.values()), summary
# the printed science, against references
l1 = float(lyap.exponents[0])
assert abs(l1 - 0.9056) < 0.03 * 0.9056, l1  # Lorenz: Sprott (2003)
assert errors.shape == (4,) and bool(jnp.all(jnp.isfinite(errors))), errors
assert bool(jnp.all(errors < 0.05)), errors  # every ridge value shown
r_inf = float(r[-100:].mean())
assert abs(r_inf - (1 - 1 / 2) ** 0.5) < 0.02, r_inf  # Lorentzian: sqrt(1 - Kc/K)
print("README OK")
"""


@pytest.mark.slow  # 90-120 s: the whole tour in a fresh interpreter
def test_readme_python_blocks_run(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 2
    script = tmp_path / "readme.py"
    script.write_text("\n".join(blocks) + CHECKS)
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert "README OK" in done.stdout

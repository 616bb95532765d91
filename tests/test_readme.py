"""The README's tour is executable documentation: run its Python blocks."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 2
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102
    traj, trajs = namespace["traj"], namespace["trajs"]
    assert traj.ys.shape == (101, 128) and traj.outputs.shape == (101, 1)
    assert bool(traj.ok)
    assert trajs.ys.shape == (512, 101, 128)
    lorenz = namespace["Lorenz"](
        *(namespace["jnp"].asarray(v) for v in (10.0, 28.0, 8 / 3))
    )
    out = namespace["dx"].simulate(
        lorenz, lorenz.init_state(), namespace["jnp"].linspace(0, 1, 11)
    )
    assert out.ys.shape == (11, 3)
    history = namespace["history"]
    assert history.loss.shape == (20, 8) and not bool(history.failed.any())
    assert namespace["scores"].shape == (8,)

"""Sweeps: a grid of networks, packed into vmapped groups, run locally or on SLURM.

A config (YAML, JSON, a dict or a :class:`SweepConfig`; fields in
:mod:`dynax.sweep._config`) expands into **members**, one network per grid point
and seed. Members that can train as one compiled program are packed into
**groups** sized to a memory budget (the rule is in :mod:`dynax.sweep._pack`). Each
group is trained by one ``dx.train.fit`` call on the stacked members, evaluated on
held-out trials shared by the whole sweep, saved through orbax, and its rows are
written atomically to the sweep folder. A rerun skips finished groups and resumes
interrupted ones. From the command line: ``python -m experiments.sweep CONFIG
--backend local|slurm --out DIR [--dry-run]``.

Example:
    ```python
    from dynax.sweep import run_sweep, load_sweep
    run_sweep({"name": "ff", "task": "FlipFlop", "task_args": {"n_bits": 2},
               "model_args": {"n_hidden": 32}, "train": {"n_steps": 200},
               "grid": {"train.learning_rate": [1e-3, 3e-3]}, "seeds": 8}, "runs/ff")
    sweep = load_sweep("runs/ff")
    sweep.table.groupby("train.learning_rate").eval_score.mean()
    net = sweep.load_member("m00003")
    ```
"""

from ._config import (
    Member as Member,
    SweepConfig as SweepConfig,
    expand as expand,
    load_config as load_config,
)
from ._load import Sweep as Sweep, load_sweep as load_sweep
from ._pack import Group as Group, member_bytes as member_bytes, pack as pack
from ._run import (
    Plan as Plan,
    SweepError as SweepError,
    plan_sweep as plan_sweep,
    run_sweep as run_sweep,
)

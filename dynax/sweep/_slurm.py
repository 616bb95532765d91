"""The ``slurm`` backend: one submitit job array, one group per array task.

submitit runs each task with this process's Python (``sys.executable``), so on a
real cluster the environment must sit on a shared filesystem, as must the sweep
folder. A task that raises comes back as ``FailedJobError``; one that SLURM kills
or cancels without a result as ``UncompletedJobError``. Both are recorded in the
sweep folder and the group is retried by the next run. Tasks are
``Checkpointable``: after a timeout or pre-emption submitit requeues them, and the
group resumes from its last training checkpoint.
"""

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import submitit
from submitit.core.utils import FailedJobError, UncompletedJobError

DEFAULTS = {"timeout_min": 60, "slurm_array_parallelism": 256}


class GroupTask(submitit.helpers.Checkpointable):
    """A picklable job: run one group of the sweep in ``out``."""

    def __call__(self, out: str, group_id: str, cache: str | None = None) -> str:
        from ._run import run_group_job

        return run_group_job(out, group_id, cache)


def submit_and_wait(
    out: Path,
    pending: list[str],
    parameters: dict,
    done: Callable[[str, BaseException | None], None],
    *,
    name: str = "dynax-sweep",
    cluster: str | None = None,
    cache: str | None = None,
    poll_s: float = 1.0,
) -> list:
    """Submit ``pending`` groups as one array; call ``done(group, error)`` per task.

    The jobs are named ``name`` (``squeue`` shows it) unless ``parameters`` names
    them.
    """
    if not pending:
        return []
    executor = submitit.AutoExecutor(
        folder=out / "slurm" / "%j", cluster=cluster or "slurm"
    )
    try:
        executor.update_parameters(**(DEFAULTS | {"name": name} | parameters))
    except (TypeError, ValueError) as error:
        raise ValueError(f"slurm: bad submitit parameters ({error}).") from None
    task = GroupTask()
    n = len(pending)
    jobs: list[Any] = list(
        executor.map_array(task, [str(out)] * n, pending, [cache] * n)
    )
    left: dict[str, Any] = dict(zip(pending, jobs, strict=True))

    while left:
        for gid, job in list(left.items()):
            if not job.done():
                continue
            del left[gid]
            try:
                job.result()
            except (FailedJobError, UncompletedJobError) as error:
                done(gid, error)
            else:
                done(gid, None)
        if left:
            time.sleep(poll_s)
    return jobs

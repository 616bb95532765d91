"""The slurm backend on a real single-node SLURM cluster (.ci/slurm_up.sh starts one).

These tests submit through submitit and ``sbatch``; they skip, saying why, where no
cluster answers. ``.ci/run`` starts the cluster when it runs as root with apt.
"""

import os
import re
import shutil
import subprocess
import threading
import time

import pytest

from dynax.sweep import SweepError, load_sweep, run_sweep

pytestmark = pytest.mark.slurm
# the jobs share the tests' compilation cache (conftest.py)
CACHE = os.environ.get("JAX_COMPILATION_CACHE_DIR") or False

BASE = {
    "name": "slurm",
    "task": "FlipFlop",
    "task_args": {"n_bits": 2, "n_steps": 12},
    "model_args": {"n_hidden": 6, "tau": 0.5},
    "train": {"n_steps": 8, "batch_size": 4, "log_every": 4},
    "evaluate": {"n_trials": 8},
    "grid": {"model_args.n_hidden": [4, 6]},
    "seeds": 2,
    "x64": True,
    "slurm": {"timeout_min": 10, "cpus_per_task": 1},
}
METRICS = ("final_loss", "eval_loss", "eval_score", "failed", "failed_step")

SLOW_OR_FAILING = '''
import os
import time
import dynax as dx


class Troubled(dx.models.CTRNN):
    """A CTRNN that, for n_hidden == 6 and while a flag file exists, raises (FLAG=fail)
    or sleeps for minutes (FLAG=sleep) when its vector field is traced."""

    def __call__(self, t, y, args):
        flag = os.environ["DYNAX_TEST_FLAG"]
        if self.n_hidden == 6 and os.path.exists(flag):
            if open(flag).read() == "sleep":
                time.sleep(600)
            raise RuntimeError("injected failure")
        return super().__call__(t, y, args)
'''


def _cluster_up() -> str | None:
    """``None`` when a cluster answers, else why the tests skip."""
    if shutil.which("sbatch") is None:
        return "no SLURM here: sbatch not found (start one with .ci/slurm_up.sh, root)"
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True,
                             text=True, timeout=20)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"no SLURM here: sinfo failed ({error})"
    if out.returncode != 0 or not out.stdout.strip():
        return f"no SLURM here: sinfo answered {out.returncode} {out.stderr.strip()!r}"
    if shutil.which("sacct") is None:
        return "SLURM without sacct: submitit cannot see job states"
    return None


@pytest.fixture(scope="module", autouse=True)
def cluster():
    why = _cluster_up()
    if why is not None:
        pytest.skip(why)


@pytest.fixture
def troubled(tmp_path, monkeypatch):
    """The Troubled model importable here and in the jobs; returns its flag file."""
    (tmp_path / "troubled_models.py").write_text(SLOW_OR_FAILING)
    monkeypatch.syspath_prepend(str(tmp_path))
    # sbatch exports this environment to the jobs
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    flag = tmp_path / "flag"
    monkeypatch.setenv("DYNAX_TEST_FLAG", str(flag))
    return flag


def test_slurm_job_array_equals_the_local_run(tmp_path):
    run_sweep(BASE, tmp_path / "slurm", backend="slurm", compilation_cache=CACHE)
    run_sweep(BASE, tmp_path / "local", compilation_cache=CACHE)
    got, want = load_sweep(tmp_path / "slurm"), load_sweep(tmp_path / "local")
    assert got.pending == [] and len(got.table) == 4
    for key in METRICS:
        assert list(got.table[key]) == list(want.table[key]), key
    # one array of two tasks, one group each, in other processes than this one
    folders = sorted(p.name for p in (tmp_path / "slurm" / "slurm").iterdir())
    array = [f for f in folders if re.fullmatch(r"\d+_\d+", f)]
    assert len(array) == 2 and len({f.split("_")[0] for f in array}) == 1
    assert got.table.groupby("group").pid.nunique().tolist() == [1, 1]
    assert got.table.pid.nunique() == 2


def test_failed_job_reaches_the_caller_and_reruns(tmp_path, troubled):
    troubled.write_text("fail")
    cfg = {**BASE, "model": "troubled_models:Troubled"}
    with pytest.raises(SweepError, match="g0001: FailedJobError") as info:
        run_sweep(cfg, tmp_path / "run", backend="slurm", compilation_cache=CACHE)
    assert list(info.value.errors) == ["g0001"]
    sweep = load_sweep(tmp_path / "run")
    assert sweep.finished == ["g0000"]
    assert "injected failure" in sweep.errors["g0001"]["traceback"]
    troubled.unlink()
    run_sweep(cfg, tmp_path / "run", backend="slurm", compilation_cache=CACHE)
    sweep = load_sweep(tmp_path / "run")
    assert sweep.pending == [] and sweep.errors == {} and len(sweep.table) == 4


def _running_job(name_part: str, timeout: float) -> str | None:
    end = time.time() + timeout
    while time.time() < end:
        out = subprocess.run(["squeue", "-h", "-t", "R", "-o", "%i %j"],
                             capture_output=True, text=True)  # fmt: skip
        for line in out.stdout.splitlines():
            job, _, name = line.partition(" ")
            if name_part in name:
                return job
        time.sleep(0.5)
    return None


def test_cancelled_job_reaches_the_caller_and_reruns(tmp_path, troubled):
    troubled.write_text("sleep")
    cfg = {**BASE, "name": "cancel", "model": "troubled_models:Troubled", "seeds": 1,
           "grid": {"model_args.n_hidden": [6]}}  # fmt: skip
    caught: list = []

    def sweep():
        try:
            run_sweep(cfg, tmp_path / "run", backend="slurm", compilation_cache=CACHE)
        except SweepError as error:
            caught.append(error)

    thread = threading.Thread(target=sweep, daemon=True)
    thread.start()
    try:
        job = _running_job("dynax-cancel", timeout=120)
        assert job is not None, "the job never started"
        time.sleep(5)  # it is importing jax / tracing (and then sleeping)
        subprocess.run(["scancel", job], check=True)
        thread.join(timeout=180)
        assert not thread.is_alive()
    finally:
        subprocess.run(["scancel", "--name", "dynax-cancel"], check=False)
    assert caught and "g0000: UncompletedJobError" in str(caught[0])
    sacct = ["sacct", "-n", "-X", "-j", job.split("_")[0], "-o", "State"]
    state = subprocess.run(sacct, capture_output=True, text=True).stdout
    assert "CANCELLED" in state
    assert load_sweep(tmp_path / "run").pending == ["g0000"]
    troubled.unlink()
    run_sweep(cfg, tmp_path / "run", backend="slurm", compilation_cache=CACHE)
    assert load_sweep(tmp_path / "run").pending == []

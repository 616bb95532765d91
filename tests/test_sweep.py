"""dynax.sweep: grid expansion, packing, local runs equal to one-by-one runs, errors."""

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dynax as dx
from dynax.sweep import SweepError, load_sweep, plan_sweep, run_sweep
from dynax.sweep._group import Optimizer
from dynax.sweep._pack import eval_key, member_keys

# in-process sweeps keep this process on the tests' shared cache (conftest.py)
CACHE = os.environ.get("JAX_COMPILATION_CACHE_DIR") or False
ROOT = Path(__file__).resolve().parents[1]

SMALL = {
    "name": "t",
    "task": "FlipFlop",
    "task_args": {"n_bits": 2, "n_steps": 12, "p_pulse": 0.2},
    "model_args": {"n_hidden": 6, "tau": 0.5},
    "train": {"n_steps": 8, "batch_size": 4, "log_every": 4},
    "evaluate": {"n_trials": 8},
    "grid": {"model_args.g": [1.2, 1.5], "train.learning_rate": [3e-3, 1e-2]},
    "seeds": [0, 4],
    "x64": True,
}
METRICS = ("final_loss", "eval_loss", "eval_score", "failed", "failed_step")


def _config(**changes):
    return {**SMALL, **changes}


# ----------------------------------------------------------------- grid and packing


def test_expansion_is_the_product_in_order():
    p = plan_sweep(_config())
    assert len(p.members) == 2 * 2 * 2
    got = [(m.point["model_args.g"], m.point["train.learning_rate"], m.seed)
           for m in p.members]  # fmt: skip
    want = [(g, lr, s) for g in (1.2, 1.5) for lr in (3e-3, 1e-2) for s in (0, 4)]
    assert got == want
    assert [m.id for m in p.members] == [f"m{i:05d}" for i in range(8)]
    m = p.members[5]  # g=1.5, lr=3e-3, seed 4
    assert m.model_args == {"n_hidden": 6, "tau": 0.5, "g": 1.5}
    assert m.train["learning_rate"] == 3e-3 and m.train["batch_size"] == 4
    assert m.train["optimizer"] == "adam"  # a documented default


def _check_partition(p, budget=None):
    indices = [i for g in p.groups for i in g.members]
    assert sorted(indices) == list(range(len(p.members)))  # none lost or doubled
    for g in p.groups:
        if budget is not None and len(g.members) > 1:
            assert g.bytes <= budget
        assert len(g.members) <= p.config.max_group_size


def test_packing_shares_programs_and_respects_the_budget():
    # gains and learning rates vary inside a group; sizes do not
    cfg = _config(grid={
        "model_args.n_hidden": [4, 6, 8],
        "model_args.g": [1.2, 1.5],
        "train.learning_rate": [3e-3, 1e-2],
    }, seeds=5)  # fmt: skip
    p = plan_sweep(cfg)
    _check_partition(p)
    assert len(p.members) == 60 and len(p.groups) == 3
    for g in p.groups:
        sizes = {p.members[i].model_args["n_hidden"] for i in g.members}
        assert len(sizes) == 1 and len(g.members) == 20
    one = p.groups[0].member_bytes
    # a budget of 7 members splits each signature's 20 into 3 nearly equal groups
    q = plan_sweep({**cfg, "memory_budget": 7 * one})
    _check_partition(q, budget=7 * one)
    first = [g for g in q.groups if g.member_bytes == one]
    assert sorted(len(g.members) for g in first) == [6, 7, 7]
    r = plan_sweep({**cfg, "memory_budget": 1, "max_group_size": 4})
    _check_partition(r)
    assert all(len(g.members) == 1 for g in r.groups)  # over budget: one each
    s = plan_sweep({**cfg, "max_group_size": 4})
    _check_partition(s)
    assert max(len(g.members) for g in s.groups) == 4


def test_member_bytes_follows_the_documented_rule():
    p = plan_sweep(_config(grid={}, seeds=1))
    m = p.members[0]
    n, t, b = 6, 12, 4  # hidden units, time points, batch
    net = dx.models.CTRNN(2, n, 2, tau=0.5, key=jax.random.PRNGKey(0))
    params = sum(x.size for x in jax.tree.leaves(dx.train.trainable(net)) if
                 not isinstance(x, bool))  # fmt: skip
    floats = sum(
        x.size for x in jax.tree.leaves(net)
        if hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.inexact)
    )  # fmt: skip
    assert params <= floats
    # float64 (x64 config); parameters and Adam's two moments read and written,
    # gradient and update; 6 x (state + outputs) per step and trial
    want = 8 * (floats * (2 * (1 + 2) + 2) + b * t * (6 * (n + 2) + 2 + 2 * 2))
    assert dx.sweep.member_bytes(p.config, m) == want


@pytest.mark.parametrize("shape", [(48, 24, 80), (160, 8, 30)])
def test_member_bytes_bounds_what_xla_allocates(shape, tmp_path, monkeypatch):
    """The rule against XLA's own accounting of the group's compiled training
    program (arguments + outputs + temporaries, from ``memory_analysis()``): an
    upper bound, and not a loose one. Shapes outside the calibration set."""
    import dynax.train._fit as fit_module

    n_hidden, batch, n_steps = shape
    cfg = _config(
        task_args={"n_bits": 2, "n_steps": n_steps},
        model_args={"n_hidden": n_hidden},
        train={"n_steps": 2, "batch_size": batch, "log_every": 2},
        evaluate={"n_trials": 4},
        grid={"train.learning_rate": [1e-3, 1e-2]},
        seeds=[0, 1],
    )
    plan = plan_sweep(cfg)
    assert len(plan.groups) == 1 and len(plan.groups[0].members) == 4
    stats = []
    run_chunk = fit_module.run_chunk

    def spy(*args):  # compile the group's program, measure it, stop the group
        stats.append(run_chunk.lower(*args).compile().compiled.memory_analysis())
        raise RuntimeError("measured")

    monkeypatch.setattr(fit_module, "run_chunk", spy)
    with pytest.raises(SweepError, match="g0000"):
        run_sweep(cfg, tmp_path / "s", progress=False, compilation_cache=False)
    ma = stats[0]
    xla = (
        ma.argument_size_in_bytes + ma.output_size_in_bytes + ma.temp_size_in_bytes
        - ma.alias_size_in_bytes
    )  # fmt: skip
    estimate = plan.groups[0].bytes
    print(f"member_bytes estimate / XLA = {estimate / xla:.3f}")
    assert xla <= estimate <= 1.5 * xla, (xla, estimate)


# --------------------------------------------------------------- running the groups


@pytest.fixture(scope="module")
def small_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "run"
    run_sweep(_config(), out, compilation_cache=CACHE)
    return out


def test_local_sweep_equals_members_trained_one_by_one(small_sweep):
    sweep = load_sweep(small_sweep)
    table = sweep.table
    assert list(table.member) == [f"m{i:05d}" for i in range(8)]
    assert sweep.pending == [] and sweep.errors == {}
    task = dx.tasks.FlipFlop(**SMALL["task_args"])
    for i in (0, 7):  # first and last member, from different grid points
        m = sweep.members[i]
        k_init, k_train = member_keys(sweep.config, m.seed)
        with jax.enable_x64(True):
            net = dx.models.CTRNN(2, 6, 2, tau=0.5, g=m.model_args["g"], key=k_init)
            trained, hist = dx.train.fit(
                net, task, optimizer=Optimizer("adam", 1.0)(m.train["learning_rate"]),
                n_steps=8, batch_size=4, key=k_train, log_every=4, progress=False,
            )  # fmt: skip
            ev = dx.train.evaluate(
                trained, task, key=eval_key(sweep.config), n_trials=8
            )
        row = table.iloc[i]
        np.testing.assert_allclose(row.eval_loss, float(ev.loss), rtol=1e-9)
        np.testing.assert_allclose(row.eval_score, float(ev.score), rtol=1e-9)
        np.testing.assert_allclose(
            row.final_loss, float(np.mean(np.asarray(hist.loss)[-1:])), rtol=1e-9
        )
        loaded = sweep.load_member(m.id)
        assert type(loaded) is dx.models.CTRNN
        for a, b in zip(jax.tree.leaves(loaded), jax.tree.leaves(trained), strict=True):
            if hasattr(a, "shape"):
                np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-9)


def test_rows_carry_config_metrics_and_provenance(small_sweep):
    table = load_sweep(small_sweep).table
    for column in ("seed", "model_args.g", "train.learning_rate", *METRICS,
                   "group", "group_seconds", "version_jax", "git_commit"):  # fmt: skip
        assert column in table.columns, column
    assert table.version_jax.iloc[0] == jax.__version__
    assert (table.group_seconds > 0).all() and not table.failed.any()
    assert len(table.group.unique()) == 1  # one shared program for the 8 members
    # untrained networks score about chance; every member's row is its own
    assert table.eval_loss.nunique() == 8
    losses = load_sweep(small_sweep).losses()
    assert list(losses) == list(table.member)
    assert all(c.shape == (8,) and np.isfinite(c).all() for c in losses.values())
    for (_, row), curve in zip(table.iterrows(), losses.values(), strict=True):
        assert row.final_loss == float(np.mean(curve[-1:]))  # the row's tail mean


def test_rerun_skips_finished_groups_and_checks_the_config(small_sweep):
    before = (small_sweep / "rows" / "g0000.csv").stat().st_mtime_ns
    run_sweep(_config(), small_sweep, compilation_cache=CACHE)
    assert (small_sweep / "rows" / "g0000.csv").stat().st_mtime_ns == before
    with pytest.raises(
        ValueError, match="out: .* holds a sweep with a different config"
    ):
        run_sweep(_config(seeds=3), small_sweep, compilation_cache=CACHE)


# ------------------------------------------------------------------------ failures

FLAKY = '''
import os
import dynax as dx


class FlakyCTRNN(dx.models.CTRNN):
    """A CTRNN whose vector field raises while the file FLAG exists (when traced)."""

    def __call__(self, t, y, args):
        if os.path.exists(os.environ["DYNAX_TEST_FLAG"]) and self.n_hidden == 6:
            raise RuntimeError("injected failure")
        return super().__call__(t, y, args)
'''


def test_failed_group_is_recorded_and_rerun(tmp_path, monkeypatch):
    (tmp_path / "flaky_models.py").write_text(FLAKY)
    monkeypatch.syspath_prepend(str(tmp_path))
    flag = tmp_path / "fail"
    flag.touch()
    monkeypatch.setenv("DYNAX_TEST_FLAG", str(flag))
    cfg = _config(model="flaky_models:FlakyCTRNN", seeds=1,
                  grid={"model_args.n_hidden": [4, 6]})  # fmt: skip
    with pytest.raises(SweepError, match="g0001: RuntimeError: injected failure"):
        run_sweep(cfg, tmp_path / "run", compilation_cache=CACHE)
    sweep = load_sweep(tmp_path / "run")
    assert sweep.finished == ["g0000"] and sweep.pending == ["g0001"]
    assert "injected failure" in sweep.errors["g0001"]["traceback"]
    assert len(sweep.table) == 1
    flag.unlink()
    run_sweep(cfg, tmp_path / "run", compilation_cache=CACHE)
    sweep = load_sweep(tmp_path / "run")
    assert sweep.pending == [] and sweep.errors == {} and len(sweep.table) == 2


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"tsak": "FlipFlop"}, "config: unknown key 'tsak'; expected keys from"),
        (
            {"grid": {"model_args.g": []}},
            r"grid\['model_args.g'\]: expected a non-empty",
        ),
        ({"grid": {"g": [1.0]}}, "grid: expected keys 'section.key'"),
        ({"task": "FlipFlip"}, "task: expected a dx.tasks class name"),
        ({"model": "no_such_module:X"}, "model: cannot import"),
        ({"train": {"n_steps": "10"}}, "train.n_steps: expected int, got '10'"),
        ({"train": {"lr": 0.1}}, "train.lr: expected one of"),
        ({"model_args": {"n_hiden": 4}}, "model_args.n_hiden: expected a parameter"),
        ({"model_args": {"n_hidden": 4.5}}, "model_args.n_hidden: expected int"),
        (
            {"model_args": {"n_hidden": -3}},
            r"model_args: CTRNN\(\*\*.* failed to build",
        ),
        (
            {"grid": {"model_args.tau": ["a"]}},
            "grid model_args.tau: expected .*float.*, got 'a'",
        ),
        ({"seeds": 0}, "seeds: expected an int >= 1"),
        ({"memory_budget": "lots"}, "memory_budget: expected a positive number"),
        ({"evaluate": {"n_trials": 0}}, "evaluate.n_trials: expected an int >= 1"),
    ],
)
def test_bad_config_names_the_field(changes, match):
    with pytest.raises(ValueError, match=match):
        plan_sweep(_config(**changes))


def test_missing_task_and_bad_arguments(tmp_path):
    cfg = dict(SMALL)
    del cfg["task"]
    with pytest.raises(ValueError, match="task: missing"):
        plan_sweep(cfg)
    with pytest.raises(ValueError, match="backend: expected one of"):
        run_sweep(SMALL, tmp_path, backend="ray")
    with pytest.raises(ValueError, match="out: expected a sweep folder"):
        load_sweep(tmp_path)


# ---------------------------------------------------------------------------- CLI


def _cli(*args, timeout=600, env=None):
    return subprocess.run(
        [sys.executable, "-m", "experiments.sweep", *map(str, args)], cwd=ROOT,
        capture_output=True, text=True, timeout=timeout, env=env,
    )  # fmt: skip


def test_cli_dry_run_and_bad_config(tmp_path):
    out = _cli(ROOT / "experiments" / "sweeps" / "flipflop.yaml", "--dry-run")
    assert out.returncode == 0, out.stderr
    assert "128 members = 8 grid points x 16 seeds; 2 groups" in out.stdout
    assert "g0001:   64 members (model_args.n_hidden=64;" in out.stdout
    assert "MiB each" in out.stdout
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "x", "task": "FlipFlop", "grid": {"a.b": [1]}}))
    out = _cli(bad, "--dry-run")
    assert out.returncode == 2 and "grid: expected keys 'section.key'" in out.stderr


def _rows(path: Path) -> list[dict]:
    rows = []
    for f in sorted((path / "rows").glob("*.csv")):
        with f.open(newline="") as fh:
            rows += list(csv.DictReader(fh))
    return rows


KILL = {
    **SMALL,
    "name": "kill",
    # 6 members of one signature in 3 groups of 2: one compiled program per process
    "grid": {"train.learning_rate": [3e-3, 1e-2, 3e-2]},
    "seeds": 2,
    "max_group_size": 2,
    "train": {"n_steps": 120, "batch_size": 4, "log_every": 10, "checkpoint_every": 20},
}


def _mid_group(out: Path) -> bool:
    """A group has a training checkpoint but no rows yet (training in progress)."""
    for train in out.glob("groups/*/train"):
        group = train.parent.name
        steps = [p for p in train.iterdir() if p.name.isdigit()]
        if steps and not (out / "rows" / f"{group}.csv").exists():
            return True
    return False


@pytest.mark.slow
def test_sigkill_three_times_then_resume_equals_an_uninterrupted_run(tmp_path):
    config = tmp_path / "kill.json"
    config.write_text(json.dumps(KILL))
    run_sweep(
        KILL, tmp_path / "ref", compilation_cache=CACHE
    )  # uninterrupted, in this process
    env = dict(os.environ, TQDM_DISABLE="1")
    rng = np.random.default_rng(0)
    out, killed = tmp_path / "killed", 0
    for _ in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-m", "experiments.sweep", str(config), "--out", str(out)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        # SIGKILL at a random moment once a group is part-way through training
        while proc.poll() is None and not _mid_group(out):
            time.sleep(0.02)
        time.sleep(float(rng.uniform(0.0, 0.3)))
        if proc.poll() is None:
            proc.kill()  # no cleanup, no atexit
            killed += 1
        proc.wait()
    assert killed == 3
    final = _cli(config, "--out", out, env=env)
    assert final.returncode == 0, final.stderr
    got, want = _rows(out), _rows(tmp_path / "ref")
    members = sorted(r["member"] for r in got)
    assert members == [f"m{i:05d}" for i in range(6)]  # none missing or doubled
    by_member = {r["member"]: r for r in got}
    for r in want:
        for key in METRICS:  # bit for bit (floats are written with repr)
            assert by_member[r["member"]][key] == r[key], (r["member"], key)
    assert any(int(r["resumed_from"]) > 0 for r in got)  # a group resumed mid-way
    assert not list(out.rglob("*.tmp")) and not list(
        out.rglob("*orbax-checkpoint-tmp*")
    )


def test_figure_script_draws_every_figure(small_sweep, tmp_path):
    sys.path.insert(0, str(ROOT))
    from analysis import sweep as figures

    paths = figures.main(
        [str(small_sweep), "--out", str(tmp_path), "--members", "m00002"]
    )
    names = sorted(p.name for p in paths)
    stems = ("loss_curves", "metrics", "failures", "fixed_points_m00002")
    assert names == sorted(f"{n}.{e}" for n in stems for e in ("png", "pdf"))
    for p in paths:
        assert p.stat().st_size > 5_000, p

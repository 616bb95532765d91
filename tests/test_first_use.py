"""A new user's first hour: a quiet, light import, progress off a terminal, types.

Covers: ``import dynax`` neither imports orbax or tqdm nor prints anything; ``fit``'s
progress reporter (a line every ``INTERVAL`` seconds off a terminal, a tqdm bar on
one, silence with ``progress=False`` / ``TQDM_DISABLE``); ``Trajectory`` printing its
result by name; the package ships ``py.typed``; ``unique_fixed_points(ensemble=)``.
"""

import functools
import io
import os
import subprocess
import sys
from pathlib import Path

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import jax.tree_util as jtu
import numpy as np
import optax
import pytest
from helpers import Linear
from typecheck import unchecked

import dynax as dx
import dynax.train._progress as progress_module
from dynax.train._progress import Lines, make_progress, progress_mode

ROOT = Path(__file__).resolve().parents[1]


def _env():
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path}


def test_import_is_quiet_and_does_not_load_orbax_or_tqdm():
    code = (
        "import sys, dynax\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('orbax', 'tqdm')]\n"
        "print(sorted(heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert done.stderr == ""


def test_package_ships_py_typed():
    assert (ROOT / "dynax" / "py.typed").is_file()


class _Stream(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self.tty = tty

    def isatty(self):
        return self.tty


def test_progress_mode(monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    assert progress_mode(None, _Stream(tty=True)) == "bar"
    assert progress_mode(True, _Stream(tty=True)) == "bar"
    assert progress_mode(None, _Stream(tty=False)) == "lines"
    assert progress_mode(True, _Stream(tty=False)) == "lines"
    assert progress_mode(False, _Stream(tty=True)) == "off"
    assert progress_mode(False, _Stream(tty=False)) == "off"
    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert progress_mode(None, _Stream(tty=True)) == "off"
    assert progress_mode(True, _Stream(tty=False)) == "off"


class _Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_lines_report_every_interval_with_a_fake_clock():
    clock, out = _Clock(), _Stream(tty=False)
    lines = Lines(600, 0, 4, out, interval=10.0, clock=clock)
    losses = np.array([0.4, 0.7, 0.5, np.nan])  # a failed member's NaN is ignored
    clock.now = 105.0
    lines.update(100, losses, 1)
    assert out.getvalue() == ""  # 5 s: too early
    clock.now = 112.0
    lines.update(200, losses, 1)
    clock.now = 115.0
    lines.update(300, losses, 1)  # 3 s after the last line: quiet
    clock.now = 122.5
    lines.update(400, 2 * losses, 2)
    clock.now = 130.0
    lines.update(600, losses, 2)  # the last step: left to close()
    lines.close()
    got = out.getvalue().splitlines()
    median = float(np.median([0.4, 0.7, 0.5]))
    assert got == [
        f"fit: step 200/600, loss median {median:.4g}, failed 1/4, 12 s elapsed, "
        f"{200 / 12:.3g} steps/s",
        f"fit: step 400/600, loss median {2 * median:.4g}, failed 2/4, 22 s "
        f"elapsed, {400 / 22.5:.3g} steps/s",
        f"fit: done, step 600/600, loss median {median:.4g}, failed 2/4, 30 s "
        f"elapsed, {600 / 30:.3g} steps/s",
    ]


def test_lines_short_run_is_silent_and_resumed_rate_counts_new_steps():
    clock, out = _Clock(), _Stream(tty=False)
    short = Lines(50, 0, 1, out, interval=10.0, clock=clock)
    clock.now = 103.0
    short.update(50, np.array([0.1]), 0)
    short.close()
    assert out.getvalue() == ""
    resumed = Lines(300, 200, 1, out, interval=10.0, clock=clock)
    clock.now = 123.0
    resumed.update(300, np.array([np.nan]), 1)  # every member failed: NaN, no warning
    resumed.close()
    assert out.getvalue().splitlines() == [
        f"fit: done, step 300/300, loss median nan, failed 1/1, 20 s elapsed, "
        f"{100 / 20:.3g} steps/s"
    ]


def test_lines_say_once_that_a_long_first_chunk_is_compiling():
    out = _Stream(tty=False)
    lines = Lines(10, 0, 3, out, interval=0.0, first_chunk=5)
    timer = lines.timer
    assert timer is not None
    timer.join(timeout=60)
    assert out.getvalue() == (
        "fit: compiling and running the first 5 steps (3 member(s), 10 steps in "
        "all)...\n"
    )
    lines.update(10, np.array([1.0, 2.0, 3.0]), 0)
    lines.close()
    assert (
        out.getvalue()
        .splitlines()[-1]
        .startswith("fit: done, step 10/10, loss median 2, failed 0/3")
    )
    quick_out = _Stream(tty=False)
    quick = Lines(10, 0, 3, quick_out, interval=60.0, first_chunk=5)
    quick.update(10, np.array([1.0]), 0)  # before the timer: it is cancelled
    quick.close()
    assert quick.timer is None and quick_out.getvalue() == ""


def test_bar_on_a_terminal(monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    out = _Stream(tty=True)
    monkeypatch.setattr(sys, "stderr", out)
    bar = make_progress(None, total=4, initial=0, n_members=2, chunk=2)
    bar.update(2, np.array([0.5, 0.25]), 0)
    bar.update(4, np.array([0.5, 0.25]), 1)
    bar.close()
    text = out.getvalue()
    assert "fit" in text and "4/4" in text and "failed=1" in text


@functools.cache
def _setup():
    net = dx.models.CTRNN(2, 4, 2, tau=0.5, key=jr.PRNGKey(0))
    task = dx.tasks.FlipFlop(n_bits=2, p_pulse=0.1, n_steps=10, dt=0.2)
    return net, task, optax.adam(1e-2)  # the same objects: one compilation


def _fit(progress=None):
    net, task, optimizer = _setup()
    return dx.train.fit(
        net,
        task,
        optimizer=optimizer,
        n_steps=4,
        batch_size=4,
        key=jr.PRNGKey(1),
        log_every=2,
        progress=progress,
    )


def test_fit_prints_lines_off_a_terminal(monkeypatch, capsys):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    monkeypatch.setattr(progress_module, "INTERVAL", 0.0)
    _, history = _fit()
    captured = capsys.readouterr()
    assert captured.out == "" and "\r" not in captured.err
    lines = captured.err.splitlines()
    if lines[0].startswith("fit: compiling"):  # the first chunk's timer (0 s here)
        assert lines.pop(0) == (
            "fit: compiling and running the first 2 steps (1 member(s), 4 steps in "
            "all)..."
        )
    assert len(lines) == 2
    median = float(np.asarray(history.loss)[1])
    assert lines[0].startswith(f"fit: step 2/4, loss median {median:.4g}, failed 0/1")
    assert lines[1].startswith("fit: done, step 4/4, loss median")
    assert lines[1].endswith("steps/s")
    _fit(progress=False)
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("TQDM_DISABLE", "1")
    _fit()
    assert capsys.readouterr().err == ""


def _trajectory(n_members):
    a = -jnp.eye(2)
    ens = dx.make_ensemble(
        lambda k: Linear(a + 0.1 * jr.normal(k, (2, 2)), jnp.ones((2, 1))),
        jr.split(jr.PRNGKey(0), n_members),
    )
    ens = eqx.tree_at(lambda m: m.A, ens, ens.A.at[1].set(4000.0 * jnp.eye(2)))
    y0 = jnp.ones(2)
    return dx.simulate(ens, y0, jnp.linspace(0.0, 3.0, 31), ensemble=True, dt=0.01)


def test_trajectory_prints_its_result_by_name():
    assert ".ok" in dx.Trajectory.__doc__ or "ok:" in dx.Trajectory.__doc__
    model = Linear(-jnp.eye(2), jnp.ones((2, 1)))
    traj = dx.simulate(model, jnp.ones(2), jnp.linspace(0.0, 1.0, 5))
    assert bool(traj.result == diffrax.RESULTS.successful) and bool(traj.ok)
    assert "result=RESULTS.successful," in repr(traj)
    assert "RESULTS<>" not in str(traj)
    ens = _trajectory(4)
    ok = np.asarray(ens.ok)
    nonfinite = np.asarray(ens.result == diffrax.RESULTS.nonfinite)
    assert ok.sum() == 3 and nonfinite.sum() == 1  # member 1 diverges
    shown = f"RESULTS.successful x {ok.sum()}, RESULTS.nonfinite x {nonfinite.sum()}"
    assert f"result=[{shown}]" in repr(ens)


def test_trajectory_stays_a_plain_pytree_under_jit_and_vmap():
    model = Linear(-jnp.eye(2), jnp.ones((2, 1)))
    ts = jnp.linspace(0.0, 1.0, 5)
    traj = dx.simulate(model, jnp.ones(2), ts)
    leaves, treedef = jtu.tree_flatten(traj)
    again = jtu.tree_unflatten(treedef, leaves)
    assert isinstance(again, dx.Trajectory) and bool(again.ok)
    seen = []

    @eqx.filter_jit
    def run(y0):
        out = dx.simulate(model, y0, ts)
        seen.append(repr(out))  # printing a traced trajectory works
        return out

    jitted = run(jnp.ones(2))
    assert "traced" in seen[0] and isinstance(jitted, dx.Trajectory)
    np.testing.assert_allclose(jitted.ys, traj.ys, rtol=1e-13)
    batched = jax.vmap(run)(jnp.stack([jnp.ones(2), 2 * jnp.ones(2)]))
    assert batched.ys.shape == (2, 5, 2)
    assert bool(jnp.all(batched.result == diffrax.RESULTS.successful))
    assert "result=[RESULTS.successful x 2]" in repr(batched)


def test_unique_fixed_points_ensemble_flag_is_checked():
    unique = np.array([True, False, True])
    converged = np.array([True, True, False])
    single = dx.analysis.FixedPoints(
        points=jnp.arange(6.0).reshape(3, 2),
        speed=jnp.array([0.0, 0.0, 1.0]),
        converged=jnp.asarray(converged),
        unique=jnp.asarray(unique),
        candidate=jnp.arange(3),
        n_unique=jnp.asarray(2),
        jacobians=None,
        eigvals=None,
        n_unstable=None,
        stable=None,
        n_steps=jnp.asarray(5),
    )
    points = dx.analysis.unique_fixed_points(single, ensemble=False)
    assert isinstance(points, dx.analysis.FixedPoints)
    keep = unique & converged
    np.testing.assert_array_equal(points.points, np.arange(6.0).reshape(3, 2)[keep])
    with unchecked(), pytest.raises(ValueError, match="ensemble: expected False"):
        dx.analysis.unique_fixed_points(single, ensemble=True)
    stacked = jtu.tree_map(lambda x: jnp.stack([x, x]), single)
    lists = dx.analysis.unique_fixed_points(stacked, ensemble=True)
    assert isinstance(lists, list) and len(lists) == 2
    np.testing.assert_array_equal(lists[1].points, points.points)
    with unchecked(), pytest.raises(ValueError, match="ensemble: expected True"):
        dx.analysis.unique_fixed_points(stacked, ensemble=False)

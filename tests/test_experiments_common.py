"""experiments/_common.py: the command line from a Config, the results files, x64."""

import csv
import dataclasses
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

import jax
import numpy as np
import pytest
from typecheck import unchecked

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from experiments import (  # noqa: E402
    _common,
    ei_reservoir,
    lsm_digits,
    quickstart,
    sync_redundancy,
)
from experiments._common import (  # noqa: E402
    build_parser,
    enable_x64,
    parse_config,
    write_results,
)


@dataclass
class Toy:
    n: int = 3
    rate: float = 0.5
    name: str = "a"
    flag: bool = True
    other: bool = False
    sizes: list[int] = field(default_factory=lambda: [1, 2])
    limit: int | None = None
    seed: int = 0

    @classmethod
    def small(cls) -> "Toy":
        return cls(n=1, sizes=[7])


@dataclass
class NoSmall:
    n: int = 3
    seed: int = 0


def test_cli_defaults_and_every_flag():
    assert parse_config(Toy, []) == (Toy(), None)
    cfg, out = parse_config(
        Toy,
        ["--n", "5", "--rate", "1e-3", "--name", "b", "--no-flag", "--other",
         "--sizes", "4", "5", "6", "--limit", "9", "--seed", "3", "--out", "dir"],
    )  # fmt: skip
    assert cfg == Toy(
        n=5, rate=1e-3, name="b", flag=False, other=True, sizes=[4, 5, 6], limit=9,
        seed=3,
    )  # fmt: skip
    assert type(cfg.n) is int and type(cfg.rate) is float
    assert all(type(s) is int for s in cfg.sizes)
    assert out == Path("dir")
    assert parse_config(Toy, ["--flag", "--limit", "none"])[0] == Toy(flag=True)


def test_cli_small_then_flags():
    assert parse_config(Toy, ["--small"])[0] == Toy.small()
    cfg, _ = parse_config(Toy, ["--small", "--n", "2", "--seed", "4"])
    assert cfg == dataclasses.replace(Toy.small(), n=2, seed=4)


def test_cli_rejects(capsys):
    with (
        unchecked(),
        pytest.raises(SystemExit),
    ):  # no small() on the class: no --small flag
        parse_config(NoSmall, ["--small"])
    with unchecked(), pytest.raises(SystemExit):
        parse_config(Toy, ["--n", "1.5"])
    with unchecked(), pytest.raises(SystemExit):
        parse_config(Toy, ["--sizes"])
    capsys.readouterr()

    @dataclass
    class Bad:
        table: dict = field(default_factory=dict)
        seed: int = 0

    with (
        unchecked(),
        pytest.raises(TypeError, match="Bad.table: expected a field of type"),
    ):
        build_parser(Bad)
    with unchecked(), pytest.raises(TypeError, match="seed"):
        build_parser(dataclass(type("NoSeed", (), {"__annotations__": {"n": int}})))
    with (
        unchecked(),
        pytest.raises(TypeError, match="config_cls: expected a dataclass type"),
    ):
        build_parser(Toy())


def test_cli_of_every_experiment():
    for module in (quickstart, ei_reservoir, lsm_digits, sync_redundancy):
        cfg_cls = module.Config
        text = build_parser(cfg_cls).format_help()
        for f in dataclasses.fields(cfg_cls):
            assert "--" + f.name.replace("_", "-") in text, (module.__name__, f.name)
        assert "--small" in text and "--out" in text
        assert parse_config(cfg_cls, ["--small"])[0] == cfg_cls.small()
    cfg, _ = parse_config(ei_reservoir.Config, ["--global-gains", "1", "2", "--no-x64"])
    assert cfg.global_gains == [1.0, 2.0] and cfg.x64 is False
    cfg, _ = parse_config(lsm_digits.Config, ["--n-train", "100"])
    assert cfg.n_train == 100
    cfg, _ = parse_config(sync_redundancy.Config, ["--topologies", "ring", "complete"])
    assert cfg.topologies == ["ring", "complete"]


def record(tmp_path, **kw):
    args = dict(
        config=Toy(), seed=7, wall_seconds=np.float64(1.234),
        rows=[
            {"k": 1, "value": np.float64(0.5), "picked": True, "note": None},
            {"k": 2, "value": 1.5, "extra": [1, 2]},
        ],
        summary={"best": np.float32(2.0), "per_seed": np.arange(3)},
        extra={"trace": np.ones((2, 2))},
    )  # fmt: skip
    args.update(kw)
    return write_results(tmp_path, "toy", **args)


def test_write_results_json_and_csv(tmp_path):
    path = record(tmp_path)
    assert path == tmp_path / "toy.json"
    saved = json.loads(path.read_text())
    assert saved["experiment"] == "toy"
    assert saved["config"] == dataclasses.asdict(Toy())
    assert saved["seed"] == 7 and saved["wall_seconds"] == 1.23
    assert saved["summary"] == {"best": 2.0, "per_seed": [0, 1, 2]}
    assert saved["extra"] == {"trace": [[1.0, 1.0], [1.0, 1.0]]}
    assert saved["rows"][0] == {"k": 1, "value": 0.5, "picked": True, "note": None}
    versions = saved["versions"]
    assert versions["python"] == platform.python_version()
    for name in ("jax", "jaxlib", "equinox", "diffrax", "optax", "numpy", "dynax"):
        assert versions[name] == importlib.metadata.version(name), name
    machine = saved["machine"]
    assert machine["backend"] == jax.default_backend()
    assert machine["device"] == jax.devices()[0].device_kind
    assert machine["x64"] is True  # tests/conftest.py switches it on
    with open(tmp_path / "toy.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["k", "value", "picked", "note", "extra"]
    assert rows[0] == {"k": "1", "value": "0.5", "picked": "True", "note": "",
                       "extra": ""}  # fmt: skip
    assert json.loads(rows[1]["extra"]) == [1, 2]
    assert sorted(os.listdir(tmp_path)) == ["toy.csv", "toy.json"]


def test_write_results_without_rows_writes_no_csv(tmp_path):
    write_results(tmp_path / "new", "toy", config={"a": 1}, seed=0, wall_seconds=0)
    assert os.listdir(tmp_path / "new") == ["toy.json"]
    saved = json.loads((tmp_path / "new" / "toy.json").read_text())
    assert (
        saved["rows"] == [] and saved["summary"] == {} and saved["config"] == {"a": 1}
    )


def test_write_results_is_atomic(tmp_path, monkeypatch):
    record(tmp_path, seed=1)
    old = {p: p.read_bytes() for p in tmp_path.iterdir()}
    real_replace, seen = os.replace, []

    def checked_replace(src, dst):
        src, dst = Path(src), Path(dst)
        assert src.parent == dst.parent == tmp_path and src != dst
        assert dst.read_bytes() == old[dst]  # the target is whole until the rename
        if dst.suffix == ".json":
            assert json.loads(src.read_text())["seed"] == 2  # the new file is whole
        seen.append(dst.name)
        real_replace(src, dst)

    monkeypatch.setattr(_common.os, "replace", checked_replace)
    record(tmp_path, seed=2)
    assert seen == ["toy.csv", "toy.json"]
    assert sorted(os.listdir(tmp_path)) == ["toy.csv", "toy.json"]
    new = {p: p.read_bytes() for p in tmp_path.iterdir()}

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(_common.os, "replace", failing_replace)
    with unchecked(), pytest.raises(OSError, match="disk full"):
        record(tmp_path, seed=3)
    assert {p: p.read_bytes() for p in tmp_path.iterdir()} == new  # no temp left


def test_write_results_rejects(tmp_path):
    with (
        unchecked(),
        pytest.raises(TypeError, match="results: expected JSON-serialisable"),
    ):
        record(tmp_path, summary={"f": object()})
    assert os.listdir(tmp_path) == []  # failed before writing anything
    with unchecked(), pytest.raises(ValueError, match="name: expected a file stem"):
        write_results(tmp_path, "a/b", config={}, seed=0, wall_seconds=1.0)
    with unchecked(), pytest.raises(TypeError, match="seed: expected an int"):
        write_results(tmp_path, "a", config={}, seed=1.0, wall_seconds=1.0)
    with (
        unchecked(),
        pytest.raises(ValueError, match="wall_seconds: expected a finite number"),
    ):
        write_results(tmp_path, "a", config={}, seed=0, wall_seconds=float("nan"))
    with (
        unchecked(),
        pytest.raises(TypeError, match="config: expected a dataclass instance"),
    ):
        write_results(tmp_path, "a", config=Toy, seed=0, wall_seconds=1.0)
    with unchecked(), pytest.raises(TypeError, match="rows: expected a list of dicts"):
        write_results(tmp_path, "a", config={}, rows=[1], seed=0, wall_seconds=1.0)


def test_enable_x64(monkeypatch):
    calls = []
    fake = types.SimpleNamespace(
        config=types.SimpleNamespace(update=lambda *a: calls.append(a))
    )
    monkeypatch.setattr(_common, "jax", fake)
    enable_x64(sync_redundancy.Config(x64=False))
    assert calls == []
    enable_x64(sync_redundancy.Config())
    assert calls == [("jax_enable_x64", True)]
    with (
        unchecked(),
        pytest.raises(TypeError, match="cfg: expected a config with a bool `x64`"),
    ):
        enable_x64(quickstart.Config())


def run_file(script: str, *args: str) -> subprocess.CompletedProcess:
    """Run an experiment as a file from another folder, without PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, str(ROOT / "experiments" / script), *args],
        capture_output=True, text=True, cwd=ROOT.parent, env=env, timeout=600,
    )  # fmt: skip


def test_experiment_runs_as_a_file(tmp_path):
    out = tmp_path / "results"
    flags = [
        "--small", "--n-runs", "4", "--topologies", "ring", "complete",
        "--couplings", "0", "1", "--n-burn-chunks", "1", "--n-chunks", "1",
    ]  # fmt: skip
    proc = run_file("sync_redundancy.py", *flags, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    saved = json.loads((out / "sync_redundancy.json").read_text())
    assert json.loads(proc.stdout) == saved["summary"]
    cfg = saved["config"]
    assert cfg["n_runs"] == 4 and cfg["couplings"] == [0.0, 1.0]
    assert cfg["n"] == sync_redundancy.Config.small().n  # --small, then the flags
    with open(out / "sync_redundancy.csv", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 2 * 2 * len(cfg["sigmas"])
    assert saved["machine"]["x64"] is True  # switched on inside main (cfg.x64)
    proc = run_file("quickstart.py", "--help")  # the README's first command's CLI
    assert proc.returncode == 0, proc.stderr
    assert "--n-members" in proc.stdout and "--small" in proc.stdout

"""Declared dependencies match what dynax imports (and nothing is left undeclared)."""

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# import name -> distribution name, where they differ
DISTRIBUTION = {
    "orbax": "orbax-checkpoint",
    "sklearn": "scikit-learn",
    "DSA": "dsa-metric",
}


def third_party_imports(folder: Path) -> set[str]:
    names = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != "dynax"}


def declared(group: str | None = None) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = (
        project["dependencies"]
        if group is None
        else project["optional-dependencies"][group]
    )
    return {d.split(">")[0].split("=")[0].split("[")[0].strip() for d in deps}


# imported only when used (inside a function, or by a module imported so):
# distribution -> the extra that declares it
OPTIONAL = {
    "submitit": "sweep",
    "pyyaml": "sweep",
    "pandas": "sweep",
    "matplotlib": "plot",
    "pynwb": "nwb",
}
DISTRIBUTION["yaml"] = "pyyaml"


def test_every_import_of_the_library_is_a_declared_dependency():
    imports = {DISTRIBUTION.get(n, n) for n in third_party_imports(ROOT / "dynax")}
    for name, extra in OPTIONAL.items():
        assert name in imports and name in declared(extra), (name, extra)
    imports -= set(OPTIONAL)
    runtime = declared()
    assert imports <= runtime, f"undeclared: {sorted(imports - runtime)}"
    # jaxlib comes with jax; everything declared is used
    assert runtime - {"jaxlib"} <= imports | {"jax"}, sorted(runtime - imports)


def test_experiments_and_figures_need_only_declared_extras():
    used = set()
    for folder in ("experiments", "analysis", "notebooks"):
        used |= third_party_imports(ROOT / folder)
    used = {DISTRIBUTION.get(n, n) for n in used} - {"experiments", "analysis"}  # local
    available = declared() | declared("dev")
    assert used <= available, f"undeclared: {sorted(used - available)}"
    assert "matplotlib" in declared("plot")


def test_optional_dependencies_are_imported_lazily():
    code = (
        "import sys, dynax, dynax.sweep; "
        "print(sorted(m for m in ('submitit', 'yaml', 'pandas', 'matplotlib') "
        "if m in sys.modules) + [m for m in ('pynwb', 'h5py') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, check=True)  # fmt: skip
    assert out.stdout.strip() == "[]", out.stdout

"""The README's Python blocks type-check: pyright (the project's config) finds no error.

A user who copies the tour into an editor with pyright or pylance sees what this test
sees: ``fit`` returns the model's own type, ``unique_fixed_points(..., ensemble=True)``
a list, ``simulate`` a ``Trajectory``. The blocks are checked against this checkout's
``dynax`` (pyright runs with the repository as its project root).
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYRIGHT = Path(sys.executable).parent / "pyright"


@pytest.mark.slow  # about 15-25 s: pyright analyses jax, equinox and diffrax
@pytest.mark.skipif(not PYRIGHT.exists(), reason="pyright (a dev dependency) missing")
def test_readme_python_blocks_type_check(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert len(blocks) >= 2
    script = tmp_path / "readme_blocks.py"
    script.write_text("\n".join(blocks))
    done = subprocess.run(
        [
            str(PYRIGHT),
            "--outputjson",
            "--pythonpath",
            sys.executable,
            "--project",
            str(ROOT),
            str(script),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = json.loads(done.stdout)
    errors = [
        f"line {d['range']['start']['line'] + 1}: {d['message']}"
        for d in report["generalDiagnostics"]
        if d["severity"] == "error"
    ]
    assert report["summary"]["filesAnalyzed"] == 1
    assert errors == [], "\n".join(errors)
    assert report["summary"]["errorCount"] == 0

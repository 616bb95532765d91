"""Every tutorial notebook (jupytext py:percent) runs top to bottom at small size."""

import re
from pathlib import Path

import jupytext
import nbclient
import pytest

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.py"))


def outputs_of(nb, kind):
    return [o for cell in nb.cells for o in cell.get("outputs", []) if kind(o)]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path, monkeypatch, tmp_path):
    monkeypatch.setenv("DYNAX_SMALL", "1")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = jupytext.read(path)
    client = nbclient.NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError on any failing cell
    errors = outputs_of(nb, lambda o: o.get("output_type") == "error")
    assert not errors
    stderr = "".join(
        o["text"] for o in outputs_of(nb, lambda o: o.get("name") == "stderr")
    )
    assert not re.search("warn", stderr, re.IGNORECASE), stderr[-2000:]
    images = outputs_of(nb, lambda o: "image/png" in o.get("data", {}))
    assert images, "the notebook drew no figure"


def test_there_are_notebooks():
    assert NOTEBOOKS

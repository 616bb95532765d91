"""The one command line every figure script shares: read a results dir, save a PNG."""

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.figure import Figure


def read_record(results_dir: str | Path, name: str) -> dict:
    """The record ``<name>.json`` written by ``experiments/<name>.py``."""
    return json.loads((Path(results_dir) / f"{name}.json").read_text())


def figure_cli(
    name: str,
    make_figure: Callable[[str], Figure],
    doc: str | None,
    argv: list[str] | None,
    dpi: int,
) -> Path:
    """Parse ``RESULTS_DIR [--out PNG]``, draw and save the figure.

    The default output is ``RESULTS_DIR/<name>.png``; ``doc`` is the script's
    docstring (its first line describes the command). Returns the PNG's path.
    """
    description = doc.splitlines()[0] if doc else None
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("results_dir")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    out = Path(args.out or Path(args.results_dir) / f"{name}.png")
    fig = make_figure(args.results_dir)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out

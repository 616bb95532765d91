"""Switch the tests' runtime type checker off for a block (see conftest.py)."""

import contextlib

import jaxtyping


@contextlib.contextmanager
def unchecked():
    """Run a block without the runtime type checker (for bad-input checks)."""
    before = jaxtyping.config.jaxtyping_disable
    jaxtyping.config.update("jaxtyping_disable", True)
    try:
        yield
    finally:
        jaxtyping.config.update("jaxtyping_disable", before)

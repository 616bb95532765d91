"""Test configuration: float64, strict promotion, warnings as errors, keys."""

import itertools
import os

# The suite compiles far more programs than it runs for long: LLVM's optimisation
# level 0 cuts its wall time on 2 CPU cores. Results do not depend on it beyond
# rounding (the training tests pass with margin under any reduction order,
# tests/README.md). Subprocess tests (README, notebooks) inherit it. A test whose
# run time outweighs its compile time takes the `optimized` fixture (XLA's default
# level while it runs; the trained flip-flop test: 150 s -> 42 s alone).
# (`JAX_DISABLE_MOST_OPTIMIZATIONS=1` is not used: it also disables LLVM's
# expensive passes, and its programs run about 1.8x slower than level 0's.)
# DYNAX_TEST_OPT=1 keeps XLA's default everywhere.
if os.environ.get("DYNAX_TEST_OPT", "0") != "1":
    _flags = os.environ.get("XLA_FLAGS", "")
    if "xla_backend_optimization_level" not in _flags:
        os.environ["XLA_FLAGS"] = f"{_flags} --xla_backend_optimization_level=0".strip()

# JAX's persistent compilation cache, shared by the test workers and every
# subprocess they start (README, notebooks, sweeps, distributed workers): a program
# compiled once is loaded by the others. DYNAX_TEST_CACHE=0 switches it off.
if os.environ.get("DYNAX_TEST_CACHE", "1") != "0":
    import tempfile

    os.environ.setdefault(
        "JAX_COMPILATION_CACHE_DIR",
        os.path.join(tempfile.gettempdir(), f"dynax-test-jax-cache-{os.getuid()}"),
    )
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")

import jax
import jax.random as jr
import pytest
from jaxtyping import install_import_hook

# STYLE 12: every annotated function in dynax is checked at runtime (jaxtyping with
# beartype: dtypes, shapes and shape names consistent across arguments) in the
# tests. DYNAX_TYPECHECK=0 switches it off (e.g. to time a test).
#
# Tests of dynax's own error messages feed arguments of the wrong type or shape on
# purpose; the checker would reject them first, with its message instead of ours.
# Those blocks run with it off: every `with unchecked(), pytest.raises(...)` (and
# the few module-level objects built from deliberately odd arguments).
TYPECHECK = os.environ.get("DYNAX_TYPECHECK", "1") != "0"
if TYPECHECK:
    with install_import_hook("dynax", "beartype.beartype"):
        import dynax  # noqa: F401

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")


def pytest_collection_modifyitems(items):
    """Run the long tests first (stable order otherwise).

    Under pytest-xdist the suite's wall time is its longest worker's; a two-minute
    test that starts last keeps one worker busy after the other has finished. Tests
    marked ``slow`` (then ``training``) start first, so the short ones fill in.
    """

    def rank(item):
        return (
            0
            if item.get_closest_marker("slow")
            else (1 if item.get_closest_marker("training") else 2)
        )

    items.sort(key=rank)


# The optimisation level of one compilation: JAX offers no public per-compile
# setting for it (`jax_optimization_level` is not honoured on CPU and
# `jax_disable_most_optimizations` can only lower it), so the `optimized` fixture
# sets it on the compile options JAX builds for every program. Test-only use of a
# private function: where it is missing, the fixture does nothing (slower, same
# results).
_OPT_LEVEL: list[int | None] = [None]
try:
    from jax._src import compiler as _compiler

    _get_compile_options = _compiler.get_compile_options

    def _compile_options(*args, **kwargs):
        options = _get_compile_options(*args, **kwargs)
        if _OPT_LEVEL[0] is not None:
            debug = options.executable_build_options.debug_options
            debug.xla_backend_optimization_level = _OPT_LEVEL[0]
        return options

    _compiler.get_compile_options = _compile_options
except (ImportError, AttributeError):  # pragma: no cover
    pass


@pytest.fixture
def optimized():
    """Compile at XLA's default optimisation level (3) while the test runs.

    For tests that run one long program (training), where the run time saved is
    worth more than the compile time spent. Programs compiled earlier at level 0
    are reused as they are (the level is not part of JAX's in-memory cache key).
    """
    before = _OPT_LEVEL[0]
    _OPT_LEVEL[0] = 3
    yield
    _OPT_LEVEL[0] = before


@pytest.fixture
def getkey():
    """Return a function giving a fresh, deterministic PRNG key on every call."""
    counter = itertools.count()
    base = jr.PRNGKey(0)
    return lambda: jr.fold_in(base, next(counter))

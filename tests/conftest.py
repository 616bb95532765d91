"""Test configuration: float64, strict promotion, warnings as errors, keys."""

import itertools
import os

# The suite compiles far more programs than it runs for long: JAX's
# `jax_disable_most_optimizations` (LLVM optimisation level 0, no expensive passes)
# cuts its wall time on 2 CPU cores. Results do not depend on it beyond rounding
# (the training tests pass with margin under any reduction order, tests/README.md).
# Subprocess tests (README, notebooks) inherit it through the environment. A test
# whose run time outweighs its compile time takes the `optimized` fixture (full
# optimisation while it runs; the trained flip-flop test: 150 s -> 42 s alone).
# DYNAX_TEST_OPT=1 keeps XLA's default everywhere.
if os.environ.get("DYNAX_TEST_OPT", "0") != "1":
    os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")

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


# Every compiled XLA CPU executable holds memory mappings (its code and data
# sections; a test's programs take a few hundred), and JAX's caches keep the
# executables alive. A long-lived test worker crosses Linux's vm.max_map_count
# (65530 by default) after a few hundred tests, and then XLA segfaults in its next
# compile or cache load (reproduced: with the limit set to 20000, one process
# running three test files crashed at ~20000 mappings). Between tests, past
# MAP_BUDGET mappings, the caches are dropped (jax.clear_caches + gc) and the
# mappings freed; programs needed again load from the persistent cache.
MAPS = "/proc/self/maps"
MAP_BUDGET = int(os.environ.get("DYNAX_TEST_MAP_BUDGET", 30_000))


def _n_maps() -> int:
    with open(MAPS, "rb") as f:
        return sum(1 for _ in f)


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item):
    if os.path.exists(MAPS) and _n_maps() > MAP_BUDGET:
        import gc

        jax.clear_caches()
        gc.collect()


@pytest.fixture
def optimized():
    """Compile with XLA's full optimisation while the test runs (then restore).

    For tests that run one long program (training), where the run time saved is
    worth more than the compile time spent. Programs already compiled are reused
    as they are (the flag is not part of JAX's cache key).
    """
    before = jax.config.values["jax_disable_most_optimizations"]
    jax.config.update("jax_disable_most_optimizations", False)
    yield
    jax.config.update("jax_disable_most_optimizations", before)


@pytest.fixture
def getkey():
    """Return a function giving a fresh, deterministic PRNG key on every call."""
    counter = itertools.count()
    base = jr.PRNGKey(0)
    return lambda: jr.fold_in(base, next(counter))

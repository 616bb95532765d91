"""Runnable experiments (configs + main()); benchmarks live in experiments/benchmarks."""

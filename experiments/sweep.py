"""Run a sweep: a grid of networks, packed into vmapped groups, on a backend.

    python -m experiments.sweep CONFIG --out DIR [--backend local|slurm] [--dry-run]

CONFIG is a YAML or JSON file (fields: ``dynax.sweep._config``; examples in
``experiments/sweeps/``). ``--dry-run`` prints the grid, the groups and the
estimated memory per group, and runs nothing. ``--backend local`` (the default)
trains the groups one after another in this process; ``--backend slurm`` submits
one submitit job array (one group per task) and waits for it. Rerunning the same
command skips finished groups and resumes interrupted ones; failed groups are
listed at the end (exit status 1) and retried by the next run. Read the results
with ``dynax.load_sweep(DIR)``; ``analysis/sweep.py DIR`` draws them.
"""

import argparse
import sys
from pathlib import Path

if not __package__:  # run as a file: put the repository root (this checkout) first
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dynax.sweep import SweepError, plan_sweep, run_sweep  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").strip().split("\n")[0])
    parser.add_argument("config", type=Path, help="the sweep's YAML or JSON file")
    parser.add_argument("--out", type=Path, help="the sweep folder (results)")
    parser.add_argument("--backend", choices=("local", "slurm"), default="local")
    parser.add_argument(
        "--cluster", default=None,
        help="submitit cluster for --backend slurm (default slurm; 'local' runs "
        "the same jobs as subprocesses)",
    )  # fmt: skip
    parser.add_argument(
        "--dry-run", action="store_true",
        help="print the grid, the groups and their memory estimate; run nothing",
    )  # fmt: skip
    parser.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None,
        help="a bar over groups (default: on a terminal)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    try:
        plan = plan_sweep(args.config)
    except (ValueError, TypeError) as error:
        parser.exit(2, f"sweep: bad config {args.config}: {error}\n")
    if args.dry_run:
        print(plan.describe())
        return 0
    if args.out is None:
        parser.error("--out DIR is required (except with --dry-run)")
    try:
        out = run_sweep(
            plan.config, args.out, backend=args.backend, progress=args.progress,
            cluster=args.cluster,
        )  # fmt: skip
    except SweepError as error:
        print(f"sweep: {error}", file=sys.stderr)
        return 1
    print(f"sweep: {len(plan.members)} members finished in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

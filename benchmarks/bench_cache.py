"""Job cache: re-running an unchanged matrix vs running it cold, through the CLI.

Runs `python -m orchestrator run --to synthesis` twice in a fresh project holding the nightly
matrix (3 designs x ASAP7 + NanGate45 = 6 jobs): cold (empty build dir and history), then
unchanged (every job's key matches a record: nothing is synthesized, 6 cached records are
written). Both figures are whole-command wall times: interpreter start, tool detection, render
+ key for every job, history scan and writes included.

    python benchmarks/bench_cache.py [--jobs N] [--toy]
"""

from __future__ import annotations

import argparse
import sys

from _harness import design_entries, project, run_cli


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=None, help="parallel jobs for the cold run (default: cores)")
    parser.add_argument("--toy", action="store_true", help="use the toy counter instead of halut")
    args = parser.parse_args()
    entries = design_entries(args.toy)
    jobs = ["--jobs", str(args.jobs)] if args.jobs else []
    with project(entries, ["asap7", "nangate45"]) as config:
        cold = run_cli(config, "--to", "synthesis", *jobs)
        warm = run_cli(config, "--to", "synthesis", *jobs)
        records = list((config.parent / "reports" / "history").rglob("*.json"))
    count = 2 * len(entries)
    if len(records) != 2 * count:
        sys.exit(f"ERROR: expected {2 * count} history records, found {len(records)}")
    print(f"cache: unchanged {count}-job matrix re-run {warm:.2f} s vs cold {cold:.1f} s: "
          f"{cold / warm:.0f}x faster (target >= 50x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

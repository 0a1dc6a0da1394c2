"""Benchmark of ``python -m orchestrator report`` on a large history (a script, not a test).

Generates N synthetic history records (default 10 000; 3 designs x 2 PDKs), writes them with
``history.write_record`` (one atomic file each), then times:

  load   history.load_records (JSON + pydantic validation of every record)
  site   report.build_site, cold (empty plot cache) and warm (same history, plot cache filled)
  tables report.write_tables (summary.md + history.csv)

Target: load + cold site under 10 s on a 2-core machine.

    python benchmarks/bench_report.py [--records 10000] [--workdir DIR] [--keep] [--reuse-history]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

# The repository root: the synthetic history is a test helper (tests/synthetic_history.py), not
# part of the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orchestrator import history  # noqa: E402
from orchestrator.report import build_site, write_tables  # noqa: E402
from tests.synthetic_history import synthetic_records  # noqa: E402

TARGET_S = 10.0


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the site's forked workers): a figure
    that, unlike wall time, does not depend on what else the machine is doing."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--workdir", type=Path, default=None, help="default: a fresh temp dir")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (to look at the site)")
    parser.add_argument("--reuse-history", action="store_true",
                        help="with --workdir: keep a history of the same size from an earlier --keep run")
    args = parser.parse_args(argv)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_report-"))
    history_dir, site_dir, cache_dir = workdir / "history", workdir / "site", workdir / "cache"
    reuse = args.reuse_history and len(history.iter_record_files(history_dir)) == args.records
    for path in (site_dir, cache_dir) if reuse else (history_dir, site_dir, cache_dir):
        shutil.rmtree(path, ignore_errors=True)
    try:
        started = time.perf_counter()
        if not reuse:
            for record in synthetic_records(args.records):
                history.write_record(history_dir, record)
        write_s = time.perf_counter() - started

        started, cpu = time.perf_counter(), cpu_seconds()
        records = history.load_records(history_dir)
        load_s, load_cpu = time.perf_counter() - started, cpu_seconds() - cpu
        assert len(records) == args.records, len(records)

        started, cpu = time.perf_counter(), cpu_seconds()
        cold = build_site(records, site_dir, cache_dir=cache_dir)
        cold_s, cold_cpu = time.perf_counter() - started, cpu_seconds() - cpu

        started, cpu = time.perf_counter(), cpu_seconds()
        build_site(records, site_dir, cache_dir=cache_dir)
        warm_s, warm_cpu = time.perf_counter() - started, cpu_seconds() - cpu

        started = time.perf_counter()
        write_tables(records, workdir, site=cold)
        tables_s = time.perf_counter() - started

        total = load_s + cold_s
        print(f"records            {args.records}  ({os.cpu_count()} cores)")
        print(f"write history      {write_s:7.2f} s  (not part of the target; one fsync'd file per record"
              f"{'; reused' if reuse else ''})")
        print(f"load history       {load_s:7.2f} s  (cpu {load_cpu:.2f} s)")
        print(f"build site (cold)  {cold_s:7.2f} s  (cpu {cold_cpu:.2f} s, all processes)  "
              f"{cold.pages} pages, {cold.plots} plots")
        print(f"build site (warm)  {warm_s:7.2f} s  (cpu {warm_cpu:.2f} s)  plots from cache")
        print(f"write tables       {tables_s:7.2f} s  summary.md + history.csv")
        print(f"load + cold site   {total:7.2f} s  target < {TARGET_S:.0f} s: {'OK' if total < TARGET_S else 'MISSED'}")
        print(f"machine load       {os.getloadavg()[0]:.2f} "
              f"(1-min load average; > {os.cpu_count()} means shared cores)")
        if args.keep:
            print(f"site: {site_dir / 'index.html'}")
        return 0 if total < TARGET_S else 1
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

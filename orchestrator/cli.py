"""Command line: parsing and printing only; every stage lives in its own module.

Exit codes:
  0   success
  1   a job failed, or `check` found a regression
  2   usage or configuration error (bad config, unknown design/PDK, missing PDK data, ...)
  3   a required tool is missing (`run --require-all-stages`)
  130 interrupted (Ctrl-C, SIGTERM, SIGHUP)
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import signal
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from orchestrator.config import SCHEDULERS
from orchestrator.errors import ConfigError, OrchestratorError, ToolError, clip, cut

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_TOOL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

DESCRIPTION = """\
Render the halutmatmul RTL, run it through Yosys and OpenROAD (SiliconCompiler) on ASAP7 and
NanGate45, and keep every result: a history of runs, an HTML gallery and a regression gate.

A first session:
  python -m orchestrator doctor                     which tools were found, which steps will run
  python -m orchestrator run --pdk nangate45 --to synthesis
  python -m orchestrator report                     the gallery: reports/site/index.html
  python -m orchestrator check                      the regression gate (reports/baseline.yaml)

Every command reads ./config.yaml unless --config FILE says otherwise (before or after the
command). 'python -m orchestrator COMMAND --help' lists a command's options."""

EPILOG = """\
exit codes:
  0    success
  1    a job failed, or check found a regression
  2    usage or configuration error (bad config, unknown design or PDK, missing PDK data, ...),
       found before the first job starts
  3    a required tool is missing (run --require-all-stages)
  130  interrupted (Ctrl-C, SIGTERM); finished jobs keep their records

docs: README.md, docs/flow.md (the flow), docs/ci.md (check), docs/reports.md (the gallery)"""

CONFIG_HELP = "the project's config file (default: ./config.yaml)"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, like every other usage error
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _err(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def _parse_param(text: str) -> tuple[str, Any]:
    from orchestrator.config import load_yaml, yaml_error_text

    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ConfigError(f"--param: expected KEY=VALUE (value: {clip(text)})")
    key = key.strip()
    try:
        parsed = load_yaml(value, _DecimalLoader)
    except _NotDecimal as exc:
        raise ConfigError(f"--param {cut(key)}: {exc.problem} (value: {clip(value)})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"--param {cut(key)}: invalid YAML value{yaml_error_text(exc)} "
                          f"(value: {clip(value)})") from None
    return key, parsed


class _NotDecimal(yaml.constructor.ConstructorError):
    pass


class _DecimalLoader(yaml.SafeLoader):
    """YAML for ``--param`` values: numbers only in decimal. YAML 1.1 also reads 0x10 as 16, 010 as
    8, 1:20 as 80 and 1_000 as 1000, which on a command line is a typo far more often than meant."""

    def construct_yaml_int(self, node):
        if not _DECIMAL_INT.fullmatch(node.value):
            raise _NotDecimal(None, None, f"{cut(node.value)} is not a decimal number", node.start_mark)
        return super().construct_yaml_int(node)

    def construct_yaml_float(self, node):
        if not _DECIMAL_FLOAT.fullmatch(node.value):
            raise _NotDecimal(None, None, f"{cut(node.value)} is not a decimal number", node.start_mark)
        return super().construct_yaml_float(node)


_DECIMAL_INT = re.compile(r"[-+]?(0|[1-9][0-9]*)")
_DECIMAL_FLOAT = re.compile(r"[-+]?([0-9]+\.[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?")
_DecimalLoader.add_constructor("tag:yaml.org,2002:int", _DecimalLoader.construct_yaml_int)
_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _DecimalLoader.construct_yaml_float)


def build_parser() -> argparse.ArgumentParser:
    # --config on the top-level parser and on every subcommand: "run --config FILE" works as well as
    # "--config FILE run". The subcommands' copy defaults to SUPPRESS so that, when it is not given
    # after the command, it leaves the top-level value (or its default) in place.
    parser = _Parser(prog="python -m orchestrator", description=DESCRIPTION, epilog=EPILOG,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="config.yaml", metavar="FILE", help=CONFIG_HELP)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default=argparse.SUPPRESS, metavar="FILE", help=CONFIG_HELP)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND",
                                title="commands")

    def command(name: str, summary: str, description: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=summary, description=description, parents=[common])

    def selection(cmd: argparse.ArgumentParser, what: str) -> None:
        cmd.add_argument("--pdk", default="all", help=f"platform to {what}: a name from platforms/ (asap7, "
                         "nangate45) or 'all' (default)")
        cmd.add_argument("--design", action="append", default=[], metavar="NAME",
                         help=f"design of config.yaml to {what} (repeatable; default: every design)")
        cmd.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                         help="override a design parameter for every selected design, e.g. C=8 (repeatable)")

    _add_run(command, selection)

    command("doctor", "show detected tools and which flow stages can run",
            "List the flow tools found (version, path) and, per platform, which flow steps will run "
            "and which are skipped for a missing tool. Exit 2 when the PDK data cannot be found.")

    render = command("render", "render RTL + SDC without running the flow",
                     "Write each selected job's rendered RTL and SDC, without running any tool.")
    selection(render, "render")
    render.add_argument("--out", default=None, metavar="DIR",
                        help="output directory (default: <build_dir>/rendered; a given DIR is never emptied)")

    hist = command("history", "print the history of runs as a table",
                   "Print the runs in the history (paths.history_dir): per design/PDK and parameter set, "
                   "each run's id, status and main metrics with units. Records reused from the cache "
                   "are marked as such, not shown as new runs.")
    hist.add_argument("--pdk", default=None, metavar="PDK", help="only runs on this platform")
    hist.add_argument("--design", default=None, metavar="NAME", help="only runs of this design")
    hist.add_argument("--wide", "--all-columns", dest="wide", action="store_true",
                      help="every column of the history table (as wide as it needs)")

    imp = command("import-orfs", "import OpenROAD-flow-scripts runs into the history",
                  "Turn each run of an OpenROAD-flow-scripts results tree into a history record "
                  "(already imported runs are skipped). Imported runs are shown in the gallery; check "
                  "gates them only when the baseline names them.")
    imp.add_argument("path", help="an ORFS results tree (e.g. halutmatmul's report archive)")

    command("report", "build the static HTML gallery, plots and tables under reports/",
            "Build the gallery (reports/site/index.html), reports/summary.md and reports/history.csv "
            "from the whole history.")

    _add_check(command)
    return parser


def _add_run(command, selection) -> None:
    """The ``run`` subcommand and its options."""
    run = command("run", "render, synthesize and implement the design matrix",
                  "Render each selected design, run the SiliconCompiler flow as far as the installed tools "
                  "allow (unchanged jobs reuse their previous record unless --force), append one history "
                  "record per job and print the metrics table.")
    selection(run, "run")
    run.add_argument("--jobs", type=int, default=None, metavar="N",
                     help="jobs at once (default: flow.jobs of config.yaml, else the number of cores)")
    run.add_argument("--to", default=None, metavar="STEP",
                     help="last flow step to run, e.g. synthesis (default: flow.to, else as far as the tools allow)")
    run.add_argument("--require-all-stages", action="store_true",
                     help="fail (exit 3) instead of skipping stages whose tools are missing")
    run.add_argument("--force", action="store_true",
                     help="run every job, even those whose inputs match a reusable history record")
    run.add_argument("--scheduler", default=None, metavar="NAME",
                     help="where SC runs each flow node: local (default), " + ", ".join(SCHEDULERS)
                     + " (SC's [option,scheduler,name]; overrides flow.scheduler)")
    sweeps = run.add_mutually_exclusive_group()
    sweeps.add_argument("--sweep", action="append", default=None, metavar="NAME",
                        help="run only this sweep of config.yaml (repeatable; default: the matrix and all sweeps)")
    sweeps.add_argument("--no-sweeps", action="store_true", help="run only the design matrix, no sweep")
    run.add_argument("--wide", action="store_true",
                     help="print every metric column, however wide (default: fit the terminal)")


def _add_check(command) -> None:
    """The ``check`` subcommand and its options."""
    check = command("check", "compare the latest runs with the baseline (regression gate)",
                    "Compare the latest run of every design/PDK with the baseline. Exit 0 when nothing "
                    "regressed: runs cut short by a missing tool ('skipped (tool missing)'), designs "
                    "without a baseline entry ('no baseline') and imported runs the baseline does not "
                    "name ('not gated') are reported, not failed. Exit 1 on a regression.")
    check.add_argument("--baseline", default=None, metavar="FILE",
                       help="baseline file (default: <reports_dir>/baseline.yaml; a given FILE must exist)")
    check.add_argument("--pdk", action="append", default=None, metavar="PDK",
                       help="check only this platform (repeatable; default: all)")
    check.add_argument("--design", action="append", default=None, metavar="NAME",
                       help="check only this design (repeatable; default: all)")
    check.add_argument("--update-baseline", action="store_true",
                       help="write the baseline from the latest passing runs instead of checking")
    check.add_argument("--markdown", default=None, metavar="FILE", help="also write the table as Markdown")
    check.add_argument("--wide", action="store_true",
                       help="one flat table with the rule column, however wide (default: fit the terminal)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = {
        "run": cmd_run,
        "doctor": cmd_doctor,
        "render": cmd_render,
        "history": cmd_history,
        "import-orfs": cmd_import_orfs,
        "report": cmd_report,
        "check": cmd_check,
    }[args.command]
    try:
        return handler(args)
    except ToolError as exc:
        _err(str(exc))
        return EXIT_TOOL
    except OrchestratorError as exc:
        _err(str(exc))
        return exc.exit_code if exc.exit_code in (EXIT_USAGE, EXIT_TOOL) else EXIT_USAGE
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED
    except OSError as exc:  # a folder that cannot be written (read-only, a file in its place): one line
        where = f"{exc.filename}: " if exc.filename else ""
        _err(f"{where}{exc.strerror or exc}")
        return EXIT_USAGE


# ------------------------------------------------------------------ helpers


def _load(args):
    from orchestrator.jobs import load_project

    return load_project(args.config)


def _select_jobs(config, pdk_arg: str, designs: list[str], params: list[str], *,
                 include_matrix: bool = True, sweeps: list[str] | None = None):
    from orchestrator.jobs import select_jobs

    pdks = list(config.pdks) if pdk_arg == "all" else [pdk_arg]  # select_jobs refuses an unknown one
    overrides = dict(_parse_param(p) for p in params)
    return select_jobs(config, pdks=pdks, designs=designs, overrides=overrides,
                       include_matrix=include_matrix, sweeps=sweeps)


def _width(args) -> int | None:
    """Columns a table may use: None with --wide (as wide as it needs), else $COLUMNS or the
    terminal's width; 100 when neither is known (a pipe, a CI log)."""
    if getattr(args, "wide", False):
        return None
    return _columns()


def _columns() -> int:
    """$COLUMNS or the terminal's width; 100 when neither is known (a pipe, a CI log)."""
    return shutil.get_terminal_size((100, 24)).columns


def _filled(text: str, first: str, rest: str) -> str:
    """``text`` wrapped to the terminal (at least 40 columns), words and hyphenated names kept whole."""
    return textwrap.fill(text, width=max(_columns(), 40), initial_indent=first, subsequent_indent=rest,
                         break_on_hyphens=False, break_long_words=False)


def _notice(head: str, items: list[str]) -> None:
    """A warning with one item per line, each wrapped to the terminal."""
    print(head, file=sys.stderr)
    for item in items:
        print(_filled(item, "   - ", "     "), file=sys.stderr)


def _shown(path: Path) -> Path:
    """A path as the user would type it: relative to the working directory when inside it."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def _print_toolchain(toolchain) -> None:
    width = max(len(name) for name in toolchain.tools)
    for name, status in toolchain.tools.items():
        mark = "ok " if status.found else "-- "
        print(f"  {mark}{name:<{width}}  {status.summary}")


# ------------------------------------------------------------------ commands


def cmd_doctor(args) -> int:
    from orchestrator import tools
    from orchestrator.designs import render_design
    from orchestrator.flow import build_project, plan_steps
    from orchestrator.jobs import Job

    toolchain = tools.detect_all()
    print("Tools:")
    _print_toolchain(toolchain)
    try:
        config = _load(args)
    except ConfigError as exc:
        print(f"\nConfig: {exc}")
        return EXIT_USAGE
    from orchestrator.runner import pdk_data_problems

    root = config.resolved_pdk_data_root()
    print(f"\nPDK data root: {root if root else 'lambdapdk default (downloads on first use)'}")
    problems = pdk_data_problems(config, [config.platform(pdk) for pdk in config.pdks])
    for problem in problems:
        print(f"  !! {problem}")
    spec = config.designs[0]
    print("\nFlow steps per platform (SC ASIC flow):")
    import tempfile

    for pdk in config.pdks:
        platform = config.platform(pdk)
        with tempfile.TemporaryDirectory() as tmp:
            job = Job(spec=spec, platform=platform, parameters=dict(spec.parameters))
            rendered = render_design(config, spec, platform, Path(tmp) / "inputs")
            project = build_project(config, job, rendered, toolchain, Path(tmp) / "sc")
            plan = plan_steps(project, toolchain)
        runs = ", ".join(step for step, _ in plan.run_nodes)
        print(f"  {pdk}: runs {runs}")
        if plan.skipped:
            reasons = list(dict.fromkeys(s.reason for s in plan.skipped if s.blocked_by is None))
            print(f"  {pdk}: skips {len(plan.skipped)} steps: " + "; ".join(reasons))
    return EXIT_USAGE if problems else EXIT_OK


def cmd_render(args) -> int:
    from orchestrator.designs import render_design

    config = _load(args)
    jobs = _select_jobs(config, args.pdk, args.design, args.param)
    out_root = Path(args.out) if args.out else config.path("build_dir") / "rendered"
    for job in jobs:
        # One folder per job (labelled entries of one design apart). Under build/ it is emptied
        # first (files of another parameter set must not linger); a user's --out is never deleted.
        folder = out_root / job.platform.name / job.run_name
        if not args.out:
            shutil.rmtree(folder, ignore_errors=True)
        rendered = render_design(config, job.spec, job.platform, folder)
        files = ", ".join(str(p) for p in [*rendered.rtl_files, rendered.sdc_file])
        print(f"{job.name}: {files}")
    return EXIT_OK


def cmd_run(args) -> int:
    from orchestrator import runner, tools
    from orchestrator.progress import ProgressDisplay, format_metrics_table, format_run_summary

    began = time.monotonic()
    config = _load(args)
    config = config.model_copy(update={"flow": _flow_overrides(config.flow, args)})
    if args.sweep is not None:
        jobs = _select_jobs(config, args.pdk, args.design, args.param, include_matrix=False, sweeps=args.sweep)
    else:
        sweeps = [] if args.no_sweeps else [s.name for s in config.sweeps]
        jobs = _select_jobs(config, args.pdk, args.design, args.param, sweeps=sweeps)
    if args.jobs is not None and args.jobs < 1:
        raise ConfigError(f"--jobs: must be >= 1 (value: {args.jobs})")
    if config.flow.scheduler == "slurm":  # one bounded question to the controller before any job
        from orchestrator.scheduler import check_slurm

        check_slurm(config.flow.scheduler_queue)
    toolchain = tools.detect_all()
    require_all = args.require_all_stages or config.flow.require_all_stages
    to = args.to or config.flow.to
    missing = [s for s in toolchain.tools.values()
               if not s.found and s.name in tools.FLOW_TOOLS]
    if missing:
        _notice("!! Flow stages will be SKIPPED:", [f"{s.name} not installed ({s.install_hint})" for s in missing])
        if require_all and to is None:
            raise ToolError("--require-all-stages: missing " + ", ".join(s.name for s in missing))
    runner.preflight(config, jobs, toolchain, to)
    max_parallel = args.jobs or config.flow.jobs or runner.default_parallel_jobs()
    display = ProgressDisplay(len(jobs))
    # A CI cancel or `kill` (SIGTERM), or the terminal going away (SIGHUP: an ssh session that
    # drops), stops the jobs as cleanly as Ctrl-C does: exit 130, the summary, records kept.
    previous = {sig: signal.signal(sig, signal.default_int_handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        outcomes = runner.run_jobs(config, jobs, toolchain, max_parallel=max_parallel,
                                   to=to, force=args.force, on_progress=display.update,
                                   on_message=lambda line: print(line, file=sys.stderr, flush=True))
    except runner.Interrupted as exc:
        display.close()
        _report_unwritten(exc.outcomes)  # each finished job's record was written as it ended
        print("\n" + format_run_summary(exc.outcomes, time.monotonic() - began, interrupted=True), file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    display.close()
    exit_code = EXIT_FAIL if _report_unwritten(outcomes) else EXIT_OK
    records = [o.record for o in outcomes if o.record is not None]
    if records:
        print(format_metrics_table(records, width=_width(args)))
    print(format_run_summary(outcomes, time.monotonic() - began), file=sys.stderr)
    for outcome in outcomes:
        if outcome.record is None:
            _err(f"{outcome.job.name}: {outcome.error}")
            exit_code = max(exit_code, EXIT_FAIL)
        elif outcome.record.status == "fail":
            _err(f"{outcome.job.name}: {outcome.record.reason}")
            exit_code = max(exit_code, EXIT_FAIL)
    # Flow order: the tool that stopped the flow first leads.
    skipped = list(dict.fromkeys(s.reason for r in records for s in r.skipped_stages if s.blocked_by is None))
    if skipped:
        print(file=sys.stderr)
        _notice("!! P&R/sign-off stages were skipped:", skipped)
        if require_all:
            exit_code = max(exit_code, EXIT_TOOL)
    if records:
        print(f"\nnext: {_command_prefix(args)} report")  # the gallery of what just ran
    return exit_code


def _command_prefix(args) -> str:
    """How to call us again with the same config (the next command to type)."""
    given = _shown(Path(args.config).absolute())
    return "python -m orchestrator" + ("" if given == Path("config.yaml") else f" --config {shlex.quote(str(given))}")


def _flow_overrides(flow, args):
    """config.flow with the run options that override it (the child processes get the result)."""
    if args.scheduler is None:
        return flow
    if args.scheduler == "local":
        return flow.model_copy(update={"scheduler": None})
    if args.scheduler not in SCHEDULERS:
        raise ConfigError(f"--scheduler: SiliconCompiler {_sc_version()} runs nodes locally or on "
                          f"{', '.join(SCHEDULERS)} (value: {args.scheduler!r})")
    return flow.model_copy(update={"scheduler": args.scheduler})


def _sc_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("siliconcompiler")
    except PackageNotFoundError:
        return "(not installed)"


def _report_unwritten(outcomes) -> bool:
    """One line per finished job whose record could not be stored; True if there was one."""
    unwritten = [o for o in outcomes if o.history_error]
    for outcome in unwritten:
        _err(f"{outcome.job.name}: record not written: {outcome.history_error}")
    return bool(unwritten)


def cmd_history(args) -> int:
    from orchestrator import history
    from orchestrator.progress import format_history_records, format_history_table

    config = _load(args)
    designs = [spec.name for spec in config.designs] + [sweep.design for sweep in config.sweeps]
    records = history.select_records(_read_history(config).records, pdk=args.pdk,
                                     design=args.design, known_pdks=config.platforms, known_designs=designs)
    if not records and (args.pdk or args.design):
        print(f"no runs of {args.design or 'any design'} on {args.pdk or 'any PDK'} in the history yet")
    elif args.wide:
        print(format_history_table(history.to_dataframe(records), all_columns=True))
    else:
        print(format_history_records(records, width=_width(args)))
    return EXIT_OK


def _read_history(config, *, judged_by_check: bool = False):
    """The history with its bad files quarantined: one warning line per file, the rest is used."""
    from orchestrator import history

    found = history.read_history(config.path("history_dir"))
    for skipped in found.skipped:
        extra = (f" (check: {skipped.pdk}/{skipped.design} is judged without this file)"
                 if judged_by_check else "")
        print(f"warning: {skipped.message}{extra}", file=sys.stderr)
    return found


def cmd_import_orfs(args) -> int:
    from orchestrator import history, orfs_import

    config = _load(args)
    path = Path(args.path)
    if not path.exists():
        raise ConfigError(f"{path}: no such file or directory")
    summary = orfs_import.import_orfs(path, config.path("history_dir"), config.platforms)
    if summary.outcomes:  # the report publishes these runs' files from this folder, and only from it
        history.remember_import_root(config.path("build_dir"), path)
    print(summary.summary_line())
    for outcome in summary.outcomes:
        if outcome.status == "error":
            _err(f"{outcome.path}: {outcome.reason}")
    # Failed ORFS runs are history (recorded as failures); folders that could not become a record are not.
    return EXIT_FAIL if summary.errors else EXIT_OK


def cmd_report(args) -> int:
    from orchestrator.report.api import build_reports_from_config

    config = _load(args)
    summary = build_reports_from_config(config)
    for warning in summary.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    # Each kind of picture counted apart: "0 layouts rendered" read as "no layout" when the run's
    # own KLayout render was published (copied, not rendered here). The path goes on a line of its
    # own: it alone is often most of a 100-column terminal.
    print(f"site: {summary.index}")
    counts = (f"{summary.pages} pages, {summary.runs} runs, {summary.plots} plots, {summary.seconds:.1f} s; "
              f"{summary.images_copied} run images published, "
              f"{summary.pictures_drawn + summary.picture_cache_hits} layout pictures "
              f"({summary.pictures_drawn} drawn, {summary.picture_cache_hits} from cache), "
              f"{summary.layouts_rendered + summary.layout_cache_hits} GDS renders ({summary.layouts_rendered} new)")
    print(_filled(counts, "  ", "  "))
    print(f"tables: {config.path('reports_dir') / 'summary.md'}, {config.path('reports_dir') / 'history.csv'}")
    return EXIT_OK


def cmd_check(args) -> int:
    from orchestrator import check

    config = _load(args)
    if args.markdown and not Path(args.markdown).parent.is_dir():  # never create folders for it
        raise ConfigError(f"--markdown: folder not found: {Path(args.markdown).parent} (value: {args.markdown!r})")
    found = _read_history(config, judged_by_check=not args.update_baseline)
    records = found.records
    baseline = Path(args.baseline) if args.baseline else _shown(config.path("reports_dir") / "baseline.yaml")
    if args.update_baseline:
        path = check.update_baseline(records, baseline, pdks=args.pdk, designs=args.design)
        print(f"baseline written: {path}")
        return EXIT_OK
    # Only the default baseline may be absent ("no baseline" yet); a --baseline FILE that is not
    # there is a typo, and a typo must not pass the gate.
    result = check.run_check(records, baseline, pdks=args.pdk, designs=args.design, skipped=found.skipped,
                             missing_ok=args.baseline is None)
    print(check.render_table_text(result, width=_width(args)), end="")
    markdown = check.render_markdown(result)
    if args.markdown:
        from orchestrator.fsutil import atomic_write_text

        atomic_write_text(args.markdown, markdown)
    check.write_step_summary(markdown)
    return result.exit_code


if __name__ == "__main__":
    raise SystemExit(main())

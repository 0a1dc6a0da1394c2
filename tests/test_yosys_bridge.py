"""The pyosys bridge: a Tcl-capable ``yosys`` for SiliconCompiler built from libyosys + tkinter.

Every test runs the bridge in a subprocess (it ends its process with os._exit, as pyosys may
crash in interpreter teardown). The SC tests synthesize a real counter on both PDKs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from orchestrator import yosys_bridge
from orchestrator.yosys_bridge import (
    NativeYosys,
    bridge_version,
    configure_project,
    find_native_yosys,
    install_shim,
    parse_yosys_version,
)

COUNTER_WIDTH = 16
COUNTER_V = f"""\
module counter #(parameter WIDTH = {COUNTER_WIDTH}) (
    input clk, input rst, input en, output reg [WIDTH-1:0] q
);
  always @(posedge clk)
    if (rst) q <= 0;
    else if (en) q <= q + 1;
endmodule
"""

HIER_V = """\
module leaf #(parameter P = 1) (input a, output y);
  assign y = a;
endmodule
module top (input a, output y);
  leaf #(.P(5)) u_leaf (.a(a), .y(y));
endmodule
"""


def run_bridge(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.yosys_bridge.shim", *args],
        cwd=cwd, input=stdin, capture_output=True, text=True, timeout=300,
    )


def run_tcl(tmp_path: Path, script: str) -> subprocess.CompletedProcess:
    (tmp_path / "script.tcl").write_text(textwrap.dedent(script), encoding="utf-8")
    return run_bridge("-c", "script.tcl", cwd=tmp_path)


def tagged(stdout: str, tag: str) -> str:
    """The text after ``tag=`` on the line the script printed it."""
    for line in stdout.splitlines():
        if line.startswith(tag + "="):
            return line[len(tag) + 1:]
    raise AssertionError(f"{tag}= not printed; stdout was:\n{stdout[-3000:]}")


@pytest.fixture
def verilog(tmp_path: Path) -> Path:
    (tmp_path / "counter.v").write_text(COUNTER_V, encoding="utf-8")
    (tmp_path / "hier.v").write_text(HIER_V, encoding="utf-8")
    return tmp_path


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("switch", ["--version", "-V"])
def test_version_line_is_what_sc_parses(tmp_path, switch):
    proc = run_bridge(switch, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    line = proc.stdout.strip()
    assert line.startswith(f"Yosys {bridge_version()} (git sha1 "), line
    # SC's YosysTask.parse_version takes the second word and requires >= 0.48.
    assert line.split()[1] == bridge_version()
    assert parse_yosys_version(line.split()[1])[:2] >= yosys_bridge.MIN_NATIVE_VERSION


def test_unsupported_option_is_one_error_line_and_exit_2(tmp_path):
    proc = run_bridge("-l", "yosys.log", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "ERROR: option -l is not supported by the pyosys bridge (supported: -V -c -C -s -p -h)"
    ]


def test_missing_tcl_script_is_one_error_line_and_exit_2(tmp_path):
    proc = run_bridge("-c", "nope.tcl", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "ERROR: Tcl script not found: nope.tcl"


def test_p_runs_yosys_commands_and_fails_with_status_1(verilog):
    ok = run_bridge("-p", "read_verilog counter.v; hierarchy -top counter; proc; stat", cwd=verilog)
    assert ok.returncode == 0, ok.stderr
    assert "=== counter ===" in ok.stdout
    bad = run_bridge("-p", "read_verilog counter.v; no_such_pass", cwd=verilog)
    assert bad.returncode == 1
    assert "ERROR: No such command: no_such_pass" in bad.stderr


# ---------------------------------------------------------------------------------------------
# Tcl API (what SC's sc_synth_asic.tcl and procs.tcl use)
# ---------------------------------------------------------------------------------------------


def test_import_tee_scratchpad_and_catch(verilog):
    proc = run_tcl(verilog, """\
        yosys -import
        read_verilog counter.v
        hierarchy -top counter
        # tee -s stores on the global design's scratchpad; yosys returns result.string
        set modules [yosys tee -q -s result.string ls]
        puts "MODULES=[lsearch -inline [split $modules] counter]"
        puts "CAUGHT=[catch {yosys no_such_pass} message]"
        puts "MESSAGE=$message"
        puts "CAUGHT_IMPORTED=[catch {read_verilog missing_file.v} message]"
        # result.string is cleared before each call: a plain command returns nothing
        puts "CLEARED=<[yosys log still running]>"
        puts "RENAMED=[info commands procs] [info commands renames]"
        procs
        puts "AFTER=ok"
        """)
    assert proc.returncode == 0, proc.stderr
    assert tagged(proc.stdout, "MODULES") == "counter"
    assert tagged(proc.stdout, "CAUGHT") == "1"
    assert tagged(proc.stdout, "MESSAGE") == "Yosys command produced an error"
    assert tagged(proc.stdout, "CAUGHT_IMPORTED") == "1"
    assert tagged(proc.stdout, "CLEARED") == "<>"
    assert tagged(proc.stdout, "RENAMED") == "procs renames"
    assert tagged(proc.stdout, "AFTER") == "ok"
    # libyosys still reports the caught failures in the log, as native Yosys does
    assert "ERROR: No such command: no_such_pass" in proc.stderr
    # Tcl's own commands win over passes of the same name
    assert "Command name collision: found pre-existing command `cd' -> skip." in proc.stdout


def test_rtlil_attribute_and_parameter_helpers(verilog):
    proc = run_tcl(verilog, """\
        yosys read_verilog hier.v
        rtlil::set_attr -mod -uint leaf gate_cost_equivalent 12345678901234
        puts "UINT=[rtlil::get_attr -mod -uint leaf gate_cost_equivalent]"
        puts "HAS=[rtlil::has_attr -mod leaf gate_cost_equivalent][rtlil::has_attr -mod leaf nope]"
        rtlil::set_attr -mod -sint leaf offset -5
        puts "SINT=[rtlil::get_attr -mod -sint leaf offset]"
        puts "BITS=[rtlil::get_attr -mod leaf offset]"
        rtlil::set_attr -string top u_leaf note {two words}
        puts "STRING=[rtlil::get_attr -string top u_leaf note]"
        puts "MISSING_STRING=<[rtlil::get_attr -string top u_leaf absent]>"
        rtlil::set_attr -mod -true top marked
        puts "BOOL=[rtlil::get_attr -mod -bool top marked]"
        # Yosys itself must see the attribute written through the copied dict
        yosys select -assert-any A:marked
        yosys select -assert-any A:gate_cost_equivalent
        puts "PARAM=[rtlil::get_param -int top u_leaf P]"
        rtlil::set_param -sint top u_leaf P -3
        puts "PARAM_SINT=[rtlil::get_param -sint top u_leaf P]"
        puts "NO_MODULE=[catch {rtlil::get_attr -mod nomod area} message] $message"
        puts "NO_OBJECT=[catch {rtlil::has_attr top nowire area} message] $message"
        puts "NO_ATTR=[catch {rtlil::get_attr -mod -int top area} message] $message"
        puts "USAGE=[catch {rtlil::get_attr top} message]"
        """)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert tagged(out, "UINT") == "12345678901234"
    assert tagged(out, "HAS") == "10"
    assert tagged(out, "SINT") == "-5"
    assert tagged(out, "BITS") == "1" * 29 + "011"  # -5 sign-extended to 32 bits
    assert tagged(out, "STRING") == "two words"
    assert tagged(out, "MISSING_STRING") == "<>"
    assert tagged(out, "BOOL") == "1"
    assert tagged(out, "PARAM") == "5"
    assert tagged(out, "PARAM_SINT") == "-3"
    assert tagged(out, "NO_MODULE") == "1 module not found"
    assert tagged(out, "NO_OBJECT") == "1 object not found"
    assert tagged(out, "NO_ATTR") == "1 attribute missing (required for -int)"
    assert tagged(out, "USAGE") == "1"


def test_uncaught_command_error_prints_error_and_exits_1(verilog):
    proc = run_tcl(verilog, """\
        yosys read_verilog counter.v
        yosys no_such_pass
        puts "NOT_REACHED"
        """)
    assert proc.returncode == 1
    assert "NOT_REACHED" not in proc.stdout
    assert "ERROR: No such command: no_such_pass" in proc.stderr
    assert proc.stderr.rstrip().splitlines()[-1] == (
        "ERROR: TCL interpreter returned an error: Yosys command produced an error")


def test_plain_tcl_error_exits_1_with_message(tmp_path):
    proc = run_tcl(tmp_path, 'error "no gate-level netlist found"\n')
    assert proc.returncode == 1
    assert proc.stderr.rstrip().splitlines()[-1] == (
        "ERROR: TCL interpreter returned an error: no gate-level netlist found")


def test_output_of_tcl_and_libyosys_stays_in_order(tmp_path):
    proc = run_tcl(tmp_path, """\
        puts "first from tcl"
        yosys log "second from yosys"
        puts -nonewline "third from tcl, "
        yosys log "fourth from yosys"
        puts "fifth from tcl"
        """)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    positions = [out.index(text) for text in
                 ("first from tcl", "second from yosys", "third from tcl, fourth from yosys",
                  "fifth from tcl")]
    assert positions == sorted(positions)


def test_exit_flushes_output_and_open_files(tmp_path):
    proc = run_tcl(tmp_path, """\
        set report [open report.txt w]
        puts -nonewline $report "written before exit"
        puts "printed before exit"
        yosys log "logged before exit"
        exit 3
        puts "NOT_REACHED"
        """)
    assert proc.returncode == 3
    assert "printed before exit" in proc.stdout and "logged before exit" in proc.stdout
    assert "NOT_REACHED" not in proc.stdout
    assert (tmp_path / "report.txt").read_text() == "written before exit"


def test_shell_after_script_reads_tcl_from_stdin(verilog):
    (verilog / "load.tcl").write_text("yosys read_verilog counter.v\n", encoding="utf-8")
    shell_input = 'puts "TOP=[string trim [lindex [split [yosys tee -q -s result.string ls] \\n] 2]]"\n'
    proc = run_bridge("-C", "-c", "load.tcl", cwd=verilog, stdin=shell_input)
    assert proc.returncode == 0, proc.stderr
    assert "TOP=counter" in proc.stdout


# ---------------------------------------------------------------------------------------------
# Shim and native-yosys detection
# ---------------------------------------------------------------------------------------------


def fake_native_yosys(directory: Path, version: str, tcl: bool) -> Path:
    """A stand-in native yosys: answers -V, and runs -c scripts with Tcl only if ``tcl``."""
    directory.mkdir(parents=True, exist_ok=True)
    exe = directory / "yosys"
    exe.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import sys
        if sys.argv[1:] == ["-V"]:
            print("Yosys {version} (git sha1 0123abcd, clang++ 18)")
        elif {tcl!r} and sys.argv[1] == "-c":
            import tkinter
            tkinter.Tcl().eval(open(sys.argv[2]).read())
        else:
            sys.exit("yosys: invalid option -- " + sys.argv[1])
        """), encoding="utf-8")
    exe.chmod(0o755)
    return exe


def test_install_shim_writes_runnable_yosys(tmp_path):
    shim = install_shim(tmp_path / "bin")
    assert shim == tmp_path / "bin" / "yosys"
    assert os.access(shim, os.X_OK)
    assert install_shim(tmp_path / "bin") == shim  # idempotent
    proc = subprocess.run([str(shim), "--version"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[:2] == ["Yosys", bridge_version()]


def test_each_process_notes_its_wall_interval_when_asked(tmp_path, verilog):
    times = tmp_path / "times.jsonl"
    shim = install_shim(tmp_path / "bin")
    env = {**os.environ, yosys_bridge.TOOL_TIMES_ENV: str(times)}
    began = time.time()
    for args in (["--version"], ["-p", "read_verilog counter.v; synth -top counter"]):
        proc = subprocess.run([str(shim), *args], capture_output=True, text=True, cwd=verilog, env=env, timeout=120)
        assert proc.returncode == 0, proc.stderr
    ended = time.time()
    entries = [json.loads(line) for line in times.read_text().splitlines()]
    assert [e["argv"][0] for e in entries] == ["--version", "-p"]
    tick = 0.02  # the start is read from /proc in 10 ms clock ticks
    assert began - tick <= entries[0]["start"] < entries[0]["end"] <= entries[1]["start"] + tick
    assert entries[1]["start"] < entries[1]["end"] <= ended


def test_find_native_yosys_skips_the_shim(tmp_path):
    shim_dir = install_shim(tmp_path / "bin").parent
    assert find_native_yosys(path_env=str(shim_dir)) is None


@pytest.mark.parametrize(
    ("version", "tcl", "suitable"),
    [("0.55+12", True, True), ("0.40", True, False), ("0.60", False, False)],
)
def test_find_native_yosys_checks_version_and_tcl(tmp_path, version, tcl, suitable):
    native_dir = fake_native_yosys(tmp_path / "native", version, tcl).parent
    shim_dir = install_shim(tmp_path / "bin").parent
    found = find_native_yosys(path_env=os.pathsep.join([str(shim_dir), str(native_dir)]))
    assert found == NativeYosys(native_dir / "yosys", version, tcl)
    assert found.suitable is suitable


def test_configure_project_sets_sc_tool_path_of_yosys_tasks(tmp_path):
    from siliconcompiler import ASIC, Design
    from siliconcompiler.targets import freepdk45_demo

    project = ASIC(Design("counter"))
    freepdk45_demo(project)
    assert configure_project(project, tmp_path) == ["syn_asic"]
    assert project.get("tool", "yosys", "task", "syn_asic", "path") == str(tmp_path.resolve())


# ---------------------------------------------------------------------------------------------
# Real SiliconCompiler synthesis through the shim
# ---------------------------------------------------------------------------------------------


HIER_SYNTH_V = """\
module adder #(parameter W = 8) (input [W-1:0] a, b, output [W-1:0] s);
  assign s = a + b;
endmodule
module acc (input clk, input [15:0] a, b, output reg [15:0] q);
  wire [15:0] s;
  adder #(.W(16)) u_add (.a(a), .b(b), .s(s));
  always @(posedge clk) q <= s;
endmodule
module top (input clk, input [15:0] a, b, output [15:0] q, output [1:0] t);
  acc u_acc (.clk(clk), .a(a), .b(b), .q(q));
  adder #(.W(2)) u_small (.a(a[1:0]), .b(b[1:0]), .s(t));
endmodule
"""


@pytest.fixture
def sc_synthesis(tmp_path, pdk_data_root):
    """Factory: an SC ASIC project for ``verilog`` on ``target``, run to synthesis via the shim."""
    import importlib

    from siliconcompiler import ASIC, Design

    def run(target: str, top: str, verilog_text: str, task_vars: dict | None = None):
        source = tmp_path / f"{top}.v"
        source.write_text(verilog_text, encoding="utf-8")
        design = Design(top)
        with design.active_fileset("rtl"):
            design.set_topmodule(top)
            design.add_file(str(source))
        project = ASIC(design)
        project.add_fileset("rtl")
        getattr(importlib.import_module(f"siliconcompiler.targets.{target}"), target)(project)
        for name in project.getkeys("library"):
            library = project.get_library(name)
            if "lambdapdk" in library.getkeys("dataroot"):
                library.set_dataroot("lambdapdk", str(pdk_data_root), clobber=True)
        shim_dir = install_shim(tmp_path / "bin").parent
        assert configure_project(project, shim_dir) == ["syn_asic"]
        for key, value in (task_vars or {}).items():
            project.set("tool", "yosys", "task", "syn_asic", "var", key, value)
        project.option.add_to("synthesis", clobber=True)
        project.option.set_builddir(str(tmp_path / "build"))
        project.option.set_nodashboard(True)
        project.option.set_quiet(True)
        project.run()
        job = project.history(project.option.get_jobname())
        node_dir = next((tmp_path / "build").rglob("synthesis/0"))
        return job, node_dir

    return run


def synthesis_metric(job, name: str):
    return job.get("metric", name, step="synthesis", index="0")


@pytest.mark.slow
@pytest.mark.parametrize("target", ["asap7_demo", "freepdk45_demo"])
def test_sc_synthesizes_counter_through_the_shim(sc_synthesis, target):
    job, node_dir = sc_synthesis(target, "counter", COUNTER_V)
    assert synthesis_metric(job, "cells") > 0
    assert synthesis_metric(job, "registers") == COUNTER_WIDTH
    assert synthesis_metric(job, "errors") == 0
    assert job.get("record", "toolversion", step="synthesis", index="0") == bridge_version()
    assert "halut-yosys: Tcl" in (node_dir / "synthesis.log").read_text()  # the bridge ran
    assert "module counter" in (node_dir / "outputs" / "counter.vg").read_text()


@pytest.mark.slow
def test_sc_hierarchical_synthesis_uses_rtlil_helpers_and_opt_hier_loop(sc_synthesis):
    # flatten off + auto_flatten: SC annotates gate_cost_equivalent with rtlil::get_attr/set_attr
    # and loops opt_hier on `tee -s result.string` text.
    job, node_dir = sc_synthesis("freepdk45_demo", "top", HIER_SYNTH_V,
                                 {"flatten": False, "auto_flatten": True, "hier_threshold": 10,
                                  "hier_opt": True})
    log = (node_dir / "synthesis.log").read_text()
    assert "Using nand2 reference cell (NAND2_X1) with area: 0.798" in log
    assert "Setting gate_cost_equivalent for NAND2_X1 as 1" in log
    assert "Keeping acc (estimated size above threshold" in log
    assert "opt_hier converged after" in log
    assert synthesis_metric(job, "registers") == 16
    assert synthesis_metric(job, "errors") == 0
    assert "module acc" in (node_dir / "outputs" / "top.vg").read_text()

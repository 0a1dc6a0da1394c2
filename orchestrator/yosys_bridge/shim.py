"""The ``yosys`` replacement program: PyPI pyosys' libyosys driven from Python's own Tcl.

SiliconCompiler's Yosys tasks run ``yosys --version`` and ``yosys [-C] -c <script>.tcl`` and
require Yosys >= 0.48 with Tcl support. PyPI ``pyosys`` ships a native libyosys (0.70) but no Tcl
interpreter, so this module drives libyosys from ``tkinter.Tcl()`` with the same Tcl API Yosys
itself provides (``yosys`` command, ``yosys -import``, ``rtlil::*`` helpers, result scratchpads).
It runs as its own process (the shim ``orchestrator.yosys_bridge.host.install_shim`` writes, the
console script ``halut-yosys``, or ``python -m orchestrator.yosys_bridge.shim``); the orchestrator
process never imports it. Importing it does not load libyosys; ``main`` does.

``main(argv: list[str] | None = None) -> int``
    The ``yosys`` command line. Supported: ``-V``/``--version``, ``-c script.tcl``,
    ``-C`` (Tcl shell after the script), ``-p "cmd; cmd"``, ``-s script.ys``, positional input
    files, ``-h``. Once libyosys is loaded the process ends with ``os._exit`` after flushing
    Tcl, Python and libyosys output (pyosys can crash in interpreter teardown), so call it in
    a subprocess. Exit status: 0 on success, 1 on any error (``ERROR: ...`` line), 2 on usage.

Not supported: the logging switches of the real driver (``-q``, ``-l``, ``-L``, ...; rejected
with one error line, SC does not pass them), Verific and the ``tcl`` pass. Tcl ``exit`` always
ends the process (native Yosys started with ``-C`` would still enter its shell). Errors Yosys
raises with ``log_error`` (as opposed to command errors) end the process with status 1 exactly
as in native Yosys, so Tcl ``catch`` cannot trap them. Command errors become Tcl errors only
because the bridge sets libyosys' throw-on-command-error flag, which pyosys does not expose: it
is located in the x86-64 machine code at start-up (``enable_command_error_throw``); elsewhere the
bridge logs a warning and a failing command ends the process.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from orchestrator.yosys_bridge.host import TOOL_TIMES_ENV

# The message native Yosys gives a Tcl script when a command fails (tclapi.cc); kept identical
# so logs read the same whichever yosys ran.
COMMAND_ERROR_MESSAGE = "Yosys command produced an error"

_USAGE = """\
usage: yosys [-V|--version] [-C] [-c script.tcl] [-s script.ys] [-p "cmds"] [file ...]

Tcl-capable yosys for SiliconCompiler, built from pyosys (libyosys) and Python's Tcl.
  -V, --version   print the Yosys version and exit
  -c FILE         run a Tcl script (commands: yosys, yosys -import, rtlil::*)
  -C              enter an interactive Tcl shell after the script
  -s FILE         run a Yosys command script
  -p CMDS         run Yosys commands (separated by ';')
  FILE            read an input file with the frontend Yosys picks for its extension
"""


class BridgeUsageError(Exception):
    """Bad command line; the message is one line naming the option."""


# --------------------------------------------------------------------------------------------
# The Tcl <-> libyosys bridge (loads libyosys)
# --------------------------------------------------------------------------------------------

def _cmd_error_flag_offset(code: bytes) -> int | None:
    """Offset of LogManager's throw-on-command-error flag, read from the start of its user.

    ``LogManager::formatted_cmd_error`` begins by testing that bool member of ``this``
    (``cmpb $0x0, disp(%rdi)``); the flag has no Python binding in pyosys 0.70.
    """
    for match in re.finditer(rb"\x80\xbf(....)\x00", code, re.DOTALL):
        return int.from_bytes(match.group(1), "little", signed=True)
    for match in re.finditer(rb"\x80\x7f(.)\x00", code, re.DOTALL):
        return int.from_bytes(match.group(1), "little", signed=True)
    return None


_FORMATTED_CMD_ERROR = (
    "_ZN5Yosys10LogManager19formatted_cmd_errorESt17basic_string_viewIcSt11char_traitsIcEE"
    "NSt7__cxx1112basic_stringIcS3_SaIcEEE"
)


def enable_command_error_throw(libyosys_module: Any) -> bool:
    """Make libyosys throw on command errors instead of exiting (as Yosys' Tcl mode does).

    Returns False (and leaves libyosys untouched) if the flag cannot be located in this build.
    """
    if sys.byteorder != "little" or os.uname().machine not in ("x86_64", "AMD64"):
        return False
    try:
        lib = ctypes.CDLL(libyosys_module.__file__)
        get_logger = lib._ZN5Yosys6loggerEv
        get_logger.restype = ctypes.c_void_p
        user = ctypes.cast(getattr(lib, _FORMATTED_CMD_ERROR), ctypes.c_void_p).value
    except (OSError, AttributeError):
        return False
    if not user:
        return False
    offset = _cmd_error_flag_offset(ctypes.string_at(user, 64))
    manager = get_logger()
    if offset is None or not manager or not 0 < offset < 0x10000:
        return False
    flag = ctypes.c_uint8.from_address(manager + offset)
    if flag.value not in (0, 1):  # not a bool: the decoded offset is wrong, leave it alone
        return False
    flag.value = 1
    return True


def _escape_id(name: str) -> str:
    # RTLIL::escape_id: public names get a leading backslash, '$' names are internal.
    if name and name[0] not in "\\$":
        return "\\" + name
    return name


def _json_to_tcl(value: Any) -> Any:
    """JSON value -> Python object that tkinter turns into the Tcl value Yosys would return."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return 1 if value else 0
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, (int, float, str)):
        return value
    if isinstance(value, list):
        return tuple(_json_to_tcl(item) for item in value)
    if isinstance(value, dict):
        flat: list[Any] = []
        for key, item in value.items():
            flat.extend((str(key), _json_to_tcl(item)))
        return tuple(flat)
    return str(value)


class TclCommandError(Exception):
    """Becomes a Tcl error with this message (via the status/payload protocol below)."""


# Python callbacks cannot raise a Tcl error with a message through tkinter (the message is
# lost), so each Python command returns {status payload} and a Tcl proc turns status 1 into
# `return -code error`.
_TCL_PRELUDE = r"""
namespace eval ::halut {}
proc ::halut::unwrap {result} {
    if {[lindex $result 0]} {
        return -code error -level 2 [lindex $result 1]
    }
    return [lindex $result 1]
}
proc yosys {args} {
    ::halut::unwrap [::halut::yosys_cmd {*}$args]
}
namespace eval ::rtlil {}
foreach ::halut::name {get_attr has_attr set_attr get_param set_param} {
    proc ::rtlil::$::halut::name {args} [format {
        ::halut::unwrap [::halut::rtlil_cmd %s {*}$args]
    } $::halut::name]
}
unset ::halut::name
"""


class YosysTcl:
    """A Tcl interpreter whose ``yosys`` command runs passes on libyosys' global design."""

    def __init__(self) -> None:
        import tkinter

        from pyosys import libyosys

        self.ys = libyosys
        # The global design: `tee -s` stores captured text on *its* scratchpad.
        self.design = libyosys.yosys_get_design()
        self.throws_on_command_error = enable_command_error_throw(libyosys)
        self.in_repl = False
        self.tcl = tkinter.Tcl()
        self.tcl.createcommand("::halut::yosys_cmd", self._protocol(self._yosys))
        self.tcl.createcommand("::halut::rtlil_cmd", self._protocol(self._rtlil))
        self.tcl.createcommand("exit", self._exit)
        self.tcl.eval(_TCL_PRELUDE)
        # Line buffering keeps Tcl's `puts` in order with libyosys' log in SC's logfile.
        self.tcl.eval("fconfigure stdout -buffering line")

    # -- plumbing ---------------------------------------------------------------------------

    @staticmethod
    def _protocol(func: Callable[..., Any]) -> Callable[..., tuple[int, Any]]:
        def wrapped(*args: str) -> tuple[int, Any]:
            try:
                return 0, func(*args)
            except TclCommandError as exc:
                return 1, str(exc)
            except Exception as exc:  # a bug in the bridge: still a Tcl error, not a crash
                return 1, f"{type(exc).__name__}: {exc}"

        return wrapped

    def flush(self) -> None:
        """Flush Tcl, Python and libyosys output, in that order."""
        try:
            self.tcl.call("flush", "stdout")
            self.tcl.call("flush", "stderr")
        except Exception:
            pass
        sys.stdout.flush()
        sys.stderr.flush()
        self.ys.log_flush()

    def finish(self, code: int) -> None:
        """End the process: close Tcl files, flush everything, skip pyosys teardown."""
        try:
            self.tcl.eval(
                "foreach ch [file channels] {"
                " if {$ch ni {stdin stdout stderr}} { catch {close $ch} } }"
            )
        except Exception:
            pass
        self.flush()
        note_tool_time()
        os._exit(code)

    def _exit(self, *args: str) -> None:
        code = 0
        if args:
            try:
                code = int(self.tcl.getint(args[0]))
            except Exception:
                code = 1
        self.finish(code)

    # -- yosys ------------------------------------------------------------------------------

    def _yosys(self, *args: str) -> Any:
        if args and args[0] == "-import":
            self._import_passes()
            return ""
        if not args:
            return ""
        design = self.design
        design.scratchpad_unset("result.json")
        design.scratchpad_unset("result.string")
        self.flush()
        try:
            if len(args) == 1:
                self.ys.Pass.call(design, args[0])
            else:
                self.ys.Pass.call(design, list(args))
        except RuntimeError as exc:
            # pybind11 reports Yosys' log_cmd_error_exception as an unknown C++ exception.
            if "unknown exception" not in str(exc):
                raise
            if self.in_repl:
                while len(design.selection_stack) > 1:
                    design.pop_selection()
                self.ys.log_reset_stack()
            self.ys.log_flush()
            raise TclCommandError(COMMAND_ERROR_MESSAGE) from None
        self.ys.log_flush()
        pad = design.scratchpad
        if "result.json" in pad:
            try:
                return _json_to_tcl(json.loads(pad["result.json"]))
            except ValueError as exc:
                self.ys.log_warning(
                    f"Ignoring result.json scratchpad value due to parse error: {exc}\n")
        if "result.string" in pad:
            return pad["result.string"]
        return ""

    def _import_passes(self) -> None:
        for name in sorted(self.ys.Globals.pass_register):
            tcl_name = {"proc": "procs", "rename": "renames"}.get(name, name)
            if self.tcl.call("info", "commands", "::" + tcl_name):
                self.ys.log(f"[TCL: yosys -import] Command name collision: found pre-existing "
                            f"command `{name}' -> skip.\n")
                continue
            self.tcl.eval(f"proc ::{tcl_name} args {{ yosys {name} {{*}}$args }}")

    # -- rtlil:: helpers --------------------------------------------------------------------

    def _rtlil(self, helper: str, *args: str) -> Any:
        return getattr(self, f"_rtlil_{helper}")(list(args))

    @staticmethod
    def _flags(args: list[str], allowed: Sequence[str]) -> tuple[set[str], list[str]]:
        flags: set[str] = set()
        i = 0
        while i < len(args) and args[i].startswith("-") and args[i][1:] in allowed:
            flags.add(args[i][1:])
            i += 1
        return flags, args[i:]

    def _module(self, name: str) -> Any:
        module = self.design.module(self.ys.IdString(_escape_id(name)))
        if module is None:
            raise TclCommandError("module not found")
        return module

    def _object(self, module: Any, name: str) -> Any:
        ident = self.ys.IdString(_escape_id(name))
        found = module.wire(ident)
        if found is None and ident in module.memories:
            found = module.memories[ident]
        if found is None:
            found = module.cell(ident)
        if found is None and ident in module.processes:
            found = module.processes[ident]
        if found is None:
            raise TclCommandError("object not found")
        return found

    def _target(self, mod_flag: bool, names: list[str]) -> tuple[Any, Any]:
        module = self._module(names[0])
        obj = module if mod_flag else self._object(module, names[1])
        return obj, self.ys.IdString(_escape_id(names[-1]))

    @staticmethod
    def _const_to_int(value: Any, force_signed: bool, force_unsigned: bool) -> int:
        bits = value.as_string()  # MSB first
        if any(bit not in "01" for bit in bits):
            raise TclCommandError("bignum manipulation failed")
        if not bits:
            return 0
        signed = (int(value.flags) & 2 or force_signed) and not force_unsigned
        number = int(bits, 2)
        if signed and bits[0] == "1":
            number -= 1 << len(bits)
        return number

    def _int_to_const(self, number: int, signed: bool) -> Any:
        if number < 0 and not signed:
            raise TclCommandError("bignum manipulation failed")
        magnitude = -number - 1 if number < 0 else number
        width = max(32, magnitude.bit_length() + (1 if signed else 0))
        pattern = number & ((1 << width) - 1)
        const = self.ys.Const([bool(pattern >> i & 1) for i in range(width)])
        if signed:
            const.flags = self.ys.ConstFlags.CONST_FLAG_SIGNED.value
        return const

    def _tcl_int(self, text: str) -> int:
        try:
            return int(self.tcl.getint(text))
        except Exception:
            raise TclCommandError("non-integral value") from None

    @staticmethod
    def _set_attribute(obj: Any, ident: Any, const: Any) -> None:
        # pyosys hands out a copy of the attribute dict: change the copy, assign it back.
        attributes = obj.attributes
        attributes[ident] = const
        obj.attributes = attributes

    def _rtlil_get_attr(self, args: list[str]) -> Any:
        flags, rest = self._flags(args, ("mod", "string", "int", "sint", "uint", "bool"))
        kinds = flags & {"string", "int", "sint", "uint", "bool"}
        if len(rest) != (2 if "mod" in flags else 3) or len(kinds) > 1:
            raise TclCommandError(
                'bad usage: expected "get_attr -mod [-string|-int|-sint|-uint|-bool] <module> '
                '<attrname>" or "get_attr [-string|-int|-sint|-uint|-bool] <module> '
                '<identifier> <attrname>"')
        obj, ident = self._target("mod" in flags, rest)
        if "string" in flags:
            return obj.get_string_attribute(ident)
        if "bool" in flags:
            return 1 if obj.get_bool_attribute(ident) else 0
        if kinds:
            if not obj.has_attribute(ident):
                raise TclCommandError("attribute missing (required for -int)")
            return self._const_to_int(obj.attributes[ident], "sint" in flags, "uint" in flags)
        if not obj.has_attribute(ident):
            raise TclCommandError("attribute missing (required unless -bool or -string)")
        return obj.attributes[ident].as_string()

    def _rtlil_has_attr(self, args: list[str]) -> Any:
        flags, rest = self._flags(args, ("mod",))
        if len(rest) != (2 if "mod" in flags else 3):
            raise TclCommandError('bad usage: expected "has_attr -mod <module> <attrname>" or '
                                  '"has_attr <module> <identifier> <attrname>"')
        obj, ident = self._target("mod" in flags, rest)
        return 1 if obj.has_attribute(ident) else 0

    def _rtlil_set_attr(self, args: list[str]) -> Any:
        kinds_allowed = ("string", "true", "false", "sint", "uint", "bool")
        flags, rest = self._flags(args, ("mod",) + kinds_allowed)
        kinds = flags & set(kinds_allowed)
        takes_value = not kinds & {"true", "false"}
        expected = 2 + ("mod" not in flags) + takes_value
        if len(rest) != expected or len(kinds) > 1:
            raise TclCommandError(
                'bad usage: expected "set_attr -mod [-string|-sint|-uint|-bool] <module> '
                '<attrname> <value>" or "set_attr [-string|-sint|-uint|-bool] <module> '
                '<identifier> <attrname> <value>" or "set_attr [-true|-false] <module> '
                '<identifier> <attrname>" or "set_attr -mod [-true|-false| <module> '
                '<attrname>"')
        names = rest[:-1] if takes_value else rest
        value = rest[-1] if takes_value else ""
        obj, ident = self._target("mod" in flags, names)
        if "string" in flags:
            obj.set_string_attribute(ident, value)
        elif kinds & {"sint", "uint"}:
            self._set_attribute(obj, ident,
                                self._int_to_const(self._tcl_int(value), "sint" in flags))
        elif "bool" in flags:
            match = re.match(r"\s*([+-]?\d+)", value)  # C atoi()
            obj.set_bool_attribute(ident, bool(match and int(match.group(1))))
        elif kinds & {"true", "false"}:
            obj.set_bool_attribute(ident, "true" in flags)
        else:
            self._set_attribute(obj, ident, self.ys.Const.from_string(value))
        return ""

    def _cell(self, names: list[str]) -> tuple[Any, Any]:
        module = self._module(names[0])
        cell = module.cell(self.ys.IdString(_escape_id(names[1])))
        if cell is None:
            raise TclCommandError("object not found")
        return cell, self.ys.IdString(_escape_id(names[2]))

    def _rtlil_get_param(self, args: list[str]) -> Any:
        flags, rest = self._flags(args, ("string", "int", "sint", "uint"))
        if len(rest) != 3 or len(flags & {"string", "int"}) > 1:
            raise TclCommandError('bad usage: expected "get_param [-string|-int|-sint|-uint] '
                                  '<module> <cellid> <paramname>')
        cell, ident = self._cell(rest)
        if not cell.hasParam(ident):
            raise TclCommandError("parameter missing")
        value = cell.getParam(ident)
        if "string" in flags:
            return value.decode_string()
        if flags & {"int", "sint", "uint"}:
            return self._const_to_int(value, "sint" in flags, "uint" in flags)
        return value.as_string()

    def _rtlil_set_param(self, args: list[str]) -> Any:
        flags, rest = self._flags(args, ("string", "sint", "uint"))
        if len(rest) != 4 or len(flags) > 1:
            raise TclCommandError('bad usage: expected "set_param [-string|-sint|-uint] '
                                  '<module> <cellid> <paramname> <value>')
        cell, ident = self._cell(rest[:3])
        value = rest[3]
        if "string" in flags:
            cell.setParam(ident, self.ys.Const(value))
        elif flags:
            cell.setParam(ident, self._int_to_const(self._tcl_int(value), "sint" in flags))
        else:
            cell.setParam(ident, self.ys.Const.from_string(value))
        return ""

    # -- drivers ----------------------------------------------------------------------------

    def run_commands(self, commands: str) -> None:
        """Yosys command syntax (``-p``): ';'-separated, ends the process on error."""
        self.flush()
        self.ys.Pass.call(self.design, commands)
        self.ys.log_flush()

    def source(self, script: Path) -> None:
        """Run a Tcl script; raises tkinter.TclError with the script's error message."""
        self.tcl.call("source", str(script))
        self.flush()

    def error_info(self) -> str:
        try:
            return str(self.tcl.eval("set ::errorInfo"))
        except Exception:
            return ""

    def repl(self) -> None:
        """The ``-C`` shell: read Tcl commands from stdin until EOF or ``exit``."""
        import tkinter

        self.in_repl = True
        buffer = ""
        while True:
            self.flush()
            sys.stdout.write("% " if not buffer else "> ")
            sys.stdout.flush()
            line = sys.stdin.readline()
            if not line:
                sys.stdout.write("\n")
                return
            buffer += line
            if not self.tcl.call("info", "complete", buffer):
                continue
            command, buffer = buffer, ""
            try:
                result = self.tcl.eval(command)
            except tkinter.TclError as exc:
                self.flush()
                print(f"ERROR: {exc}", file=sys.stderr)
                continue
            if str(result):
                print(result)


def _parse_args(argv: Sequence[str]) -> dict[str, Any]:
    options: dict[str, Any] = {"version": False, "help": False, "tcl_script": None,
                               "shell_after": False, "scripts": [], "commands": [],
                               "inputs": []}
    args = list(argv)
    i = 0

    def value_of(option: str) -> str:
        nonlocal i
        if i + 1 >= len(args):
            raise BridgeUsageError(f"option {option} needs an argument")
        i += 1
        return args[i]

    while i < len(args):
        arg = args[i]
        if arg in ("-V", "--version"):
            options["version"] = True
        elif arg in ("-h", "--help"):
            options["help"] = True
        elif arg == "-c":
            options["tcl_script"] = Path(value_of(arg))
        elif arg == "-C":
            options["shell_after"] = True
        elif arg == "-s":
            options["scripts"].append(Path(value_of(arg)))
        elif arg == "-p":
            options["commands"].append(value_of(arg))
        elif arg == "--":
            options["inputs"].extend(args[i + 1:])
            break
        elif arg.startswith("-") and arg != "-":
            raise BridgeUsageError(f"option {arg} is not supported by the pyosys bridge "
                                   "(supported: -V -c -C -s -p -h)")
        else:
            options["inputs"].append(arg)
        i += 1
    return options


def _process_start_epoch() -> float | None:
    """When this process started (10 ms resolution): /proc's start tick, which counts from boot."""
    try:
        fields = Path("/proc/self/stat").read_text().rpartition(")")[2].split()
        started_after_boot = int(fields[19]) / os.sysconf("SC_CLK_TCK")
        return time.time() - (time.clock_gettime(time.CLOCK_BOOTTIME) - started_after_boot)
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def note_tool_time() -> None:
    """Append this process's wall interval to ``$HALUT_TOOL_TIMES`` (see ``TOOL_TIMES_ENV``)."""
    path = os.environ.get(TOOL_TIMES_ENV)
    if not path:
        return
    ended = time.time()
    started = _process_start_epoch()
    line = json.dumps({"tool": "yosys", "argv": sys.argv[1:], "start": started, "end": ended})
    try:
        # One short O_APPEND write per process: parallel jobs' lines never interleave.
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
    except OSError:
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """The ``yosys`` command line. Ends the process itself once libyosys is loaded."""
    try:
        options = _parse_args(sys.argv[1:] if argv is None else argv)
        if options["tcl_script"] is not None and not options["tcl_script"].is_file():
            raise BridgeUsageError(f"Tcl script not found: {options['tcl_script']}")
        for script in options["scripts"]:
            if not script.is_file():
                raise BridgeUsageError(f"script not found: {script}")
    except BridgeUsageError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2
    if options["help"]:
        sys.stdout.write(_USAGE)
        return 0

    from pyosys import libyosys as ys

    if options["version"]:
        print(ys.Globals.yosys_version_str)
        sys.stdout.flush()
        note_tool_time()
        os._exit(0)

    bridge = YosysTcl()
    ys.log(f"\n halut-yosys: Tcl {bridge.tcl.eval('info patchlevel')} driven by Python "
           f"{sys.version.split()[0]}, {ys.Globals.yosys_version_str}\n")
    if not bridge.throws_on_command_error:
        ys.log_warning("pyosys bridge: cannot make libyosys throw on command errors; a failing "
                       "command ends the process even inside Tcl catch.\n")
    try:
        code = _run(bridge, options)
    except KeyboardInterrupt:
        code = 130
    except BaseException as exc:  # a bridge bug: report it, never die in pyosys teardown
        bridge.flush()
        print(f"ERROR: pyosys bridge: {type(exc).__name__}: {exc}", file=sys.stderr)
        code = 1
    bridge.finish(code)
    return code  # not reached: finish() ends the process


def _run(bridge: YosysTcl, options: dict[str, Any]) -> int:
    import tkinter

    ys = bridge.ys
    try:
        for name in options["inputs"]:
            bridge.flush()
            ys.run_frontend(name, "auto", bridge.design)
        for script in options["scripts"]:
            bridge.run_commands(f"script {_quote_for_yosys(str(script))}")
        for commands in options["commands"]:
            bridge.run_commands(commands)
    except RuntimeError as exc:
        # A command failed while throwing is on; libyosys has already printed its ERROR line.
        bridge.flush()
        if "unknown exception" not in str(exc):
            print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    if options["tcl_script"] is not None:
        try:
            bridge.source(options["tcl_script"])
        except tkinter.TclError as exc:
            bridge.flush()
            trace = bridge.error_info()
            if trace:
                print(trace, file=sys.stderr)
            print(f"ERROR: TCL interpreter returned an error: {exc}", file=sys.stderr)
            return 1
    if options["shell_after"]:
        bridge.repl()
    elif not (options["inputs"] or options["scripts"] or options["commands"]
              or options["tcl_script"]):
        ys.shell(bridge.design)  # native yosys' default: the interactive command shell
    ys.log("\nEnd of script.\n")
    return 0


def _quote_for_yosys(text: str) -> str:
    return '"' + text.replace('"', '\\"') + '"' if re.search(r'[\s;"]', text) else text


if __name__ == "__main__":
    sys.exit(main())

"""The GitHub Actions workflows: schema-valid (check-jsonschema's vendored GitHub workflow schema,
offline), and consistent with the project (CLI flags, PDK list, pinned tool image, README command)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = REPO_ROOT / ".github" / "workflows"
NIGHTLY = WORKFLOWS / "nightly.yml"
TESTS = WORKFLOWS / "tests.yml"


def validate(path: Path) -> subprocess.CompletedProcess:
    pytest.importorskip("check_jsonschema", reason="check-jsonschema not installed (it belongs in the 'test' extra)")
    # The vendored schema ships inside the package: no network at test time.
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True, text=True, timeout=120, check=False,
    )


def load(path: Path) -> dict:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    # YAML 1.1 reads the bare key `on` as True; GitHub reads it as "on".
    if True in data:
        data["on"] = data.pop(True)
    return data


def steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def orchestrator_commands(workflow: dict) -> list[list[str]]:
    """Every `python -m orchestrator ...` invocation in the workflow's run steps, as argv.

    An expression stays one word, written without spaces: ``${{matrix.pdk}}``."""
    commands = []
    for step in steps(workflow):
        script = re.sub(r"\$\{\{\s*(.*?)\s*\}\}", lambda m: "${{" + m.group(1).replace(" ", "") + "}}",
                        step.get("run", ""))
        for line in script.splitlines():
            # Split at the shell's && (not inside quotes, e.g. a `sh -c '... && ...'` argument).
            lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
            lexer.whitespace_split = True
            words: list[str] = []
            for token in [*lexer, "&&"]:
                if token != "&&":
                    words.append(token)
                    continue
                if words[:3] == ["python", "-m", "orchestrator"]:
                    commands.append(words[3:])
                words = []
    return commands


@pytest.mark.parametrize("path", [NIGHTLY, TESTS], ids=lambda p: p.name)
def test_workflow_is_valid_against_the_github_workflow_schema(path):
    result = validate(path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "original, broken",
    [
        ("    runs-on: ubuntu-latest\n", "    run-on: ubuntu-latest\n"),  # misspelt key
        ("  workflow_dispatch:\n", "  workflow-dispatch:\n"),  # unknown trigger
        ("    timeout-minutes: 360\n", "    timeout-minutes: six hours\n"),  # wrong type
        ("      fail-fast: false", "      fail_fast: false"),
        ("    - cron: ", "    - crn: "),
        ("      id-token: write", "      id-token: writ"),  # not a permission level
    ],
)
def test_a_broken_workflow_fails_validation(tmp_path, original, broken):
    text = NIGHTLY.read_text(encoding="utf-8")
    assert original in text
    copy = tmp_path / "nightly.yml"
    copy.write_text(text.replace(original, broken, 1), encoding="utf-8")
    result = validate(copy)
    assert result.returncode != 0, f"validator accepted a workflow with {broken.strip()!r}"


def test_nightly_runs_on_a_schedule_and_by_hand():
    triggers = load(NIGHTLY)["on"]
    (schedule,) = triggers["schedule"]
    fields = schedule["cron"].split()
    assert len(fields) == 5 and all(re.fullmatch(r"[\d*/,-]+", f) for f in fields)
    assert "workflow_dispatch" in triggers


def test_nightly_matrix_covers_the_configured_pdks():
    matrix = load(NIGHTLY)["jobs"]["flow"]["strategy"]["matrix"]
    config = yaml.safe_load((REPO_ROOT / "config.yaml").read_text(encoding="utf-8"))
    assert matrix["pdk"] == config["pdks"]
    platforms = {p.stem for p in (REPO_ROOT / "platforms").glob("*.yaml")}
    assert set(matrix["pdk"]) <= platforms


def test_tool_image_is_the_pinned_siliconcompiler_release():
    pyproject = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    sc_version = re.search(r'"siliconcompiler==([\d.]+)"', pyproject).group(1)
    workflow = load(NIGHTLY)
    images = {job["container"]["image"] for job in workflow["jobs"].values() if "container" in job}
    assert images == {f"ghcr.io/siliconcompiler/sc_runner:v{sc_version}"}


def test_nightly_runs_the_flow_report_and_check():
    commands = orchestrator_commands(load(NIGHTLY))
    names = [c[0] for c in commands]
    assert ["run", "--pdk", "${{matrix.pdk}}", "--require-all-stages"] in commands
    assert "report" in names
    gate = [c for c in commands if c[:3] == ["check", "--pdk", "${{matrix.pdk}}"]]
    assert gate, commands
    assert names.index("run") < names.index("check")


def test_every_orchestrator_command_in_the_workflows_parses():
    """A misspelt subcommand or flag fails here, not at 2 a.m. in CI."""
    cli = pytest.importorskip("orchestrator.cli")
    parser = cli.build_parser()
    commands = orchestrator_commands(load(NIGHTLY)) + orchestrator_commands(load(TESTS))
    assert commands
    for argv in commands:
        argv = [word.replace("${{matrix.pdk}}", "asap7") for word in argv]
        try:
            parser.parse_args(argv)
        except SystemExit as exc:
            pytest.fail(f"`python -m orchestrator {' '.join(argv)}` does not parse (exit {exc.code})")


def test_every_action_is_pinned_to_a_release():
    for path in (NIGHTLY, TESTS):
        for step in steps(load(path)):
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+(\.\d+)*", step["uses"]), (path.name, step["uses"])


def test_nightly_uploads_records_and_site_and_publishes_pages():
    workflow = load(NIGHTLY)
    uploads = [s["with"]["name"] for s in steps(workflow) if s.get("uses", "").startswith("actions/upload-artifact")]
    assert "history-${{ matrix.pdk }}" in uploads and "site" in uploads
    used = {s.get("uses", "").split("@")[0] for s in steps(workflow)}
    assert {"actions/upload-pages-artifact", "actions/deploy-pages"} <= used
    pages = workflow["jobs"]["pages"]
    assert pages["permissions"] == {"pages": "write", "id-token": "write"}
    assert "default_branch" in pages["if"]


def test_nightly_pushes_history_to_its_own_branch_only():
    workflow = load(NIGHTLY)
    branch = workflow["env"]["HISTORY_BRANCH"]
    assert branch and branch not in ("main", "master")
    push = [s["run"] for s in steps(workflow) if re.search(r"\bgit (-C \S+ )?push\b", s.get("run", ""))]
    assert len(push) == 1 and '"HEAD:refs/heads/$HISTORY_BRANCH"' in push[0]
    assert workflow["permissions"] == {"contents": "read"}  # write only where records are pushed
    assert workflow["jobs"]["publish"]["permissions"] == {"contents": "write"}


def test_tests_workflow_runs_the_readme_test_command_on_push_and_pull_request():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    (command,) = [line.strip() for line in quick_start.splitlines() if "python -m pytest" in line]
    workflow = load(TESTS)
    assert {"push", "pull_request"} <= set(workflow["on"])
    assert command in [s.get("run", "").strip() for s in steps(workflow)]
    image = workflow["jobs"]["pytest"]["container"]["image"]
    assert "python:3.11" in image and "bookworm" in image  # README: fresh Debian, Python 3.11

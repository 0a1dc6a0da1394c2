"""The documentation stays true: links resolve, the README stays short, and every command it shows exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from orchestrator.cli import build_parser

REPO_ROOT = Path(__file__).resolve().parent.parent
README = REPO_ROOT / "README.md"
PAGES = [README, *sorted((REPO_ROOT / "docs").glob("*.md")), REPO_ROOT / "designs" / "halut" / "README.md"]

# [text](target) and ![alt](target); the target ends at the first space (a title may follow) or ")".
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?[^)]*\)")
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
COMMAND = re.compile(r"`(python -m orchestrator(?: [^`]*)?)`")


def prose(path: Path) -> list[str]:
    """The page's lines outside fenced code blocks (a link in a code sample is not a link)."""
    lines, fenced = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`|\*\*|\*", "", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for line in prose(path):
        match = HEADING.match(line)
        if match:
            slug = anchor(match.group(2))
            found.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
            seen[slug] = seen.get(slug, 0) + 1
    return found


def relative_links(path: Path) -> list[str]:
    return [target for line in prose(path) for target in LINK.findall(line)
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE)]  # http:, https:, mailto:


def test_the_pages_exist_and_have_links():
    assert all(page.is_file() for page in PAGES)
    assert len(relative_links(README)) >= 10  # the README's table of pages is links, not plain text


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_relative_link_points_at_a_file_that_exists(page):
    broken = []
    for target in relative_links(page):
        file_part, _, fragment = target.partition("#")
        resolved = (page.parent / file_part).resolve() if file_part else page
        if not resolved.exists():
            broken.append(f"{target}: no such file {resolved}")
        elif fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
            broken.append(f"{target}: no heading '#{fragment}' in {resolved.relative_to(REPO_ROOT)}")
    assert broken == []


def test_a_broken_link_and_a_missing_heading_would_be_caught(tmp_path):
    # The check above is not vacuous: it sees links outside code blocks only, and headings by their anchor.
    page = tmp_path / "page.md"
    page.write_text("# Top\n## The `job` cache\n[a](missing.md) ![b](img.png \"title\")\n"
                    "```\n[c](in-code.md)\n```\n[d](https://example.org/x.md)\n", encoding="utf-8")
    assert relative_links(page) == ["missing.md", "img.png"]
    assert anchors(page) == {"top", "the-job-cache"}


def test_commands_are_found_in_prose_and_in_code_blocks(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("Run `python -m orchestrator doctor`.\n```sh\npip install -e . && python -m orchestrator run "
                    "--pdk all   # note\n```\n", encoding="utf-8")
    assert shown_commands(page) == ["python -m orchestrator doctor", "python -m orchestrator run --pdk all"]


def test_the_readme_stays_short():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; move detail into docs/"


def _subcommands() -> dict[str, set[str]]:
    """Subcommand -> its option strings (plus the global ones), from the CLI's own parser."""
    parser = build_parser()
    global_options = {s for action in parser._actions for s in action.option_strings}
    (sub,) = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    return {name: global_options | {s for action in sub_parser._actions for s in action.option_strings}
            for name, sub_parser in sub.choices.items()}


def shown_commands(path: Path) -> list[str]:
    """``python -m orchestrator ...`` in inline code, and on the lines of code blocks (split at ``&&``, ``#``
    comments dropped)."""
    shown, fenced = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif fenced:
            parts = (part.strip() for part in line.split("#", 1)[0].split("&&"))
            shown.extend(part for part in parts if part.startswith("python -m orchestrator"))
        else:
            shown.extend(COMMAND.findall(line))
    return shown


def test_every_command_the_readme_shows_exists_with_its_options():
    commands = _subcommands()
    shown = shown_commands(README)
    assert len(shown) >= len(commands)  # every command is in the table
    problems = []
    for text in shown:
        words = text.split()
        if len(words) < 4:
            problems.append(f"{text!r}: no subcommand")
            continue
        name = words[3]
        if name not in commands:
            problems.append(f"{text!r}: no subcommand {name!r} (the CLI has {', '.join(commands)})")
            continue
        unknown = sorted(set(re.findall(r"--[a-z][a-z-]*", text)) - commands[name])
        if unknown:
            problems.append(f"{text!r}: {name} has no option {', '.join(unknown)}")
    assert problems == []
    assert set(commands) <= {text.split()[3] for text in shown if len(text.split()) > 3}

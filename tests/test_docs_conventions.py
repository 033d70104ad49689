"""The pages keep the conventions tests/test_docs.py relies on, and their reference tables are true.

Output is shown only in ```output blocks right after the block that prints it; no comment claims
what a line prints; the lines that need a Snowflake account say so; the error table and the exit
codes match the code; every command of the CLI is documented.
"""

from __future__ import annotations

import io
import re
import sys
import tokenize
from pathlib import Path
from typing import Any

import pytest

import cortex_tune
from test_docs import FENCE, PAGES, ROOT, all_blocks, command_lines, needs_account, page_blocks

README = ROOT / "README.md"


def section(title: str) -> str:
    """The README's section under ``## title``, up to the next one."""
    text = README.read_text("utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_readme_has_the_two_commands_first() -> None:
    first = README.read_text("utf-8").split("\n## ", 1)[0]
    commands = re.findall(r"^(python3 tasks\.py \w+)", first, re.M)
    assert commands == ["python3 tasks.py demo", "python3 tasks.py test"]
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    assert "python3 tasks.py test" in ci


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_output_blocks_follow_the_block_they_show(page: Path) -> None:
    text = page.read_text("utf-8")
    fences = list(FENCE.finditer(text))
    for before, fence in zip([None, *fences], fences, strict=False):
        if fence[1] != "output":
            continue
        line = text.count("\n", 0, fence.start()) + 1
        assert before is not None and before[1] in ("python", "bash"), f"line {line}: no block"
        between = text[before.end() : fence.start()]
        assert not between.strip(), f"line {line}: text between the block and its output"


def test_no_comment_claims_what_a_line_prints() -> None:
    for block in all_blocks("python"):
        tokens = list(tokenize.generate_tokens(io.StringIO(block.code).readline))
        printing = {t.start[0] for t in tokens if t.type == tokenize.NAME and t.string == "print"}
        for token in tokens:
            if token.type == tokenize.COMMENT and token.start[0] in printing:
                pytest.fail(
                    f"{block.name}, line {token.start[0]} of the block: {token.string!r}: "
                    "show output in an ```output block after the block instead"
                )


def test_the_quickstart_shows_what_it_prints() -> None:
    quickstart = next(b for b in page_blocks(README) if b.lang == "python")
    assert quickstart.intro.startswith("## Quickstart")
    assert quickstart.output is not None
    assert quickstart.output.strip() == "SUCCESS billing"


def test_lines_that_need_an_account_say_so() -> None:
    marked = 0
    for block in all_blocks("bash"):
        for line in command_lines(block):
            if needs_account(line):
                assert "account" in block.intro.lower(), (
                    f"{block.name}: {line!r} needs a Snowflake account; the paragraph before "
                    "its block must say so (or the line takes --local)"
                )
                marked += 1
    assert marked >= 4


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is new in Python 3.11")
def test_toml_blocks_parse() -> None:
    import tomllib

    blocks = all_blocks("toml")
    assert blocks
    for block in blocks:
        tomllib.loads(block.code)


def _error_rows() -> list[str]:
    rows = [line for line in section("Errors").splitlines() if line.startswith("| `")]
    return [row.split("|")[1] for row in rows]


def test_the_error_table_names_every_exported_error() -> None:
    text = section("Errors")
    errors = [
        n
        for n in cortex_tune.__all__
        if isinstance(getattr(cortex_tune, n), type)
        and issubclass(getattr(cortex_tune, n), Exception)
        and not issubclass(getattr(cortex_tune, n), Warning)
    ]
    missing = [n for n in errors if f"`{n}`" not in text]
    assert not missing, f"exported errors the README's table does not name: {missing}"


def test_the_error_table_states_the_tree_as_it_is() -> None:
    """In the first column, ``A`` (a ``B``) means A is a subclass of B."""
    relations = 0
    for cell in _error_rows():
        subjects, _, parents = cell.partition("(")
        for child in re.findall(r"`(\w+)`", subjects):
            for parent in re.findall(r"`(\w+)`", parents):
                assert issubclass(getattr(cortex_tune, child), getattr(cortex_tune, parent)), (
                    f"the README says {child} is a {parent}"
                )
                relations += 1
    assert relations >= 5


def test_the_exit_codes_are_the_cli_s() -> None:
    from cortex_tune._cli import core as _cli_core

    text = section("The command line")
    listed = text[text.index("Exit codes:") :].split(".\n", 1)[0]
    documented = {int(n) for n in re.findall(r"\b(\d+)\s+[a-zA-Z]", listed)}
    codes = {v for k, v in vars(_cli_core).items() if k.startswith("EXIT_") and isinstance(v, int)}
    assert documented == codes


def test_every_command_is_documented() -> None:
    import typer

    from cortex_tune import cli

    text = section("The command line")
    root: Any = typer.main.get_command(cli.app)
    names = []
    for name, command in root.commands.items():
        names.append(name)
        names += [f"{name} {sub}" for sub in getattr(command, "commands", {})]
    missing = [n for n in names if not re.search(rf"\b{n}\b", text)]
    assert not missing, f"commands the README's command-line section does not mention: {missing}"

"""The README's command lines run, in order, with --local on the embedded emulator."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cortex_tune import cli

pytest.importorskip("fakesnow")

README = Path(__file__).resolve().parents[1] / "README.md"
SHELL_BLOCK = re.compile(r"```(?:bash|console|sh|shell)\n(.*?)```", re.S)
PIPE = re.compile(r"""^echo\s+(?P<text>"[^"]*"|'[^']*')\s*\|\s*(?P<command>cortex-tune\b.*)$""")

# Lines that cannot run on the emulator as written, and why.
OFFLINE_EXCEPTIONS = {
    # The emulator serves the base models it stands in for; llama3.1-70b is not one of them.
    "complete llama3.1-70b": "UnknownModelError on the emulator",
    # The emulator's doctor fails checks it cannot emulate (a separate fix).
    "doctor": "doctor on the emulator",
}


def cli_lines() -> list[str]:
    """Every line of the README's shell blocks that runs cortex-tune."""
    lines = []
    for block in SHELL_BLOCK.findall(README.read_text("utf-8")):
        for line in block.splitlines():
            line = line.strip()
            if line.startswith("cortex-tune") or PIPE.match(line):
                lines.append(line)
    return lines


def _invocation(line: str, job_id: str | None) -> tuple[list[str], str | None]:
    """The arguments (with --local added) and the stdin of a README line."""
    stdin = None
    match = PIPE.match(line)
    if match:
        stdin = shlex.split(match["text"])[0] + "\n"
        line = match["command"]
    words = shlex.split(line, comments=True)[1:]
    if job_id is not None:
        words = [job_id if w == "ft_..." else w for w in words]
    if "--local" not in words:
        words = ["--local", *words]
    return words, stdin


def test_the_readme_has_a_command_line_section() -> None:
    lines = cli_lines()
    assert len(lines) >= 6
    assert any("--json" in line for line in lines)


def test_readme_command_lines_run_on_the_emulator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # bare --local keeps its store in ./.cortex-local
    runner = CliRunner()
    failures = []
    job_id = None
    for line in cli_lines():
        args, stdin = _invocation(line, job_id)
        result = runner.invoke(cli.app, args, input=stdin)
        assert "Traceback" not in result.output, f"{line}\n{result.output}"
        if result.exit_code != 0 and not any(k in line for k in OFFLINE_EXCEPTIONS):
            failures.append(f"{line}\n  exit {result.exit_code}: {result.output[-500:]}")
        if job_id is None and "create" in args:
            listed = runner.invoke(cli.app, ["--local", "jobs", "list", "--json"])
            job_id = next(iter(json.loads(listed.stdout)), {}).get("id")
    assert not failures, "\n".join(failures)

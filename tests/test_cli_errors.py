"""One handler for every error: no traceback without --debug, hints in the words of the CLI."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import cortex_tune
from cortex_tune import cli
from cortex_tune._cli.args import Settings
from cortex_tune._cli.core import handle
from cortex_tune._cli.hints import FINDINGS, cli_hint
from cortex_tune._core import errors as _errors
from cortex_tune._core.models import FineTuneJob
from cortex_tune._finetune.preflight import PreflightReport

# Python spellings a shell user cannot type: calls, keyword arguments, attributes of objects.
PYTHON = re.compile(r"\bcx\.|\w\(\)|\b\w+=(True|False|\.\.\.|'|\{)|Cortex[.(]|print\(|\bexc\.|^\.")

# Run the CLI as a user without the [local] extra has it: fakesnow cannot be imported.
WITHOUT_FAKESNOW = """
import sys

class NoFakesnow:
    def find_spec(self, name, path=None, target=None):
        if name == "fakesnow" or name.startswith("fakesnow."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoFakesnow())
from cortex_tune.cli import main
main(sys.argv[1:])
"""


def _without_fakesnow(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SNOWFLAKE_DISABLE_PLATFORM_DETECTION": "true"}
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_FAKESNOW, *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "args",
    [["--local", "demo"], ["demo"], ["--local", "jobs", "list"], ["sql", "SELECT 1", "--local"]],
)
def test_a_missing_extra_is_one_clean_message(tmp_path: Path, args: list[str]) -> None:
    result = _without_fakesnow(tmp_path, *args)
    assert "Traceback" not in result.stderr
    assert result.returncode == cli.EXIT_USAGE, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("error: ConfigurationError: ")
    assert 'hint: pip install "cortex-tune[local]"' in result.stderr
    assert len(result.stderr.splitlines()) == 2


def test_a_missing_extra_with_json_is_one_document(tmp_path: Path) -> None:
    result = _without_fakesnow(tmp_path, "--local", "demo", "--json")
    assert result.returncode == cli.EXIT_USAGE
    assert json.loads(result.stdout)["error"]["hint"] == 'pip install "cortex-tune[local]"'
    assert result.stderr == ""


def test_debug_shows_the_traceback_and_keeps_the_exit_code(tmp_path: Path) -> None:
    pytest.importorskip("fakesnow")
    result = CliRunner().invoke(
        cli.app, ["jobs", "describe", "ft_missing", "--debug", "--local", str(tmp_path)]
    )
    assert result.exit_code == cli.EXIT_ERROR
    assert "Traceback" in result.stderr
    assert "error: JobNotFoundError" in result.stderr


def test_an_unexpected_error_is_reported_not_raised(capsys: pytest.CaptureFixture[str]) -> None:
    assert handle(Settings(), RuntimeError("boom")) == cli.EXIT_ERROR
    err = capsys.readouterr().err
    assert err.splitlines()[0] == "error: RuntimeError: boom"
    assert "--debug" in err
    assert "Traceback" not in err


def test_an_interrupt_exits_130(capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(json=True, stdout=sys.stdout)
    assert handle(settings, KeyboardInterrupt()) == cli.EXIT_INTERRUPTED
    assert json.loads(capsys.readouterr().out)["error"]["type"] == "Interrupted"


# -- hints name commands and flags -------------------------------------------------------------


def _job() -> FineTuneJob:
    return FineTuneJob(id="ft_1", status="IN_PROGRESS")


def _instance(cls: type[_errors.CortexError]) -> _errors.CortexError:
    extra: dict[str, Any] = {
        "PreflightError": {"report": PreflightReport(base_model="mistral-7b")},
        "AmbiguousCreateError": {"marker": "cortex-tune:req=abc"},
        "ToolLoopError": {"messages": []},
        "StatementMayHaveRunError": {"marker": "abc"},
    }.get(cls.__name__, {})
    if issubclass(cls, (_errors.WaitTimeoutError, _errors.JobFailedError)):
        extra = {"job": _job()}
    return cls("message", **extra)


ERROR_CLASSES = sorted(
    (
        c
        for c in (getattr(cortex_tune, name) for name in cortex_tune.__all__)
        if isinstance(c, type) and issubclass(c, _errors.CortexError)
    ),
    key=lambda c: c.__name__,
)


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_no_cli_hint_speaks_python(cls: type[_errors.CortexError]) -> None:
    hint = cli_hint(_instance(cls))
    assert hint is None or not PYTHON.search(hint), hint


def test_a_specific_hint_is_kept() -> None:
    error = _errors.ConfigurationError(
        "fakesnow is missing", hint='pip install "cortex-tune[local]"'
    )
    assert cli_hint(error) == 'pip install "cortex-tune[local]"'
    closed = _errors.translate(_connector_closed())
    assert closed.hint is not None and "Cortex.connect" in closed.hint  # the library's wording
    assert cli_hint(closed) == "The connection closed: run the command again."


def _connector_closed() -> Exception:
    from snowflake.connector.errors import DatabaseError

    return DatabaseError(msg="Connection is closed", errno=250002)


def test_library_hints_stay_python_for_library_users() -> None:
    assert "cx.finetune.list()" in (_errors.JobNotFoundError("x").hint or "")


@pytest.fixture
def run(tmp_path: Path) -> Any:
    pytest.importorskip("fakesnow")
    runner = CliRunner()

    def invoke(*args: str) -> Any:
        return runner.invoke(cli.app, ["--local", str(tmp_path / "store"), *args])

    made = invoke(
        "sql",
        "CREATE TABLE T AS SELECT 'q' || range::STRING AS PROMPT, 'a' AS COMPLETION FROM range(5)",
    )
    assert made.exit_code == 0, made.output
    return invoke


def test_job_not_found_names_the_list_command(run: Any) -> None:
    result = run("jobs", "describe", "ft_missing")
    assert "hint: Check the id with `cortex-tune jobs list`" in result.stderr
    assert "cx." not in result.stderr


def test_a_refused_create_shows_the_report_and_names_no_check(run: Any) -> None:
    result = run("create", "M", "-m", "mistral-7b", "-t", "SELECT PROMPT FROM T")
    assert result.exit_code == cli.EXIT_CHECK
    assert "missing-columns" in result.stderr
    assert "--no-check" in result.stderr
    assert "check=False" not in result.stderr
    assert result.stdout == ""


def test_the_check_report_names_flags(run: Any) -> None:
    result = run("check", "-m", "mistral-7b", "-t", "SELECT * FROM T")
    assert result.exit_code == 0, result.output
    assert set(FINDINGS) <= set(re.findall(r"^info\s+(\S+)", result.stdout, re.M))
    for flag in ("--server-tokens", "--validation", "--max-epochs", "--credits-per-million"):
        assert flag in result.stdout
    assert not PYTHON.search(result.stdout), result.stdout


def test_a_credit_rate_gives_credits(run: Any) -> None:
    result = run(
        "--json", "check", "-m", "mistral-7b", "-t", "SELECT * FROM T", "--credits-per-million", "2"
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["cost"]["credits"] is not None

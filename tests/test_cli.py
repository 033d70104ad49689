"""The command line: verbs, --json output, exit codes, errors on stderr with hints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cortex_tune import cli

pytest.importorskip("fakesnow")


@pytest.fixture
def run(tmp_path: Path):  # type: ignore[no-untyped-def]
    runner = CliRunner()
    store = str(tmp_path / "store")

    def invoke(*args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
        return runner.invoke(cli.app, ["--local", store, *args], input=stdin)

    return invoke


def _table(run) -> None:  # type: ignore[no-untyped-def]
    result = run(
        "sql",
        "CREATE OR REPLACE TABLE T AS SELECT 'question ' || range::STRING AS PROMPT, "
        "'answer ' || range::STRING AS COMPLETION FROM range(30)",
    )
    assert result.exit_code == 0, result.output


def test_create_wait_describe_list_complete(run) -> None:  # type: ignore[no-untyped-def]
    _table(run)
    created = run(
        "create", "CLI_MODEL", "--base-model", "mistral-7b", "--training", "SELECT * FROM T"
    )
    assert created.exit_code == 0, created.output
    job_id = created.stdout.strip().splitlines()[-1]
    assert job_id.startswith("ft_")
    waited = run("--json", "jobs", "wait", job_id)
    assert waited.exit_code == 0, waited.output
    job = json.loads(waited.stdout)
    assert job["status"] == "SUCCESS"
    assert job["model"] == "CORTEX_LOCAL.PUBLIC.CLI_MODEL"
    listed = json.loads(run("--json", "jobs", "list").stdout)
    assert [j["id"] for j in listed] == [job_id]
    described = run("jobs", "describe", job_id)
    assert "trained tokens" in described.stdout
    answer = run("complete", "CLI_MODEL", "-", stdin="question 7")
    assert answer.stdout.strip() == "answer 7"


def test_create_with_wait_exits_3_when_the_job_fails(run) -> None:  # type: ignore[no-untyped-def]
    _table(run)
    result = run(
        "create",
        "BAD",
        "--base-model",
        "mistral-7b",
        "--training",
        "SELECT PROMPT FROM T",
        "--no-check",
        "--wait",
    )
    assert result.exit_code == cli.EXIT_JOB_FAILED
    assert "ERROR" in result.stdout


def test_wait_timeout_exits_5(run) -> None:  # type: ignore[no-untyped-def]
    _table(run)
    job_id = (
        run("create", "SLOW", "-m", "mistral-7b", "-t", "SELECT * FROM T")
        .stdout.strip()
        .splitlines()[-1]
    )
    result = run("jobs", "wait", job_id, "--timeout", "0")
    assert result.exit_code == cli.EXIT_TIMEOUT
    assert "WaitTimeoutError" in result.stderr
    assert "hint:" in result.stderr


def test_cancel_then_wait_exits_4(run) -> None:  # type: ignore[no-untyped-def]
    _table(run)
    job_id = (
        run("create", "C", "-m", "mistral-7b", "-t", "SELECT * FROM T")
        .stdout.strip()
        .splitlines()[-1]
    )
    assert run("jobs", "cancel", job_id).exit_code == 0
    assert run("jobs", "wait", job_id).exit_code == cli.EXIT_JOB_CANCELLED


def test_errors_go_to_stderr_with_a_hint_and_no_traceback(run) -> None:  # type: ignore[no-untyped-def]
    result = run("jobs", "describe", "ft_missing")
    assert result.exit_code == cli.EXIT_ERROR
    assert "JobNotFoundError" in result.stderr
    assert "hint:" in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_usage_errors_exit_2(run) -> None:  # type: ignore[no-untyped-def]
    assert (
        run("create", "1bad name", "-m", "mistral-7b", "-t", "SELECT 1").exit_code == cli.EXIT_USAGE
    )
    assert run("complete", "m", "x", "--temperature", "7").exit_code == cli.EXIT_USAGE
    assert run("no-such-command").exit_code == cli.EXIT_USAGE


def test_unknown_model_is_explained(run) -> None:  # type: ignore[no-untyped-def]
    result = run("complete", "llama3.1-70b", "hello")
    assert result.exit_code == cli.EXIT_ERROR
    assert "UnknownModelError" in result.stderr
    assert "register" in result.stderr


def test_doctor_reports_each_check(run) -> None:  # type: ignore[no-untyped-def]
    result = run("--json", "doctor")
    report = json.loads(result.stdout)
    names = [c["name"] for c in report["checks"]]
    assert names[0] == "connection"
    assert "connector" in names
    assert report["checks"][0]["state"] == "ok"


def test_connection_failure_exits_7() -> None:
    result = CliRunner().invoke(
        cli.app, ["--connection", "definitely-not-configured", "jobs", "list"]
    )
    assert result.exit_code == cli.EXIT_CONNECTION
    assert "definitely-not-configured" in result.stderr


def test_every_command_has_help_text() -> None:
    import typer.main

    group = typer.main.get_command(cli.app)
    stack = [group]
    while stack:
        command = stack.pop()
        assert (command.help or "").strip(), f"{command.name} has no help text"
        for param in command.params:
            if param.param_type_name == "option" and param.name != "help":
                assert (getattr(param, "help", "") or "").strip(), (
                    f"{command.name} --{param.name} has no help"
                )
        stack.extend(getattr(command, "commands", {}).values())


def test_check_reports_and_exits_6_on_errors(run) -> None:  # type: ignore[no-untyped-def]
    _table(run)
    good = run("--json", "check", "-m", "mistral-7b", "-t", "SELECT * FROM T")
    assert good.exit_code == 0, good.output
    assert json.loads(good.stdout)["base_model"] == "mistral-7b"
    bad = run("check", "-m", "mistral-7b", "-t", "SELECT PROMPT FROM T")
    assert bad.exit_code == cli.EXIT_CHECK
    assert "missing-columns" in bad.stdout

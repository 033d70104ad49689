"""With --json stdout is exactly one JSON document, for every command, errors included."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from cortex_tune import cli

pytest.importorskip("fakesnow")

ERROR_KEYS = {"type", "message", "hint", "query_id", "exit_code"}


class Run:
    """The CLI on one emulator store, as a script would call it."""

    def __init__(self, store: Path) -> None:
        self.store = str(store)
        self.runner = CliRunner()

    def __call__(self, *args: str, stdin: str | None = None) -> Any:
        return self.runner.invoke(cli.app, ["--local", self.store, *args], input=stdin)

    def json(self, *args: str, code: int | set[int] = 0, stdin: str | None = None) -> Any:
        """Run with --json after the command; stdout must parse whole, the code must match."""
        result = self(*args, "--json", stdin=stdin)
        assert result.exit_code in (code if isinstance(code, set) else {code}), result.output
        assert "Traceback" not in result.output
        return json.loads(result.stdout)


@pytest.fixture
def run(tmp_path: Path) -> Run:
    run = Run(tmp_path / "store")
    made = run(
        "sql",
        "CREATE TABLE T AS SELECT 'question ' || range::STRING AS PROMPT, "
        "'answer ' || range::STRING AS COMPLETION FROM range(30)",
    )
    assert made.exit_code == 0, made.output
    return run


def _leaf_commands() -> set[str]:
    names: set[str] = set()
    stack: list[tuple[str, Any]] = [("", typer.main.get_command(cli.app))]
    while stack:
        path, command = stack.pop()
        subs = getattr(command, "commands", None)
        if not subs:
            names.add(path.strip())
        for name, sub in (subs or {}).items():
            stack.append((f"{path} {name}", sub))
    return names


COVERED = {
    "version",
    "jobs list",
    "jobs describe",
    "jobs cancel",
    "jobs wait",
    "create",
    "check",
    "complete",
    "sql",
    "doctor",
    "demo",
    "chat",
    "runs list",  # runs: tests/test_cli_runs.py
    "runs describe",
    "runs wait",
    "runs cancel",
}


def test_every_command_is_covered_here() -> None:
    assert _leaf_commands() == COVERED


def test_every_command_prints_one_json_document(run: Run) -> None:
    assert run.json("version") == {"version": cli.__version__}
    job = run.json("create", "M", "-m", "mistral-7b", "-t", "SELECT * FROM T")
    assert job["id"].startswith("ft_")
    assert run.json("jobs", "wait", job["id"])["status"] == "SUCCESS"
    assert [j["id"] for j in run.json("jobs", "list")] == [job["id"]]
    assert run.json("jobs", "describe", job["id"])["model"].endswith(".M")
    pending = run.json("create", "N", "-m", "mistral-7b", "-t", "SELECT * FROM T")
    assert run.json("jobs", "cancel", pending["id"])["status"] == "CANCELLED"
    assert run.json("check", "-m", "mistral-7b", "-t", "SELECT * FROM T")["base_model"]
    assert run.json("complete", "M", "-", stdin="question 3")["text"] == "answer 3"
    assert run.json("sql", "SELECT COUNT(*) AS N FROM T") == [{"N": 30}]
    doctor = run.json("doctor", code={cli.EXIT_OK, cli.EXIT_ERROR})  # ok, or a check failed
    assert doctor["checks"][0]["name"] == "connection"


def test_demo_prints_its_numbers_and_its_story_on_stderr(run: Run) -> None:
    result = run("demo", "--json")
    assert result.exit_code == 0, result.output
    numbers = json.loads(result.stdout)
    assert numbers["status"] == "SUCCESS"
    assert "accuracy (EQUAL_NULL" in result.stderr


def test_a_job_that_fails_still_prints_the_job(run: Run) -> None:
    job = run.json(
        "create",
        "BAD",
        "-m",
        "mistral-7b",
        "-t",
        "SELECT PROMPT FROM T",
        "--no-check",
        "--wait",
        code=cli.EXIT_JOB_FAILED,
    )
    assert job["status"] == "ERROR"


@pytest.mark.parametrize(
    ("args", "kind", "code"),
    [
        (["jobs", "describe", "ft_missing"], "JobNotFoundError", cli.EXIT_ERROR),
        (["jobs", "list", "--bogus"], "UsageError", cli.EXIT_USAGE),
        (["jobs"], "UsageError", cli.EXIT_USAGE),
        (["complete", "m"], "UsageError", cli.EXIT_USAGE),
        (["create", "1 bad", "-m", "mistral-7b", "-t", "SELECT 1"], "InvalidIdentifierError", 2),
        (["sql", "SELECT 1; SELECT 2"], "UsageError", cli.EXIT_USAGE),
        (["demo", "--connection", "prod"], "UsageError", cli.EXIT_USAGE),
        (["chat", "m"], "UsageError", cli.EXIT_USAGE),
        (["check", "-m", "mistral-7b", "-t", "SELECT * FROM NOPE"], None, cli.EXIT_CHECK),
    ],
)
def test_errors_are_one_json_document(run: Run, args: list[str], kind: str, code: int) -> None:
    document = run.json(*args, code=code)
    if kind is None:  # a report, not an error
        assert "error" in {f["severity"] for f in document["findings"]}
        return
    error = document["error"]
    assert set(error) >= ERROR_KEYS
    assert (error["type"], error["exit_code"]) == (kind, code)
    assert error["message"] and error["hint"]


def test_a_refused_create_carries_its_report(run: Run) -> None:
    document = run.json(
        "create", "M", "-m", "mistral-7b", "-t", "SELECT PROMPT FROM T", code=cli.EXIT_CHECK
    )
    error = document["error"]
    assert error["type"] == "PreflightError"
    assert [f["code"] for f in error["report"]["findings"] if f["severity"] == "error"] == [
        "missing-columns"
    ]


def test_a_wait_timeout_carries_the_job(run: Run) -> None:
    job = run.json("create", "SLOW", "-m", "mistral-7b", "-t", "SELECT * FROM T")
    error = run.json("jobs", "wait", job["id"], "--timeout", "0", code=cli.EXIT_TIMEOUT)["error"]
    assert error["type"] == "WaitTimeoutError"
    assert error["job"]["id"] == job["id"]
    assert f"cortex-tune jobs wait {job['id']}" in error["hint"]


# -- sql: one statement, rows keyed by column -------------------------------------------------


def test_sql_json_rows_are_objects_keyed_by_column(run: Run) -> None:
    rows = run.json("sql", "SELECT PROMPT, COMPLETION FROM T ORDER BY PROMPT LIMIT 2")
    assert rows == [
        {"PROMPT": "question 0", "COMPLETION": "answer 0"},
        {"PROMPT": "question 1", "COMPLETION": "answer 1"},
    ]


def test_sql_json_numbers_stay_numbers_when_exact(run: Run) -> None:
    rows = run.json("sql", "SELECT 0.5 AS X, 10.00 AS Y, 0.1 AS Z, '2024-01-02'::DATE AS D")
    assert rows == [{"X": 0.5, "Y": 10, "Z": 0.1, "D": "2024-01-02"}]


@pytest.mark.parametrize(
    "statement",
    ["SELECT 1; SELECT 2", "SELECT 1;\nSELECT 2;", "CREATE TABLE X (A INT); DROP TABLE T"],
)
def test_sql_refuses_several_statements_before_running_any(run: Run, statement: str) -> None:
    result = run("sql", statement)
    assert result.exit_code == cli.EXIT_USAGE
    assert result.stdout == ""
    assert "2 SQL statements" in result.stderr
    assert run.json("sql", "SELECT COUNT(*) AS N FROM T") == [{"N": 30}]  # T was not dropped


@pytest.mark.parametrize(
    ("statement", "printed"),
    [
        ("SELECT 1 AS A;", "1"),
        ("SELECT ';' AS A", ";"),
        ("SELECT 'a;b' AS A -- a comment; with a semicolon", "a;b"),
        ("SELECT $$x;y$$ AS A", "x;y"),
    ],
)
def test_sql_runs_one_statement_with_semicolons_inside(
    run: Run, statement: str, printed: str
) -> None:
    result = run("sql", statement)
    assert result.exit_code == 0, result.output
    assert result.stdout == printed + "\n"


@pytest.mark.parametrize("statement", ["", " ; ", "-- only a comment"])
def test_sql_refuses_no_statement(run: Run, statement: str) -> None:
    assert run("sql", statement).exit_code == cli.EXIT_USAGE


def test_repeated_column_names_keep_every_value() -> None:
    from cortex_tune._cli.sql import records

    assert records(["A", "A", "B", "A"], [(1, 2, 3, 4)]) == [{"A": 1, "A_2": 2, "B": 3, "A_3": 4}]


# -- out-of-range options: one exit code, whichever layer refuses them ------------------------


@pytest.mark.parametrize(
    "option",
    [
        ["--temperature", "5"],
        ["--temperature", "-0.5"],
        ["--top-p", "2"],
        ["--max-tokens", "0"],
        ["--max-tokens", "8193"],
    ],
)
def test_out_of_range_options_exit_2(run: Run, option: list[str]) -> None:
    error = run.json("complete", "mistral-7b", "hello", *option, code=cli.EXIT_USAGE)["error"]
    assert error["exit_code"] == cli.EXIT_USAGE
    assert option[0] in error["hint"] or "--help" in error["hint"]

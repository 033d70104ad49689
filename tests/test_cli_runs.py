"""``cortex-tune runs``: the runs a client recorded, listed, described, awaited and cancelled
from the command line (here on the emulator's store; across processes on the wire tier)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cortex_tune import Cortex, QueryError, cli

pytest.importorskip("fakesnow")


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"


def _cli(store: Path, *args: str) -> Any:
    return CliRunner().invoke(cli.app, ["--local", str(store), *args])


def _runs(store: Path) -> tuple[str, str]:
    """A run that succeeded and one that failed, recorded in the store's runs table."""
    with Cortex.local(store) as cx:
        cx.backend.register_model("echo", lambda r: r.prompt)  # type: ignore[attr-defined]
        cx.sql(
            "CREATE TABLE SRC AS SELECT seq4() AS ID, 'p' || seq4() AS P, 'x' AS BAD FROM TABLE(GENERATOR(ROWCOUNT => 12))"
        )
        good = cx.complete_table("echo", source="SRC", into="OUT", key="ID", prompt="P").run_id
        bad_source = "SELECT ID, CAST(BAD AS INT) AS N FROM SRC"
        with pytest.raises(QueryError):
            cx.complete_table("echo", source=bad_source, into="BAD_OUT", key="ID", prompt="N")
        (bad,) = [r.id for r in cx.runs.list() if r.target == "BAD_OUT"]
    assert good is not None
    return good, bad


def test_runs_list_describe_wait_and_cancel_with_json(store: Path) -> None:
    good, bad = _runs(store)

    listed = _cli(store, "runs", "list", "--json")
    assert listed.exit_code == 0, listed.output
    runs = {r["id"]: r for r in json.loads(listed.stdout)}
    assert (runs[good]["status"], runs[bad]["status"]) == ("SUCCEEDED", "FAILED")

    described = json.loads(_cli(store, "runs", "describe", good, "--json").stdout)
    assert (described["rows_done"], described["rows_todo"], described["tokens"] > 0) == (
        12,
        12,
        True,
    )
    assert described["query_ids"] and described["kind"] == "complete_table"

    waited = _cli(store, "runs", "wait", good, "--json")
    assert waited.exit_code == cli.EXIT_OK and json.loads(waited.stdout)["status"] == "SUCCEEDED"
    failed = _cli(store, "runs", "wait", bad, "--json")
    assert failed.exit_code == cli.EXIT_JOB_FAILED
    assert json.loads(failed.stdout)["status"] == "FAILED"  # the run, as `jobs wait` prints a job
    assert json.loads(failed.stdout)["error"]

    cancelled = _cli(store, "runs", "cancel", good, "--json")  # it ended: nothing to stop
    assert cancelled.exit_code == 0 and json.loads(cancelled.stdout)["status"] == "SUCCEEDED"


def test_runs_text_output_and_errors(store: Path) -> None:
    good, _ = _runs(store)
    text = _cli(store, "runs", "describe", good)
    assert text.exit_code == 0
    assert "rows          12 of 12" in text.stdout and "query ids" in text.stdout
    assert good in _cli(store, "runs", "list").stdout
    missing = _cli(store, "runs", "describe", "run_nope", "--json")
    assert missing.exit_code == cli.EXIT_ERROR
    error = json.loads(missing.stdout)["error"]
    assert error["type"] == "RunNotFoundError" and "`cortex-tune runs list`" in error["hint"]
    elsewhere = _cli(store, "runs", "list", "--table", "OTHER_RUNS", "--json")
    assert elsewhere.exit_code == 0 and json.loads(elsewhere.stdout) == []


def test_hints_for_a_run_name_the_runs_commands(store: Path) -> None:
    from cortex_tune import RunFailedError, WaitTimeoutError
    from cortex_tune._cli.hints import cli_hint

    good, bad = _runs(store)
    with Cortex.local(store) as cx:
        run, failed = cx.runs.describe(good), cx.runs.describe(bad)
    timed_out = cli_hint(WaitTimeoutError("still running", job=run)) or ""
    assert f"`cortex-tune runs wait {good}`" in timed_out and "jobs" not in timed_out
    hint = cli_hint(RunFailedError("failed", job=failed)) or ""
    assert f"`cortex-tune runs describe {bad}`" in hint and "jobs" not in hint

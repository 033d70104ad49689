"""LocalBackend(path=...): jobs, adapters and tables outlive the backend and the process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fakesnow")

from cortex_tune import sql
from cortex_tune._backends.local import LocalBackend

SRC = Path(__file__).resolve().parents[1] / "src"
START = 1_750_000_000.0
TRAIN = "SELECT prompt, completion FROM faq"

# A second process on the same path: it polls the job on its own injected clock, then asks
# the fine-tuned model, and prints what it saw as JSON.
CHILD = textwrap.dedent(
    """
    import json, sys
    from cortex_tune import sql
    from cortex_tune._backends.local import LocalBackend

    path, job_id, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
    now = [start]
    backend = LocalBackend(path, clock=lambda: now[0])
    seen = []
    while True:
        state = json.loads(backend.execute(sql.finetune_describe_sql(job_id)).scalar())
        seen.append(state["status"])
        if state["status"] in ("SUCCESS", "ERROR", "CANCELLED"):
            break
        now[0] += 4
    answer = backend.execute(sql.complete_sql(state["model"], "how do I reset my password", usage=False)).scalar()
    try:
        tables = backend.execute(sql.Statement("SELECT COUNT(*) FROM faq")).scalar()
    except Exception as exc:
        tables = type(exc).__name__
    print(json.dumps({"seen": seen, "answer": answer, "tables": tables,
                      "tables_path": str(backend.tables_path)}))
    backend.close()
    """
)


def run_child(path: Path, job_id: str, start: float) -> dict[str, Any]:
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "TMPDIR": str(path.parent),  # fakesnow leaves a directory in TMPDIR on import
        "SNOWFLAKE_DISABLE_PLATFORM_DETECTION": "true",
    }
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), job_id, str(start)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def start_job(path: Path) -> tuple[LocalBackend, str]:
    backend = LocalBackend(path, clock=lambda: START, pending_seconds=2.0, duration=10.0)
    backend.execute(
        sql.Statement(
            "CREATE TABLE faq (prompt VARCHAR, completion VARCHAR) AS SELECT * FROM VALUES "
            "('how do I reset my password', 'Use the reset link.'), "
            "('where is my invoice', 'Under Billing.'), "
            "('how do I close my account', 'Write to support.')"
        )
    )
    job_id = backend.execute(
        sql.finetune_create_sql("faq_bot", base_model="llama3-8b", training=TRAIN)
    ).scalar()
    return backend, str(job_id)


def test_a_job_is_seen_and_finishes_in_another_process(tmp_path: Path):
    path = tmp_path / "cortex"
    backend, job_id = start_job(path)
    try:
        # This backend still holds the table files: the child keeps its tables in memory.
        child = run_child(path, job_id, START)
    finally:
        backend.close()
    assert child["seen"][0] == "PENDING"
    assert "IN_PROGRESS" in child["seen"]
    assert child["seen"][-1] == "SUCCESS"
    assert child["answer"] == "Use the reset link."
    assert child["tables"] == "ProgrammingError"
    assert child["tables_path"] == "None"


def test_tables_persist_once_the_first_backend_is_closed(tmp_path: Path):
    path = tmp_path / "cortex"
    backend, job_id = start_job(path)
    assert backend.tables_path == path / "tables"
    backend.close()

    child = run_child(path, job_id, START + 60)
    assert child["seen"] == ["SUCCESS"]
    assert child["tables"] == 3
    assert child["tables_path"] == str(path / "tables")

    again = LocalBackend(path, clock=lambda: START + 60)
    try:
        assert again.execute(sql.Statement("SELECT COUNT(*) FROM faq")).scalar() == 3
        jobs = json.loads(again.execute(sql.finetune_show_sql()).scalar())
        assert [(j["id"], j["status"]) for j in jobs] == [(job_id, "SUCCESS")]
    finally:
        again.close()


def test_two_backends_in_one_process_share_jobs(tmp_path: Path):
    path = tmp_path / "cortex"
    first, job_id = start_job(path)
    second = LocalBackend(path, clock=lambda: START + 60)
    try:
        assert second.tables_path is None  # the first one holds the table files
        state = json.loads(second.execute(sql.finetune_describe_sql(job_id)).scalar())
        assert state["status"] == "SUCCESS"
        answer = second.execute(
            sql.complete_sql("faq_bot", "where is my invoice", usage=False)
        ).scalar()
        assert answer == "Under Billing."
    finally:
        second.close()
        first.close()


def test_databases_created_by_users_come_back(tmp_path: Path):
    path = tmp_path / "cortex"
    backend = LocalBackend(path)
    cursor = backend.connection().cursor()
    cursor.execute("CREATE DATABASE archive")
    cursor.execute("CREATE SCHEMA archive.old")
    cursor.execute("CREATE TABLE archive.old.notes AS SELECT 'kept' AS note")
    backend.close()

    reopened = LocalBackend(path)
    try:
        rows = reopened.execute(sql.Statement("SELECT note FROM archive.old.notes")).rows
        assert rows == [("kept",)]
    finally:
        reopened.close()

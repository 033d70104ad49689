"""Runs with connector 5.x: statements sent with ``execute_async``, followed with
``get_query_status`` (whose URL differs from 4.x's), attached to, awaited and cancelled from a
client that did not start them. The model takes a fixed time per row, so the statements run
for seconds.
"""

from __future__ import annotations

import time
from typing import Any

from wire5_client import Wire

from cortex_tune import Cortex, RunStatus

ROWS = 30
INSERT = "INSERT INTO R5OUT"
#: Seconds the model takes a row: each of the two statements runs for seconds.
PAUSE = 0.25


def _until(check: Any, what: str) -> Any:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _start(wire: Wire) -> tuple[Cortex, Any]:
    wire.hold(pause=PAUSE)
    cx = wire.connect(poll_min=0.1)
    cx.sql(
        "CREATE OR REPLACE TABLE R5SRC AS SELECT seq4() AS ID, 'p' || seq4() AS PROMPT "
        f"FROM TABLE(GENERATOR(ROWCOUNT => {ROWS}))"
    )
    cx.sql("DROP TABLE IF EXISTS R5OUT")
    run = cx.complete_table(
        "held", source="R5SRC", into="R5OUT", key="ID", prompt="PROMPT", parallel=2, wait=False
    )
    return cx, run


def test_a_run_outlives_its_client_and_another_attaches_and_waits(wire: Wire) -> None:
    first, run = _start(wire)
    assert run.status is RunStatus.RUNNING and len(run.query_ids) == 2
    first.close()  # the statements run on
    other = wire.connect(poll_min=0.1)
    try:
        assert other.runs.describe(run.id).status is RunStatus.RUNNING
        again = other.complete_table(
            "held", source="R5SRC", into="R5OUT", key="ID", prompt="PROMPT", wait=False
        )
        assert again.id == run.id, "the second call attached to the run"
        assert len(wire.statements(INSERT)) == 2, "nothing sent again over the running keys"
        done = other.runs.wait(run.id)
        assert (done.status, done.rows_done) == (RunStatus.SUCCEEDED, ROWS)
        assert other.sql("SELECT COUNT(*), COUNT(DISTINCT ID) FROM R5OUT") == [(ROWS, ROWS)]
    finally:
        other.close()


def test_a_run_is_cancelled_from_another_client(wire: Wire) -> None:
    first, run = _start(wire)
    other = wire.connect(poll_min=0.1)
    try:
        _until(lambda: all(s["running"] for s in wire.statements(INSERT)), "the statements")
        cancelled = other.runs.cancel(run.id)
        assert cancelled.status is RunStatus.CANCELLED
        assert all(s["cancel_requested"] for s in wire.statements(INSERT))
        assert other.sql("SELECT COUNT(*) FROM R5OUT") == [(0,)], "cancelled: nothing commits"
        assert first.runs.wait(run.id).status is RunStatus.CANCELLED
    finally:
        other.close()
        first.close()

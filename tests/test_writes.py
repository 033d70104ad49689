"""Statements that change data (or cost money) never run twice after a lost answer.

On the embedded emulator (real SQL, the engine's query history) through ``LosingBackend``: a
LocalBackend on which chosen statements run and then lose their answer, as a cut connection
would make them; and on FakeBackend (no SQL, a fake clock) for statements still running.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from snowflake.connector.errors import OperationalError

from cortex_tune import (
    Cortex,
    CortexError,
    ModelRequest,
    ObjectNotFoundError,
    StatementMayHaveRunError,
)
from cortex_tune._backends.base import Result
from cortex_tune._core.constants import RECONCILE_WAIT
from cortex_tune._core.statement import Statement
from cortex_tune.testing import FakeBackend, FakeClock

pytest.importorskip("fakesnow")

from cortex_tune._backends.local import LocalBackend

MARKED = re.compile(r"\n/\* cortex-tune:req=[0-9a-f]{32} \*/$")


@dataclass
class _Loss:
    sql: str
    times: int
    before: bool


class LosingBackend(LocalBackend):
    """The embedded emulator, where chosen statements lose their answer.

    ``lose(sql)``: the next statement whose text contains ``sql`` runs, then its answer is lost
    (an OperationalError, as a cut connection gives); with ``before=True`` it is lost on the way
    and never runs.
    """

    def __init__(self) -> None:
        super().__init__()
        self.losses: list[_Loss] = []
        self.sent: list[str] = []

    def lose(self, sql: str, *, times: int = 1, before: bool = False) -> None:
        self.losses.append(_Loss(sql, times, before))

    def execute(self, statement: Statement) -> Result:
        self.sent.append(statement.sql)
        loss = next((x for x in self.losses if x.times > 0 and x.sql in statement.sql), None)
        if loss is None:
            return super().execute(statement)
        loss.times -= 1
        if not loss.before:
            with contextlib.suppress(Exception):  # its error is lost with the answer
                super().execute(statement)
        raise OperationalError(msg="Connection aborted: the answer was lost", send_telemetry=False)

    def runs(self, sql: str) -> list[tuple[str, str]]:
        """(QUERY_ID, EXECUTION_STATUS) of every statement of every session containing ``sql``."""
        return [(r.query_id, r.execution_status) for r in self._engine.history.matching(sql)]


@pytest.fixture
def backend() -> Iterator[LosingBackend]:
    local = LosingBackend()
    yield local
    local.close()


@pytest.fixture
def calls(backend: LosingBackend) -> list[str]:
    """Prompts the model ``counted`` was asked: each is a paid completion."""
    asked: list[str] = []

    def counted(request: ModelRequest) -> str:
        asked.append(request.prompt)
        return f"ans:{request.prompt}"

    backend.register_model("counted", counted)
    return asked


@pytest.fixture
def cx(backend: LosingBackend) -> Cortex:
    clock = FakeClock()  # pauses between looks and attempts take no real time
    return Cortex(backend=backend, clock=clock.time, sleep=clock.sleep)


def _table(cx: Cortex, sql: str) -> list[tuple[Any, ...]]:
    return cx.sql(sql)


# -- a user's statements ---------------------------------------------------------------------


def test_a_lost_insert_is_recovered_from_its_first_run_not_run_again(
    cx: Cortex, backend: LosingBackend
) -> None:
    cx.sql("CREATE TABLE T (ID INT, V STRING)")
    backend.lose("INSERT INTO T")

    rows = cx.sql("INSERT INTO T VALUES (1, 'x'), (2, 'y')")

    assert rows == [(2,)]  # the first run's answer: 2 rows inserted
    assert _table(cx, "SELECT ID, V FROM T ORDER BY ID") == [(1, "x"), (2, "y")]
    inserts = [s for s in backend.sent if s.startswith("INSERT INTO T")]
    assert len(inserts) == 1 and MARKED.search(inserts[0])
    assert [status for _, status in backend.runs("INSERT INTO T")] == ["SUCCESS"]
    # A read carries no marker, and a lost read is simply sent again.
    backend.lose("SELECT 42")
    assert cx.sql("SELECT 42") == [(42,)]
    assert backend.sent.count("SELECT 42") == 2


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("UPDATE T SET N = N + 1 WHERE ID = 1", [(1, 1), (2, 0)]),
        ("DELETE FROM T WHERE ID = (SELECT MIN(ID) FROM T)", [(2, 0)]),
        ("CREATE TABLE C AS SELECT ID, N FROM T", [(1, 0), (2, 0)]),
    ],
)
def test_lost_updates_deletes_and_ctas_take_effect_once(
    cx: Cortex, backend: LosingBackend, statement: str, expected: list[tuple[Any, ...]]
) -> None:
    cx.sql("CREATE TABLE T (ID INT, N INT)")
    cx.sql("INSERT INTO T VALUES (1, 0), (2, 0)")
    backend.lose(statement)

    cx.sql(statement)

    table = "C" if statement.startswith("CREATE") else "T"
    assert _table(cx, f"SELECT ID, N FROM {table} ORDER BY ID") == expected


def test_a_write_the_history_cannot_vouch_for_is_reported_not_sent_again(
    cx: Cortex, backend: LosingBackend
) -> None:
    cx.sql("CREATE TABLE T (ID INT)")
    backend.lose("INSERT INTO T")
    backend.lose("QUERY_HISTORY_BY_SESSION", times=100, before=True)

    with pytest.raises(StatementMayHaveRunError) as info:
        cx.sql("INSERT INTO T VALUES (1)")

    error = info.value
    assert re.fullmatch(r"[0-9a-f]{32}", error.marker)
    assert error.marker in (error.hint or "") and "QUERY_HISTORY_BY_SESSION" in (error.hint or "")
    assert error.op == "sql"
    assert _table(cx, "SELECT ID FROM T") == [(1,)]  # it had run, once
    assert sum(s.startswith("INSERT INTO T") for s in backend.sent) == 1


def test_a_write_missing_from_the_history_is_reported_not_sent_again(
    cx: Cortex, backend: LosingBackend
) -> None:
    cx.sql("CREATE TABLE T (ID INT)")
    backend.lose("INSERT INTO T", before=True)  # it never ran: the history has no trace of it

    with pytest.raises(StatementMayHaveRunError) as info:
        cx.sql("INSERT INTO T VALUES (1)")

    assert "not in the session's query history" in info.value.message
    assert _table(cx, "SELECT COUNT(*) FROM T") == [(0,)]
    assert sum(s.startswith("INSERT INTO T") for s in backend.sent) == 1


def test_a_paid_statement_too_long_for_the_history_is_never_taken_as_not_run(
    cx: Cortex, backend: LosingBackend, calls: list[str]
) -> None:
    # Its marker (at its end) may be cut off in the history: absence proves nothing.
    long = "SELECT SNOWFLAKE.CORTEX.COMPLETE('counted', 'x') /* " + "y" * 100_000 + " */"
    backend.lose("SNOWFLAKE.CORTEX.COMPLETE('counted'", before=True)

    with pytest.raises(StatementMayHaveRunError):
        cx.sql(long)

    assert calls == []
    assert sum("COMPLETE('counted'" in s for s in backend.sent) == 1


def test_a_first_run_that_failed_raises_its_own_error(cx: Cortex, backend: LosingBackend) -> None:
    backend.lose("INSERT INTO MISSING")

    with pytest.raises(ObjectNotFoundError) as info:
        cx.sql("INSERT INTO MISSING VALUES (1)")

    (run,) = backend.runs("INSERT INTO MISSING")
    assert info.value.query_id == run[0] and run[1] == "FAILED_WITH_ERROR"


# -- cortex-tune's own writes ----------------------------------------------------------------


def test_complete_many_is_paid_once_when_its_answer_is_lost(
    cx: Cortex, backend: LosingBackend, calls: list[str]
) -> None:
    prompts = [f"q{i}" for i in range(20)]
    backend.lose("FLATTEN(INPUT => PARSE_JSON(?))")

    results = cx.complete_many("counted", prompts)

    assert [r.text for r in results] == [f"ans:{p}" for p in prompts]
    assert sorted(calls) == sorted(prompts)  # every prompt answered (and paid for) once
    assert any("RESULT_SCAN" in s for s in backend.sent)


def test_complete_many_that_never_ran_is_sent_again(
    cx: Cortex, backend: LosingBackend, calls: list[str]
) -> None:
    backend.lose("FLATTEN(INPUT => PARSE_JSON(?))", before=True)

    results = cx.complete_many("counted", ["a", "b"])

    assert [r.text for r in results] == ["ans:a", "ans:b"]
    assert sorted(calls) == ["a", "b"]
    batches = [s for s in backend.sent if "FLATTEN(INPUT => PARSE_JSON(?))" in s]
    # Sent again, with the same marker, once the history showed it never ran.
    assert len(batches) == 2 and batches[0] == batches[1] and MARKED.search(batches[0])
    between = backend.sent[backend.sent.index(batches[0]) + 1 : len(backend.sent) - 1]
    assert any("QUERY_HISTORY_BY_SESSION" in s for s in between)


def test_evaluate_is_paid_once_when_its_answer_is_lost(
    cx: Cortex, backend: LosingBackend, calls: list[str]
) -> None:
    cx.sql(
        "CREATE TABLE EV AS SELECT 'p' || SEQ4() AS PROMPT, 'ans:p' || SEQ4() AS C FROM TABLE(GENERATOR(ROWCOUNT => 5))"
    )
    backend.lose("AS CORRECT FROM")

    report = cx.evaluate("counted", "SELECT PROMPT AS prompt, C AS completion FROM EV")

    assert report.n == 5 and report.accuracy == 1.0
    assert len(calls) == 5


def test_complete_table_answers_each_key_once_when_its_answer_is_lost(
    cx: Cortex, backend: LosingBackend, calls: list[str]
) -> None:
    cx.sql(
        "CREATE TABLE SRC AS SELECT SEQ4() AS ID, 'p' || SEQ4() AS PROMPT FROM TABLE(GENERATOR(ROWCOUNT => 6))"
    )
    backend.lose("INSERT INTO OUT")

    summary = cx.complete_table("counted", source="SRC", into="OUT", key="ID")

    assert _table(cx, "SELECT ID, COUNT(*) FROM OUT GROUP BY ID ORDER BY ID") == [
        (i, 1) for i in range(6)
    ]
    assert len(calls) == 6
    assert summary.rows_done == 6


@pytest.mark.parametrize(
    ("mode", "lost"),
    [
        ("replace", "INSERT INTO CORTEX_TUNE_RAW_"),
        ("append", "INSERT INTO CORTEX_TUNE_RAW_"),
        ("append", 'INSERT INTO TRAIN ("ID"'),
    ],
)
def test_a_list_load_loads_every_row_once_whatever_answer_is_lost(
    cx: Cortex, backend: LosingBackend, mode: Any, lost: str
) -> None:
    rows = [{"id": i, "prompt": f"p{i}", "completion": f"c{i}"} for i in range(50)]
    backend.lose(lost)

    cx.datasets.load(rows, table="TRAIN", mode=mode)

    assert [x.times for x in backend.losses] == [0]  # the answer was lost
    got = _table(cx, "SELECT ID, PROMPT, COMPLETION FROM TRAIN ORDER BY ID")
    assert got == [(r["id"], r["prompt"], r["completion"]) for r in rows]


@pytest.mark.parametrize("mode", ["replace", "append"])
def test_a_file_load_whose_copy_answer_is_lost_loads_each_row_once(
    cx: Cortex, backend: LosingBackend, tmp_path: Path, mode: Any
) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text(
        "\n".join(json.dumps({"prompt": f"p{i}", "completion": "c"}) for i in range(30))
    )
    backend.lose("COPY INTO CORTEX_TUNE_RAW_")

    cx.datasets.load(path, table="TRAIN_F", mode=mode)

    assert _table(cx, "SELECT COUNT(*), COUNT(DISTINCT PROMPT) FROM TRAIN_F") == [(30, 30)]
    # COPY's first answer (rows loaded, checked against the file) was read back, not re-sent.
    assert sum(s.startswith("COPY INTO") for s in backend.sent) == 1


def test_an_append_the_history_cannot_vouch_for_says_so(cx: Cortex, backend: LosingBackend) -> None:
    backend.lose('INSERT INTO TRAIN_A ("PROMPT"')
    backend.lose("QUERY_HISTORY_BY_SESSION", times=100, before=True)

    with pytest.raises(StatementMayHaveRunError):
        cx.datasets.load([{"prompt": "p", "completion": "c"}], table="TRAIN_A", mode="append")

    assert _table(cx, "SELECT COUNT(*) FROM TRAIN_A") == [(1,)]


# -- statements still running when their answer is lost (FakeBackend, fake clock) -------------


@pytest.fixture
def fake() -> FakeBackend:
    backend = FakeBackend()
    backend.respond("counted", lambda request: f"ans:{request.prompt}")
    return backend


def test_a_batch_still_running_is_waited_for_then_read(fake: FakeBackend) -> None:
    cx = Cortex(backend=fake)
    fake.lose_response(op="complete_many", running=45.0)
    started = fake.clock.time()

    results = cx.complete_many("counted", ["a", "b", "c"])

    assert [r.text for r in results] == ["ans:a", "ans:b", "ans:c"]
    assert fake.ops().count("complete_many") == 1  # never sent again
    assert fake.ops().count("history.result") == 1
    assert fake.clock.time() - started >= 45.0  # it waited for the first run to end


def test_a_batch_the_history_shows_late_is_found_at_a_second_look(fake: FakeBackend) -> None:
    cx = Cortex(backend=fake)
    fake.lose_response(op="complete_many", late=1.0)

    results = cx.complete_many("counted", ["a", "b"])

    assert [r.text for r in results] == ["ans:a", "ans:b"]
    assert fake.ops().count("complete_many") == 1  # not paid for again
    assert fake.ops().count("history.lookup") == 2


def test_a_batch_running_past_the_wait_is_reported_with_its_query_id(fake: FakeBackend) -> None:
    cx = Cortex(backend=fake)
    fake.lose_response(op="complete_many", running=RECONCILE_WAIT * 2)

    with pytest.raises(StatementMayHaveRunError) as info:
        cx.complete_many("counted", ["a"])

    error = info.value
    (run,) = [r for r in fake.history.session(1) if r.query_text.startswith("SELECT f.value")]
    assert error.query_id == run.query_id and "still running" in error.message
    assert run.query_id in (error.hint or "")
    assert fake.ops().count("complete_many") == 1


def test_a_batch_whose_history_cannot_be_read_is_not_paid_for_again(fake: FakeBackend) -> None:
    cx = Cortex(backend=fake)
    fake.lose_response(op="complete_many")
    fake.fail_next(op="history.lookup", times=100)

    with pytest.raises(StatementMayHaveRunError) as info:
        cx.complete_many("counted", ["a"])

    assert isinstance(info.value, CortexError) and info.value.op == "complete_many"
    assert fake.ops().count("complete_many") == 1

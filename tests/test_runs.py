"""Runs on the embedded emulator: warehouse work sent asynchronously, recorded in the runs table,
attached to instead of started twice, split into concurrent key partitions, awaited and
cancelled through ``cx.runs``.

The emulator runs statements submitted asynchronously on threads of its own and keeps Snowflake's
query history (RUNNING while they run); the oracle is the results table and the model's own
count of the prompts it was asked (each is a paid completion).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from cortex_tune import (
    ConfigurationError,
    Cortex,
    ModelRequest,
    PermissionDeniedError,
    QueryError,
    Run,
    RunCancelledError,
    RunNotFoundError,
    RunStatus,
    WaitTimeoutError,
)
from cortex_tune._backends.base import Result, StatementStatus
from cortex_tune._core.statement import Statement

pytest.importorskip("fakesnow")

from snowflake.connector.errors import ProgrammingError

from cortex_tune._backends.local import LocalBackend
from cortex_tune.testing import FakeClock

INSERTS = "INSERT INTO OUT "


class Model:
    """A stand-in model that counts every prompt it is asked, and can be held."""

    def __init__(self) -> None:
        self.asked: Counter[str] = Counter()
        self.release = threading.Event()
        self.release.set()
        self.hold: set[str] | None = None  # prompts held until release (None: all)
        self.started = threading.Event()
        self._lock = threading.Lock()
        self.in_flight = self.most_in_flight = 0
        self.pause = 0.0  # seconds each answer takes (a fixed per-row cost)

    def __call__(self, request: ModelRequest) -> str:
        with self._lock:
            self.asked[request.prompt] += 1
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        self.started.set()
        try:
            if self.hold is None or request.prompt in self.hold:
                assert self.release.wait(timeout=60), "the test never released the model"
            time.sleep(self.pause)
            return f"ans:{request.prompt}"
        finally:
            with self._lock:
                self.in_flight -= 1

    def paid_twice(self) -> list[str]:
        return [p for p, n in self.asked.items() if n > 1]


@pytest.fixture
def model() -> Model:
    return Model()


@pytest.fixture
def backend(model: Model) -> Iterator[LocalBackend]:
    local = LocalBackend()
    local.register_model("counted", model)
    yield local
    model.release.set()
    local.close()


@pytest.fixture
def cx(backend: LocalBackend) -> Cortex:
    return Cortex(backend=backend, poll_min=0.05, owns_backend=False)


def _source(cx: Cortex, rows: int) -> None:
    cx.sql(
        "CREATE OR REPLACE TABLE SRC AS SELECT seq4() AS ID, 'p' || seq4() AS PROMPT "
        f"FROM TABLE(GENERATOR(ROWCOUNT => {rows}))"
    )


def _answered(cx: Cortex) -> tuple[int, int]:
    """(rows, distinct keys) of the results table."""
    return cx.sql("SELECT COUNT(*), COUNT(DISTINCT ID) FROM OUT")[0]


def _inserts(backend: LocalBackend) -> list[Any]:
    return backend._engine.history.matching(INSERTS)


def _table(cx: Cortex, **options: Any) -> Any:
    return cx.complete_table("counted", source="SRC", into="OUT", key="ID", **options)


def _statement_running(backend: LocalBackend) -> None:
    """Wait (bounded) until an INSERT runs in the engine."""
    for _ in range(600):
        if any(r.running for r in _inserts(backend)):
            return
        threading.Event().wait(0.05)
    raise AssertionError("no statement started")


def _statements_ended(backend: LocalBackend) -> None:
    """Wait (bounded) until no INSERT runs in the engine."""
    for _ in range(600):
        if not any(r.running for r in _inserts(backend)):
            return
        threading.Event().wait(0.05)
    raise AssertionError("a statement never ended")


# -- partitions ----------------------------------------------------------------------------------


def test_a_large_table_is_answered_by_concurrent_partitions_each_key_once(
    cx: Cortex, backend: LocalBackend, model: Model
) -> None:
    _source(cx, 2500)
    model.pause = 0.0005
    summary = _table(cx, parallel=4)
    run = cx.runs.describe(summary.run_id)

    assert (summary.rows_done, summary.stopped, run.status) == (2500, "done", RunStatus.SUCCEEDED)
    assert _answered(cx) == (2500, 2500)
    assert model.paid_twice() == [] and len(model.asked) == 2500
    # four lanes and the probe, every one its own statement, run at the same time
    assert sorted(p.lane for p in run.parts) == [-1, 0, 1, 2, 3]
    assert len(_inserts(backend)) == 5
    assert model.most_in_flight >= 2
    assert sum(p.rows_done or 0 for p in run.parts) == 2500
    assert (run.rows_done, run.rows_todo, run.progress) == (2500, 2500, 1.0)


def test_a_limit_holds_across_partitions(cx: Cortex, model: Model) -> None:
    _source(cx, 3000)
    summary = _table(cx, parallel=3, limit=1000)
    assert (summary.rows_done, summary.stopped) == (1000, "limit")
    assert _answered(cx) == (1000, 1000)
    assert sum(model.asked.values()) == 1000


def test_a_token_budget_holds_across_partitions(cx: Cortex, model: Model) -> None:
    _source(cx, 400)
    summary = _table(cx, parallel=2, token_budget=200, chunk_rows=10)
    per_row = summary.tokens / summary.rows_done
    assert summary.stopped == "token_budget"
    assert summary.tokens >= 200
    # it stops after the chunks that reach the budget: at most one chunk per lane beyond it
    assert summary.tokens < 200 + 2 * 10 * per_row
    assert summary.rows_done < 400
    assert _answered(cx)[0] == _answered(cx)[1] == summary.rows_done


def test_parallel_is_bounded(cx: Cortex) -> None:
    _source(cx, 10)
    with pytest.raises(ConfigurationError, match="parallel must be 1 to 32"):
        _table(cx, parallel=33)
    with pytest.raises(ConfigurationError, match="need wait=True"):
        _table(cx, token_budget=10, wait=False)


# -- outliving the call ----------------------------------------------------------------------------


def test_wait_false_returns_the_run_which_any_client_can_wait_for(
    cx: Cortex, backend: LocalBackend, model: Model
) -> None:
    _source(cx, 50)
    model.release.clear()
    run = _table(cx, wait=False)
    assert isinstance(run, Run) and run.status is RunStatus.RUNNING
    assert run.rows_todo == 50 and len(run.query_ids) == 1

    other = Cortex(backend=backend, poll_min=0.05, owns_backend=False)
    listed = other.runs.list()
    assert [(r.id, r.status) for r in listed] == [(run.id, RunStatus.RUNNING)]
    model.release.set()
    done = other.runs.wait(run.id)

    assert (done.status, done.rows_done, done.tokens > 0) == (RunStatus.SUCCEEDED, 50, True)
    assert _answered(cx) == (50, 50) and model.paid_twice() == []


def test_ctrl_c_while_waiting_stops_the_waiting_never_the_work(
    cx: Cortex, backend: LocalBackend, model: Model
) -> None:
    _source(cx, 20)
    model.release.clear()

    def interrupt(run: Any) -> None:
        if run.status is RunStatus.RUNNING:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # Ctrl-C in complete_table's own wait
        _table(cx, progress=interrupt)
    (run,) = cx.runs.list()
    with pytest.raises(KeyboardInterrupt):  # and in runs.wait
        cx.runs.wait(run.id, progress=interrupt)

    assert cx.runs.describe(run.id).status is RunStatus.RUNNING
    assert not any(r.status != "RUNNING" for r in _inserts(backend)), "nothing was cancelled"
    model.release.set()
    assert cx.runs.wait(run.id).status is RunStatus.SUCCEEDED
    assert _answered(cx) == (20, 20) and model.paid_twice() == []


def test_a_rerun_while_the_first_still_runs_attaches_and_sends_nothing_twice(
    cx: Cortex, backend: LocalBackend, model: Model
) -> None:
    _source(cx, 30)
    model.release.clear()
    first = _table(cx, wait=False)
    _statement_running(backend)

    again = _table(cx, wait=False)

    assert again.id == first.id
    assert len(_inserts(backend)) == 1, "no second statement over the running keys"
    waiting: list[Any] = []
    attached = threading.Thread(target=lambda: waiting.append(_table(cx)))  # attaches, waits
    attached.start()
    model.release.set()
    attached.join(timeout=60)
    assert waiting[0].run_id in (first.id, None) or waiting[0].rows_done == 0
    cx.runs.wait(first.id)
    assert _answered(cx) == (30, 30) and model.paid_twice() == []
    assert len(_inserts(backend)) == 1


def test_a_rerun_starts_only_the_partitions_no_running_statement_covers(
    cx: Cortex, backend: LocalBackend, model: Model
) -> None:
    _source(cx, 40)
    lane = dict(cx.sql("SELECT 'p' || ID, MOD(ABS(HASH(ID)), 2) FROM SRC"))
    model.hold = {p for p, n in lane.items() if n == 1}  # lane 1 is held, lane 0 is not
    model.release.clear()
    first = _table(cx, parallel=2, limit=10, wait=False)  # 5 keys per lane
    assert first.status is RunStatus.RUNNING
    (ended,) = [p.query_id for p in first.parts if p.lane == 0]
    for _ in range(600):  # lane 0 ends (with keys left), lane 1 is held
        if backend.status(str(ended)).succeeded:
            break
        threading.Event().wait(0.05)

    again = _table(cx, parallel=2, wait=False)

    assert again.id == first.id
    sent = [p.lane for p in again.parts]
    assert sent.count(1) == 1, "nothing sent again over the lane still running"
    assert sent.count(0) == 2, "the lane no statement covered was started again"
    model.release.set()
    cx.runs.wait(first.id)
    _table(cx, parallel=2)
    assert _answered(cx) == (40, 40) and model.paid_twice() == []


# -- crashes -------------------------------------------------------------------------------------


class Dies(BaseException):
    """The client process ending abruptly (nothing of cortex-tune catches it)."""


class DyingBackend(LocalBackend):
    """The emulator, where the client dies at submission: ``before`` it sends the statement,
    or after Snowflake accepted it but before the query id was written down."""

    def __init__(self, when: str) -> None:
        super().__init__()
        self.when = when

    def submit(self, statement: Statement) -> str:
        if self.when == "before":
            raise Dies()
        query_id = super().submit(statement)
        if self.when == "after":
            raise Dies()
        return query_id


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_client_dying_at_submission_is_resolved_by_the_next_from_the_query_history(
    model: Model, when: str
) -> None:
    dying = DyingBackend(when)
    dying.register_model("counted", model)
    try:
        first = Cortex(backend=dying, poll_min=0.05, owns_backend=False)
        _source(first, 30)
        model.release.clear()
        with pytest.raises(Dies):
            _table(first)
        (claimed,) = first.runs.list()[0].parts
        assert (claimed.status.value, claimed.query_id) == ("SUBMITTING", None)

        dying.when = "never"  # the next client lives
        restarted = Cortex(backend=dying, poll_min=0.05, owns_backend=False)
        restarted.runs.claim_grace = 0.0  # its client is gone: look at once
        run = _table(restarted, wait=False)
        if when == "after":  # its statement runs: found by its marker, and adopted
            assert run.id == claimed.run_id
            assert [p.query_id for p in run.parts] == [r.query_id for r in _inserts(dying)]
        else:  # never sent: given up, and the keys sent anew
            assert run.id != claimed.run_id
        model.release.set()
        run = restarted.runs.wait(run.id)

        assert run.status is RunStatus.SUCCEEDED
        assert _answered(restarted) == (30, 30) and model.paid_twice() == []
        assert len(_inserts(dying)) == 1, "one statement over the keys, whoever sent it"
    finally:
        model.release.set()
        dying.close()


class SlowToSend(LocalBackend):
    """The emulator, where the client stalls between claiming a statement and sending it (a
    laptop put to sleep)."""

    def __init__(self) -> None:
        super().__init__()
        self.claimed = threading.Event()
        self.wake = threading.Event()

    def submit(self, statement: Statement) -> str:
        if threading.current_thread().name == "stalled":
            self.claimed.set()
            assert self.wake.wait(timeout=60)
        return super().submit(statement)


def test_a_statement_sent_after_its_claim_was_given_up_answers_nothing(model: Model) -> None:
    slow = SlowToSend()
    slow.register_model("counted", model)
    try:
        stalled = Cortex(backend=slow, poll_min=0.05, owns_backend=False)
        _source(stalled, 20)
        late: list[Any] = []
        thread = threading.Thread(
            target=lambda: late.append(_table(stalled, wait=False)), name="stalled"
        )
        thread.start()
        assert slow.claimed.wait(timeout=60)

        other = Cortex(backend=slow, poll_min=0.05, owns_backend=False)
        other.runs.claim_grace = 0.0
        summary = _table(other)  # gives the stalled claim up, answers every key
        slow.wake.set()
        thread.join(timeout=60)
        _statements_ended(slow)

        assert summary.rows_done == 20
        statements = list(slow._engine.history.matching(INSERTS))
        assert len(statements) == 2  # the late one ran, and answered nothing
        assert all(r.execution_status == "SUCCESS" for r in statements)
        assert sorted(r.rows_produced for r in statements) == [0, 20]
        assert _answered(other) == (20, 20) and model.paid_twice() == []
    finally:
        slow.wake.set()
        slow.close()


# -- cancel, failures, evaluate --------------------------------------------------------------------


def test_cancel_stops_the_statement_and_a_rerun_answers_the_rest(
    cx: Cortex, backend: LocalBackend, model: Model
) -> None:
    _source(cx, 30)
    model.release.clear()
    run = _table(cx, wait=False)
    _statement_running(backend)
    (query_id,) = run.query_ids

    def release_once_aborting() -> None:
        for _ in range(600):
            if backend.status(query_id) == StatementStatus("ABORTING"):
                break
            threading.Event().wait(0.05)
        model.release.set()

    threading.Thread(target=release_once_aborting).start()
    cancelled = cx.runs.cancel(run.id)

    assert cancelled.status is RunStatus.CANCELLED
    assert backend.status(query_id).failed
    assert _answered(cx) == (0, 0), "a cancelled statement commits nothing"
    with pytest.raises(RunCancelledError):
        cx.runs.wait(run.id, raise_on_error=True)
    assert _table(cx).rows_done == 30
    assert _answered(cx) == (30, 30)


def test_a_statement_that_fails_raises_its_own_typed_error(cx: Cortex) -> None:
    cx.sql("CREATE OR REPLACE TABLE SRC (ID INT, PROMPT STRING)")
    cx.sql("INSERT INTO SRC VALUES (1, 'a'), (2, 'b')")
    source = "SELECT ID, CAST(PROMPT AS INT) AS N FROM SRC"  # fails once rows are read
    with pytest.raises(QueryError) as raised:
        cx.complete_table("counted", source=source, into="OUT", key="ID", prompt="N")
    assert raised.value.op == "complete_table" and raised.value.query_id
    (run,) = cx.runs.list()
    assert (run.status, run.error) == (RunStatus.FAILED, raised.value.message)


def test_evaluate_and_compare_run_as_runs(cx: Cortex, backend: LocalBackend, model: Model) -> None:
    cx.sql(
        "CREATE OR REPLACE TABLE VAL AS SELECT 'p' || seq4() AS PROMPT, 'ans:p' || seq4() AS "
        "COMPLETION FROM TABLE(GENERATOR(ROWCOUNT => 6))"
    )
    run = cx.evaluate("counted", "SELECT * FROM VAL", wait=False)
    assert isinstance(run, Run) and run.kind == "evaluate"
    cx.runs.wait(run.id)
    report = cx.runs.report(run.id)
    assert (report.n, report.accuracy) == (6, 1.0)
    direct = cx.evaluate("counted", "SELECT * FROM VAL")
    assert (direct.n, direct.accuracy) == (6, 1.0)
    backend.register_model("other", lambda r: "no")
    comparison = cx.compare(["counted", "other"], "SELECT * FROM VAL")
    assert [r.accuracy for r in comparison.reports] == [1.0, 0.0]


def test_unknown_runs_and_a_client_without_a_runs_table(backend: LocalBackend) -> None:
    cx = Cortex(backend=backend, owns_backend=False)
    assert cx.runs.list() == []
    with pytest.raises(RunNotFoundError):
        cx.runs.describe("run_nope")
    plain = Cortex(backend=backend, owns_backend=False, runs_table=None)
    _source(plain, 5)
    assert plain.complete_table("counted", source="SRC", into="OUT", key="ID").rows_done == 5
    with pytest.raises(ConfigurationError, match="runs are not recorded"):
        plain.runs.list()
    assert "CORTEX_TUNE_RUNS" not in str(plain.sql("SHOW TABLES"))


def test_runs_are_forward_compatible() -> None:
    run = Run.model_validate_json('{"id": "run_1", "status": "PAUSED", "new_field": 3}')
    assert (run.status, run.status_raw, run.is_terminal) == (RunStatus.UNKNOWN, "PAUSED", False)
    assert Run.model_validate_json(run.model_dump_json()).status_raw == "PAUSED"


def test_a_runs_repr_shows_what_a_user_looks_for_first_and_stays_short(
    cx: Cortex, model: Model
) -> None:
    _source(cx, 30)
    summary = cx.complete_table("counted", source="SRC", into="OUT", key="ID", prompt="PROMPT")
    assert summary.run_id is not None
    shown = repr(cx.runs.describe(summary.run_id))
    assert "status=<RunStatus.SUCCEEDED" in shown and "rows_done=30" in shown
    assert "parameters" not in shown and "datetime" not in shown and len(shown) < 250


# -- what the documentation leaves open (docs/snowflake-contract.md, ASYNC) ------------------------


class StatusSays(LocalBackend):
    """The emulator, where the status request answers ``answer`` (by the status it would give)
    and, with ``hide_history``, another user's session history shows nothing."""

    def __init__(self, answer: dict[str, str], *, hide_history: bool = False) -> None:
        super().__init__()
        self.answer, self.hide_history = answer, hide_history

    def status(self, query_id: str) -> StatementStatus:
        real = super().status(query_id)
        return StatementStatus(self.answer.get(real.name, self.answer.get("*", real.name)))

    def execute(self, statement: Statement) -> Result:
        if self.hide_history and statement.op == "runs.history":
            return Result(rows=[], query_id=None, columns=[])
        return super().execute(statement)


@pytest.mark.parametrize(
    "answer",
    [{"*": "NO_DATA"}, {"FAILED_WITH_ERROR": "ABORTED"}],
    ids=["no-data-from-another-session", "cancelled-reads-aborted"],
)
def test_a_run_is_settled_from_the_history_whatever_the_status_request_answers(
    model: Model, answer: dict[str, str]
) -> None:
    # C-ASYNC-02: the status of another session's statement may read NO_DATA ("Data about the
    # statement is not yet available"), and a cancelled one FAILED_WITH_ERROR or ABORTED ("The
    # query was aborted on the server side."): the query history decides, never the status alone.
    backend = StatusSays(answer)
    backend.register_model("counted", model)
    try:
        cx = Cortex(backend=backend, poll_min=0.05, owns_backend=False)
        cx.runs.no_data_grace = 0.0
        _source(cx, 12)
        if "*" in answer:
            assert cx.complete_table("counted", source="SRC", into="OUT", key="ID").rows_done == 12
            (run,) = cx.runs.list()
            assert run.status is RunStatus.SUCCEEDED and _answered(cx) == (12, 12)
            return
        model.release.clear()
        run = _table(cx, wait=False)
        _statement_running(backend)
        threading.Timer(0.5, model.release.set).start()
        assert cx.runs.cancel(run.id).status is RunStatus.CANCELLED
    finally:
        model.release.set()
        backend.close()


@pytest.mark.parametrize("status", ["answered", "NO_DATA"])
def test_another_users_statement_whose_history_is_hidden(
    model: Model, status: str, caplog: pytest.LogCaptureFixture
) -> None:
    # C-ASYNC-07: QUERY_HISTORY_BY_SESSION shows another user's statements only to a role with
    # MONITOR or OPERATE on the warehouse; whether the status request answers for them is not
    # documented. Answered: the run ends from it. Not: the statement is taken as still running,
    # with a warning naming its user, never as lost.
    backend = StatusSays({} if status == "answered" else {"*": "NO_DATA"})
    backend.register_model("counted", model)
    clock = FakeClock()
    try:
        cx = Cortex(backend=backend, poll_min=0.05, owns_backend=False)
        _source(cx, 8)
        model.release.clear()
        run = _table(cx, wait=False)
        _statement_running(backend)
        cx.sql("UPDATE CORTEX_TUNE_RUNS SET USER_NAME = 'SOMEONE_ELSE'")
        backend.hide_history = True
        model.release.set()
        _statements_ended(backend)
        other = Cortex(backend=backend, owns_backend=False, clock=clock.time, sleep=clock.sleep)
        other.runs.no_data_grace = 0.0
        if status == "answered":
            done = other.runs.wait(run.id, timeout=60)
            assert (done.status, done.rows_done) == (RunStatus.SUCCEEDED, 8)
            return
        with pytest.raises(WaitTimeoutError):
            other.runs.wait(run.id, timeout=60)
        assert other.runs.describe(run.id).status is RunStatus.RUNNING
        assert "SOMEONE_ELSE" in caplog.text
    finally:
        model.release.set()
        backend.close()


class LateCancel(LocalBackend):
    """The emulator, where the statement ends between the status request that saw it running
    and SYSTEM$CANCEL_QUERY; ``refuse`` plays the answer as an error rather than a row."""

    def __init__(self, refuse: bool) -> None:
        super().__init__()
        self.refuse, self.cancel_sent = refuse, False

    def status(self, query_id: str) -> StatementStatus:
        return super().status(query_id) if self.cancel_sent else StatementStatus("RUNNING")

    def execute(self, statement: Statement) -> Result:
        if "SYSTEM$CANCEL_QUERY" in statement.sql:
            self.cancel_sent = True
            if self.refuse:
                raise ProgrammingError(
                    msg="Identified SQL statement is not currently executing.",
                    errno=605,
                    sqlstate="01000",
                )
        return super().execute(statement)


@pytest.mark.parametrize("refuse", [False, True], ids=["a-row", "an-error"])
def test_cancelling_a_statement_that_just_ended_returns_the_run_as_it_ended(
    model: Model, refuse: bool
) -> None:
    # C-ASYNC-05: what SYSTEM$CANCEL_QUERY answers for a statement no longer running is not
    # documented: a row saying so, or an error. Either way cancel() returns the run as it ended.
    backend = LateCancel(refuse)
    backend.register_model("counted", model)
    try:
        cx = Cortex(backend=backend, poll_min=0.05, owns_backend=False)
        _source(cx, 6)
        run = _table(cx, wait=False)
        _statements_ended(backend)
        ended = cx.runs.cancel(run.id)
        assert backend.cancel_sent
        assert (ended.status, ended.rows_done) == (RunStatus.SUCCEEDED, 6)
    finally:
        backend.close()


class NotYours(LocalBackend):
    """The emulator, where SYSTEM$CANCEL_QUERY is refused for want of privileges."""

    def execute(self, statement: Statement) -> Result:
        if "SYSTEM$CANCEL_QUERY" in statement.sql:
            raise ProgrammingError(
                msg="Insufficient privileges to operate on query", errno=3001, sqlstate="42501"
            )
        return super().execute(statement)


def test_a_cancel_refused_for_want_of_privileges_is_raised(model: Model) -> None:
    # C-ASYNC-05: "Canceling running operations executed by another user requires a role with
    # one of the following privileges: OWNERSHIP on the user ... OPERATE or OWNERSHIP on the
    # warehouse ... ACCOUNTADMIN role." The refusal is raised, not taken as "it had ended".
    backend = NotYours()
    backend.register_model("counted", model)
    clock = FakeClock()
    try:
        cx = Cortex(backend=backend, owns_backend=False, clock=clock.time, sleep=clock.sleep)
        _source(cx, 5)
        model.release.clear()
        run = _table(cx, wait=False)
        _statement_running(backend)
        with pytest.raises(PermissionDeniedError, match="Insufficient privileges") as raised:
            cx.runs.cancel(run.id)
        assert "OPERATE or OWNERSHIP on the warehouse" in str(raised.value.hint)
        assert backend.status(run.query_ids[0]).running, "the statement goes on"
    finally:
        model.release.set()
        backend.close()


class NoCreate(LocalBackend):
    """An account whose role may not create tables in the current schema, refusing with
    ``message`` (Snowflake does not document the words: contract C-PRIV-12)."""

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    def execute(self, statement: Statement) -> Result:
        if statement.sql.startswith("CREATE TABLE IF NOT EXISTS CORTEX_TUNE_RUNS"):
            from snowflake.connector.errors import ProgrammingError

            raise ProgrammingError(msg=self.message, errno=3001, sqlstate="42501")
        return super().execute(statement)


@pytest.mark.parametrize(
    "message",
    [
        "SQL access control error:\nInsufficient privileges to operate on schema 'PUBLIC'",
        "SQL compilation error:\nCannot create a table in schema 'PUBLIC'.",
    ],
    ids=["insufficient-privileges", "other-words"],
)
def test_a_role_that_may_not_create_the_runs_table_is_told_its_ways_out(
    model: Model, message: str
) -> None:
    cx = Cortex(backend=NoCreate(message), poll_min=0.05)
    cx.backend.register_model("counted", model)  # type: ignore[attr-defined]
    _source(cx, 5)
    with pytest.raises(QueryError) as raised:
        cx.complete_table("counted", source="SRC", into="OUT", key="ID", prompt="PROMPT")
    assert "runs_table=None" in (raised.value.hint or "")
    assert "CORTEX_TUNE_RUNS" in (raised.value.hint or "")
    assert sum(model.asked.values()) == 0, "nothing was answered (or paid for)"
    unrecorded = cx.with_options(runs_table=None)
    assert (
        unrecorded.complete_table(
            "counted", source="SRC", into="OUT", key="ID", prompt="PROMPT"
        ).rows_done
        == 5
    )

"""The write campaign: every statement cortex-tune issues that changes data or costs money,
under every way of losing its answer after it ran, over the real connector.

Faults (tests/wire/wire_faults.py ``lost_answer``): the connection closes, a 503 replaces the
answer, or the body stops half-way; once (the connector resubmits the same request id, which the
server answers from the first run, as Snowflake does) or until the connector gives up (then
cortex-tune must recover the answer from the session's query history). The server's own record
of what ran (the engine's query history) and the tables themselves are the oracle: no row twice,
no row missing, no completion paid twice, and every failure a typed cortex-tune error.
"""

from __future__ import annotations

import collections
import datetime
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from wire_faults import INFINITE, http_error, lost_answer
from wire_server import GIVE_UP, SOCKET_TIMEOUT, WireServer, create_job, training_table

from cortex_tune import Cortex, CortexError, ModelRequest, StatementMayHaveRunError, pipelines

ROWS = [{"id": i, "prompt": f"p{i}", "completion": f"c{i}"} for i in range(40)]
PROMPTS = [f"p{i}" for i in range(5)]
FAULTS = {
    "close": ("close", False),
    "503": ("503", False),
    "truncated": ("truncated", False),
    "close-until-given-up": ("close", True),
    "503-until-given-up": ("503", True),
}


@dataclass(frozen=True)
class Case:
    """One write: how to prepare it, run it, and what it must leave."""

    lost: str  # a fragment of the statement whose answer is lost
    act: Callable[[Cortex, Path], Any]
    expect: Callable[[Cortex, Any], tuple[list[Any], list[Any]]]  # (expected, actual) rows
    setup: Callable[[Cortex, Path], None] = lambda cx, tmp: None
    once: bool = True  # not idempotent: must run exactly once
    paid: int = 0  # completions the call pays for


def _rows(cx: Cortex, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in cx.sql(sql)]


def _table(table: str, columns: str, expected: list[tuple[Any, ...]]) -> Any:
    return lambda cx, _: (expected, _rows(cx, f"SELECT {columns} FROM {table}"))


def _two_rows(cx: Cortex, tmp: Path) -> None:
    cx.sql("CREATE OR REPLACE TABLE WT (ID INT, N INT)")
    cx.sql("INSERT INTO WT VALUES (1, 0), (2, 0)")


def _jsonl(tmp: Path) -> Path:
    path = tmp / "rows.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in ROWS), "utf-8")
    return path


def _source(cx: Cortex, tmp: Path) -> None:
    cx.sql("CREATE OR REPLACE TABLE WSRC (ID INT, PROMPT STRING, C STRING)")
    cx.sql(
        "INSERT INTO WSRC VALUES " + ", ".join("(?, ?, ?)" for _ in PROMPTS),
        [v for i, p in enumerate(PROMPTS) for v in (i, p, f"ans:{p}")],
    )


def _labels(cx: Cortex, tmp: Path) -> None:
    _source(cx, tmp)
    cx.sql(
        "CREATE OR REPLACE TABLE WP_LABELS AS SELECT ID, 'ans:' || PROMPT AS RESPONSE, "
        "CAST(NULL AS VARCHAR) AS ERROR, 1 AS TOKENS FROM WSRC"
    )


LOADED = [(r["id"], r["prompt"], r["completion"]) for r in ROWS]
ANSWERS = [(i, f"ans:{p}") for i, p in enumerate(PROMPTS)]

CASES: dict[str, Case] = {
    "sql INSERT": Case(
        "INSERT INTO WT VALUES",
        lambda cx, tmp: cx.sql("INSERT INTO WT VALUES (1, 'a'), (2, 'b')"),
        _table("WT", "ID, V", [(1, "a"), (2, "b")]),
        lambda cx, tmp: cx.sql("CREATE OR REPLACE TABLE WT (ID INT, V STRING)"),
    ),
    "sql UPDATE": Case(
        "UPDATE WT",
        lambda cx, tmp: cx.sql("UPDATE WT SET N = N + 1 WHERE ID = 1"),
        _table("WT", "ID, N", [(1, 1), (2, 0)]),
        _two_rows,
    ),
    "sql DELETE": Case(
        "DELETE FROM WT",
        lambda cx, tmp: cx.sql("DELETE FROM WT WHERE ID = (SELECT MIN(ID) FROM WT)"),
        _table("WT", "ID, N", [(2, 0)]),
        _two_rows,
    ),
    "sql CTAS": Case(
        "CREATE TABLE WC",
        lambda cx, tmp: cx.sql("CREATE TABLE WC AS SELECT ID, N FROM WT"),
        _table("WC", "ID, N", [(1, 0), (2, 0)]),
        lambda cx, tmp: (_two_rows(cx, tmp), cx.sql("DROP TABLE IF EXISTS WC")),
    ),
    "load list: raw INSERT": Case(
        "INSERT INTO CORTEX_TUNE_RAW_",
        lambda cx, tmp: cx.datasets.load(ROWS, table="WL"),
        _table("WL", "ID, PROMPT, COMPLETION", LOADED),
        once=False,
    ),
    "load list: replace": Case(
        "CREATE OR REPLACE TABLE WL COPY GRANTS AS",
        lambda cx, tmp: cx.datasets.load(ROWS, table="WL"),
        _table("WL", "ID, PROMPT, COMPLETION", LOADED),
        once=False,
    ),
    "load list: append": Case(
        'INSERT INTO WLA ("ID"',
        lambda cx, tmp: cx.datasets.load(ROWS, table="WLA", mode="append"),
        _table("WLA", "ID, PROMPT, COMPLETION", [(-1, "old", "row"), *LOADED]),
        lambda cx, tmp: (
            cx.sql(
                'CREATE OR REPLACE TABLE WLA ("ID" NUMBER(38,0), "PROMPT" VARCHAR, "COMPLETION" VARCHAR)'
            ),
            cx.sql("INSERT INTO WLA VALUES (-1, 'old', 'row')"),
        ),
    ),
    "load file: COPY": Case(
        "COPY INTO CORTEX_TUNE_RAW_",
        lambda cx, tmp: cx.datasets.load(_jsonl(tmp), table="WF"),
        _table("WF", "ID, PROMPT, COMPLETION", LOADED),
    ),
    "load file: append": Case(
        "INSERT INTO WFA",
        lambda cx, tmp: cx.datasets.load(_jsonl(tmp), table="WFA", mode="append"),
        _table("WFA", "ID, PROMPT, COMPLETION", LOADED),
        lambda cx, tmp: cx.sql("DROP TABLE IF EXISTS WFA"),
    ),
    "complete_table": Case(
        "INSERT INTO WOUT",
        lambda cx, tmp: cx.complete_table("counted", source="WSRC", into="WOUT", key="ID"),
        _table("WOUT", "ID, RESPONSE", ANSWERS),
        # a table with every key answered sends no statement at all: start from none
        lambda cx, tmp: (_source(cx, tmp), cx.sql("DROP TABLE IF EXISTS WOUT")),
        paid=len(PROMPTS),
    ),
    "complete_many": Case(
        "AS I, AI_COMPLETE",
        lambda cx, tmp: cx.complete_many("counted", PROMPTS),
        lambda cx, results: ([f"ans:{p}" for p in PROMPTS], [r.text for r in results]),
        paid=len(PROMPTS),
    ),
    "evaluate": Case(
        "AS CORRECT FROM",
        lambda cx, tmp: cx.evaluate(
            "counted", "SELECT PROMPT AS prompt, C AS completion FROM WSRC"
        ),
        lambda cx, report: (
            [(f"ans:{p}", 1) for p in PROMPTS],
            [(r.predicted, int(r.correct)) for r in report.rows],
        ),
        _source,
        paid=len(PROMPTS),
    ),
    "finetune.create": Case(
        "FINETUNE('CREATE'",
        lambda cx, tmp: create_job(cx),
        lambda cx, job: ([job.id], [j.id for j in cx.finetune.list()]),
        lambda cx, tmp: training_table(cx),
    ),
    "pipelines.label": Case(
        "INSERT INTO WP_LABELS",
        lambda cx, tmp: pipelines.label(
            cx, "counted", source="WSRC", key="ID", prompt="PROMPT", prefix="WP"
        ),
        _table("WP_LABELS", "ID, RESPONSE", ANSWERS),
        lambda cx, tmp: (_source(cx, tmp), cx.sql("DROP TABLE IF EXISTS WP_LABELS")),
        paid=len(PROMPTS),
    ),
    "pipelines.build_training_table": Case(
        "CREATE OR REPLACE TABLE WP_DATA",
        lambda cx, tmp: pipelines.build_training_table(
            cx, source="WSRC", key="ID", input="PROMPT", prefix="WP"
        ),
        _table(
            "WP_DATA", "ID, PROMPT, COMPLETION", [(i, p, f"ans:{p}") for i, p in enumerate(PROMPTS)]
        ),
        _labels,
        once=False,
    ),
}


@dataclass
class Campaign:
    """What the campaign found, summed over its cases."""

    cases: int = 0
    duplicated: int = 0
    lost: int = 0
    paid_twice: int = 0
    failures: list[str] = field(default_factory=list)
    untyped: list[str] = field(default_factory=list)
    connector_resubmits: int = 0
    recovered_from_history: int = 0

    def line(self) -> str:
        typed = len(self.failures) - len(self.untyped)
        return (
            f"write campaign: {self.cases} cases, {self.duplicated} duplicated rows, "
            f"{self.lost} lost rows, {self.paid_twice} completions paid twice, "
            f"{len(self.failures)} failures ({typed} typed); {self.connector_resubmits} connector "
            f"resubmits answered from the first run, {self.recovered_from_history} answers "
            "recovered from the query history"
        )


@pytest.fixture(scope="module")
def campaign(wire: WireServer) -> Campaign:
    found = Campaign()
    wire.campaign = found  # type: ignore[attr-defined]  # printed in the tier's summary
    return found


def _count(expected: list[Any], actual: list[Any]) -> tuple[int, int]:
    want, got = collections.Counter(expected), collections.Counter(actual)
    duplicated = sum(max(0, got[k] - want.get(k, 0)) for k in got)
    missing = sum(max(0, n - got.get(k, 0)) for k, n in want.items())
    return duplicated, missing


def _counted(wire: WireServer) -> list[str]:
    asked: list[str] = []

    def counted(request: ModelRequest) -> str:
        asked.append(request.prompt)
        return f"ans:{request.prompt}"

    wire.emulator.register_model("counted", counted)
    return asked


def _run(
    wire: WireServer, case: Case, tmp: Path, arm: Callable[[], None], **options: Any
) -> tuple[Any, CortexError | None, list[str], Cortex]:
    asked = _counted(wire)
    cx = wire.connect(network_timeout=SOCKET_TIMEOUT, **options)
    case.setup(cx, tmp)
    wire.injector.reset()
    arm()
    try:
        return case.act(cx, tmp), None, asked, cx
    except CortexError as error:
        return None, error, asked, cx


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("name", list(CASES))
def test_a_lost_answer_never_runs_a_write_twice(
    wire: WireServer, campaign: Campaign, tmp_path: Path, name: str, fault: str
) -> None:
    case = CASES[name]
    how, until_given_up = FAULTS[fault]
    value, error, asked, cx = _run(
        wire,
        case,
        tmp_path,
        lambda: wire.injector.arm(lost_answer(how, until_given_up=until_given_up, sql=case.lost)),
    )
    try:
        assert not wire.injector.unused(), "the fault was played"
        runs = [
            r for r in wire.engine.history.matching(case.lost) if r.execution_status == "SUCCESS"
        ]
        expected, actual = case.expect(cx, value) if error is None else ([], [])
        duplicated, missing = _count(expected, actual)
        paid_twice = max(0, len(asked) - case.paid)
        campaign.cases += 1
        campaign.duplicated += duplicated + (len(runs) - 1 if case.once and runs else 0)
        campaign.lost += missing
        campaign.paid_twice += paid_twice
        requests = wire.injector.requests(sql=case.lost)
        campaign.connector_resubmits += sum(r.replayed for r in requests)
        campaign.recovered_from_history += bool(wire.injector.requests(sql="RESULT_SCAN("))
        if error is not None:
            campaign.failures.append(f"{name} / {fault}: {type(error).__name__}")
        assert error is None, f"{type(error).__name__}: {error}"
        assert (duplicated, missing, paid_twice) == (0, 0, 0), (expected, actual, asked)
        if case.once:
            assert len(runs) == 1, f"ran {len(runs)} times"
            # cortex-tune sent it under one request id: the rest were the connector's resubmits
            assert len({r.request_id for r in requests}) == 1
    finally:
        cx.close()


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.once and n != "finetune.create"])
def test_a_lost_answer_the_history_cannot_explain_is_a_typed_error_not_a_second_run(
    wire: WireServer, campaign: Campaign, tmp_path: Path, name: str
) -> None:
    case = CASES[name]

    def arm() -> None:
        wire.injector.arm(
            lost_answer("truncated", sql=case.lost),
            http_error(503, times=INFINITE, sql="QUERY_HISTORY_BY_SESSION"),
        )

    _, error, asked, cx = _run(wire, case, tmp_path, arm, retry=GIVE_UP)
    try:
        wire.injector.reset()
        runs = [
            r for r in wire.engine.history.matching(case.lost) if r.execution_status == "SUCCESS"
        ]
        campaign.cases += 1
        campaign.duplicated += max(0, len(runs) - 1)
        campaign.paid_twice += max(0, len(asked) - case.paid)
        if error is not None:
            campaign.failures.append(f"{name} / history unreadable: {type(error).__name__}")
            if not isinstance(error, StatementMayHaveRunError):
                campaign.untyped.append(name)
        assert isinstance(error, StatementMayHaveRunError), error
        assert error.marker and error.op
        assert len(runs) == 1  # it ran once, and was not sent again
        assert len(asked) <= case.paid
    finally:
        cx.close()


def test_the_campaign_found_no_duplicate_and_no_loss(campaign: Campaign) -> None:
    print(f"[measure] {campaign.line()}")
    if campaign.cases < len(CASES) * len(FAULTS):
        pytest.skip("the figure is for the whole campaign; only part of it ran")
    assert (campaign.duplicated, campaign.lost, campaign.paid_twice) == (0, 0, 0)
    assert campaign.untyped == []


def test_the_query_history_reads_over_the_connector(wire: WireServer, cx: Cortex) -> None:
    cx.sql("CREATE OR REPLACE TABLE WH (A INT)")
    cx.sql("INSERT INTO WH VALUES (1)")

    rows = cx.sql(
        "SELECT QUERY_TEXT, EXECUTION_STATUS, SESSION_ID, START_TIME, END_TIME, ROWS_PRODUCED "
        "FROM TABLE(INFORMATION_SCHEMA.QUERY_HISTORY_BY_SESSION()) "
        "WHERE QUERY_TEXT LIKE 'INSERT INTO WH %'"
    )

    ((text, status, session, start, end, produced),) = rows
    assert text.startswith("INSERT INTO WH VALUES (1)\n/* cortex-tune:req=")  # comments kept
    assert (status, produced) == ("SUCCESS", 1)
    assert isinstance(start, datetime.datetime) and end >= start
    assert cx.sql("SELECT CURRENT_SESSION()") == [(str(session),)]


def test_a_session_without_a_current_database_cannot_vouch_for_a_lost_write(
    wire: WireServer, cx: Cortex
) -> None:
    cx.sql("CREATE OR REPLACE TABLE WIRE.PUBLIC.WN (A INT)")
    bare = wire.connect(database=None, schema=None, network_timeout=SOCKET_TIMEOUT, retry=GIVE_UP)
    wire.injector.arm(lost_answer("truncated", sql="INSERT INTO WIRE.PUBLIC.WN"))
    try:
        # The unqualified INFORMATION_SCHEMA function needs a current database.
        with pytest.raises(StatementMayHaveRunError, match="does not have a current database"):
            bare.sql("INSERT INTO WIRE.PUBLIC.WN VALUES (1)")
        qualified = "TABLE(WIRE.INFORMATION_SCHEMA.QUERY_HISTORY_BY_SESSION())"
        assert bare.sql(
            f"SELECT EXECUTION_STATUS FROM {qualified} WHERE QUERY_TEXT LIKE 'INSERT INTO WIRE%'"
        ) == [("SUCCESS",)]
    finally:
        bare.close()
    assert cx.sql("SELECT COUNT(*) FROM WIRE.PUBLIC.WN") == [(1,)]  # it ran, once


def test_a_resubmit_while_the_first_run_still_runs_waits_for_it(
    wire: WireServer, cx: Cortex
) -> None:
    asked: list[str] = []

    def slow(request: ModelRequest) -> str:
        asked.append(request.prompt)
        time.sleep(SOCKET_TIMEOUT + 0.5)  # longer than the connector waits for an answer
        return "late"

    wire.emulator.register_model("slow", slow)

    results = cx.complete_many("slow", ["x"])

    assert [r.text for r in results] == ["late"]
    assert asked == ["x"]  # run once: the resubmit was answered from the first run
    requests = wire.injector.requests(sql="AS I, AI_COMPLETE")
    assert len({r.request_id for r in requests}) == 1 and len(requests) >= 2
    assert [r.replayed for r in requests][1:] == [True] * (len(requests) - 1)

"""Probes through the client's own verbs and the platform: doctor, batches, history, RESULT_SCAN.

Every table a probe makes is named ``CORTEX_TUNE_CONFORMANCE_<KIND>_<RUN>`` and dropped before
the probe ends, whatever happens; source tables are TEMPORARY, so they vanish with the session
even if a drop fails.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from cortex_tune._conformance import reading as r
from cortex_tune._conformance.runner import Context, Finding, Probe, refused
from cortex_tune._core.constants import QUERY_TAG
from cortex_tune._core.errors import CortexError, QueryError
from cortex_tune._core.statement import Statement

_WORD = re.compile(r"[A-Za-z_]{1,40}")
_HISTORY = (
    "SELECT * FROM TABLE(INFORMATION_SCHEMA.QUERY_HISTORY_BY_SESSION(RESULT_LIMIT => 1000)) "
    "WHERE QUERY_ID IN (?, ?)"
)

#: Which contract rows each doctor check reads (by the check's name).
DOCTOR_ROWS: dict[str, tuple[str, ...]] = {
    "warehouse": ("C-PRIV-11",),
    "role": ("C-PRIV-11",),
    "cortex role": ("C-PRIV-01", "C-PRIV-02", "C-PRIV-09"),
    "use ai functions": ("C-PRIV-03",),
    "create model": ("C-PRIV-04", "C-PRIV-10", "C-IDENT-04"),
    "cross-region": ("C-PRIV-06",),
    "model allowlist": ("C-PRIV-07",),
    "functions": ("C-DEPR-02", "C-TOKENS-02"),
    "base model": ("C-ERR-04", "C-LIMITS-06"),
}


def _sql(ctx: Context, text: str, params: tuple[Any, ...] = ()) -> Any:
    return ctx.run(Statement(text, params, "sql"))


def drop(ctx: Context, *tables: str) -> list[str]:
    """Drop ``tables``; the names of those that could not be dropped."""
    left = []
    for table in tables:
        try:
            _sql(ctx, f"DROP TABLE IF EXISTS {table}")
        except CortexError:
            left.append(table)
    return left


def prompts(ctx: Context) -> list[str]:
    """The two prompts of the batch probes (both derived from the settings' prompt)."""
    return [ctx.settings.prompt, ctx.settings.prompt + " Thanks."]


# -- RESULT_SCAN ---------------------------------------------------------------------------------


def scan(ctx: Context) -> Finding:
    """RESULT_SCAN of the previous query, with its id bound, else as a literal."""
    previous = _sql(ctx, "SELECT 1 AS PROBE")
    if previous.query_id is None:
        return Finding(observed={"C-SCAN-01": "this connection reports no query id"})
    refusals: list[QueryError] = []
    for form in ("bound", "literal"):
        ctx.scan_form = form
        try:
            result = ctx.run(ctx.scan_statement("*", previous.query_id))
        except QueryError as exc:
            refusals.append(exc)
            continue
        how = f"read by query id ({form})"
        if refusals:
            how += f"; a bound id was refused: {refused(refusals[0])}"
        same = "same rows" if result.rows == previous.rows else "different rows"
        facts = {"columns": result.columns, "form": form}
        return Finding(
            query_id=result.query_id, observed={"C-SCAN-01": f"{how}, {same}"}, facts=facts
        )
    ctx.scan_form = None
    seen = "; ".join(
        f"{f}: {refused(e)}" for f, e in zip(("bound", "literal"), refusals, strict=False)
    )
    return Finding(error=refusals[-1], observed={"C-SCAN-01": f"refused ({seen})"})


def scan_dml(ctx: Context) -> Finding:
    """RESULT_SCAN of an INSERT: the columns a DML statement's result has (C-SCAN-03)."""
    if ctx.scan_form in (None, "untried"):
        return Finding(skip="not tried: RESULT_SCAN did not work here")
    table = ctx.name("DML")
    _sql(ctx, f"CREATE TEMPORARY TABLE {table} (ID INTEGER)")
    try:
        insert = _sql(ctx, f"INSERT INTO {table} (ID) VALUES (?), (?)", (1, 2))  # noqa: S608
        result = ctx.run(ctx.scan_statement("*", insert.query_id))
    finally:
        left = drop(ctx, table)
    columns = ", ".join(result.columns) or "none"
    finding = Finding(query_id=result.query_id, facts={"columns": result.columns})
    finding.observed["C-SCAN-03"] = f"an INSERT's result read by query id: columns {columns}"
    finding.facts["left_behind"] = left
    return finding


# -- query history -------------------------------------------------------------------------------


def history(ctx: Context) -> Finding:
    """Two marked statements, then QUERY_HISTORY_BY_SESSION: columns, comments, binds, tag."""
    lead, trail, bound = (f"cortex-tune:probe={ctx.token}{k}" for k in ("L", "T", "B"))
    first = _sql(ctx, f"/* {lead} */ SELECT ? AS PROBE", (bound,))
    second = _sql(ctx, f"SELECT 1 AS PROBE /* {trail} */")
    result = _sql(ctx, _HISTORY, (first.query_id, second.query_id))
    columns = [c.upper() for c in result.columns]
    found = {
        row.get("QUERY_ID"): row
        for row in (dict(zip(columns, x, strict=True)) for x in result.rows)
    }
    observed = {
        "C-HIST-01": "QUERY_HISTORY_BY_SESSION(RESULT_LIMIT => n) accepted",
        "C-HIST-05": "unqualified INFORMATION_SCHEMA worked in this session",
        "C-HIST-02": f"{sum(q in found for q in (first.query_id, second.query_id))} of 2 "
        "statements just run were listed at once",
    }
    a, b = found.get(first.query_id), found.get(second.query_id)
    if a is not None and b is not None:
        observed.update(_history_rows(a, b, lead, trail, bound))
    return Finding(query_id=result.query_id, observed=observed, facts={"columns": columns})


def _history_rows(
    a: dict[str, Any], b: dict[str, Any], lead: str, trail: str, bound: str
) -> dict[str, str]:
    text_a, text_b = str(a.get("QUERY_TEXT") or ""), str(b.get("QUERY_TEXT") or "")
    comments = (
        f"a leading comment {'kept' if lead in text_a else 'dropped'}, "
        f"a trailing comment {'kept' if trail in text_b else 'dropped'} in QUERY_TEXT"
    )
    if bound in text_a:
        binds = "QUERY_TEXT shows the bound value"
    else:
        binds = "QUERY_TEXT shows the placeholder" if "?" in text_a else "neither value nor ?"
    status = a.get("EXECUTION_STATUS")
    tag = a.get("QUERY_TAG")
    tagged = "the QUERY_TAG cortex-tune sets is shown" if tag == QUERY_TAG else "another QUERY_TAG"
    return {
        "C-HIST-07": f"{comments}; {tagged if tag else 'QUERY_TAG empty'}",
        "C-HIST-06": binds,
        "C-HIST-03": "EXECUTION_STATUS of a finished statement: "
        + (repr(status) if isinstance(status, str) and _WORD.fullmatch(status) else "unreadable"),
    }


# -- asynchronous statements ---------------------------------------------------------------------

#: Status requests the asynchronous probe makes at most, a quarter second apart at first.
ASYNC_POLLS = 40


def async_statement(ctx: Context) -> Finding:
    """``SELECT 1`` submitted asynchronously: its query id, the statuses it reads on the way to
    its end, its result by query id, and what SYSTEM$CANCEL_QUERY answers once it ended."""
    cx = ctx.cx
    if not cx._can_submit:
        return Finding(skip="this connection cannot submit statements asynchronously")
    query_id = cx._submit(Statement("SELECT 1 AS PROBE", (), "sql"))
    seen: list[str] = []
    for attempt in range(ASYNC_POLLS):
        status = cx._status(query_id, "sql")
        if not seen or seen[-1] != status.name:
            seen.append(status.name)
        if not (status.running or status.unknown):
            break
        cx._sleep(min(2.0, 0.25 * (attempt + 1)))
    observed = {
        "C-ASYNC-01": "execute_async answered a query id at once",
        "C-ASYNC-02": "statuses seen: " + " -> ".join(_status_word(n) for n in seen),
    }
    if ctx.scan_form not in (None, "untried"):
        rows = ctx.run(ctx.scan_statement("*", query_id)).rows
        observed["C-ASYNC-06"] = f"its result read by query id: {len(rows)} row(s)"
    try:
        answer = _sql(ctx, "SELECT SYSTEM$CANCEL_QUERY(?)", (query_id,)).scalar()
    except QueryError as exc:
        observed["C-ASYNC-05"] = f"cancel of an ended statement refused: {refused(exc)}"
    else:
        text = str(answer)
        form = "the documented 'terminated.' text" if text.endswith("terminated.") else None
        form = form or ("'not currently executing'" if "not currently executing" in text else None)
        observed["C-ASYNC-05"] = f"cancel of an ended statement answers a row: {form or 'other'}"
    return Finding(query_id=query_id, observed=observed, facts={"statuses": seen})


def _status_word(name: str) -> str:
    return name if _WORD.fullmatch(name) else "unreadable"


# -- doctor and batches --------------------------------------------------------------------------


def doctor(ctx: Context) -> Finding:
    """cx.doctor(): the state of each check (never its detail)."""
    report = ctx.cx.doctor()
    states = {c.name: c.state for c in report.checks}
    observed: dict[str, str] = {}
    for name, state in states.items():
        for row in DOCTOR_ROWS.get(name, ()):
            seen = f"doctor {name!r}: {state}"
            observed[row] = f"{observed[row]}; {seen}" if row in observed else seen
    return Finding(observed=observed, facts={"checks": states})


def many(generation: str, rows: tuple[str, ...]) -> Callable[[Context], Finding]:
    """cx.complete_many with two prompts and one output token each."""

    def run(ctx: Context) -> Finding:
        cx = ctx.cx if generation == "ai" else ctx.cx.with_options(functions="legacy")
        results = cx.complete_many(ctx.settings.model, prompts(ctx), max_tokens=1)
        answered = sum(x.ok for x in results)
        failures = sorted({type(x.error).__name__ for x in results if x.error is not None})
        seen = f"{answered} of {len(results)} rows answered"
        seen += f"; failed rows: {', '.join(failures)}" if failures else ""
        observed = dict.fromkeys(rows, seen)
        observed["C-LOAD-05"] = "a bound JSON array flattened server-side: accepted"
        return Finding(observed=observed, facts={"answered": answered, "failures": failures})

    return run


def table(kind: str, generation: str, rows: tuple[str, ...]) -> Callable[[Context], Finding]:
    """cx.complete_table over two rows of a TEMPORARY source; ``kind`` "structured" adds a
    response_format. The results table is dropped at the end."""

    def run(ctx: Context) -> Finding:
        source, into, runs = (
            ctx.name(f"{part}_{generation}_{kind}".upper()) for part in ("SRC", "OUT", "RUNS")
        )
        _sql(ctx, f"CREATE TEMPORARY TABLE {source} (ID INTEGER, PROMPT VARCHAR)")
        try:
            insert = f"INSERT INTO {source} (ID, PROMPT) VALUES (1, ?), (2, ?)"  # noqa: S608
            _sql(ctx, insert, tuple(prompts(ctx)))
            summary = _complete_table(ctx, generation, kind, source, into, runs)
            counts = _sql(ctx, _COUNTS.format(into)).rows[0]
        finally:
            left = drop(ctx, into, source, runs)
        total, answered, failed, silent, tokens = (int(x or 0) for x in counts)
        seen = (
            f"{answered} of {total} rows answered, {failed} failed, {silent} NULL answers "
            f"without an error, tokens for {tokens}; cortex-tune counted "
            f"{summary.rows_done} done, {summary.rows_failed} failed"
        )
        observed = dict.fromkeys(rows, seen)
        observed["C-LOAD-01"] = "a TEMPORARY source table worked"
        observed["C-PRIV-12"] = "the probe's own runs table was created in the current schema"
        facts = {"null_answers_without_error": silent, "left_behind": left}
        return Finding(observed=observed, facts=facts)

    return run


_COUNTS = (
    "SELECT COUNT(*), COUNT(RESPONSE), COUNT(ERROR), "
    "SUM(CASE WHEN RESPONSE IS NULL AND ERROR IS NULL THEN 1 ELSE 0 END), COUNT(TOKENS) FROM {}"
)


def _complete_table(
    ctx: Context, generation: str, kind: str, source: str, into: str, runs: str
) -> Any:
    """The run is recorded in a runs table of the probe's own (dropped after it), never in
    the account's CORTEX_TUNE_RUNS."""
    cx = ctx.cx.with_options(functions=None if generation == "ai" else "legacy", runs_table=runs)
    structured = kind == "structured"
    return cx.complete_table(
        ctx.settings.model,
        source=source,
        into=into,
        key="ID",
        max_tokens=ctx.settings.structured_tokens if structured else 1,
        response_format=r.SCHEMA if structured else None,
    )


def platform_probes() -> list[Probe]:
    """RESULT_SCAN and the query history (first: later probes type answers by RESULT_SCAN)."""
    rs = "SELECT * FROM TABLE(RESULT_SCAN(?))"
    return [
        Probe("platform.result_scan", ("C-SCAN-01",), "SELECT 1 AS PROBE; " + rs, 0, scan),
        Probe("platform.result_scan_dml", ("C-SCAN-03",), "INSERT ...; " + rs, 0, scan_dml),
        Probe(
            "platform.query_history",
            ("C-HIST-01", "C-HIST-02", "C-HIST-03", "C-HIST-05", "C-HIST-06", "C-HIST-07"),
            "/* marker */ SELECT ? AS PROBE; SELECT 1 AS PROBE /* marker */; " + _HISTORY,
            0,
            history,
        ),
        Probe(
            "platform.async_statement",
            ("C-ASYNC-01", "C-ASYNC-02", "C-ASYNC-05", "C-ASYNC-06"),
            "SELECT 1 AS PROBE (execute_async); get_query_status; "
            + rs
            + "; SELECT SYSTEM$CANCEL_QUERY(?)",
            0,
            async_statement,
        ),
    ]


def client_probes() -> list[Probe]:
    """The client's own verbs: doctor, complete_many and complete_table in both generations."""
    doctor_rows = tuple(sorted({x for v in DOCTOR_ROWS.values() for x in v}))
    many_shape = "complete_many(model, 2 prompts, max_tokens=1)"
    table_shape = "complete_table(model, source=<2-row TEMPORARY table>, key='ID', max_tokens={})"
    legacy = "cx.with_options(functions='legacy')."
    ai_rows, legacy_rows = ("C-AI-06", "C-AI-07"), ("C-COMPLETE-09",)
    table_ai, table_legacy = ("C-AI-05", "C-AI-07"), ("C-COMPLETE-05", "C-COMPLETE-07")
    return [
        Probe("client.doctor", doctor_rows, "cx.doctor()", 1, doctor),
        Probe("client.complete_many.ai", (*ai_rows, "C-LOAD-05"), "cx." + many_shape, 2,
              many("ai", ai_rows)),
        Probe("client.complete_many.legacy", (*legacy_rows, "C-LOAD-05"), legacy + many_shape, 2,
              many("legacy", legacy_rows)),
        Probe("client.complete_table.ai", (*table_ai, "C-LOAD-01", "C-PRIV-12"),
              "cx." + table_shape.format(1), 2, table("plain", "ai", table_ai)),
        Probe("client.complete_table.legacy_structured", (*table_legacy, "C-LOAD-01"),
              legacy + table_shape.format("<n>, response_format=<schema>"), 2,
              table("structured", "legacy", table_legacy)),
    ]  # fmt: skip

"""FakeBackend: an in-memory Cortex with no SQL engine, for tests of code that uses cortex-tune."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cortex_tune._backends.base import Result
from cortex_tune._core.constants import MARKER_PREFIX
from cortex_tune._core.errors import ConfigurationError
from cortex_tune._core.literals import unquote_literal
from cortex_tune._emulator import Emulator, EngineError, Responder
from cortex_tune._emulator.history import QueryHistory, QueryRecord, like
from cortex_tune.sql import Statement

_MARKER_RE = re.compile(r"^/\* " + re.escape(MARKER_PREFIX) + r"[0-9a-f]+ \*/ ")
_RESULT_SCAN = re.compile(r"RESULT_SCAN\('([^']*)'\)")
#: The one session of a FakeBackend, as the query history knows it.
_SESSION = 1


class FakeClock:
    """A clock that only moves when told to: ``time()`` reads it, ``sleep()`` advances it.

    Example:
        >>> clock = FakeClock(start=100.0)
        >>> clock.sleep(5)
        >>> clock.time()
        105.0
    """

    def __init__(self, start: float = 1_750_000_000.0) -> None:
        self.now = float(start)
        self.slept: list[float] = []

    def time(self) -> float:
        """The current fake time, in seconds since the epoch."""
        return self.now

    def monotonic(self) -> float:
        """Same as :meth:`time`; the fake clock never goes backwards."""
        return self.now

    def sleep(self, seconds: float) -> None:
        """Advance the clock by ``seconds`` (and record the pause)."""
        self.slept.append(seconds)
        self.now += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        """Advance the clock without recording a pause."""
        self.now += seconds


@dataclass
class _Fault:
    make: Callable[[Statement], BaseException]
    after: bool
    op: str | None
    at: int | None
    times: int
    running: float = 0.0
    late: float = 0.0

    def matches(self, statement: Statement, index: int) -> bool:
        if self.times <= 0 or (self.op is not None and statement.op != self.op):
            return False
        return self.at is None or self.at == index


class FakeBackend:
    """An in-memory Cortex: jobs on an injectable clock, scripted models, faults, a statement log.

    FakeBackend runs no SQL. It understands the statements cortex-tune builds (by their ``op``)
    and answers them through the same emulator core as ``Cortex.local()``: jobs move PENDING ->
    IN_PROGRESS -> SUCCESS as its clock advances, duplicate model names get a suffix, errors are
    the connector's own exception classes with Cortex's texts. Every statement is recorded in a
    query history (``fake.history``), from which cortex-tune recovers a statement whose answer
    was lost, as it does from Snowflake's.

    Training queries are looked up in the rows given with :meth:`add_query`; any other query
    trains on ``default_rows`` synthetic pairs.

    Example:
        >>> from cortex_tune import Cortex
        >>> fake = FakeBackend()
        >>> fake.respond("llama3.1-70b", lambda req: "Hello!")
        >>> Cortex(backend=fake).complete("llama3.1-70b", "Hi").text
        'Hello!'

    Args:
        clock: The clock jobs run on (a :class:`FakeClock` by default); the client waits on it.
        job_duration: Seconds every job trains for; None makes it proportional to tokens.
        pending_seconds: Seconds a job stays PENDING.
        tokens_per_second: Training speed when ``job_duration`` is None.
        default_rows: Rows of synthetic pairs for training queries not given to add_query.
        finetune_binds: False emulates an account that refuses bound FINETUNE arguments
            (cortex-tune then sends them as quoted literals).
    """

    def __init__(
        self,
        *,
        clock: FakeClock | None = None,
        job_duration: float | None = 60.0,
        pending_seconds: float = 10.0,
        tokens_per_second: float = 1_000.0,
        default_rows: int = 100,
        finetune_binds: bool = True,
    ) -> None:
        self.clock = clock or FakeClock()
        self.emulator = Emulator(
            clock=self.clock.time,
            duration=job_duration,
            pending_seconds=pending_seconds,
            tokens_per_second=tokens_per_second,
        )
        self.emulator.accepts_bound_finetune = finetune_binds
        self.statements: list[Statement] = []
        self.history = QueryHistory(self.clock.time)
        """Every statement answered, as QUERY_HISTORY_BY_SESSION would show it."""
        self._pending: list[tuple[float, QueryRecord, Result]] = []
        self._hidden: dict[str, float] = {}
        self.default_rows = default_rows
        self._queries: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {}
        self._faults: list[_Fault] = []
        self.closed = False

    def __repr__(self) -> str:
        return (
            f"FakeBackend(statements={len(self.statements)}, jobs={len(self.emulator.store.all())})"
        )

    # -- scripting -------------------------------------------------------------------------------

    def respond(self, model: str, responder: Responder | str) -> None:
        """Make ``model`` answer COMPLETE with ``responder(request)``, or always with a string."""
        if isinstance(responder, str):
            text = responder
            self.emulator.register_model(model, lambda _request: text)
        else:
            self.emulator.register_model(model, responder)

    def add_query(self, query: str, rows: Iterable[Mapping[str, Any]]) -> None:
        """Make training query ``query`` return ``rows`` (dicts of column -> value)."""
        # Snowflake reports unquoted column names upper-cased; rows given as {"prompt": ...}
        # stand for `SELECT ... AS prompt`, so their keys are upper-cased the same way.
        data = [{k.upper(): v for k, v in dict(r).items()} for r in rows]
        columns = list(data[0]) if data else ["PROMPT", "COMPLETION"]
        self._queries[query.strip()] = (columns, [tuple(r.get(c) for c in columns) for r in data])

    def fail_next(
        self,
        error: BaseException | Callable[[Statement], BaseException] | None = None,
        *,
        op: str | None = None,
        times: int = 1,
    ) -> None:
        """Fail the next ``times`` statements (of ``op``, if given) before they run.

        The default error is a transient HTTP 503 from the connector.
        """
        self._faults.append(_Fault(_maker(error, _unavailable), False, op, None, times))

    def fail_on(self, n: int, error: BaseException | None = None) -> None:
        """Fail the ``n``-th statement (1-based, counting every statement) before it runs."""
        self._faults.append(_Fault(_maker(error, _unavailable), False, None, n, 1))

    def lose_response(
        self,
        *,
        op: str = "finetune.create",
        times: int = 1,
        running: float = 0.0,
        late: float = 0.0,
    ) -> None:
        """Run the next ``times`` statements of ``op``, then fail as if the answer was lost.

        With ``running``, the query history shows each of them RUNNING for that many seconds of
        the clock before it shows it succeeded; with ``late``, it shows them only after that
        many seconds.
        """
        self._faults.append(_Fault(_lost, True, op, None, times, running, late))

    def throttle(
        self, *, op: str | None = None, times: int = 1, text: str = "too many requests"
    ) -> None:
        """Refuse the next ``times`` statements with Cortex's throttling error ``text``."""
        self._faults.append(_Fault(lambda st: _throttled(st, text), False, op, None, times))

    def ops(self) -> list[str]:
        """The ``op`` of every statement run so far, in order."""
        return [s.op for s in self.statements]

    # -- Backend ---------------------------------------------------------------------------------

    def execute(self, statement: Statement) -> Result:
        """Answer one statement the way Cortex would."""
        self.statements.append(statement)
        index = len(self.statements)
        self._raise_faults(statement, index, after=False)
        record = self.history.start(_SESSION, statement.sql)
        try:
            self.emulator.check_binds(statement.sql, statement.params)
            result = self._answer(statement, record.query_id)
        except EngineError as exc:
            self.history.fail(record, code=exc.errno, message=exc.msg)
            raise exc.to_connector_error(record.query_id) from None
        except Exception as exc:
            self.history.fail(record, code=getattr(exc, "errno", None), message=str(exc))
            raise
        fault = self._fault(statement, index, after=True)
        if fault is not None and fault.late > 0:
            self._hidden[record.query_id] = self.clock.time() + fault.late
        if fault is not None and fault.running > 0:
            self._pending.append((self.clock.time() + fault.running, record, result))
        else:
            self.history.succeed(record, rows=len(result.rows), result=result, size=_size(result))
        if fault is not None:
            raise fault.make(statement)
        return result

    def close(self) -> None:
        """Nothing to release; recorded for tests."""
        self.closed = True

    def _raise_faults(self, statement: Statement, index: int, *, after: bool) -> None:
        fault = self._fault(statement, index, after=after)
        if fault is not None:
            raise fault.make(statement)

    def _fault(self, statement: Statement, index: int, *, after: bool) -> _Fault | None:
        for fault in self._faults:
            if fault.after == after and fault.matches(statement, index):
                fault.times -= 1
                return fault
        return None

    def _answer(self, statement: Statement, query_id: str) -> Result:
        if statement.op == "history.lookup":
            return self._lookup(statement, query_id)
        if statement.op == "history.result":
            return self._result_scan(statement, query_id)
        if statement.op == "complete_many":
            return Result(rows=self._batch(statement), query_id=query_id, columns=["I", "R"])
        return Result(rows=[(self._dispatch(statement),)], query_id=query_id, columns=["RESULT"])

    def _lookup(self, statement: Statement, query_id: str) -> Result:
        """The marked statements (QUERY_ID, EXECUTION_STATUS, ERROR_CODE, ERROR_MESSAGE)."""
        for due, record, result in list(self._pending):
            if due <= self.clock.time():
                self._pending.remove((due, record, result))
                self.history.succeed(
                    record, rows=len(result.rows), result=result, size=_size(result)
                )
        pattern = str(statement.params[0])
        records = sorted(self.history.session(_SESSION), key=lambda r: r.start_time)
        rows = [
            (r.query_id, r.execution_status, r.error_code, r.error_message)
            for r in records
            if r.query_id != query_id
            and self._hidden.get(r.query_id, 0.0) <= self.clock.time()
            and like(pattern, r.query_text)
        ]
        columns = ["QUERY_ID", "EXECUTION_STATUS", "ERROR_CODE", "ERROR_MESSAGE"]
        return Result(rows=rows, query_id=query_id, columns=columns)

    def _result_scan(self, statement: Statement, query_id: str) -> Result:
        match = _RESULT_SCAN.search(statement.sql)
        kept = self.history.result(match.group(1)) if match else None
        if not isinstance(kept, Result):
            from snowflake.connector.errors import ProgrammingError

            raise ProgrammingError(
                msg=f"Statement {match.group(1) if match else '?'} not found",
                errno=709,
                sqlstate="02000",
                send_telemetry=False,
            )
        return Result(rows=list(kept.rows), query_id=query_id, columns=list(kept.columns))

    def _batch(self, statement: Statement) -> list[tuple[Any, ...]]:
        """complete_many: one row ``(index, answer)`` per prompt of the bound JSON array."""
        sql, params = statement.sql, list(statement.params)
        emu, model, items = self.emulator, params[0], json.loads(str(params[-1]))
        if "AI_COMPLETE(" in sql:
            base = _ai_args(Statement(sql, (model, None, *params[1:-1]), "ai_complete"))
            return [
                (item["i"], _json_or_text(emu.ai_complete(base[0], item["p"], *base[2:])))
                for item in items
            ]
        if len(params) == 2:
            return [(item["i"], emu.try_complete(model, item["p"])) for item in items]
        rows = []
        for item in items:
            messages = item.get("m") or [{"role": "user", "content": item["p"]}]
            answer = emu.try_complete(model, json.dumps(messages), params[1], three_args=True)
            rows.append((item["i"], answer))
        return rows

    def _dispatch(self, statement: Statement) -> Any:
        op, params = statement.op, list(statement.params)
        emu = self.emulator
        if op.startswith("finetune.") and not params:
            params = _literal_args(statement.sql)
        if op.startswith("finetune."):
            verb = op.split(".", 1)[1].upper()
            value = emu.finetune(verb, params, self._run_query)
            return value if isinstance(value, str) else json.dumps(value)
        if op == "complete":
            three = len(params) == 3
            return emu.complete(
                params[0], params[1], params[2] if three else None, three_args=three
            )
        if op == "ai_complete":
            return _json_or_text(emu.ai_complete(*_ai_args(statement)))
        if op == "count_tokens":
            return emu.count_tokens(params[0], params[1])
        if op == "ai_count_tokens":
            return emu.ai_count_tokens("ai_complete", params[0], params[1])
        raise ConfigurationError(
            f"FakeBackend runs no SQL (statement {op!r}); use Cortex.local() for arbitrary SQL"
        )

    def _run_query(self, query: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        key = _MARKER_RE.sub("", query).strip()
        if key in self._queries:
            return self._queries[key]
        rows = [
            (f"synthetic prompt {i}", f"synthetic completion {i}") for i in range(self.default_rows)
        ]
        return ["PROMPT", "COMPLETION"], list(rows)


_LITERAL_ARG = re.compile(r"\s*,\s*(NULL|'(?:[^'\\]|\\.)*')", re.S)


def _literal_args(sql: str) -> list[Any]:
    """The arguments after the verb of a FINETUNE call written with literals (see sql.py)."""
    # Skip past the verb, a plain literal such as 'CREATE'.
    pos = sql.index("'", sql.index("(") + 1)
    pos = sql.index("'", pos + 1) + 1
    args: list[Any] = []
    while match := _LITERAL_ARG.match(sql, pos):
        token = match.group(1)
        args.append(None if token == "NULL" else unquote_literal(token))
        pos = match.end()
    return args


def _size(result: Result) -> int:
    """Roughly the bytes a kept result holds (for the history's memory budget)."""
    return 64 + sum(len(str(value)) for row in result.rows for value in row)


def _ai_args(statement: Statement) -> tuple[Any, ...]:
    sql, params = statement.sql, list(statement.params)
    if "=>" not in sql:
        return (params[0], params[1])
    rest = iter(params[2:])
    parameters = next(rest) if "model_parameters =>" in sql else None
    fmt = next(rest) if "response_format =>" in sql else None
    return (
        params[0],
        params[1],
        parameters,
        fmt,
        "show_details => TRUE" in sql,
        "return_error_details => TRUE" in sql,
    )


def _json_or_text(value: Any) -> Any:
    return value if value is None or isinstance(value, str) else json.dumps(value)


def _maker(
    error: BaseException | Callable[[Statement], BaseException] | None,
    default: Callable[[Statement], BaseException],
) -> Callable[[Statement], BaseException]:
    if error is None:
        return default
    if isinstance(error, BaseException):
        return lambda _st: error
    return error


def _unavailable(_statement: Statement) -> BaseException:
    from snowflake.connector.errors import ServiceUnavailableError

    return ServiceUnavailableError(msg="HTTP 503: Service Unavailable", send_telemetry=False)


def _lost(_statement: Statement) -> BaseException:
    from snowflake.connector.errors import OperationalError

    return OperationalError(
        msg="Connection aborted: the response was lost after the statement ran",
        send_telemetry=False,
    )


def _throttled(statement: Statement, text: str) -> BaseException:
    from snowflake.connector.errors import ProgrammingError

    function = "COMPLETE" if "complete" in statement.op else "FINETUNE"
    return ProgrammingError(
        msg=f"Request failed for external function {function} with remote service error: "
        f"429 '\"{text}\"'",
        errno=100351,
        sqlstate="P0000",
        send_telemetry=False,
    )

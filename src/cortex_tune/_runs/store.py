"""The runs table, read and written through the client's funnel.

Every statement goes through ``Cortex._execute`` (tracing, logging, retries by kind, error
translation); this module only turns rows into :class:`RunPart` models and back.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cortex_tune._core.errors import ObjectNotFoundError, QueryError
from cortex_tune._core.identifiers import validate_name
from cortex_tune._core.statement import Param
from cortex_tune._runs import sql
from cortex_tune._runs.models import RunPart

if TYPE_CHECKING:
    from cortex_tune._client.cortex import Cortex

log = logging.getLogger("cortex_tune")


@dataclass(frozen=True)
class Context:
    """Who is about to claim parts, and Snowflake's clock at that moment."""

    session_id: str
    user: str | None
    now: dt.datetime


@dataclass(frozen=True)
class Claim:
    """A part about to be claimed: what the runs table records before its statement is sent."""

    run_id: str
    part: int
    kind: str
    target: str
    work: str
    parameters: dict[str, Any]
    plan: dict[str, Any]
    lane: int | None
    marker: str
    rows_todo: int | None
    #: The statement's LIMIT (not recorded: ROWS_TODO holds it, or the rows expected).
    limit: int | None = None

    def part_of(self, context: Context) -> RunPart:
        """The part this claim recorded, as read back."""
        return RunPart(
            run_id=self.run_id,
            part=self.part,
            kind=self.kind,
            target=self.target,
            lane=self.lane,
            marker=self.marker,
            session_id=context.session_id,
            user_name=context.user,
            status="SUBMITTING",
            rows_todo=self.rows_todo,
            work=self.work,
            parameters=self.parameters,
            plan=self.plan,
        )

    def values(self, context: Context) -> tuple[Param, ...]:
        """The values of :data:`sql.CLAIMED`, in order."""
        return (
            self.run_id,
            self.part,
            self.kind,
            self.target,
            self.work,
            _dump(self.parameters),
            _dump(self.plan),
            self.lane,
            self.marker,
            context.session_id,
            context.user,
            None,
            "SUBMITTING",
            self.rows_todo,
        )


@dataclass(frozen=True)
class Seen:
    """One run of a marked statement in its session's query history."""

    query_id: str
    status: str
    error_code: Any
    error_message: str | None
    seconds: float | None
    rows: int | None

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCESS"

    @property
    def failed(self) -> bool:
        return self.status.startswith(("FAILED", "ABORTED", "DISCONNECTED"))

    @property
    def cancelled(self) -> bool:
        return self.failed and "cancel" in (self.error_message or "").lower()


class RunStore:
    """The runs table ``table`` of the client ``cx``.

    Args:
        cx: The client whose funnel runs every statement.
        table: The runs table (``CORTEX_TUNE_RUNS`` in the current schema, or qualified).
    """

    def __init__(self, cx: Cortex, table: str) -> None:
        validate_name(table, what="runs table name")
        self.cx, self.table = cx, table
        self._ready = False
        #: Statements this store ran.
        self.statements = 0

    def _run(self, statement: Any) -> Any:
        self.statements += 1
        return self.cx._execute(statement)

    @property
    def database(self) -> str | None:
        """The database the table is qualified with, if any (for the history function)."""
        parts = self.table.split(".")
        return parts[0] if len(parts) == 3 else None

    def ensure(self) -> None:
        """Make sure the table exists (once per store): read it, and create it only if it is
        missing, so that a runs table someone else created needs no CREATE TABLE privilege."""
        if self._ready:
            return
        try:
            self._run(sql.probe_sql(self.table))
        except ObjectNotFoundError:
            try:
                self._run(sql.create_runs_table_sql(self.table))
            except QueryError as exc:
                # Whatever Snowflake's words for the refusal (they are not documented: contract
                # C-PRIV-12), the ways out are the same.
                exc.hint = (
                    f"cortex-tune records long work in the runs table {self.table}, which "
                    "could not be created here: grant the role CREATE TABLE on the schema, have "
                    "it created once, pass Cortex(runs_table='DB.SCHEMA.T') for a schema the "
                    "role can write, or runs_table=None to run statements synchronously, "
                    "unrecorded."
                )
                raise
        self._ready = True

    def context(self) -> Context:
        """The session that is about to submit, its user, and Snowflake's clock."""
        session, user, now = self._run(sql.context_sql()).rows[0]
        return Context(str(session), None if user is None else str(user), _aware(now))

    def claim(self, claims: Sequence[Claim], context: Context) -> None:
        """Record parts as SUBMITTING (each once, by its marker)."""
        rows = [c.values(context) for c in claims]
        self._run(sql.claim_sql(self.table, rows))

    def started(self, marker: str, query_id: str) -> None:
        """Record a submitted part's query id (if its claim still stands)."""
        self._run(sql.started_sql(self.table, marker, query_id))

    def settle(
        self,
        marker: str,
        state: str,
        *,
        query_id: str | None = None,
        rows_done: int | None = None,
        seconds: float | None = None,
        error: str | None = None,
    ) -> None:
        """Record how a live part ended (or the query id found for it)."""
        statement = sql.settle_sql(
            self.table,
            marker,
            state=state,
            query_id=query_id,
            rows_done=rows_done,
            seconds=seconds,
            error=None if error is None else error[:4000],
        )
        self._run(statement)

    def abandon(self, markers: Sequence[str]) -> None:
        """Mark claimed parts that were never submitted ABANDONED."""
        if markers:
            self._run(sql.abandon_sql(self.table, markers))

    def withdraw(self, markers: Sequence[str]) -> None:
        """Remove this client's claims that were never submitted."""
        if markers:
            self._run(sql.withdraw_sql(self.table, markers))

    def cancelled(self, run_id: str) -> None:
        """Mark the live parts of a run CANCELLED."""
        self._run(sql.cancelled_sql(self.table, run_id))

    def parts(
        self, *, run_id: str | None = None, work: str | None = None, live: bool = False
    ) -> tuple[list[RunPart], dt.datetime]:
        """Parts of a run (or of every run of a work), and Snowflake's clock."""
        statement = sql.parts_sql(self.table, run_id=run_id, work=work, live=live)
        return self._read(statement)

    def recent(self, limit: int) -> tuple[list[RunPart], dt.datetime]:
        """Parts of the most recent runs, and Snowflake's clock."""
        return self._read(sql.recent_runs_sql(self.table, limit=limit))

    def history(self, part: RunPart) -> list[Seen]:
        """The runs of ``part``'s statement in its session's query history, oldest first."""
        if part.session_id is None:
            return []
        statement = sql.session_history_sql(part.session_id, part.marker, database=self.database)
        return [_seen(row) for row in self._run(statement).rows]

    def _read(self, statement: Any) -> tuple[list[RunPart], dt.datetime]:
        result = self._run(statement)
        parts, now = [], dt.datetime.now(dt.timezone.utc)
        for row in result.rows:
            data = sql.row_dict([*sql.COLUMNS, "NOW"], row)
            now = _aware(data.pop("NOW"))
            parts.append(part_of(data))
        return parts, now


def part_of(data: dict[str, Any]) -> RunPart:
    """A row of the runs table (keys upper-cased) as a :class:`RunPart`."""
    lane = data.get("LANE")
    return RunPart(
        run_id=str(data["RUN_ID"]),
        part=int(data.get("PART") or 0),
        kind=str(data.get("KIND") or ""),
        target=str(data.get("TARGET") or ""),
        lane=None if lane is None else int(lane),
        marker=str(data.get("MARKER") or ""),
        session_id=_text(data.get("SESSION_ID")),
        user_name=_text(data.get("USER_NAME")),
        query_id=_text(data.get("QUERY_ID")),
        status=data.get("STATE"),
        rows_todo=_int(data.get("ROWS_TODO")),
        rows_done=_int(data.get("ROWS_DONE")),
        seconds=_float(data.get("SECONDS")),
        error=_text(data.get("ERROR")),
        created_on=_aware(data.get("CREATED")),
        updated_on=_aware(data.get("UPDATED")),
        parameters=_load(data.get("PARAMETERS")),
        plan=_load(data.get("PLAN")),
        work=str(data.get("WORK") or ""),
    )


def _seen(row: Sequence[Any]) -> Seen:
    query_id, status, code, message, start, end, rows = row
    seconds = None
    if start is not None and end is not None:
        begun, ended = _aware(start), _aware(end)
        if begun is not None and ended is not None and ended.timestamp() > 0:
            seconds = max(0.0, (ended - begun).total_seconds())
    return Seen(
        str(query_id),
        str(status or "").upper(),
        code,
        _text(message),
        seconds,
        _int(rows),
    )


def _dump(value: dict[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _load(text: Any) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(str(text))
    except ValueError:
        log.warning("cortex-tune: a runs table row holds JSON it cannot read: %.80s", text)
        return {}
    return value if isinstance(value, dict) else {}


def _aware(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None

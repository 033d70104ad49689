"""LocalBackend: the embedded emulator, real Snowflake SQL on DuckDB (fakesnow) with Cortex.

Needs the ``local`` extra (``pip install "cortex-tune[local]"``). Tables, CTAS, PARSE_JSON,
FLATTEN and MOD splits run for real; ``SNOWFLAKE.CORTEX.FINETUNE / COMPLETE / TRY_COMPLETE /
COUNT_TOKENS`` and ``AI_COMPLETE / AI_COUNT_TOKENS`` are SQL functions of the engine backed by
the emulator core, so SQL pasted from a worksheet works as well as cortex-tune's statements.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cortex_tune._backends.base import Result, StatementStatus
from cortex_tune._core.errors import ConfigurationError
from cortex_tune._emulator import Emulator, Responder
from cortex_tune._emulator.account import Account
from cortex_tune.sql import Statement

if TYPE_CHECKING:
    from cortex_tune._backends._engine import CortexConnection, Engine

__all__ = ["LocalBackend"]

_INSTALL_HINT = 'pip install "cortex-tune[local]"'
if sys.version_info < (3, 11):  # fakesnow 0.12.1 and connector 4.8.1 require 3.11
    _INSTALL_HINT += " in a Python 3.11+ environment (the emulator cannot install on this Python)"
_SIMPLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


class LocalBackend:
    """An in-process Snowflake with Cortex: fakesnow on DuckDB plus the cortex-tune emulator.

    Every statement runs as Snowflake SQL on a fakesnow session (one per thread). The Cortex
    functions answer from the emulator: fine-tuning jobs move PENDING -> IN_PROGRESS ->
    SUCCESS on ``clock``, fine-tuned models answer from an adapter learned from the training
    rows, and base models answer only when registered with :meth:`register_model`.

    With a ``path``, jobs and adapters are kept under it, so another process on the same path
    sees them and can wait for them. Tables are kept under ``path/tables`` too, as DuckDB
    files, but DuckDB lets only one engine open a file at a time: while another LocalBackend
    (in this process or another) holds them, this one keeps its tables in memory
    (``tables_path`` is then None) and still shares the jobs.

    Example:
        >>> from cortex_tune.sql import complete_sql
        >>> backend = LocalBackend()
        >>> backend.register_model("llama3.1-8b", lambda request: "Hi!")
        >>> backend.execute(complete_sql("llama3.1-8b", "Hello", usage=False)).scalar()
        'Hi!'
        >>> backend.close()

    Args:
        path: A directory for jobs, adapters and tables; None keeps everything in memory.
        database: The database sessions start in (created if missing).
        schema: The schema sessions start in (created if missing).
        clock: Seconds since the epoch; inject one to drive jobs in tests.
        tokens_per_second: Training speed: a job lasts ``trained_tokens / tokens_per_second``.
        pending_seconds: How long a job stays PENDING.
        min_duration: The shortest training time, in seconds.
        duration: When set, every job trains for exactly this many seconds.
        finetune_binds: False emulates an account that refuses bound FINETUNE arguments
            (cortex-tune then sends them as quoted literals).
        account: The emulated account's roles, grants and parameters, as the session sees
            them (``CURRENT_ROLE()``, ``SYS_CONTEXT``, ``SHOW GRANTS``, ``SHOW PARAMETERS``).
            The default is a new user's account as Snowflake documents it: SNOWFLAKE.CORTEX_USER
            and USE AI FUNCTIONS granted to PUBLIC, cross-region inference DISABLED, the model
            allowlist ``All``, and the current role (SYSADMIN) owning its schemas.
        answer_shapes: How Cortex's answers are shaped where Snowflake's documentation is silent
            or inconsistent, so that code can be tested against each plausible answer:
            ``{"legacy_structured": "bare" | "wrapped", "ai_details_value": "object" |
            "text"}``. ``legacy_structured``: what COMPLETE with a ``response_format`` returns,
            the schema's object alone (``"bare"``, the default, as the COMPLETE reference says)
            or ``structured_output[0].raw_message`` beside ``usage`` (``"wrapped"``, as other
            pages show). ``ai_details_value``: whether AI_COMPLETE's
            ``return_error_details`` object carries ``value`` as an OBJECT (the default) or as
            JSON text. ``fine_tuned_window``: a fine-tuned model's context window, its
            fine-tuning allotment (``"training"``, the default) or its base model's inference
            window (``"base"``). Omitted keys keep their defaults.
        unavailable_models: Base models this account may not use, e.g. ``["mistral-7b"]``: a
            legacy model it never used ("the account can't start using it"). COMPLETE and
            COUNT_TOKENS refuse them as unknown models, AI_COUNT_TOKENS answers NULL, and
            FINETUNE('CREATE') refuses them as base models.

    Raises:
        ConfigurationError: fakesnow is not installed, or a name is not a plain identifier.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        database: str = "CORTEX_LOCAL",
        schema: str = "PUBLIC",
        clock: Callable[[], float] = time.time,
        tokens_per_second: float = 50_000.0,
        pending_seconds: float = 0.5,
        min_duration: float = 1.0,
        duration: float | None = None,
        finetune_binds: bool = True,
        account: Account | None = None,
        answer_shapes: Mapping[str, str] | None = None,
        unavailable_models: Iterable[str] = (),
    ) -> None:
        for what, name in (("database", database), ("schema", schema)):
            if not _SIMPLE_NAME.fullmatch(name):
                raise ConfigurationError(f"{what} must be a plain identifier, not {name!r}")
        engine_module = _engine_module()
        self.path = Path(path) if path is not None else None
        self.database = database.upper()
        self.schema = schema.upper()
        self.emulator = Emulator(
            path=self.path,
            clock=clock,
            tokens_per_second=tokens_per_second,
            pending_seconds=pending_seconds,
            min_duration=min_duration,
            duration=duration,
            database=self.database,
            schema=self.schema,
            answer_shapes=answer_shapes,
        )
        self.emulator.accepts_bound_finetune = finetune_binds
        self.emulator.unavailable_models = {m.strip().lower() for m in unavailable_models}
        self._engine: Engine = engine_module.open_engine(
            self.emulator, self.path, self.database, self.schema
        )
        self.account = self._engine.account = account if account is not None else Account()
        self._tables: Path | None = self._engine.tables
        self._local = threading.local()
        # Weak, so that the finalizer below does not keep the connections (and through them
        # this backend) alive; each connection keeps its backend alive instead.
        self._connections: weakref.WeakSet[CortexConnection] = weakref.WeakSet()
        self._submitted: list[tuple[str, threading.Thread]] = []
        self._lock = threading.Lock()
        # Closing on collection frees the tables and the engine for reuse even when close()
        # is never called; the engine itself stays referenced (see _engine._ENGINES).
        self._finalizer = weakref.finalize(
            self, _shutdown, self._engine, self._connections, self._submitted
        )
        # At interpreter exit the engines are closed wholesale (see _engine._close_engines).
        self._finalizer.atexit = False

    @property
    def tables_path(self) -> Path | None:
        """The directory holding this backend's tables, or None when they are in memory."""
        return self._tables

    def __repr__(self) -> str:
        where = f"path={str(self.path)!r}" if self.path is not None else "in memory"
        return f"LocalBackend({where}, database={self.database!r}, schema={self.schema!r})"

    def execute(self, statement: Statement) -> Result:
        """Run one statement on this thread's session and fetch every row.

        Raises:
            snowflake.connector.errors.ProgrammingError: A SQL error, or a Cortex function's
                error with Cortex's text, errno and SQLSTATE (as a real account raises it).
        """
        cursor = self._session().cursor()
        cursor.execute(statement.sql, list(statement.params) or None)
        rows = [tuple(row) for row in cursor.fetchall()]
        columns = _columns(cursor)
        query_id = cursor.sfqid or str(uuid.uuid4())
        # fakesnow keeps every result for RESULT_SCAN; statements of this backend are fetched
        # here, so keeping them would only grow memory with every call.
        self._engine.fs.results_cache.pop(query_id, None)
        return Result(rows=rows, query_id=query_id, columns=columns)

    def stream(
        self, statement: Statement, batch_size: int
    ) -> Iterator[tuple[list[str], list[tuple[Any, ...]]]]:
        """Run one statement and yield its rows ``batch_size`` at a time."""
        cursor = self._session().cursor()
        cursor.execute(statement.sql, list(statement.params) or None)
        columns = _columns(cursor)
        try:
            while rows := cursor.fetchmany(batch_size):
                yield columns, [tuple(row) for row in rows]
        finally:
            self._engine.fs.results_cache.pop(cursor.sfqid or "", None)

    def submit(self, statement: Statement) -> str:
        """Start one statement on its own and return its query id at once (``execute_async``).

        It runs on a session of its own but shows in this thread's session's query history,
        RUNNING from the moment its id is returned; :meth:`status` reads how it is doing, and
        ``SYSTEM$CANCEL_QUERY`` stops it. The emulator's warehouse is this process: closing
        the backend (or ending the process) cancels what still runs.
        """
        from cortex_tune._backends import _engine_async

        query_id, thread = _engine_async.submit(
            self._engine, self._session(), statement.sql, list(statement.params) or None
        )
        with self._lock:
            self._submitted[:] = [(q, t) for q, t in self._submitted if t.is_alive()]
            self._submitted.append((query_id, thread))
        return query_id

    def status(self, query_id: str) -> StatementStatus:
        """The status of a statement (of any session of this engine) by its query id:
        RUNNING, ABORTING, SUCCESS, FAILED_WITH_ERROR, or NO_DATA when the id is unknown."""
        from cortex_tune._backends import _engine_async

        return StatementStatus(_engine_async.status(self._engine.history, query_id))

    def connection(self) -> Any:
        """A new PEP 249 connection (qmark paramstyle) for your own SQL, e.g. worksheet SQL.

        It sees the same tables and Cortex functions as the backend. Use it from one thread
        at a time; it is closed with the backend.

        Example:
            >>> backend = LocalBackend()
            >>> cursor = backend.connection().cursor()
            >>> cursor.execute("SELECT SNOWFLAKE.CORTEX.FINETUNE('SHOW')").fetchone()
            ('[]',)
            >>> backend.close()
        """
        return self._open()

    def register_model(
        self, name: str, model: Responder | str, remote_model: str | None = None
    ) -> None:
        """Make base model ``name`` answer COMPLETE and AI_COMPLETE offline.

        Args:
            name: The Cortex model name, e.g. ``"llama3.1-70b"``.
            model: A callable taking a ``ModelRequest`` and returning text (or a JSON value),
                or the base URL of an OpenAI-compatible endpoint (a local Ollama or vLLM).
            remote_model: The endpoint's own model name, when ``model`` is a URL.
        """
        self.emulator.register_model(name, model, remote_model=remote_model)

    def close(self) -> None:
        """Close every session this backend opened and release its tables.

        Connections from :meth:`connection` are closed too. Jobs, adapters and tables under
        ``path`` stay for the next backend. The DuckDB engine is kept for the next LocalBackend
        of this process to reuse (a DuckDB 2.0 bug makes freeing it unsafe).
        """
        self._finalizer()

    def _session(self) -> CortexConnection:
        conn: CortexConnection | None = getattr(self._local, "conn", None)
        if conn is None or conn.is_closed():
            conn = self._local.conn = self._open()
        return conn

    def _open(self) -> CortexConnection:
        if not self._finalizer.alive:
            raise ConfigurationError("this LocalBackend is closed")
        conn = self._engine.connect(self.database, self.schema)
        conn.owner = self
        with self._lock:
            self._connections.add(conn)
        return conn


def _engine_module() -> Any:
    try:
        import fakesnow.instance  # noqa: F401
    except ImportError as exc:
        raise ConfigurationError(
            f"Cortex.local() needs fakesnow and snowflake-connector-python 4.x ({exc})",
            hint=_INSTALL_HINT,
        ) from exc
    from cortex_tune._backends import _engine

    return _engine


def _columns(cursor: Any) -> list[str]:
    return list(_engine_module().result_columns(cursor))


#: Seconds closing waits for cancelled statements to stop before releasing the engine.
_STOP_WAIT = 30.0


def _shutdown(
    engine: Engine,
    connections: weakref.WeakSet[CortexConnection],
    submitted: list[tuple[str, threading.Thread]],
) -> None:
    for query_id, thread in list(submitted):
        if thread.is_alive():
            engine.history.cancel(query_id)
    for _, thread in list(submitted):
        thread.join(timeout=_STOP_WAIT)
    for conn in list(connections):
        if not conn.is_closed():
            conn.close()
    engine.release()

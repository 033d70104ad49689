"""The SQL engine behind LocalBackend: fakesnow on DuckDB with Cortex's functions installed.

Snowflake SQL is translated by fakesnow and runs on DuckDB. The Cortex functions are Python
functions registered on the DuckDB connection and exposed under their Snowflake names:

- ``SNOWFLAKE.CORTEX.FINETUNE / COMPLETE / TRY_COMPLETE / COUNT_TOKENS`` are macros in an
  attached ``SNOWFLAKE`` catalog, one overload per arity, shared by every session;
- ``AI_COMPLETE`` / ``AI_COUNT_TOKENS`` are unqualified, so they are per-session temporary
  macros (DuckDB looks unqualified names up in ``temp`` and the current schema only); their
  default parameters make Snowflake's named arguments (``model => ...``) work unchanged.

Every macro passes ``current_database()`` and ``current_schema()`` along, so a function call
runs in the calling session's context whatever thread DuckDB evaluates it on. Arguments whose
type varies (options objects, message arrays, VARIANT columns) travel as JSON text. Sessions
keep the case of object literal keys, as Snowflake does (fakesnow alone upper-cases them).

This module imports fakesnow; only LocalBackend imports it, after checking it is installed.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import logging
import re
import threading
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
from duckdb.func import FunctionNullHandling
from fakesnow.conn import FakeSnowflakeConnection
from fakesnow.cursor import FakeSnowflakeCursor
from fakesnow.instance import FakeSnow
from snowflake.connector.cursor import DictCursor, SnowflakeCursor
from snowflake.connector.errors import Error as ConnectorError
from sqlglot import exp

from cortex_tune._backends import _history_sql
from cortex_tune._backends._engine_sql import catalog_sql, install_session, show_from_account
from cortex_tune._emulator import Emulator, EngineError
from cortex_tune._emulator import errors as _errors
from cortex_tune._emulator.account import Account
from cortex_tune._emulator.history import QueryHistory

#: Every engine that ever had functions registered. DuckDB 2.0 crashes when the connection
#: that registered a Python function is collected while a cursor can still call it
#: (duckdb/duckdb-python#530), so engines are never freed: a released one is reused.
_ENGINES: list[Engine] = []


@atexit.register
def _close_engines() -> None:
    # Closing them in order at exit (no query can run any more) keeps DuckDB's bindings from
    # reporting the engines as leaked objects on stderr.
    for engine in _ENGINES:
        with contextlib.suppress(duckdb.Error):
            engine.fs.duck_conn.close()


log = logging.getLogger("cortex_tune")

_ARROW_WARNING = "Arrow output on a DB-API result"
_DUCKDB_DEFAULTS = {"memory", "main", "temp", "system"}

#: Stretches of SQL text that are not code: string constants (backslash escapes and doubled
#: quotes), $$ strings, comments and quoted identifiers.
_VERBATIM = re.compile(
    r"""('(?:[^'\\]|\\.|'')*'|\$\$.*?\$\$|/\*.*?\*/|--[^\n]*|"(?:[^"]|"")*")""", re.S
)


class CortexFunctionError(Exception):
    """Carries an encoded EngineError out of a DuckDB function call (see errors.encode)."""


def _from_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _to_text(value: Any) -> str | None:
    # VARIANT results reach users as JSON text, as the connector returns them.
    return value if value is None or isinstance(value, str) else json.dumps(value)


def _quiet_arrow_copy() -> None:
    # fakesnow reads each result through DuckDB's DB-API arrow path, which warns on every
    # query about a copy the user never asked for; the filter goes first so that it also wins
    # under pytest's `-W error`. Re-inserted only when something displaced it.
    first = warnings.filters[0] if warnings.filters else (None, None)
    if first[0] == "ignore" and getattr(first[1], "pattern", None) == _ARROW_WARNING:
        return
    warnings.filterwarnings("ignore", message=_ARROW_WARNING, category=UserWarning)


class CortexCursor(FakeSnowflakeCursor):
    """A fakesnow cursor whose Cortex function errors are the connector's ProgrammingError, and
    whose statements are recorded in the engine's query history (see ``_history_sql``)."""

    _conn: CortexConnection
    #: The history record of a statement submitted asynchronously, for its execution to use.
    reserved: Any = None

    def _transform(self, expression: Any, params: Any) -> Any:
        expression = _history_sql.transform(expression, self._conn)
        # Grants on tables are not emulated: COPY GRANTS (documented for CREATE OR REPLACE
        # TABLE ... AS SELECT) has nothing to copy here, and fakesnow would log it as unknown.
        for copy_grants in list(expression.find_all(exp.CopyGrantsProperty)):
            copy_grants.pop()
        # Snowflake keeps the keys of object literals ({'max_epochs': 2}) as written; fakesnow
        # upper-cases them like identifiers, which would change option names and the
        # property names of a response_format schema. Quoted, they keep their case.
        for struct in expression.find_all(exp.Struct):
            for item in struct.expressions:
                if isinstance(item, exp.PropertyEQ) and isinstance(item.this, exp.Identifier):
                    item.this.set("quoted", True)
        return super()._transform(expression, params)

    def execute(self, command: str, params: Any = None, *args: Any, **kwargs: Any) -> Any:
        _quiet_arrow_copy()
        return _history_sql.run_recorded(
            self, command, lambda: self._execute_cortex(command, params, *args, **kwargs)
        )

    def _execute_cortex(self, command: str, params: Any, *args: Any, **kwargs: Any) -> Any:
        self._refuse_binds(command, params if params is not None else kwargs.get("binding_params"))
        command, params, kwargs = _history_sql.cancel_query(self._conn, command, params, kwargs)
        command, params, kwargs = show_from_account(self._conn, command, params, kwargs)
        try:
            return super().execute(command, params, *args, **kwargs)
        except (duckdb.Error, ConnectorError) as exc:
            error = _errors.decode(str(exc))  # a Cortex function's error, encoded by _call
            if error is None:
                raise
            self._sqlstate = error.sqlstate  # type: ignore[assignment]  # fakesnow types it None
            raise error.to_connector_error(str(uuid.uuid4())) from None

    def _inline_variables(self, sql: str) -> str:
        # Snowflake reads `$name` as a session variable in code only: inside a string
        # constant, a $$ string, a comment or a quoted identifier it is plain text (fakesnow
        # substitutes it everywhere, so a literal holding '$A' failed).
        inline = super()._inline_variables
        parts = _VERBATIM.split(sql)
        return "".join(part if i % 2 else inline(part) for i, part in enumerate(parts))

    def _refuse_binds(self, command: str, params: Any) -> None:
        """Refuse bound FINETUNE arguments when the emulated account takes constants only."""
        engine = getattr(self._conn, "engine", None)
        emulator = engine.emulator if engine is not None else None
        if emulator is None:
            return
        try:
            emulator.check_binds(command, params)
        except EngineError as exc:
            raise exc.to_connector_error(str(uuid.uuid4())) from None


class CortexConnection(FakeSnowflakeConnection):
    """A fakesnow connection (PEP 249, qmark) on an engine, with the AI_* functions installed."""

    #: The backend that opened it, kept alive as long as the connection is in use.
    owner: Any = None
    #: The engine it is a session of (its account answers SHOW GRANTS / SHOW PARAMETERS).
    engine: Engine | None = None
    #: The engine's query history, and this session's id in it (set by Engine.connect).
    history: QueryHistory
    session_id: int

    def cursor(self, cursor_class: type[SnowflakeCursor] = SnowflakeCursor) -> CortexCursor:
        return CortexCursor(
            conn=self,
            duck_conn=self._duck_conn,
            use_dict_result=issubclass(cursor_class, DictCursor),
        )


class Engine:
    """One fakesnow instance (a DuckDB database) with the Cortex functions installed.

    An engine serves one LocalBackend at a time; its functions call the emulator of the
    backend it currently serves. A released engine is reused by the next backend, since
    engines can never be freed (see ``_ENGINES``).
    """

    def __init__(self) -> None:
        self.emulator: Emulator | None = None
        self.account = Account()
        self.history = QueryHistory()
        self.database = self.schema = ""
        self.tables: Path | None = None
        self.fs = FakeSnow()
        _ENGINES.append(self)
        install(self)

    def start(self, emulator: Emulator, tables: Path | None, database: str, schema: str) -> None:
        """Serve ``emulator``: create (or reopen) the databases, the default one first."""
        self.emulator, self.tables, self.database, self.schema = emulator, tables, database, schema
        self.connect(database, schema).close()
        if tables is None:
            return
        # fakesnow attaches a database file on first use of its name; attach every database a
        # previous session created so that fully qualified names resolve at once.
        for file in sorted(tables.glob("*.db")):
            if re.fullmatch(r"[A-Z_][A-Z0-9_$]*", file.stem):
                self.connect(file.stem, None).close()

    def connect(
        self, database: str | None, schema: str | None, *, create: bool = True
    ) -> CortexConnection:
        """A new session, starting in ``database.schema`` (created when ``create``)."""
        conn = CortexConnection(
            self.fs.duck_conn.cursor(),
            self.fs.results_cache,
            database,
            schema,
            create_database=create,
            create_schema=create,
            db_path=self.tables,
            paramstyle="qmark",
        )
        conn.engine = self
        conn.history, conn.session_id = self.history, self.history.new_session()
        install_session(conn._duck_conn)
        return conn

    def run_query(
        self, query: str, database: str | None, schema: str | None
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run a training query in a second session, in the caller's database and schema."""
        conn = self.connect(database, schema, create=False)
        try:
            cursor = conn.cursor()
            cursor.execute(query)
            rows = [tuple(row) for row in cursor.fetchall()]
            columns = result_columns(cursor)
            self.fs.results_cache.pop(cursor.sfqid or "", None)
            return columns, rows
        except ConnectorError as exc:
            raise EngineError(str(exc)) from exc
        except duckdb.Error as exc:
            raise _errors.decode(str(exc)) or EngineError(str(exc)) from exc
        finally:
            conn.close()

    def release(self) -> None:
        """Drop every user database (closing database files) and return to the pool."""
        self.emulator, self.account = None, Account()
        duck = self.fs.duck_conn
        try:
            for (name,) in duck.execute(_USER_DATABASES).fetchall():
                duck.execute(f"DETACH DATABASE IF EXISTS {_quote(name)}")
            # fakesnow keeps object metadata (comments, stages, users) in its global catalog.
            for schema, table in duck.execute(_GLOBAL_TABLES).fetchall():
                duck.execute(f"DELETE FROM _fs_global.{_quote(schema)}.{_quote(table)}")  # noqa: S608
        except duckdb.Error as exc:
            # Still in use somewhere: leave it out of the pool rather than share its tables.
            log.debug("cortex-tune: engine not reused: %s", exc)
            return
        self.fs.results_cache.clear()
        self.history = QueryHistory()
        with _POOL_LOCK:
            _IDLE.append(self)


_USER_DATABASES = (
    "SELECT database_name FROM duckdb_databases() WHERE NOT internal AND lower(database_name) "
    "NOT IN ('memory', 'system', 'temp', '_fs_global', 'snowflake')"
)
_GLOBAL_TABLES = (
    "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = '_fs_global'"
)
_IDLE: list[Engine] = []
_POOL_LOCK = threading.Lock()


def open_engine(emulator: Emulator, path: Path | None, database: str, schema: str) -> Engine:
    """An engine keeping its tables under ``path/tables``, or in memory when ``path`` is None
    or another engine holds those files (DuckDB lets one engine open a file at a time)."""
    engine = _idle_engine()
    if path is not None:
        tables = path / "tables"
        tables.mkdir(parents=True, exist_ok=True)
        try:
            engine.start(emulator, tables, database, schema)
        except (duckdb.IOException, duckdb.ResourceInUseException) as exc:
            engine.release()
            engine = _idle_engine()
            log.warning(
                "cortex-tune: the tables under %s are open in another engine (%s); "
                "this one keeps its tables in memory and shares only the jobs",
                tables,
                str(exc).splitlines()[0],
            )
        else:
            return engine
    engine.start(emulator, None, database, schema)
    return engine


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _idle_engine() -> Engine:
    with _POOL_LOCK:
        if _IDLE:
            return _IDLE.pop()
    return Engine()


def _call(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` as a DuckDB function: EngineErrors leave it encoded in the exception text."""

    @functools.wraps(fn)  # DuckDB counts the parameters of the signature it reports
    def udf(*args: Any) -> Any:
        try:
            return fn(*args)
        except EngineError as exc:
            raise CortexFunctionError(exc.encode()) from None

    return udf


def _scope(value: str | None) -> str | None:
    return None if value is None or value.lower() in _DUCKDB_DEFAULTS else value


class _Functions:
    """The Python side of one engine's Cortex SQL functions.

    They look the emulator up on each call: it changes when the engine is reused.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _emulator(self) -> Emulator:
        if self.engine.emulator is None:
            raise EngineError("this cortex-tune LocalBackend is closed")
        return self.engine.emulator

    def finetune(self, c: Any, a: Any, b: Any, d: Any, e: Any, o: Any, db: Any, sc: Any) -> Any:
        emu, database, schema = self._emulator(), _scope(db), _scope(sc)

        def run(query: str) -> tuple[list[str], list[tuple[Any, ...]]]:
            return self.engine.run_query(query, database, schema)

        with emu.scope(database, schema):
            return _to_text(emu.finetune(c, [a, b, d, e, _from_json(o)], run))

    def complete(self, m: Any, p: Any, o: Any, three: Any, try_: Any, db: Any, sc: Any) -> Any:
        emu = self._emulator()
        prompt, options = (_from_json(p), _from_json(o)) if three else (p, None)
        call = emu.try_complete if try_ else emu.complete
        with emu.scope(_scope(db), _scope(sc)):
            return call(m, prompt, options, three_args=bool(three))

    def ai_complete(
        self, m: Any, p: Any, mp: Any, rf: Any, sd: Any, red: Any, db: Any, sc: Any
    ) -> Any:
        emu = self._emulator()
        with emu.scope(_scope(db), _scope(sc)):
            return _to_text(emu.ai_complete(m, p, _from_json(mp), _from_json(rf), sd, red))

    def count_tokens(self, ai: Any, f: Any, m: Any, t: Any, db: Any, sc: Any) -> Any:
        emu = self._emulator()
        with emu.scope(_scope(db), _scope(sc)):
            return emu.ai_count_tokens(f, m, t) if ai else emu.count_tokens(m, t)

    def account(self, fact: Any, a: Any, b: Any, c: Any, db: Any) -> Any:
        """A context function answered by the emulated account (see account.Account)."""
        account, database = self.engine.account, _scope(db)
        if fact == "CURRENT_ROLE":
            return account.current_role()
        if fact == "CURRENT_SECONDARY_ROLES":
            return account.current_secondary_roles()
        if fact == "SYS_CONTEXT":
            return None if None in (a, b, c) else account.sys_context(a, b, c, database)
        return None if a is None else str(account.is_database_role_in_session(a, database))


def install(engine: Engine) -> None:
    """Register the Cortex functions on ``engine`` and create the SNOWFLAKE.CORTEX macros."""
    functions, duck = _Functions(engine), engine.fs.duck_conn
    text, flag = "VARCHAR", "BOOLEAN"
    for name, fn, types, result in (
        ("_cortex_finetune", functions.finetune, [text] * 8, text),
        ("_cortex_complete", functions.complete, [text] * 3 + [flag] * 2 + [text] * 2, text),
        ("_cortex_ai_complete", functions.ai_complete, [text] * 4 + [flag] * 2 + [text] * 2, text),
        ("_cortex_count_tokens", functions.count_tokens, [flag] + [text] * 5, "BIGINT"),
        ("_cortex_account", functions.account, [text] * 5, text),
    ):
        # side_effects: DuckDB would otherwise fold a call with constant arguments into one
        # evaluation for a whole table. null_handling: NULL arguments are meaningful here.
        duck.create_function(
            name,
            _call(fn),
            types,  # type: ignore[arg-type]
            result,
            side_effects=True,
            null_handling=FunctionNullHandling.SPECIAL,
        )
    for sql in catalog_sql():
        duck.execute(sql)


def result_columns(cursor: Any) -> list[str]:
    """The column names of the statement ``cursor`` ran."""
    # DuckDB already knows the columns of the statement fakesnow ran; fakesnow's own
    # description re-plans the statement (milliseconds per call), so it is only the fallback.
    duck = getattr(getattr(cursor, "_duck_conn", None), "description", None)
    if duck:
        return [str(column[0]) for column in duck]
    try:
        return [column.name for column in cursor.description]
    except Exception:  # a statement that cannot be described has still run
        return []

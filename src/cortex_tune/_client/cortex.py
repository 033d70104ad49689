"""The Cortex client: connection handling, the one statement funnel, and completions."""

from __future__ import annotations

import dataclasses
import enum
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal

from cortex_tune._backends.base import AsyncBackend, Backend, Result, StatementStatus
from cortex_tune._client.batch import BatchMethods
from cortex_tune._client.inference import InferenceMethods, _is_conversation
from cortex_tune._client.reconcile import run_once
from cortex_tune._core.constants import POLL_MIN, RUNS_TABLE
from cortex_tune._core.deprecation import warn_for
from cortex_tune._core.errors import (
    ConnectionFailedError,
    CortexError,
    UnknownFunctionError,
    translate,
)
from cortex_tune._core.retry import RetryPolicy, call_with_retries
from cortex_tune._core.statement import Generation, Kind, kind_of, mark
from cortex_tune._datasets.datasets import Datasets
from cortex_tune._finetune.jobs import FineTune
from cortex_tune._rest import RestMethods, RestSettings, Transport
from cortex_tune._runs import Runs
from cortex_tune.sql import PromptInput, Statement, new_marker

log = logging.getLogger("cortex_tune")

#: The emulator's jobs last seconds: poll it every quarter second.
LOCAL_POLL_MIN = 0.25

Functions = Literal["auto", "ai", "legacy"]
Tracer = Callable[[str, tuple[Any, ...]], None]


class _Same(enum.Enum):
    """``with_options``: keep this client's setting."""

    SAME = "same"


class Cortex(InferenceMethods, BatchMethods, RestMethods):
    """A client for Snowflake Cortex fine-tuning and inference.

    Build one with :meth:`connect` (connections.toml / ``SNOWFLAKE_*``),
    :meth:`from_connection` (a connection you own), :meth:`from_session` (Snowpark, e.g. in
    Snowflake Notebooks), :meth:`local` (the embedded emulator), or ``Cortex(backend=...)``.

    Example:
        >>> from cortex_tune.testing import FakeBackend
        >>> fake = FakeBackend()
        >>> fake.respond("mistral-7b", "Bonjour")
        >>> with Cortex(backend=fake) as cx:
        ...     cx.complete("mistral-7b", "Say hello in French").text
        'Bonjour'

    Args:
        backend: Where statements run.
        functions: ``"ai"`` for AI_COMPLETE / AI_COUNT_TOKENS, ``"legacy"`` for
            SNOWFLAKE.CORTEX.COMPLETE / COUNT_TOKENS, ``"auto"`` (default) for AI_* with a
            fallback to legacy if the account lacks them (and legacy COMPLETE for
            conversations, which AI_COMPLETE has no documented form for).
        retry: The retry policy for transient failures.
        tracer: Called with ``(sql, params)`` for every statement that runs.
        clock: Seconds, for budgets and waiting (defaults to the backend's clock if it has
            one, as FakeBackend does, else ``time.time``).
        sleep: How to pause (defaults likewise to the backend's clock, else ``time.sleep``).
        owns_backend: Whether closing the client closes the backend.
        poll_min: The shortest pause between two DESCRIBE statements in ``wait()``, seconds
            (the emulator's jobs take seconds, so ``Cortex.local`` polls faster).
        secrets: Values to redact from every error message (``connect`` fills it in).
        transport: ``"auto"`` (default): SQL for single prompts, batches and tables; Cortex's
            Chat Completions REST API for streaming, tools and conversations when REST is
            configured. ``"sql"`` or ``"rest"`` force one (also per call).
        rest: The REST endpoint and credential (``connect`` derives them from the same
            connection settings), or connector-style parameters for them.
        runs_table: Where runs (complete_table, evaluate, compare) are recorded:
            ``CORTEX_TUNE_RUNS`` in the session's current schema by default, or a qualified
            name; every process that should find the runs must use the same. None records
            nothing: those calls then run synchronously, as statements of this client only.
    """

    def __init__(
        self,
        *,
        backend: Backend,
        functions: Functions = "auto",
        retry: RetryPolicy | None = None,
        tracer: Tracer | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
        owns_backend: bool = True,
        poll_min: float = POLL_MIN,
        secrets: Sequence[str] = (),
        transport: Transport = "auto",
        rest: RestSettings | Mapping[str, Any] | None = None,
        runs_table: str | None = RUNS_TABLE,
    ) -> None:
        self._init_rest(transport, rest)
        if functions not in ("auto", "ai", "legacy"):
            raise CortexError(f"functions must be 'auto', 'ai' or 'legacy', not {functions!r}")
        backend_clock = getattr(backend, "clock", None)
        self._backend = backend
        self._functions: Functions = functions
        self._generation: Generation | None = None if functions == "auto" else functions
        self._retry = retry or RetryPolicy()
        self._tracer = tracer
        self._now: Callable[[], float] = clock or getattr(backend_clock, "time", None) or time.time
        self._sleep: Callable[[float], None] = (
            sleep or getattr(backend_clock, "sleep", None) or time.sleep
        )
        self._owns_backend = owns_backend
        self._poll_min = poll_min
        self._secrets = tuple(s for s in secrets if s)
        if self._rest_settings is not None:
            self._secrets += self._rest_settings.secrets
        self.finetune = FineTune(self)
        """Fine-tuning jobs: create, list, describe, cancel, wait, check."""
        self.datasets = Datasets(self)
        """Training data into tables: load, from_s3, split."""
        self.runs = Runs(self, runs_table)
        """Long warehouse work recorded in the runs table: list, describe, wait, cancel."""

    # -- construction ----------------------------------------------------------------------------

    @classmethod
    def connect(cls, connection_name: str | None = None, **connect_kwargs: Any) -> Cortex:
        """Open a connection the way the connector does, and own it.

        Reads ``connection_name`` from connections.toml, else the default connection
        (``SNOWFLAKE_DEFAULT_CONNECTION_NAME``) when no ``account``/``host`` is given;
        keyword arguments override the file. Sets server-side binding, per-attempt and total
        timeouts and a QUERY_TAG naming cortex-tune. Client options (``functions``,
        ``retry``, ``tracer``) may be passed too.
        """
        from cortex_tune._backends.snowflake import SnowflakeBackend, connect_params, secrets_of

        options = _pop_client_options(connect_kwargs)
        params = connect_params(connection_name, connect_kwargs)
        secrets = secrets_of(params)
        options.setdefault("rest", RestSettings.from_params(params))
        import snowflake.connector

        try:
            connection = snowflake.connector.connect(**params)
        except Exception as exc:
            error = translate(exc, op="connect")
            if not isinstance(error, ConnectionFailedError):
                error = ConnectionFailedError(
                    error.message, op="connect", errno=error.errno, sqlstate=error.sqlstate
                )
            error._redact(secrets)
            raise error from None
        return cls(backend=SnowflakeBackend(connection, owned=True), secrets=secrets, **options)

    @classmethod
    def from_connection(cls, connection: Any, **options: Any) -> Cortex:
        """Use a connector connection the caller owns; cortex-tune never closes it."""
        from cortex_tune._backends.snowflake import SnowflakeBackend

        return cls(backend=SnowflakeBackend(connection, owned=False), owns_backend=False, **options)

    @classmethod
    def from_session(cls, session: Any, **options: Any) -> Cortex:
        """Use a Snowpark session (``get_active_session()`` in Snowflake Notebooks)."""
        from cortex_tune._backends.snowflake import SnowparkBackend

        return cls(backend=SnowparkBackend(session), owns_backend=False, **options)

    @classmethod
    def local(cls, path: str | os.PathLike[str] | None = None, **options: Any) -> Cortex:
        """A client on the embedded emulator (needs ``pip install "cortex-tune[local]"``).

        Args:
            path: A directory where jobs (and data) persist; None keeps everything in memory.
            **options: Client options (``functions``, ``retry``, ``tracer``) and LocalBackend
                options (``tokens_per_second``, ``pending_seconds``, ``duration``, ``clock``,
                ``answer_shapes``).
        """
        from cortex_tune._backends.local import LocalBackend

        client_options = _pop_client_options(options)
        client_options.setdefault("poll_min", LOCAL_POLL_MIN)
        return cls(backend=LocalBackend(path, **options), **client_options)

    def with_options(
        self,
        *,
        functions: Functions | None = None,
        retry: RetryPolicy | None = None,
        tracer: Tracer | None = None,
        runs_table: str | _Same | None = _Same.SAME,
    ) -> Cortex:
        """A copy of this client with some options changed, sharing its backend.

        Closing the copy does not close the backend. ``runs_table`` names another runs table
        (None: runs are not recorded); by default the copy records runs where this client does.
        """
        return Cortex(
            backend=self._backend,
            functions=functions or self._functions,
            retry=retry or self._retry,
            tracer=tracer if tracer is not None else self._tracer,
            clock=self._now,
            sleep=self._sleep,
            owns_backend=False,
            poll_min=self._poll_min,
            secrets=self._secrets,
            transport=self._transport_mode,
            rest=self._rest_settings,
            runs_table=self.runs.table if runs_table is _Same.SAME else runs_table,
        )

    @property
    def backend(self) -> Backend:
        """The backend statements run on."""
        return self._backend

    def close(self) -> None:
        """Close the backend if this client owns it (never a caller's connection)."""
        self._close_rest()
        if self._owns_backend:
            self._backend.close()

    def __enter__(self) -> Cortex:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Cortex(backend={self._backend!r}, functions={self._functions!r})"

    # -- the funnel ------------------------------------------------------------------------------

    def _execute(
        self,
        statement: Statement,
        *,
        retry: bool = True,
        check: Callable[[Result], None] | None = None,
    ) -> Result:
        """Run ``statement``: trace, log, translate errors, and recover from lost answers.

        What happens after an ambiguous failure depends on the statement's kind (see
        :mod:`cortex_tune._core.statement`): reads and idempotent statements are sent again within
        the retry policy; PAID and WRITE statements carry a request marker and are recovered
        from their first run in the query history, never sent twice (see
        :mod:`cortex_tune._client.reconcile`). ``retry=False`` makes exactly one attempt: the caller
        recovers on its own (FINETUNE CREATE, by its marker).
        """
        warn_for(statement)
        if not retry:
            return self._attempt(statement, check)
        kind = kind_of(statement)
        if kind in (Kind.PAID, Kind.WRITE):
            marker = new_marker()
            return run_once(self, mark(statement, marker), kind, marker, check)
        return call_with_retries(
            lambda: self._attempt(statement, check),
            policy=self._retry,
            clock=self._now,
            sleep=self._sleep,
            on_retry=lambda e, pause: log.info(
                "op=%s transient %s; retrying in %.1f s", statement.op, type(e).__name__, pause
            ),
        )

    def _attempt(self, statement: Statement, check: Callable[[Result], None] | None) -> Result:
        """Send ``statement`` once: trace it, log it, translate what it raises."""
        if self._tracer is not None:
            self._tracer(statement.sql, statement.params)
        started = time.perf_counter()
        try:
            result = self._backend.execute(statement)
            if check is not None:
                check(result)
        except Exception as exc:
            error = translate(exc, op=statement.op)
            error._redact(self._secrets)
            log.debug(
                "op=%s failed: %s (query_id=%s)", statement.op, type(error).__name__, error.query_id
            )
            raise error from (None if error is exc else exc)
        log.debug(
            "op=%s query_id=%s duration_ms=%.1f",
            statement.op,
            result.query_id,
            (time.perf_counter() - started) * 1000,
        )
        return result

    @property
    def _can_submit(self) -> bool:
        """Whether the backend runs statements asynchronously (``execute_async``)."""
        return isinstance(self._backend, AsyncBackend)

    def _submit(self, statement: Statement) -> str:
        """Submit ``statement`` to run on its own, once, and return its query id: traced,
        logged, errors translated. The caller recovers a lost answer (by the statement's
        marker in the query history), as runs do."""
        backend: Any = self._backend
        if self._tracer is not None:
            self._tracer(statement.sql, statement.params)
        try:
            query_id = str(backend.submit(statement))
        except Exception as exc:
            error = translate(exc, op=statement.op)
            error._redact(self._secrets)
            raise error from (None if error is exc else exc)
        log.debug("op=%s submitted query_id=%s", statement.op, query_id)
        return query_id

    def _status(self, query_id: str, op: str) -> StatementStatus:
        """The status of a submitted statement: a read, retried within the retry policy."""
        backend: Any = self._backend

        def ask() -> StatementStatus:
            try:
                return backend.status(query_id)  # type: ignore[no-any-return]
            except Exception as exc:
                error = translate(exc, op=op)
                error._redact(self._secrets)
                raise error from (None if error is exc else exc)

        return call_with_retries(ask, policy=self._retry, clock=self._now, sleep=self._sleep)

    def _stream(self, statement: Statement, *, batch_size: int) -> Iterator[list[dict[str, Any]]]:
        """Run ``statement`` and yield its rows as dicts, ``batch_size`` at a time.

        Backends with a ``stream`` method fetch batch by batch (bounded memory); others
        return all rows and are sliced.
        """
        if self._tracer is not None:
            self._tracer(statement.sql, statement.params)
        stream = getattr(self._backend, "stream", None)
        try:
            if stream is None:
                result = self._backend.execute(statement)
                batches: Iterator[tuple[list[str], list[tuple[Any, ...]]]] = (
                    (result.columns, result.rows[i : i + batch_size])
                    for i in range(0, len(result.rows), batch_size)
                )
            else:
                batches = stream(statement, batch_size)
            for columns, rows in batches:
                yield [dict(zip(columns, row, strict=False)) for row in rows]
        except CortexError:
            raise
        except Exception as exc:
            error = translate(exc, op=statement.op)
            error._redact(self._secrets)
            raise error from exc

    def sql(self, text: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one SQL statement with ``?`` placeholders bound to ``params``; return its rows.

        Goes through the same funnel as every other call (tracer, logging, error translation).
        A read (SELECT, SHOW, DESCRIBE, ... as its leading keyword shows) is sent again after a
        transient failure. Anything else is never sent twice: it carries a
        ``/* cortex-tune:req=... */`` comment at its end, and if its answer is lost cortex-tune
        finds its first run in the session's query history and returns that run's rows
        (``RESULT_SCAN``), or raises its error, or raises :class:`StatementMayHaveRunError` when
        the history cannot tell.

        Raises:
            StatementMayHaveRunError: A write lost its answer and the query history could not
                say how it ended; it was not sent again.

        Example:
            >>> cx.sql("INSERT INTO T VALUES (?, ?)", [1, "x"])  # doctest: +SKIP
            [(1,)]
        """
        return self._execute(Statement(text, tuple(params), "sql")).rows

    # -- generation choice -----------------------------------------------------------------------

    def _generation_for(self, prompt: PromptInput) -> Generation:
        if self._generation is not None:  # chosen, or fallen back to legacy
            return self._generation
        if not isinstance(prompt, str) and _is_conversation(prompt):
            return "legacy"
        return "ai"

    def _with_fallback(self, run: Callable[[Generation], Any], prompt: PromptInput) -> Any:
        generation = self._generation_for(prompt)
        try:
            value = run(generation)
        except UnknownFunctionError:
            if self._functions != "auto" or generation != "ai":
                raise
            log.info("AI_* functions are not available; using SNOWFLAKE.CORTEX legacy functions")
            self._generation = "legacy"
            return run("legacy")
        return value


def _pop_client_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    names = [f.name for f in dataclasses.fields(_ClientOptions)]
    return {name: kwargs.pop(name) for name in names if name in kwargs}


@dataclasses.dataclass
class _ClientOptions:
    functions: Functions = "auto"
    transport: Transport = "auto"
    rest: RestSettings | Mapping[str, Any] | None = None
    retry: RetryPolicy | None = None
    tracer: Tracer | None = None
    poll_min: float = POLL_MIN
    runs_table: str | None = RUNS_TABLE

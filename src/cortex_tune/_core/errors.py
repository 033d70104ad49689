"""The error tree of cortex-tune, and the one place lower-layer errors are translated into it.

::

    CortexError                         every error cortex-tune raises
    ├── ConfigurationError              bad arguments or settings, raised before any I/O
    │   ├── InvalidIdentifierError      a model, table or column name Snowflake would refuse
    │   ├── InvalidOptionsError         (also a QueryError, below)
    │   └── RestCredentialsError        no account URL or credential for the REST API (_rest)
    ├── ConnectionFailedError           cannot reach or log in to Snowflake
    │   ├── AuthenticationError         wrong credentials, or access refused
    │   └── SessionExpiredError         the session or its token expired
    ├── TransientError                  worth retrying: throttling, 429/5xx, dropped connections
    │   ├── ThrottledError              "too many requests", "throttled by remote service"
    │   └── NetworkError                timeouts, resets, truncated responses
    ├── QueryError                      Snowflake refused the statement (not retried)
    │   ├── UnknownModelError           unknown model (or not available in this region/role)
    │   ├── BudgetExceededError         the model consumption budget is spent
    │   ├── MaxTokensExceededError      the request is longer than the model's window
    │   ├── InvalidOptionsError         options out of range: refused before I/O where the
    │   │                               range is documented, else by Cortex
    │   ├── StructuredOutputError       the schema or the model's JSON failed validation
    │   ├── PermissionDeniedError       missing CORTEX_USER / CREATE MODEL / USAGE
    │   ├── NoWarehouseError            no warehouse is in use
    │   ├── ObjectNotFoundError         a table, schema or database is missing or not visible
    │   │   ├── JobNotFoundError        no fine-tuning job with that id, however it is spelled
    │   │   │   └── JobVanishedError    a job seen earlier is gone (garbage collected)
    │   │   └── RunNotFoundError        no run with that id in the runs table
    │   ├── UnknownFunctionError        the account lacks a function (e.g. AI_COMPLETE)
    │   └── TrainingDataError           training data Cortex would refuse
    │       └── PreflightError          create()'s check found it first; no job was created
    ├── ResponseParseError              Cortex answered something cortex-tune cannot parse
    ├── AmbiguousCreateError            a CREATE may or may not have run, and no job proves either
    ├── StatementMayHaveRunError        a write's answer was lost and its query history cannot tell
    ├── RunConflictError                another client keeps starting the same run's statements
    ├── JobFailedError                  wait(raise_on_error=True) saw ERROR
    │   ├── JobCancelledError           ... or CANCELLED
    │   │   └── RunCancelledError       runs.wait(raise_on_error=True) saw CANCELLED
    │   └── RunFailedError              runs.wait(raise_on_error=True) saw FAILED
    ├── ToolLoopError                   run_tools() reached its step limit (_rest)
    └── WaitTimeoutError                wait() ran out of time (the job goes on)

Every error carries ``op`` (the statement kind), ``query_id``, ``errno``, ``sqlstate`` and a
``hint`` saying what to do: each class has a default hint, and a more precise one replaces it
where the failure is known better. Secrets never appear in messages: the client redacts every secret
it was given before an error leaves it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cortex_tune._core.models import FineTuneJob
    from cortex_tune._finetune.preflight import PreflightReport
    from cortex_tune._runs.models import Run


class CortexError(Exception):
    """Root of every error cortex-tune raises.

    Attributes:
        message: What went wrong, in words.
        hint: What to do about it, when known.
        op: The statement kind that failed (``"finetune.create"``, ``"complete"``, ...).
        query_id: Snowflake's query id, when the statement reached Snowflake.
        errno: Snowflake's error number, when there is one.
        sqlstate: The SQLSTATE, when there is one.
    """

    default_hint: str | None = (
        "See the message; the cortex_tune logger at DEBUG level shows every statement's op "
        "and query id."
    )

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        op: str | None = None,
        query_id: str | None = None,
        errno: int | None = None,
        sqlstate: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint
        self.op = op
        self.query_id = query_id
        self.errno = errno
        self.sqlstate = sqlstate

    def __str__(self) -> str:
        parts = [self.message]
        details = []
        if self.op:
            details.append(f"op={self.op}")
        if self.errno is not None:
            details.append(f"errno={self.errno}")
        if self.sqlstate:
            details.append(f"sqlstate={self.sqlstate}")
        if self.query_id:
            details.append(f"query_id={self.query_id}")
        if details:
            parts.append(f"[{', '.join(details)}]")
        if self.hint:
            parts.append(f"Hint: {self.hint}")
        return " ".join(parts)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, op={self.op!r}, query_id={self.query_id!r})"
        )

    def _redact(self, secrets: Iterable[str]) -> None:
        for secret in secrets:
            if secret and len(secret) >= 4:
                self.message = self.message.replace(secret, "***")
                if self.hint:
                    self.hint = self.hint.replace(secret, "***")
        self.args = (self.message,)


class ConfigurationError(CortexError, ValueError):
    """Arguments or settings that cannot work; raised before any statement is sent."""

    default_hint = "Fix the argument or setting the message names; nothing was sent to Snowflake."


class InvalidIdentifierError(ConfigurationError):
    """A model, table or column name that Snowflake would refuse."""

    default_hint = (
        "Use letters, digits and underscores starting with a letter or underscore "
        '(optionally qualified, DB.SCHEMA.NAME), or double-quote the name ("My Name").'
    )


class ConnectionFailedError(CortexError):
    """Snowflake could not be reached or logged in to."""

    default_hint = (
        "Check the account, host and network settings of the connection "
        "(connections.toml or SNOWFLAKE_* variables)."
    )


class AuthenticationError(ConnectionFailedError):
    """Credentials were refused."""

    default_hint = "Check the user and the password, key or token of the connection."


class SessionExpiredError(ConnectionFailedError):
    """The session or its token expired; reconnect."""

    default_hint = "The session expired: create a new client (Cortex.connect) and try again."


class TransientError(CortexError):
    """A failure worth retrying; cortex-tune retries these within its budget."""

    default_hint = "A temporary failure: cortex-tune retried within its budget; try again later."


class ThrottledError(TransientError):
    """Cortex refused the request under load ("too many requests", "throttled")."""

    default_hint = (
        "Cortex is throttling this account or model: retry later, lower the request rate, "
        "or enable cross-region inference."
    )


class NetworkError(TransientError):
    """A timeout, reset or truncated response between the client and Snowflake."""

    default_hint = "The connection to Snowflake failed mid-request; check the network and retry."


class QueryError(CortexError):
    """Snowflake refused the statement; retrying the same statement will not help."""

    default_hint = (
        "Snowflake refused the statement; the message says why. Look the query_id up in "
        "Snowsight's Query History for the full statement and error."
    )


class UnknownModelError(QueryError):
    """The model does not exist, or is not available to this role or region."""

    default_hint = (
        "Check the model name (fine-tuned models by their registry name, e.g. DB.SCHEMA.MY_MODEL), "
        "that it is offered in this region (CORTEX_ENABLED_CROSS_REGION) and allowed for the role "
        "(CORTEX_MODELS_ALLOWLIST)."
    )


class BudgetExceededError(QueryError):
    """The model consumption budget is spent."""

    default_hint = "The account's Cortex budget is exhausted; raise it or wait for the next period."


class MaxTokensExceededError(QueryError):
    """The request is longer than the model's context window."""

    default_hint = "Shorten the prompt, lower max_tokens, or use a model with a larger window."


class InvalidOptionsError(QueryError, ConfigurationError):
    """Options out of range (temperature, top_p, max_tokens, guardrails, ...).

    Raised before any I/O where the range is documented, and when Cortex refuses the options
    object ("invalid options object"): one class whichever found it first. It is a
    :class:`ConfigurationError` (a bad argument) as well as a :class:`QueryError`.
    """

    default_hint = (
        "temperature and top_p take 0..1, max_tokens a positive integer (at most 8192 for most "
        "models), guardrails True or False."
    )


class StructuredOutputError(QueryError):
    """The response_format schema was refused, or the model's JSON did not satisfy it.

    Attributes:
        raw: The raw text of the answer: the model's text when cortex-tune parsed it, or
            Cortex's own answer when Cortex refused the model's output (Cortex does not send
            the output itself then). Never None.
    """

    default_hint = (
        "Simplify the schema (no minimum/maximum/format/minLength...), make fields required, "
        "or lower the temperature."
    )

    def __init__(self, message: str, *, raw: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.raw: str = raw if raw is not None else message

    def _redact(self, secrets: Iterable[str]) -> None:
        secrets = tuple(secrets)
        super()._redact(secrets)
        for secret in secrets:
            if secret and len(secret) >= 4:
                self.raw = self.raw.replace(secret, "***")


class PermissionDeniedError(QueryError):
    """The role lacks a privilege the statement needs."""

    default_hint = (
        "Grant the role SNOWFLAKE.CORTEX_USER (or AI_FUNCTIONS_USER), CREATE MODEL on the target "
        "schema, and USAGE on the databases the training data comes from."
    )


class NoWarehouseError(QueryError):
    """No warehouse is in use in the session."""

    default_hint = "Set a warehouse: 'warehouse' in the connection, or USE WAREHOUSE <name>."


class ObjectNotFoundError(QueryError):
    """A table, schema or database does not exist or the role cannot see it."""

    default_hint = (
        "Check the name and its qualification (DB.SCHEMA.TABLE), the session's current database "
        "and schema, and that the role has USAGE/SELECT on it."
    )


class JobNotFoundError(ObjectNotFoundError):
    """No fine-tuning job has that id, however the id is spelled (or it was garbage collected).

    An :class:`ObjectNotFoundError`: a job is one more object that may not exist.
    """

    default_hint = (
        "Check the id (ft_...) against cx.finetune.list(); Snowflake garbage-collects old jobs."
    )


class JobVanishedError(JobNotFoundError):
    """A job seen earlier no longer exists (Snowflake garbage-collected it)."""

    default_hint = (
        "The job was garbage collected; if it succeeded its model is still in the registry "
        "(SHOW MODELS)."
    )


class RunNotFoundError(ObjectNotFoundError):
    """No run has that id in the runs table (or the runs table does not exist)."""

    default_hint = (
        "Check the id (run_...) against cx.runs.list() / `cortex-tune runs list`, and that the "
        "client reads the same runs table (Cortex(runs_table=...), `runs --table`)."
    )


class UnknownFunctionError(QueryError):
    """The account does not offer a SQL function cortex-tune called."""

    default_hint = (
        "This account lacks the function: choose the other generation with "
        "Cortex(..., functions='legacy') or functions='ai'."
    )


class TrainingDataError(QueryError):
    """Training or validation data that Cortex would refuse (columns, limits, model)."""

    default_hint = (
        "Run cx.finetune.check(...) to see every problem with the data before creating a job."
    )


class PreflightError(TrainingDataError):
    """``cx.finetune.create(check=True)`` found errors Cortex would refuse; no job was created.

    A :class:`TrainingDataError`, so code catching that for Cortex's own refusals catches the
    check's too.

    Attributes:
        report: The full :class:`PreflightReport` (``print(exc.report)`` shows it as a table).
    """

    default_hint = (
        "Fix what the report lists (print(exc.report)), or pass check=False to create the job "
        "anyway."
    )

    def __init__(self, message: str, *, report: PreflightReport, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.report = report


class ResponseParseError(CortexError):
    """Cortex returned something that is not the documented shape.

    Attributes:
        raw: The raw text or value that could not be parsed.
    """

    default_hint = "Cortex answered in an unexpected shape; the raw answer is on .raw."

    def __init__(self, message: str, *, raw: Any = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.raw = raw


class AmbiguousCreateError(CortexError):
    """A CREATE may have run but its answer was lost, and reconciliation could not tell.

    Attributes:
        marker: The request marker carried in the training query; search for it in
            ``cx.finetune.list()`` / DESCRIBE's ``training_data`` before creating again.
    """

    default_hint = (
        "Do not create the job again blindly: look for a job whose training_data contains the "
        "marker, e.g. cx.finetune.find_by_marker(marker)."
    )

    def __init__(self, message: str, *, marker: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.marker = marker


class StatementMayHaveRunError(CortexError):
    """A statement that changes data (or costs money) lost its answer and was not sent again.

    cortex-tune looked for the statement's first run in the session's query history (by the
    request marker at the end of its text) and could not tell how it ended: the history was
    unreadable, the statement was not (yet) in it, or it was still running. Sending it again
    could have run it twice, so it was not.

    Attributes:
        marker: The request marker at the end of the statement's text
            (``/* cortex-tune:req=<marker> */``).
        query_id: The first run's query id, when the history showed it.
    """

    default_hint = (
        "Do not run it again blindly: look for its text in the query history, e.g. SELECT "
        "QUERY_ID, EXECUTION_STATUS FROM TABLE(INFORMATION_SCHEMA.QUERY_HISTORY_BY_SESSION(RESULT_LIMIT => 10000)) "
        "WHERE QUERY_TEXT LIKE '%cortex-tune:req=<marker>%' (or Snowsight's Query History), and "
        "check the table before trying again."
    )

    def __init__(self, message: str, *, marker: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.marker = marker
        if self.hint is not None:
            self.hint = self.hint.replace("<marker>", marker)


class JobFailedError(CortexError):
    """wait(raise_on_error=True) saw the job end in ERROR.

    Attributes:
        job: The terminal job.
    """

    default_hint = (
        "job.error says why the job failed (often its training query): fix that and create a "
        "new job; a failed job is not resumed."
    )

    def __init__(self, message: str, *, job: FineTuneJob | Run, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.job = job


class JobCancelledError(JobFailedError):
    """wait(raise_on_error=True) saw the job end CANCELLED."""

    default_hint = "The job was cancelled; create a new job to train again."


class RunFailedError(JobFailedError):
    """runs.wait(raise_on_error=True) saw the run end FAILED (``job`` is the :class:`Run`)."""

    default_hint = (
        "run.error says why; the rows that were answered stay in the results table, and running "
        "the same call again answers the rest."
    )


class RunCancelledError(JobCancelledError):
    """runs.wait(raise_on_error=True) saw the run end CANCELLED (``job`` is the :class:`Run`)."""

    default_hint = (
        "The run was cancelled; rows already answered stay, and running the same call again "
        "answers the rest."
    )


class RunConflictError(CortexError):
    """Another client kept claiming the statements of the same run while this one tried to;
    nothing was sent twice."""

    default_hint = (
        "Another process is starting the same work right now: wait for its run "
        "(cx.runs.list(), `cortex-tune runs list`) instead of starting it again."
    )


class WaitTimeoutError(CortexError, TimeoutError):
    """wait() ran out of time; the job goes on running in Snowflake.

    Attributes:
        job: The last state seen.
    """

    default_hint = "The job is still running: call wait() again, or cancel() it."

    def __init__(self, message: str, *, job: FineTuneJob | Run, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.job = job


# -- translation ---------------------------------------------------------------------------------

# (pattern over the lower-cased message, error class); first match wins.
_TEXT_RULES: list[tuple[re.Pattern[str], type[CortexError]]] = [
    (
        re.compile(
            r"too many requests|throttled|inference timed out|remote service error: '?(429|5\d\d)"
        ),
        ThrottledError,
    ),
    (re.compile(r"budget exceeded"), BudgetExceededError),
    (
        re.compile(r"max tokens of \d+ exceeded|max tokens of count exceeded"),
        MaxTokensExceededError,
    ),
    (re.compile(r"invalid options object"), InvalidOptionsError),
    (
        re.compile(
            r"json mode output validation error|input schema validation error|response format object|schema validation failed"
        ),
        StructuredOutputError,
    ),
    (
        re.compile(
            r"unknown model|legacy state, please use other models|model .* (is not available|has been deprecated)"
        ),
        UnknownModelError,
    ),
    (
        re.compile(
            r"(fine-tuning job|job id|job '?(ft_|cortexfinetuningworkflow_))\S* (was )?(not found|does not exist)"
        ),
        JobNotFoundError,
    ),
    (
        re.compile(
            r"no active warehouse|warehouse .* (suspended|does not exist)|requires a running warehouse"
        ),
        NoWarehouseError,
    ),
    (
        re.compile(
            r"session no longer exists|authentication token has expired|session .* expired|390112|390114"
        ),
        SessionExpiredError,
    ),
    (
        re.compile(
            r"incorrect username or password|jwt token is invalid|invalid oauth|390100|390144|authentication failed"
            r"|could not decrypt key|failed to (load|decode) private key|private key is (not )?encrypted"
        ),
        AuthenticationError,
    ),
    (re.compile(r"unknown function|unknown user-defined function"), UnknownFunctionError),
    (re.compile(r"does not exist or not authorized"), ObjectNotFoundError),
    (
        re.compile(
            r"insufficient privileges|not authorized|cortex_user|access denied|does not have privilege"
        ),
        PermissionDeniedError,
    ),
    (
        re.compile(r"training data|prompt and completion|invalid base model|row limit|base model"),
        TrainingDataError,
    ),
]

_TRANSIENT_HTTP = {
    "ServiceUnavailableError",
    "InternalServerError",
    "BadGatewayError",
    "GatewayTimeoutError",
    "TooManyRequests",
    "OtherHTTPRetryableError",
    "RequestTimeoutError",
}
_TRANSPORT_NAMES = {
    "ChunkedEncodingError",
    "ConnectionError",
    "ConnectTimeout",
    "ReadTimeout",
    "Timeout",
    "ProtocolError",
    "IncompleteRead",
    "RemoteDisconnected",
    "ConnectionResetError",
    "ConnectionAbortedError",
    "BrokenPipeError",
    "SSLError",
}
# connector 5.x: 4 = max retry attempts reached, 14 = timeout (HYT00), 6 = truncated response
_TRANSIENT_ERRNOS = {4, 6, 14, 250001, 250003}
# 390112: session expired (also in a 200 OK from session-token REST calls), 390114: token expired
_SESSION_EXPIRED_ERRNOS = {390112, 390114}
# 250002: the connection is closed (the client closed it, or the connector gave up on it)
_CONNECTION_CLOSED = 250002
_CONNECTION_CLOSED_HINT = "The connection is closed: create a new client (Cortex.connect)."
#: What to do when no connection is configured under the name asked for (the connector's
#: documented search order for connections.toml, then the alternatives).
NO_CONNECTION_HINT = (
    "Add the connection to connections.toml, which the connector reads from $SNOWFLAKE_HOME, "
    "else from ~/.snowflake/ if that folder exists, else from the platform's config folder "
    "(~/.config/snowflake on Linux, ~/Library/Application Support/snowflake on macOS, "
    "%LOCALAPPDATA%\\snowflake on Windows); for example a [default] table with account, user "
    "and authenticator (or `snow connection add`). Or pass account=... and user=... to "
    "Cortex.connect(). To work offline, without an account: Cortex.local() (CLI: --local)."
)
# The connector's words for a connection name that connections.toml does not have.
_NO_CONNECTION_TEXT = re.compile(
    r"invalid connection_name|default connection with name .* cannot be found"
)
# Statements that look a job up by id: whatever Snowflake calls the missing object there, it
# is the job (Snowflake documents no error text for an unknown id).
_JOB_LOOKUPS = frozenset({"finetune.describe", "finetune.cancel"})
_MISSING_TEXT = re.compile(r"not found|does not exist|no such|unknown job")
# 250001 + SQLSTATE 08001 from a DatabaseError: connector 5.x's login / authentication failure
# (e.g. a 401 its token refresh could not cure); 4.x reports unreachable hosts as
# OperationalError 250001 instead.
_FAILED_TO_CONNECT = 250001


def _class_names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def translate(exc: BaseException, *, op: str | None = None) -> CortexError:
    """Translate any lower-layer exception into the cortex-tune error tree.

    Handles snowflake-connector-python 4.x and 5.x error classes, its vendored ``requests``
    exceptions, plain socket errors, and errors raised by the emulator (which raises connector
    errors). A :class:`CortexError` passes through unchanged (with ``op`` filled in).
    """
    if isinstance(exc, CortexError):
        if exc.op is None:
            exc.op = op
        return exc
    names = _class_names(exc)
    raw_msg = getattr(exc, "raw_msg", None) or getattr(exc, "msg", None) or str(exc)
    message = str(raw_msg).strip() or type(exc).__name__
    errno = _int_or_none(getattr(exc, "errno", None))
    if errno is not None and errno < 0:  # the connector's "no errno"
        errno = None
    sqlstate = getattr(exc, "sqlstate", None)
    common: dict[str, Any] = {
        "op": op,
        "query_id": getattr(exc, "sfqid", None) or None,
        "errno": errno,
        "sqlstate": None if sqlstate in (None, "", "n/a") else str(sqlstate),
    }
    cls = _classify(names, message, errno, exc, sqlstate=common["sqlstate"])
    if op in _JOB_LOOKUPS and _is_missing(cls, message):
        cls = JobNotFoundError
    hint = None
    if errno == _CONNECTION_CLOSED:
        hint = _CONNECTION_CLOSED_HINT
    elif _NO_CONNECTION_TEXT.search(message.lower()):
        cls, hint = ConnectionFailedError, NO_CONNECTION_HINT
    return cls(message, hint=hint, **common)


def _classify(
    names: set[str],
    message: str,
    errno: int | None,
    exc: BaseException,
    *,
    sqlstate: str | None = None,
) -> type[CortexError]:
    lowered = message.lower()
    if "ReauthenticationRequest" in names:
        return SessionExpiredError
    if names & _TRANSIENT_HTTP:
        return ThrottledError if "TooManyRequests" in names else NetworkError
    if "ForbiddenError" in names:
        return AuthenticationError
    if "HttpError" in names and errno == 290401:
        return SessionExpiredError
    if errno in _SESSION_EXPIRED_ERRNOS:  # whatever the text says
        return SessionExpiredError
    if errno == _CONNECTION_CLOSED:
        return ConnectionFailedError
    for pattern, cls in _TEXT_RULES:
        if pattern.search(lowered):
            return cls
    if errno == 2003:  # Snowflake's "object does not exist or not authorized"
        return ObjectNotFoundError
    if errno == _FAILED_TO_CONNECT and sqlstate == "08001" and "OperationalError" not in names:
        return AuthenticationError
    if names & _TRANSPORT_NAMES or isinstance(exc, (TimeoutError, OSError)):
        return NetworkError
    if errno in _TRANSIENT_ERRNOS or "OperationalError" in names:
        return NetworkError
    if "ProgrammingError" in names or "DatabaseError" in names:
        return QueryError
    if "InterfaceError" in names:
        return ConnectionFailedError
    return CortexError


def _is_missing(cls: type[CortexError], message: str) -> bool:
    """Whether an error of class ``cls`` with ``message`` says that something does not exist."""
    if issubclass(cls, ObjectNotFoundError):
        return True
    return cls is QueryError and _MISSING_TEXT.search(message.lower()) is not None


def _int_or_none(value: object) -> int | None:
    try:
        return int(value) if value is not None else None  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


def is_transient(error: CortexError) -> bool:
    """Whether retrying the same statement may succeed."""
    return isinstance(error, TransientError)


def from_text(message: str, **details: Any) -> CortexError:
    """The typed error for a Cortex error text that arrived as data (AI_COMPLETE error details)."""
    lowered = message.lower()
    for pattern, cls in _TEXT_RULES:
        if pattern.search(lowered):
            return cls(message, **details)
    return QueryError(message, **details)

"""Bad input, over the wire: each case gives its documented typed error with a useful message,
is never retried when permanent, and leaves no job or table behind without saying so."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import BaseModel
from wire_faults import LOGIN, QUERY, Fault, http_error, result_value, snowflake_error
from wire_server import (
    DEPRECATED_MODEL,
    DESCRIBE,
    SHOW,
    TRAINING,
    KeyPair,
    WireServer,
    create_job,
    echo,
    server_jobs,
    server_tables,
    training_table,
)

from cortex_tune import (
    AuthenticationError,
    BudgetExceededError,
    ConfigurationError,
    ConnectionFailedError,
    Cortex,
    CortexError,
    InvalidIdentifierError,
    InvalidOptionsError,
    JobNotFoundError,
    JobStatus,
    MaxTokensExceededError,
    Message,
    NoWarehouseError,
    ObjectNotFoundError,
    PermissionDeniedError,
    ResponseParseError,
    SessionExpiredError,
    StructuredOutputError,
    TrainingData,
    TrainingDataError,
    UnknownFunctionError,
    UnknownModelError,
)

UNKNOWN_JOB = "ft_00000000-0000-4000-8000-000000000000"
TOO_LONG = "word " * 40_000  # ~50,000 tokens, past mistral-7b's 32,000


class Label(BaseModel):
    category: str


@dataclass(frozen=True)
class Case:
    """One bad input: what to run, and what must come of it.

    Attributes:
        run: Does the bad thing, given the client and the server.
        error: The exact class of the error cortex-tune must raise.
        says: Texts the error (lower-cased, hint included) must contain.
        requests: query-requests sent: 0 when refused before any I/O, 1 when not retried.
        query_id: Whether the error must carry Snowflake's query id.
        arm: Faults to play before ``run``.
        needs_job: Whether a job must exist first (for rewritten DESCRIBE answers).
    """

    run: Callable[[Cortex, WireServer], object]
    error: type[CortexError]
    says: tuple[str, ...]
    requests: int | None = None
    query_id: bool = False
    arm: Callable[[WireServer], None] | None = None
    needs_job: bool = False


def _create(name: str, **kwargs: Any) -> Callable[[Cortex, WireServer], object]:
    return lambda cx, w: create_job(cx, name, **kwargs)


def _complete(
    model: str, prompt: Any, functions: str = "auto", **options: Any
) -> Callable[[Cortex, WireServer], object]:
    return lambda cx, w: cx.with_options(functions=functions).complete(  # type: ignore[arg-type]
        model, prompt, **options
    )


def _arm(*faults: Fault) -> Callable[[WireServer], None]:
    return lambda w: w.injector.arm(*faults)


def _sf(code: str, message: str, sqlstate: str, **kwargs: Any) -> Callable[[WireServer], None]:
    return _arm(snowflake_error(code, message, sqlstate=sqlstate, **kwargs))


def _rewrite(value: str | None, sql: str) -> Callable[[WireServer], None]:
    return _arm(result_value(value, sql=sql))


def _describe_real_job(cx: Cortex, w: WireServer) -> object:
    (job,) = w.emulator.store.all()
    return cx.finetune.describe(job.id)


def _closed(cx: Cortex, w: WireServer) -> object:
    cx.close()
    return cx.finetune.list()


def _expire_session(w: WireServer) -> None:
    w.injector.arm(snowflake_error("390112", "Your session has expired. Please login again."))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _connect(**overrides: Any) -> Callable[[Cortex, WireServer], object]:
    return lambda cx, w: w.connect(**overrides)


def _jwt(**overrides: Any) -> Callable[[Cortex, WireServer], object]:
    def run(cx: Cortex, w: WireServer) -> object:
        kwargs = w.jwt_kwargs()
        for key, value in overrides.items():
            kwargs[key] = value(w) if callable(value) else value
        return w.connect(**kwargs)

    return run


def _other_key(w: WireServer) -> str:
    directory = w.keys.path.parent / "other"
    directory.mkdir(exist_ok=True)
    return str(KeyPair(directory).path)


INVALID_NAME = ("invalid model name", "snowflake identifier")

CASES: dict[str, Case] = {
    # -- identifiers and arguments: refused before any I/O ------------------------------------
    "name-starts-with-digit": Case(_create("1MODEL"), InvalidIdentifierError, INVALID_NAME, 0),
    "name-with-space": Case(_create("MY MODEL"), InvalidIdentifierError, INVALID_NAME, 0),
    "name-empty": Case(_create(""), InvalidIdentifierError, INVALID_NAME, 0),
    "name-four-parts": Case(_create("A.B.C.D"), InvalidIdentifierError, ("a.b.c.d",), 0),
    "name-sql-injection": Case(
        _create('M"; DROP TABLE WIRE_TRAIN; --'), InvalidIdentifierError, ("drop table",), 0
    ),
    "name-nul": Case(_create("M\x00X"), InvalidIdentifierError, INVALID_NAME, 0),
    "name-unterminated-quote": Case(_create('"Open'), InvalidIdentifierError, ('"open',), 0),
    "base-model-empty": Case(
        lambda cx, w: cx.finetune.create("M", base_model="", training=TRAINING),
        ConfigurationError,
        ("base_model",),
        0,
    ),
    "max-epochs-zero": Case(_create("M", max_epochs=0), ConfigurationError, ("max_epochs",), 0),
    "max-epochs-eleven": Case(_create("M", max_epochs=11), ConfigurationError, ("1 to 10",), 0),
    "max-epochs-bool": Case(_create("M", max_epochs=True), ConfigurationError, ("max_epochs",), 0),
    "training-column-injection": Case(
        lambda cx, w: create_job(
            cx, "M", validation=TrainingData.table("WIRE_TRAIN", prompt="P; DROP", completion="C")
        ),
        InvalidIdentifierError,
        ("p; drop",),
        0,
    ),
    "describe-empty-id": Case(
        lambda cx, w: cx.finetune.describe(""), ConfigurationError, ("job_id",), 0
    ),
    "describe-blank-id": Case(
        lambda cx, w: cx.finetune.describe("   "), ConfigurationError, ("job_id",), 0
    ),
    "describe-nul-id": Case(
        lambda cx, w: cx.finetune.describe("ft_\x00"), ConfigurationError, ("job_id",), 0
    ),
    "cancel-empty-id": Case(
        lambda cx, w: cx.finetune.cancel(""), ConfigurationError, ("job_id",), 0
    ),
    "model-empty": Case(_complete("", "hi"), ConfigurationError, ("model",), 0),
    "temperature-out-of-range": Case(
        _complete("echo", "hi", temperature=1.5), InvalidOptionsError, ("temperature", "0 to 1"), 0
    ),
    "top-p-negative": Case(_complete("echo", "hi", top_p=-0.1), InvalidOptionsError, ("top_p",), 0),
    "max-tokens-zero": Case(
        _complete("echo", "hi", max_tokens=0), InvalidOptionsError, ("max_tokens",), 0
    ),
    "guardrails-not-bool": Case(
        _complete("echo", "hi", guardrails="yes"), InvalidOptionsError, ("guardrails",), 0
    ),
    "conversation-empty": Case(_complete("echo", []), ConfigurationError, ("empty",), 0),
    "system-message-not-first": Case(
        _complete("echo", [Message.user("hi"), Message.system("late")]),
        ConfigurationError,
        ("system message",),
        0,
    ),
    "message-unknown-role": Case(
        _complete("echo", [{"role": "robot", "content": "beep"}]),
        ConfigurationError,
        ("invalid message", "role"),
        0,
    ),
    "prompt-not-text": Case(_complete("echo", 42), ConfigurationError, ("prompt", "int"), 0),
    "ai-complete-conversation": Case(
        _complete("echo", [Message.system("be brief"), Message.user("hi")], functions="ai"),
        ConfigurationError,
        ("conversation",),
        0,
    ),
    "count-tokens-not-text": Case(
        lambda cx, w: cx.count_tokens("echo", 42),  # type: ignore[arg-type]
        ConfigurationError,
        ("must be a string", "int"),
        0,
    ),
    # -- refused by Snowflake / Cortex: typed, with query id and hint, never retried ----------
    "unknown-job-describe": Case(
        lambda cx, w: cx.finetune.describe(UNKNOWN_JOB),
        JobNotFoundError,
        (UNKNOWN_JOB, "does not exist", "cx.finetune.list()"),
        1,
        query_id=True,
    ),
    "unknown-job-cancel": Case(
        lambda cx, w: cx.finetune.cancel(UNKNOWN_JOB),
        JobNotFoundError,
        (UNKNOWN_JOB, "does not exist"),
        2,  # CANCEL refused, then DESCRIBE to tell "already cancelled" from "no such job"
        query_id=True,
    ),
    "unknown-model-ai": Case(
        _complete("no-such-model", "hi"),
        UnknownModelError,
        ("unknown model", "no-such-model", "cortex_models_allowlist"),
        1,
        query_id=True,
    ),
    "unknown-model-legacy": Case(
        _complete("no-such-model", "hi", functions="legacy"),
        UnknownModelError,
        ("unknown model", "no-such-model"),
        1,
        query_id=True,
    ),
    "deprecated-model-ai": Case(
        _complete(DEPRECATED_MODEL, "hi"), UnknownModelError, ("legacy state",), 1, query_id=True
    ),
    "deprecated-model-legacy": Case(
        _complete(DEPRECATED_MODEL, "hi", functions="legacy"),
        UnknownModelError,
        ("legacy state", "mistral-large2"),
        1,
        query_id=True,
    ),
    "unknown-base-model": Case(
        lambda cx, w: cx.finetune.create(
            "M", base_model="gpt-4", training=TRAINING, **_unchecked()
        ),
        TrainingDataError,
        ("invalid base model", "gpt-4", "mistral-7b"),
        1,
        query_id=True,
    ),
    "prompt-too-long-ai": Case(
        _complete("mistral-7b", TOO_LONG),
        MaxTokensExceededError,
        ("max tokens of 32000 exceeded", "shorten"),
        1,
        query_id=True,
    ),
    "prompt-too-long-legacy": Case(
        _complete("mistral-7b", TOO_LONG, functions="legacy"),
        MaxTokensExceededError,
        ("max tokens of 32000 exceeded",),
        1,
        query_id=True,
    ),
    "structured-output-not-json": Case(
        _complete("echo", "plain words", response_format=Label),
        StructuredOutputError,
        ("json mode output validation error",),
        1,
        query_id=True,
    ),
    "options-refused-by-cortex": Case(
        _complete("echo", "hi", temperature=0.5),
        InvalidOptionsError,
        ("invalid options object", "temperature"),
        1,
        query_id=True,
        arm=_sf("100351", "invalid options object: unknown option 'temperature'", "P0000"),
    ),
    "budget-exceeded": Case(
        _complete("echo", "hi"),
        BudgetExceededError,
        ("budget exceeded", "raise it"),
        1,
        query_id=True,
        arm=_sf("100351", "budget exceeded", "P0000"),
    ),
    "no-warehouse": Case(
        lambda cx, w: cx.finetune.list(),
        NoWarehouseError,
        ("no active warehouse", "use warehouse"),
        1,
        query_id=True,
        arm=_sf(
            "000606",
            "No active warehouse selected in the current session.  Select an active warehouse "
            "with the 'use warehouse' command.",
            "57P03",
        ),
    ),
    "missing-cortex-user-role": Case(
        lambda cx, w: cx.finetune.list(),
        PermissionDeniedError,
        ("insufficient privileges", "cortex_user"),
        1,
        query_id=True,
        arm=_sf(
            "003001",
            "SQL access control error:\nInsufficient privileges to operate on function 'FINETUNE'",
            "42501",
        ),
    ),
    "account-lacks-ai-complete": Case(
        _complete("echo", "hi", functions="ai"),
        UnknownFunctionError,
        ("unknown function ai_complete", "functions='legacy'"),
        1,
        query_id=True,
        arm=_sf("002140", "SQL compilation error:\nUnknown function AI_COMPLETE", "42601"),
    ),
    "missing-table": Case(
        lambda cx, w: cx.sql("SELECT * FROM NO_SUCH_TABLE"),
        ObjectNotFoundError,
        ("no_such_table", "qualification"),
        1,
        query_id=True,
    ),
    # -- the session ----------------------------------------------------------------------
    "http-401": Case(
        lambda cx, w: cx.finetune.list(),
        SessionExpiredError,
        ("401", "create a new client"),
        1,
        arm=_arm(http_error(401)),
    ),
    "session-expired": Case(
        lambda cx, w: cx.finetune.list(),
        SessionExpiredError,
        ("expired", "create a new client"),
        1,
        arm=_expire_session,
    ),
    "closed-connection": Case(_closed, ConnectionFailedError, ("closed", "cortex.connect"), 0),
    # -- answers cortex-tune cannot read (the middleware rewrites the result) ---------------
    "describe-malformed-json": Case(
        _describe_real_job,
        ResponseParseError,
        ("finetune('describe')", "malformed json"),
        1,
        arm=_rewrite('{"id": "ft_1", "status": ', DESCRIBE),
        needs_job=True,
    ),
    "describe-not-an-object": Case(
        _describe_real_job,
        ResponseParseError,
        ("expected a json object",),
        1,
        arm=_rewrite('["ft_1"]', DESCRIBE),
        needs_job=True,
    ),
    "describe-without-id": Case(
        _describe_real_job,
        ResponseParseError,
        ("without an id",),
        1,
        arm=_rewrite('{"status": "SUCCESS"}', DESCRIBE),
        needs_job=True,
    ),
    "show-not-an-array": Case(
        lambda cx, w: cx.finetune.list(),
        ResponseParseError,
        ("expected a json array",),
        1,
        arm=_rewrite('{"id": "ft_1"}', SHOW),
    ),
    "show-truncated-json": Case(
        lambda cx, w: cx.finetune.list(),
        ResponseParseError,
        ("malformed json",),
        1,
        arm=_rewrite('[{"id": "ft_1", "status": "SUCC', SHOW),
    ),
    "ai-complete-malformed-json": Case(
        _complete("echo", "hi"),
        ResponseParseError,
        ("ai_complete", "malformed json"),
        1,
        arm=_rewrite("not json at all", "AI_COMPLETE"),
    ),
    "complete-options-answer-wrong-shape": Case(
        _complete("echo", "hi", functions="legacy", temperature=0.1),
        ResponseParseError,
        ("complete",),
        1,
        arm=_rewrite('{"choices": 5}', "COMPLETE("),
    ),
    # -- credentials (Cortex.connect) -----------------------------------------------------
    "wrong-password": Case(
        _connect(password="not-the-password"),
        AuthenticationError,
        ("incorrect username or password", "check the user"),
        0,
    ),
    "wrong-user": Case(
        _connect(user="SOMEONE_ELSE"), AuthenticationError, ("incorrect username or password",), 0
    ),
    "wrong-oauth-token": Case(
        _connect(password=None, authenticator="oauth", token="not-the-token"),
        AuthenticationError,
        ("invalid oauth",),
        0,
    ),
    "jwt-signed-with-another-key": Case(
        _jwt(private_key_file=_other_key),
        AuthenticationError,
        ("jwt token is invalid",),
        0,
    ),
    "jwt-wrong-key-passphrase": Case(
        _jwt(private_key_file_pwd="not-the-passphrase"),
        AuthenticationError,
        ("decrypt", "key"),
        0,
    ),
    "http-403-at-login": Case(
        _connect(),
        AuthenticationError,
        ("403",),
        0,
        arm=_arm(Fault("status", path=LOGIN, status=403)),
    ),
    "unreachable-host": Case(
        lambda cx, w: w.connect(port=_free_port(), login_timeout=1),
        ConnectionFailedError,
        ("could not connect", "check the account, host"),
        0,
    ),
}


def _unchecked() -> dict[str, Any]:
    import wire_server

    return dict(wire_server._UNCHECKED)


def test_the_catalogue_is_large() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_gives_its_documented_error(wire: WireServer, cx: Cortex, name: str) -> None:
    case = CASES[name]
    wire.emulator.register_model("mistral-7b", echo)
    if case.needs_job:
        training_table(cx)
        create_job(cx, "EXISTING")
    jobs, tables = server_jobs(wire), server_tables(wire)
    wire.injector.reset()
    if case.arm is not None:
        case.arm(wire)

    with pytest.raises(CortexError) as info:
        case.run(cx, wire)

    error = info.value
    assert type(error) is case.error, f"{type(error).__name__}: {error}"
    text = str(error).lower()
    for expected in case.says:
        assert expected.lower() in text, f"{expected!r} not in {text!r}"
    if case.requests is not None:
        assert len(wire.injector.requests(QUERY)) == case.requests
    if case.query_id:
        assert error.query_id, "the error names Snowflake's query id"
    if not isinstance(error, ConfigurationError):
        assert error.hint, "a hint says what to do"
    assert repr(error).startswith(type(error).__name__)
    # Nothing half-made: the same jobs and tables as before, seen from the server.
    assert server_jobs(wire) == jobs
    assert server_tables(wire) == tables


def test_unknown_fields_and_statuses_parse(wire: WireServer, cx: Cortex) -> None:
    training_table(cx)
    job = create_job(cx)
    described = dict(job.raw) if isinstance(job.raw, dict) else {}
    described.update(status="AWAITING_REVIEW", reviewer="someone", progress=0.5)
    wire.injector.arm(
        result_value(json.dumps(described), sql=DESCRIBE),
        result_value(
            json.dumps([{"id": job.id, "status": "ARCHIVED", "region": "aws_us_west_2"}]),
            sql=SHOW,
        ),
    )

    seen = cx.finetune.describe(job.id)
    (summary,) = cx.finetune.list()

    assert seen.id == job.id and seen.status is JobStatus.UNKNOWN
    assert seen.status_raw == "AWAITING_REVIEW"
    assert (seen.model_extra or {}).get("reviewer") == "someone"
    assert summary.status is JobStatus.UNKNOWN and summary.status_raw == "ARCHIVED"
    assert (summary.model_extra or {}).get("region") == "aws_us_west_2"


def test_expired_session_that_renews_is_transparent(wire: WireServer, cx: Cortex) -> None:
    wire.injector.renew_token = lambda body: {
        "success": True,
        "data": {"sessionToken": body["oldSessionToken"], "masterToken": "renewed-master"},
    }
    _expire_session(wire)

    assert cx.finetune.list() == []
    assert len(wire.injector.requests()) == 2  # refused as expired, then sent again

"""Connector exceptions and Cortex error texts become the right cortex-tune errors.

The exceptions are real snowflake-connector-python objects (4.x classes, plus hand-built 5.x
shapes), so what is asserted here is what a user catching cortex-tune errors observes.
"""

from __future__ import annotations

import pytest
from snowflake.connector import errors
from snowflake.connector.vendored.requests import exceptions as rex

import cortex_tune
from cortex_tune import (
    AuthenticationError,
    BudgetExceededError,
    ConfigurationError,
    CortexError,
    InvalidOptionsError,
    JobNotFoundError,
    MaxTokensExceededError,
    NetworkError,
    NoWarehouseError,
    ObjectNotFoundError,
    PermissionDeniedError,
    QueryError,
    SessionExpiredError,
    StructuredOutputError,
    ThrottledError,
    TransientError,
    UnknownFunctionError,
    UnknownModelError,
    WaitTimeoutError,
)
from cortex_tune._core.errors import from_text, translate

QUERY_ID = "01b79faf-0000-1c2d-0000-00a1b2c3d4e5"


class ReauthenticationRequest(errors.Error):
    """Stands in for connector 5.x's ReauthenticationRequest (absent from 4.8's errors)."""


# (Cortex / Snowflake error text, errno, sqlstate, expected class). Texts are the documented
# Cortex messages and the observed SQL error envelopes around them.
DOCUMENTED_TEXTS: list[tuple[str, int, str, type[CortexError]]] = [
    ("too many requests", 100351, "P0000", ThrottledError),
    ("all requests were throttled by remote service", 100351, "P0000", ThrottledError),
    ("budget exceeded", 100351, "P0000", BudgetExceededError),
    ('unknown model "x"', 100351, "P0000", UnknownModelError),
    (
        "100351 (P0000): Request failed for external function COMPLETE$V2 with remote service "
        'error: 400 \'"unknown model \\"snowflake-arctic\\""\'',
        100351,
        "P0000",
        UnknownModelError,
    ),
    (
        "512513 (P0000): Request failed for external function COMPLETE with remote service "
        "error: '400 'unknown model \"claude-3-5-sonnet\"''; requests batch-id: 01c7…",
        512513,
        "P0000",
        UnknownModelError,
    ),
    (
        "512513 (P0000): Request failed for external function COMPLETE with remote service "
        "error: '400 'The model mistral-large2 has been in legacy state, please use other "
        "models.''",
        512513,
        "P0000",
        UnknownModelError,
    ),
    ("max tokens of 200000 exceeded", 100351, "P0000", MaxTokensExceededError),
    ("invalid options object", 100351, "P0000", InvalidOptionsError),
    (
        "json mode output validation error: Model returned invalid JSON that cannot be parsed "
        "due to: unexpected end of JSON input",
        100351,
        "P0000",
        StructuredOutputError,
    ),
    (
        "json mode output validation error: unsupported value for 'responseFormat.type' field: "
        "xml. Only 'json' is supported",
        100351,
        "P0000",
        StructuredOutputError,
    ),
    (
        "Fine-tuning job ft_00000000-0000-0000-0000-000000000000 not found",
        100357,
        "P0000",
        JobNotFoundError,
    ),
    ("Job CortexFineTuningWorkflow_54cfb2bb does not exist", 100357, "P0000", JobNotFoundError),
    (
        "Session no longer exists.  New login required to access the service.",
        390111,
        "08001",
        SessionExpiredError,
    ),
    (
        "Authentication token has expired.  The user must authenticate again.",
        390114,
        "08001",
        SessionExpiredError,
    ),
    ("Incorrect username or password was specified.", 390100, "08004", AuthenticationError),
    (
        "No active warehouse selected in the current session.  Select an active warehouse with "
        "the 'use warehouse' command.\n",
        606,
        "57P03",
        NoWarehouseError,
    ),
    (
        "SQL compilation error:\nObject 'TRAIN' does not exist or not authorized.",
        2003,
        "42S02",
        ObjectNotFoundError,
    ),
    ("SQL compilation error:\nUnknown function AI_COMPLETE", 2140, "42601", UnknownFunctionError),
    (
        "SQL access control error:\nInsufficient privileges to operate on schema 'PUBLIC'",
        3001,
        "42501",
        PermissionDeniedError,
    ),
]


def _ids(cases: list[tuple[str, int, str, type[CortexError]]]) -> list[str]:
    return [f"{cls.__name__}:{text[:40]}" for text, _, _, cls in cases]


@pytest.mark.parametrize(
    ("text", "errno", "sqlstate", "expected"), DOCUMENTED_TEXTS, ids=_ids(DOCUMENTED_TEXTS)
)
def test_documented_text_in_programming_error_translates_with_details(
    text: str, errno: int, sqlstate: str, expected: type[CortexError]
) -> None:
    exc = errors.ProgrammingError(
        msg=text, errno=errno, sqlstate=sqlstate, sfqid=QUERY_ID, send_telemetry=False
    )

    error = translate(exc, op="complete")

    assert type(error) is expected
    assert error.errno == errno
    assert error.sqlstate == sqlstate
    assert error.query_id == QUERY_ID
    assert error.op == "complete"
    assert error.hint
    assert text.strip() in error.message


@pytest.mark.parametrize(
    ("text", "errno", "sqlstate", "expected"), DOCUMENTED_TEXTS, ids=_ids(DOCUMENTED_TEXTS)
)
def test_from_text_maps_documented_texts_like_translate(
    text: str, errno: int, sqlstate: str, expected: type[CortexError]
) -> None:
    error = from_text(text, query_id=QUERY_ID, op="complete")

    assert type(error) is expected
    assert error.message == text
    assert error.query_id == QUERY_ID
    assert error.op == "complete"
    assert error.hint


def test_throttling_texts_are_transient() -> None:
    for text in ("too many requests", "all requests were throttled by remote service"):
        exc = errors.ProgrammingError(
            msg=text, errno=100351, sqlstate="P0000", send_telemetry=False
        )
        assert isinstance(translate(exc, op="complete"), TransientError)


def test_refusals_are_not_transient() -> None:
    refusals = [case for case in DOCUMENTED_TEXTS if case[3] is not ThrottledError]
    assert refusals
    for text, errno, sqlstate, _ in refusals:
        exc = errors.ProgrammingError(
            msg=text, errno=errno, sqlstate=sqlstate, send_telemetry=False
        )
        assert not isinstance(translate(exc, op="complete"), TransientError), text


def test_failed_login_wrapped_by_connector_is_an_authentication_error() -> None:
    exc = errors.DatabaseError(
        msg="Failed to connect to DB: xy12345.snowflakecomputing.com:443. Incorrect username "
        "or password was specified.",
        errno=250001,
        sqlstate="08001",
        send_telemetry=False,
    )

    error = translate(exc, op="connect")

    assert type(error) is AuthenticationError
    assert not isinstance(error, TransientError)
    assert error.errno == 250001
    assert error.op == "connect"


def test_errno_390112_alone_means_the_session_expired() -> None:
    exc = errors.DatabaseError(
        msg="Please log in again.", errno=390112, sqlstate="08001", send_telemetry=False
    )

    error = translate(exc, op="finetune.describe")

    assert type(error) is SessionExpiredError
    assert error.errno == 390112
    assert error.hint


def test_from_text_recognises_390112_in_a_rest_style_text() -> None:
    assert type(from_text("390112: Your session has expired. Please login again.")) is (
        SessionExpiredError
    )


def test_from_text_defaults_to_query_error() -> None:
    error = from_text("something nobody documented went wrong", query_id=QUERY_ID)

    assert type(error) is QueryError
    assert error.query_id == QUERY_ID
    assert error.message == "something nobody documented went wrong"


def test_structured_output_error_from_cortex_carries_cortex_answer_as_raw() -> None:
    # Cortex refuses the model's output without sending it: its own answer is the raw text.
    error = from_text("json mode output validation error: missing field 'note'")

    assert isinstance(error, StructuredOutputError)
    assert error.raw == "json mode output validation error: missing field 'note'"


# -- connector 4.x HTTP classes ----------------------------------------------------------------

HTTP_RETRYABLE: list[tuple[type[errors.Error], int, type[CortexError]]] = [
    (errors.ServiceUnavailableError, 503, NetworkError),
    (errors.InternalServerError, 500, NetworkError),
    (errors.BadGatewayError, 502, NetworkError),
    (errors.GatewayTimeoutError, 504, NetworkError),
    (errors.TooManyRequests, 429, ThrottledError),
    (errors.OtherHTTPRetryableError, 599, NetworkError),
    (errors.RequestTimeoutError, 408, NetworkError),
]


@pytest.mark.parametrize(
    ("exc_cls", "status", "expected"),
    HTTP_RETRYABLE,
    ids=[c.__name__ for c, _, _ in HTTP_RETRYABLE],
)
def test_connector4_http_errors_are_transient(
    exc_cls: type[errors.Error], status: int, expected: type[CortexError]
) -> None:
    # As the 4.x connector raises them: error_class(errno=<HTTP status>).
    exc = exc_cls(errno=status, send_telemetry=False)

    error = translate(exc, op="finetune.create")

    assert type(error) is expected
    assert isinstance(error, TransientError)
    assert error.errno == 290000 + status
    assert error.sqlstate is None
    assert error.op == "finetune.create"
    assert error.hint
    assert error.message


def test_connector4_forbidden_is_an_authentication_error() -> None:
    error = translate(errors.ForbiddenError(errno=403, send_telemetry=False), op="connect")

    assert type(error) is AuthenticationError
    assert not isinstance(error, TransientError)
    assert error.errno == 290403
    assert error.message == "HTTP 403: Forbidden"


def test_connector4_http_401_is_an_expired_session() -> None:
    exc = errors.HttpError(
        msg="401 Unauthorized: POST xy12345.snowflakecomputing.com/queries/v1/query-request",
        errno=290401,
        sqlstate="08001",
        send_telemetry=False,
    )

    error = translate(exc, op="complete")

    assert type(error) is SessionExpiredError
    assert error.errno == 290401
    assert error.sqlstate == "08001"
    assert error.message.startswith("401 Unauthorized")


# -- connector 5.x shapes --------------------------------------------------------------------


@pytest.mark.parametrize(
    "exc",
    [
        errors.OperationalError(
            msg="Query timed out", errno=14, sqlstate="HYT00", send_telemetry=False
        ),
        errors.OperationalError(msg="Max retry attempts reached", errno=4, send_telemetry=False),
        errors.InternalError(msg="Response ended early", errno=6, send_telemetry=False),
    ],
    ids=["timeout-14-HYT00", "max-attempts-4", "truncated-6"],
)
def test_connector5_transport_failures_are_network_errors(exc: errors.Error) -> None:
    error = translate(exc, op="complete")

    assert type(error) is NetworkError
    assert isinstance(error, TransientError)
    assert error.errno == exc.errno
    assert error.sqlstate == (None if exc.sqlstate == "n/a" else exc.sqlstate)
    assert error.hint


def test_connector5_reauthentication_request_is_an_expired_session() -> None:
    exc = ReauthenticationRequest(msg="reauthenticate", send_telemetry=False)

    error = translate(exc, op="finetune.show")

    assert type(error) is SessionExpiredError
    assert not isinstance(error, TransientError)
    assert error.op == "finetune.show"


def test_connector4_internal_reauthentication_signal_is_an_expired_session() -> None:
    network = pytest.importorskip("snowflake.connector.network")
    signal_cls = getattr(network, "ReauthenticationRequest", None)
    if signal_cls is None:
        pytest.skip("this connector has no internal ReauthenticationRequest")

    error = translate(
        signal_cls(cause=errors.HttpError(msg="token expired", errno=290401, send_telemetry=False))
    )

    assert type(error) is SessionExpiredError
    assert error.message  # never empty, even though the signal carries no text


# -- transport exceptions --------------------------------------------------------------------


@pytest.mark.parametrize(
    "exc",
    [
        rex.ChunkedEncodingError(
            "('Connection broken: IncompleteRead(0 bytes read, 512 more expected)', "
            "IncompleteRead(0 bytes read, 512 more expected))"
        ),
        rex.ConnectionError("('Connection aborted.', RemoteDisconnected('Remote end closed'))"),
        rex.ReadTimeout(
            "HTTPConnectionPool(host='127.0.0.1', port=8080): Read timed out. (read timeout=1)"
        ),
        ConnectionResetError(104, "Connection reset by peer"),
        TimeoutError("timed out"),
    ],
    ids=[
        "ChunkedEncodingError",
        "requests-ConnectionError",
        "ReadTimeout",
        "ConnectionResetError",
        "TimeoutError",
    ],
)
def test_transport_exceptions_are_network_errors(exc: BaseException) -> None:
    error = translate(exc, op="finetune.create")

    assert type(error) is NetworkError
    assert isinstance(error, TransientError)
    assert error.op == "finetune.create"
    assert error.query_id is None
    assert error.message


# -- details ---------------------------------------------------------------------------------


def test_cortex_error_passes_through_with_op_filled() -> None:
    original = UnknownModelError('unknown model "x"', query_id=QUERY_ID)

    error = translate(original, op="complete")

    assert error is original
    assert error.op == "complete"
    assert error.query_id == QUERY_ID


def test_cortex_error_keeps_an_op_it_already_has() -> None:
    original = JobNotFoundError("no such job", op="finetune.describe")

    assert translate(original, op="finetune.wait").op == "finetune.describe"


def test_connector_none_values_become_none() -> None:
    exc = errors.ProgrammingError(msg='unknown model "x"', send_telemetry=False)
    assert exc.errno == -1
    assert exc.sqlstate == "n/a"

    error = translate(exc, op="complete")

    assert error.errno is None
    assert error.sqlstate is None
    assert error.query_id is None
    assert "errno" not in str(error)
    assert "n/a" not in str(error)


def test_message_is_the_text_without_the_connector_prefix() -> None:
    exc = errors.ProgrammingError(
        msg="budget exceeded", errno=100351, sqlstate="P0000", send_telemetry=False
    )
    assert str(exc).startswith("100351 (P0000): ")

    assert translate(exc).message == "budget exceeded"


def test_str_names_message_op_errno_query_id_and_hint() -> None:
    exc = errors.ProgrammingError(
        msg='unknown model "x"',
        errno=100351,
        sqlstate="P0000",
        sfqid=QUERY_ID,
        send_telemetry=False,
    )

    text = str(translate(exc, op="complete"))

    assert 'unknown model "x"' in text
    assert "op=complete" in text
    assert "errno=100351" in text
    assert "sqlstate=P0000" in text
    assert f"query_id={QUERY_ID}" in text
    assert "Hint: " in text


def test_unclassified_programming_error_is_a_query_error() -> None:
    exc = errors.ProgrammingError(
        msg="SQL compilation error:\nsyntax error line 1 at position 7",
        errno=1003,
        sqlstate="42000",
        send_telemetry=False,
    )

    error = translate(exc, op="complete")

    assert type(error) is QueryError
    assert not isinstance(error, TransientError)


def test_redact_removes_a_secret_from_message_hint_and_str() -> None:
    secret = "s3cr3t-PAT-token-value"
    error = translate(
        errors.DatabaseError(
            msg=f"Failed to connect to DB: bad token {secret}",
            errno=250001,
            sqlstate="08001",
            send_telemetry=False,
        ),
        op="connect",
    )
    error.hint = f"Check the token {secret} of the connection."

    error._redact([secret])

    assert secret not in error.message
    assert error.hint is not None
    assert secret not in error.hint
    assert secret not in str(error)
    assert secret not in repr(error)
    assert all(secret not in str(arg) for arg in error.args)
    assert "***" in error.message
    assert "***" in error.hint


# -- the tree ----------------------------------------------------------------------------------


def test_every_exported_error_is_a_cortex_error() -> None:
    # JobError (the model of DESCRIBE's "error" object) is data, not an exception.
    exported = {name: getattr(cortex_tune, name) for name in cortex_tune.__all__}
    error_classes = {
        name: obj
        for name, obj in exported.items()
        if name.endswith("Error") and isinstance(obj, type) and issubclass(obj, BaseException)
    }
    assert len(error_classes) > 20
    for name, cls in error_classes.items():
        assert issubclass(cls, CortexError), name


def test_every_exported_exception_is_a_cortex_error() -> None:
    for name in cortex_tune.__all__:
        obj = getattr(cortex_tune, name)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            # Warnings are a category of their own (LegacyFunctionWarning), not errors.
            assert issubclass(obj, (CortexError, Warning)), name


def test_configuration_error_is_a_value_error() -> None:
    assert issubclass(ConfigurationError, ValueError)
    with pytest.raises(ValueError, match="bad"):
        raise ConfigurationError("bad max_epochs")


def test_wait_timeout_error_is_a_timeout_error() -> None:
    assert issubclass(WaitTimeoutError, TimeoutError)

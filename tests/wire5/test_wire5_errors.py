"""Connector 5.x failures reach the user as the right cortex-tune errors, within the budget,
and no secret shows in an error, a repr or a log record."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from wire5_client import (
    GIVE_UP,
    LOGIN,
    QUERY_TIMEOUT,
    RETRY,
    RETRY_TIMEOUT,
    SHOW,
    Wire,
    drop_body,
    http_error,
    slow,
    snowflake_error,
)

from cortex_tune import (
    AuthenticationError,
    ConnectionFailedError,
    Cortex,
    CortexError,
    NetworkError,
    ObjectNotFoundError,
    SessionExpiredError,
    ThrottledError,
    TransientError,
    UnknownModelError,
)

TOKEN = "/session/token-request"
EXPIRED = "Authentication token has expired.  The user must authenticate again."
GONE = "Session no longer exists.  New login required to access the service."
THROTTLED = (
    "Request failed for external function COMPLETE$V2 with remote service error: "
    "429 'too many requests'"
)


def test_unknown_model_is_typed_and_not_retried(wire: Wire, cx: Cortex) -> None:
    with pytest.raises(UnknownModelError) as info:
        cx.complete("no-such-model", "hello")

    assert info.value.query_id and info.value.op in ("complete", "ai_complete")
    assert len(wire.requests()) == 1


def test_missing_table_is_typed_with_its_query_id(wire: Wire, cx: Cortex) -> None:
    with pytest.raises(ObjectNotFoundError) as info:
        cx.sql("SELECT * FROM NO_SUCH_TABLE")

    assert info.value.query_id and info.value.errno == 2003
    assert len(wire.requests()) == 1


def test_401_is_an_authentication_error_never_retried(wire: Wire, cx: Cortex) -> None:
    wire.arm(http_error(401, sql=SHOW))

    with pytest.raises(AuthenticationError) as info:
        cx.finetune.list()

    assert not isinstance(info.value, TransientError)
    assert info.value.op == "finetune.show"
    assert (info.value.errno, info.value.sqlstate) == (250001, "08001")
    assert info.value.hint and "password, key or token" in info.value.hint
    # 5.x asks to renew the session token once (the server refuses), then gives up.
    assert len(wire.requests(sql=SHOW)) == 1
    assert len(wire.requests(path=TOKEN)) == 1


def test_503_is_retried_by_the_connector_under_one_request_id(wire: Wire, cx: Cortex) -> None:
    wire.arm(http_error(503, times=2, sql=SHOW))

    assert cx.finetune.list() == []

    seen = wire.requests(sql=SHOW)
    assert [s["status"] for s in seen] == [503, 503, 200]
    assert len({s["request_id"] for s in seen}) == 1
    assert [s["retry_count"] for s in seen] == [0, 1, 2]


def test_connector_timeout_is_retried_under_a_new_request_id(wire: Wire, cx: Cortex) -> None:
    # Two answers later than retry_timeout: 5.x re-sends once, then its query_timeout ends
    # the statement (errno 14); cortex-tune retries the read under a new request id.
    wire.arm(slow(RETRY_TIMEOUT + 0.5, times=2, sql=SHOW))

    assert cx.finetune.list() == []

    seen = wire.requests(sql=SHOW)
    assert [s["retry_count"] for s in seen] == [0, 1, 0]
    assert seen[0]["request_id"] == seen[1]["request_id"] != seen[2]["request_id"]


def test_expired_token_is_a_session_error_never_retried(wire: Wire, cx: Cortex) -> None:
    wire.arm(snowflake_error("390114", EXPIRED, sqlstate="08001", sql=SHOW))

    with pytest.raises(SessionExpiredError) as info:
        cx.finetune.list()

    assert (info.value.errno, info.value.sqlstate) == (390114, "08001")
    assert info.value.hint and "Cortex.connect" in info.value.hint
    assert len(wire.requests(sql=SHOW)) == 1
    assert wire.requests(path=TOKEN) == []


@pytest.mark.parametrize(
    "fault",
    [
        snowflake_error("390112", GONE, sqlstate="08001", sql=SHOW),
        http_error(401, sql=SHOW),
    ],
    ids=["session-gone-390112", "http-401"],
)
def test_session_that_renews_is_transparent(wire: Wire, cx: Cortex, fault: dict[str, Any]) -> None:
    wire.renewals(accept=True)
    wire.arm(fault)

    assert cx.finetune.list() == []

    seen = wire.requests(sql=SHOW)
    assert len(seen) == 2 and len({s["request_id"] for s in seen}) == 1
    assert len(wire.requests(path=TOKEN)) == 1


def test_closed_client_says_to_reconnect(wire: Wire) -> None:
    cx = wire.connect()
    cx.close()

    with pytest.raises(ConnectionFailedError) as info:
        cx.finetune.list()

    assert not isinstance(info.value, TransientError)
    assert (info.value.errno, info.value.sqlstate) == (250002, "08003")
    assert info.value.hint and "Cortex.connect" in info.value.hint
    assert wire.requests() == []


def test_truncated_answer_to_a_read_is_retried(wire: Wire, cx: Cortex) -> None:
    wire.arm(drop_body(sql=SHOW))

    assert cx.finetune.list() == []

    # 5.x raises on a body cut short (it does not re-send); cortex-tune retries the read.
    seen = wire.requests(sql=SHOW)
    assert [s["fault"] for s in seen] == ["drop_body", None]
    assert len({s["request_id"] for s in seen}) == 2


def test_throttling_that_never_ends_stops_after_the_attempts(wire: Wire, cx: Cortex) -> None:
    wire.arm(snowflake_error("100351", THROTTLED, sqlstate="P0000", times="inf"))

    with pytest.raises(ThrottledError) as info:
        cx.complete("echo", "hello")

    assert len(wire.requests()) == RETRY.attempts
    assert info.value.query_id


def test_503_forever_fails_within_the_budget(wire: Wire) -> None:
    cx = wire.connect(retry=GIVE_UP)
    wire.arm(http_error(503, times="inf", sql=SHOW))

    started = time.monotonic()
    with pytest.raises(NetworkError) as info:
        cx.finetune.list()
    elapsed = time.monotonic() - started
    cx.close()

    assert elapsed < GIVE_UP.budget + QUERY_TIMEOUT + 1.0
    assert info.value.op == "finetune.show"
    seen = wire.requests(sql=SHOW)
    # The connector re-sends under one request id; cortex-tune retries under a new one.
    assert 2 <= len({s["request_id"] for s in seen}) <= GIVE_UP.attempts
    print(f"[measure] 5.x 503-forever show: requests={len(seen)} elapsed={elapsed:.2f}s")


def test_server_that_never_answers_fails_within_the_budget(wire: Wire) -> None:
    cx = wire.connect(retry=GIVE_UP)
    wire.proxy(blackhole=True)

    started = time.monotonic()
    with pytest.raises(NetworkError) as info:
        cx.finetune.list()
    elapsed = time.monotonic() - started
    wire.proxy(reset=True)
    cx.close()

    # Each connector attempt waits retry_timeout; 5.x gives up at query_timeout, cortex-tune
    # after its budget.
    assert elapsed < GIVE_UP.budget + QUERY_TIMEOUT + 1.0
    assert info.value.op == "finetune.show"
    assert "timed out" in info.value.message.lower()
    print(f"[measure] 5.x blackhole show: elapsed={elapsed:.2f}s")


# -- secrets -----------------------------------------------------------------------------------


def _auth(wire: Wire, kind: str) -> dict[str, Any]:
    if kind == "key-pair":
        return wire.key_pair()
    if kind == "oauth-token":
        return {"password": None, "authenticator": "oauth", "token": wire.config["oauth_token"]}
    return {}


WRONG = {
    "password": {"password": "Wrong-Passw0rd-3e81"},
    "key-pair": {"private_key_password": "Wrong-Key-Phr4se-44ab"},
    "oauth-token": {"token": "Wrong-OAuth-Tok3n-9c07"},
}


def _texts(error: CortexError) -> list[str]:
    return [str(error), repr(error), error.message, error.hint or "", *map(str, error.args)]


@pytest.mark.parametrize("kind", list(WRONG))
def test_no_secret_in_logs_reprs_or_errors(
    wire: Wire, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    settings = _auth(wire, kind)
    errors: list[CortexError] = []

    cx = wire.connect(**settings)
    texts = [repr(cx), repr(cx.backend), str(cx.backend)]
    assert cx.complete("echo", "hello").text == "hello"
    for bad in (
        lambda: cx.finetune.describe("ft_missing"),
        lambda: cx.complete("no-such-model", "hi"),
        lambda: cx.sql("SELECT * FROM NO_SUCH_TABLE"),
    ):
        with pytest.raises(CortexError) as info:
            bad()
        errors.append(info.value)
    cx.close()
    with pytest.raises(CortexError) as refused:
        wire.connect(**{**settings, **WRONG[kind]})
    errors.append(refused.value)

    for error in errors:
        texts.extend(_texts(error))
    records = [*caplog.get_records("setup"), *caplog.get_records("call")]
    texts.extend(r.getMessage() for r in records)
    secrets = [*wire.secrets(), *WRONG[kind].values()]
    leaks = [s[:10] for s in secrets if any(s in text for text in texts)]
    assert not leaks, f"secrets leaked: {leaks}"
    debug = {r.name.split(".")[0] for r in records if r.levelno == logging.DEBUG}
    assert {"snowflake", "cortex_tune"} <= debug


def test_a_login_refusal_quoting_the_key_passphrase_is_redacted(
    wire: Wire, caplog: pytest.LogCaptureFixture
) -> None:
    # 5.x names the passphrase private_key_password; cortex-tune redacts it under that name.
    passphrase = wire.config["private_key_password"]
    wire.arm(snowflake_error("390144", f"JWT token is invalid: {passphrase}", path=LOGIN))

    with pytest.raises(AuthenticationError) as info:
        wire.connect(**wire.key_pair())

    assert "JWT token is invalid" in info.value.message
    assert not [text for text in _texts(info.value) if passphrase in text]
    # The connector logs the server's refusal as it came; here that text is the test's own.
    caplog.clear()

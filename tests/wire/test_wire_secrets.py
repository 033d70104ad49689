"""Secrets never appear in logs, reprs or error messages, whatever the authentication.

Every test of the tier runs with DEBUG logging on every logger, and the tier's fixture fails
any test whose log records contain a secret (the password, the OAuth token, the key
passphrase, the JWTs and session tokens seen on the wire). These tests add reprs and error
texts, for each way of authenticating, through success, refusals and faults.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from wire_faults import http_error, reset_after
from wire_server import OAUTH_TOKEN, WireServer

from cortex_tune import CortexError

AUTH: dict[str, Callable[[WireServer], dict[str, Any]]] = {
    "password": lambda w: {},
    "oauth-token": lambda w: {"password": None, "authenticator": "oauth", "token": OAUTH_TOKEN},
    "key-pair-jwt": lambda w: w.jwt_kwargs(),
}

WRONG: dict[str, dict[str, Any]] = {
    "password": {"password": "Wrong-Passw0rd-3e81"},
    "oauth-token": {"token": "Wrong-OAuth-Tok3n-9c07"},
    "key-pair-jwt": {"private_key_file_pwd": "Wrong-Key-Phr4se-44ab"},
}


def _texts(error: CortexError) -> list[str]:
    return [str(error), repr(error), error.message, error.hint or "", *map(str, error.args)]


@pytest.mark.parametrize("kind", list(AUTH))
def test_no_secret_in_logs_reprs_or_errors(
    wire: WireServer, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    settings = AUTH[kind](wire)
    errors: list[CortexError] = []

    cx = wire.connect(**settings)
    texts = [repr(cx), repr(cx.backend), str(cx.backend)]
    assert cx.complete("echo", "hello").text == "hello"
    wire.injector.arm(http_error(503, after=True), reset_after())
    assert cx.finetune.list() == []
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
    # Logging really was on, for the connector and for cortex-tune.
    debug = {r.name.split(".")[0] for r in records if r.levelno == logging.DEBUG}
    assert {"snowflake", "cortex_tune"} <= debug

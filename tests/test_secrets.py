"""Secrets given to cortex-tune never appear in reprs, log lines or error messages."""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from snowflake.connector import errors as sf

from cortex_tune import ConnectionFailedError, Cortex, CortexError
from cortex_tune.testing import FakeBackend

SECRET = "Sup3r-S3cret-Value-42"


def _closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


def _encrypted_key(tmp_path: Path) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(SECRET.encode()),
    )
    path = tmp_path / "rsa_key.p8"
    path.write_bytes(pem)
    return path


def _auth(kind: str, tmp_path: Path) -> dict[str, Any]:
    if kind == "password":
        return {"password": SECRET}
    if kind == "token":
        return {"authenticator": "oauth", "token": SECRET}
    return {
        "authenticator": "SNOWFLAKE_JWT",
        "private_key_file": str(_encrypted_key(tmp_path)),
        "private_key_file_pwd": SECRET,
    }


@pytest.mark.parametrize("kind", ["password", "token", "private_key"])
def test_failed_connect_leaks_no_secret(
    kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConnectionFailedError) as info:
        Cortex.connect(
            account="acct",
            user="someone",
            host="127.0.0.1",
            port=_closed_port(),
            protocol="http",
            login_timeout=2,
            platform_detection_timeout_seconds=0.0,
            **_auth(kind, tmp_path),
        )
    error = info.value
    assert error.op == "connect"
    for text in (str(error), repr(error), error.hint or "", caplog.text):
        assert SECRET not in text


def test_secret_echoed_by_the_server_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake = FakeBackend()
    fake.fail_next(sf.ProgrammingError(msg=f"bad credential {SECRET}", send_telemetry=False))
    cx = Cortex(backend=fake, secrets=[SECRET])
    with pytest.raises(CortexError) as info:
        cx.finetune.list()
    assert SECRET not in str(info.value)
    assert "***" in str(info.value)
    assert SECRET not in caplog.text


def test_prompts_are_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="cortex_tune")
    fake = FakeBackend()
    fake.respond("mistral-7b", "ok")
    Cortex(backend=fake).complete("mistral-7b", f"my card number is {SECRET}")
    assert "op=ai_complete" in caplog.text
    assert SECRET not in caplog.text
    assert SECRET not in repr(fake.statements[0])

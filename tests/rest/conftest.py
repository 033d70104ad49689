"""The REST tier: the real ``openai`` client against a local Chat Completions fake on 127.0.0.1.

One fake serves the whole tier and is reset before every test. Every logger records at
DEBUG, and after each test no captured record may contain a credential the test used.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("SNOWFLAKE_DISABLE_PLATFORM_DETECTION", "true")
pytest.importorskip("openai", reason="the REST tier needs the rest extra (openai)")

from fake_server import ChatFake

from cortex_tune import Cortex, RetryPolicy
from cortex_tune.testing import FakeBackend

PAT = "pat-Sup3r-S3cret-0123456789"
OAUTH_TOKEN = "oauth-Sup3r-S3cret-9876543210"
KEY_PASSPHRASE = "key-Passphrase-S3cret-42"
SECRETS = (PAT, OAUTH_TOKEN, KEY_PASSPHRASE)
#: Short pauses and a small budget: retries are visible, tests stay fast.
POLICY = RetryPolicy(attempts=4, budget=30.0, base_delay=0.01, max_delay=0.05)


@pytest.fixture(scope="session")
def server() -> Iterator[ChatFake]:
    fake = ChatFake()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def chat(server: ChatFake, caplog: pytest.LogCaptureFixture) -> Iterator[ChatFake]:
    """The fake, reset, accepting ``PAT``; logs are scanned for secrets afterwards."""
    server.reset()
    server.pat = PAT
    caplog.set_level(logging.DEBUG)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):
            caplog.set_level(logging.DEBUG, logger=name)
    yield server
    for record in caplog.records:
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        leaked = [s[:8] for s in SECRETS if s in text]
        assert not leaked, f"secret in log record of {record.name}: {leaked}"


def rest_params(chat: ChatFake, **auth: object) -> dict[str, object]:
    """Connection settings pointing at the fake (a PAT unless ``auth`` says otherwise)."""
    params: dict[str, object] = {
        "account": "myorg-acct",
        "user": "tester",
        "host": "127.0.0.1",
        "port": chat.port,
        "protocol": "http",
    }
    params.update(auth or {"authenticator": "PROGRAMMATIC_ACCESS_TOKEN", "token": PAT})
    return params


@pytest.fixture
def fake() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def cx(chat: ChatFake, fake: FakeBackend) -> Iterator[Cortex]:
    """A client with both transports: SQL on a FakeBackend (its clock: retries sleep on it)
    and REST on the fake endpoint, with a PAT."""
    client = Cortex(backend=fake, rest=rest_params(chat), retry=POLICY)
    try:
        yield client
    finally:
        client.close()

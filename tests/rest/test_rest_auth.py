"""REST credentials from the connection settings: PAT, key-pair JWT, OAuth; what is missing."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fake_server import ChatFake

from conftest import KEY_PASSPHRASE, OAUTH_TOKEN, PAT, POLICY, rest_params
from cortex_tune import Cortex, Message, RestCredentialsError, RestSettings
from cortex_tune._rest import KeyPairToken
from cortex_tune.testing import FakeBackend, FakeClock

CHAT = [Message.system("Be brief"), Message.user("Hi")]


def _key_file(tmp_path: Path) -> tuple[Path, rsa.RSAPrivateKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(KEY_PASSPHRASE.encode()),
    )
    path = tmp_path / "rsa_key.p8"
    path.write_bytes(pem)
    return path, key


def test_key_pair_jwt_is_verified_by_the_server(
    chat: ChatFake, fake: FakeBackend, tmp_path: Path
) -> None:
    path, key = _key_file(tmp_path)
    chat.pat = None
    chat.key_pair = ("MYORG-ACCT", "TESTER", key.public_key())
    chat.register("llama3.1-70b", "signed in")
    params = rest_params(
        chat,
        authenticator="SNOWFLAKE_JWT",
        private_key_file=str(path),
        private_key_file_pwd=KEY_PASSPHRASE,
    )
    cx = Cortex(backend=fake, rest=params, retry=POLICY)
    assert cx.complete("llama3.1-70b", CHAT).text == "signed in"
    sent = chat.requests[0]
    assert sent.headers["x-snowflake-authorization-token-type"] == "KEYPAIR_JWT"
    claims = sent.claims
    assert claims is not None
    assert claims["sub"] == "MYORG-ACCT.TESTER"
    assert claims["iss"].startswith("MYORG-ACCT.TESTER.SHA256:")
    assert 0 < claims["exp"] - claims["iat"] <= 3600


def test_a_wrong_key_is_refused_as_authentication(
    chat: ChatFake, fake: FakeBackend, tmp_path: Path
) -> None:
    path, _ = _key_file(tmp_path)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    chat.key_pair = ("MYORG-ACCT", "TESTER", other.public_key())
    params = rest_params(chat, private_key_file=str(path), private_key_file_pwd=KEY_PASSPHRASE)
    cx = Cortex(backend=fake, rest=params, retry=POLICY)
    with pytest.raises(Exception, match="JWT token is invalid") as info:
        cx.complete("llama3.1-70b", CHAT)
    assert type(info.value).__name__ == "AuthenticationError"


def test_the_jwt_is_refreshed_before_it_expires(tmp_path: Path) -> None:
    _, key = _key_file(tmp_path)
    clock = FakeClock(start=1_000_000.0)
    token = KeyPairToken("myorg-acct.us-east-1", "tester", key, clock=clock.time)
    first = token()
    assert token() == first
    clock.advance(50 * 60)  # more than 5 minutes left: the same token
    assert token() == first
    clock.advance(5 * 60)  # under 5 minutes left: a new one
    second = token()
    assert second != first
    assert token.account == "MYORG-ACCT"  # the region is not part of the claims
    assert KEY_PASSPHRASE not in repr(token)


def test_oauth_token_and_its_header(chat: ChatFake, fake: FakeBackend) -> None:
    chat.pat = None
    chat.oauth = OAUTH_TOKEN
    chat.register("llama3.1-70b", "oauth ok")
    cx = Cortex(backend=fake, rest=rest_params(chat, authenticator="oauth", token=OAUTH_TOKEN))
    assert cx.complete("llama3.1-70b", CHAT).text == "oauth ok"
    assert chat.requests[0].headers["x-snowflake-authorization-token-type"] == "OAUTH"


def test_pat_from_the_environment(chat: ChatFake) -> None:
    settings = RestSettings.from_params(
        {"account": "acct", "password": "x-Password"}, environ={"SNOWFLAKE_PAT": PAT}
    )
    assert settings.ready and settings.token_type == "PROGRAMMATIC_ACCESS_TOKEN"
    assert settings.base_url == "https://acct.snowflakecomputing.com/api/v2/cortex/v1"
    assert PAT not in repr(settings)


def test_account_url_uses_hyphens(chat: ChatFake) -> None:
    settings = RestSettings.from_params({"account": "myorg_my_acct", "token": PAT}, environ={})
    assert settings.base_url == "https://myorg-my-acct.snowflakecomputing.com/api/v2/cortex/v1"


def test_a_password_connection_says_what_rest_is_missing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(RestCredentialsError) as info:
        Cortex.rest(account="acct", user="u", password=PAT)
    error = info.value
    assert "no REST credential" in str(error)
    assert "password" in str(error)
    assert "SNOWFLAKE_PAT" in (error.hint or "")
    for text in (str(error), repr(error), caplog.text):
        assert PAT not in text


def test_no_account_is_reported(chat: ChatFake) -> None:
    settings = RestSettings.from_params({"token": PAT}, environ={})
    assert not settings.ready
    with pytest.raises(RestCredentialsError, match="no account URL"):
        settings.require()


def test_explicit_rest_without_settings_and_tools_without_rest(fake: FakeBackend) -> None:
    fake.respond("llama3.1-70b", "ok")

    def lookup(order: str) -> str:
        """Find an order."""
        return order

    sql_only = Cortex(backend=fake, transport="sql")
    with pytest.raises(Exception, match="tool calling needs"):
        sql_only.complete("llama3.1-70b", "Where is order 7?", tools=[lookup])
    from cortex_tune._backends.base import Result
    from cortex_tune.sql import Statement

    class Plain:  # a backend with no emulator behind it
        def execute(self, statement: Statement) -> Result:
            return fake.execute(statement)

        def close(self) -> None:
            return None

    cx = Cortex(backend=Plain())
    with pytest.raises(RestCredentialsError, match="no REST settings"):
        cx.complete("llama3.1-70b", "Hi", transport="rest")
    with pytest.raises(RestCredentialsError):
        cx.complete("llama3.1-70b", "Hi", tools=[lookup])


def test_connections_toml_gives_rest_its_settings(tmp_path: Path, chat: ChatFake) -> None:
    import subprocess
    import sys

    home = tmp_path / "sf"
    home.mkdir()
    toml = home / "connections.toml"
    toml.write_text(
        f'[fake]\naccount = "myorg-acct"\nuser = "tester"\nhost = "127.0.0.1"\n'
        f'port = {chat.port}\nprotocol = "http"\n'
        f'authenticator = "PROGRAMMATIC_ACCESS_TOKEN"\ntoken = "{PAT}"\n'
    )
    toml.chmod(0o600)
    chat.register("llama3.1-70b", "from toml")
    code = (
        "from cortex_tune import Cortex\n"
        "cx = Cortex.rest('fake')\n"
        "print(repr(cx.rest_settings))\n"
        "print(''.join(cx.complete('llama3.1-70b', 'Hi', stream=True)))\n"
    )
    env = {"SNOWFLAKE_HOME": str(home), "SNOWFLAKE_DISABLE_PLATFORM_DETECTION": "true"}
    import os

    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "from toml" in out.stdout
    assert "PROGRAMMATIC_ACCESS_TOKEN" in out.stdout
    assert PAT not in out.stdout + out.stderr

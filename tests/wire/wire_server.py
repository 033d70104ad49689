"""A local Snowflake for the wire tier: fakesnow's HTTP server with Cortex's functions.

The server is fakesnow in server mode, run by ``fakesnow.server()``. Before the first login,
its shared in-memory database is replaced by a cortex-tune engine (the one LocalBackend
uses), so ``SNOWFLAKE.CORTEX.*`` exist for every session; each server session is opened by
that engine, which installs the per-session ``AI_COMPLETE`` / ``AI_COUNT_TOKENS`` macros and
maps Cortex function errors to Snowflake errors. The functions answer from an ``Emulator``
that each test gets fresh (no jobs, a stand-in ``echo`` model) on a clock the test drives.

Requests reach fakesnow through the fault injector (ASGI middleware) and, in front of
uvicorn, a TCP proxy; the connector connects to the proxy. Everything listens on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import inspect
import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from wire_async import AsyncQueries
from wire_faults import FaultInjector, TcpProxy

from cortex_tune import Cortex, FineTuneJob, RetryPolicy
from cortex_tune._emulator import Emulator, EngineError
from cortex_tune._emulator.history import QueryHistory
from cortex_tune._emulator.models import ModelRequest
from cortex_tune._finetune.jobs import FineTune

DATABASE = "WIRE"
SCHEMA = "PUBLIC"
USER = "WIRE_USER"

#: Secrets every wire client authenticates with; none may show in logs, reprs or errors.
PASSWORD = "Wire-Passw0rd-7f3a9c"
OAUTH_TOKEN = "Wire-OAuth-Tok3n-51d2e8"
KEY_PASSPHRASE = "Wire-Key-Phr4se-0b6c44"

#: Per-attempt timeout (s): a response later than this is lost to the client.
SOCKET_TIMEOUT = 1
#: The connector's own budget for one request (s), all its attempts included.
NETWORK_TIMEOUT = 2
#: cortex-tune's policy in the tier: a few quick attempts within a small budget.
RETRY = RetryPolicy(attempts=4, budget=4.0, base_delay=0.05, max_delay=0.2)

#: For servers that never recover: one connector attempt per statement, two of cortex-tune's.
GIVE_UP = RetryPolicy(attempts=4, budget=2.0, base_delay=0.05, max_delay=0.2)

DEPRECATED_MODEL = "mistral-large2"


def fast_backoff() -> Iterator[int]:
    """The connector's pauses between its own attempts: none at first, then one second."""
    return itertools.chain(itertools.repeat(0, 3), itertools.repeat(1))


class Clock:
    """The emulator's clock: real time at the start, then moved by the test."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def echo(request: ModelRequest) -> str:
    return request.prompt


def deprecated(request: ModelRequest) -> str:
    raise EngineError(
        "Request failed for external function COMPLETE with remote service error: "
        f"'400 'The model {request.model} has been in legacy state, please use other models.''",
        errno=512513,
    )


class KeyPair:
    """An encrypted RSA key file for SNOWFLAKE_JWT, and the public key the server checks."""

    def __init__(self, directory: Path) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.path = directory / "rsa_key.p8"
        self.path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(KEY_PASSPHRASE.encode()),
            )
        )
        self.public_key = key.public_key()


class WireServer:
    """fakesnow over HTTP with Cortex functions, behind a fault injector and a TCP proxy."""

    def __init__(self, directory: Path) -> None:
        self.clock = Clock()
        self.keys = KeyPair(directory)
        self.emulator = self._new_emulator()
        self.issued_jwts: list[str] = []
        self.scanned_records = 0
        self._stack = contextlib.ExitStack()

    # -- lifecycle --

    def start(self) -> None:
        import fakesnow

        serve = fakesnow.server  # the function; importing fakesnow.server shadows it
        import fakesnow.server as module

        from cortex_tune._backends import _engine

        engine = _engine.Engine()
        engine.start(self.emulator, None, DATABASE, SCHEMA)
        self.engine = engine

        def session(database: str | None = None, schema: str | None = None, **_: Any) -> Any:
            # Every server session is a cortex-tune engine session: AI_* macros installed,
            # Cortex function errors raised as Snowflake errors.
            return engine.connect(database, schema)

        engine.fs.connect = session
        self.module = module
        saved_fs, saved_app = module.shared_fs, module.app
        # fakesnow's own shared database is never used by this server: closed at the end.
        self._stack.callback(saved_fs.duck_conn.close)
        self._stack.callback(setattr, module, "shared_fs", saved_fs)
        self._stack.callback(setattr, module, "app", saved_app)
        module.shared_fs = engine.fs
        self.asynchronous = AsyncQueries(saved_app, module.sessions.get, lambda: engine)
        self.injector = FaultInjector(self.asynchronous)
        self.injector.login_check = self._check_login
        module.app = self.injector
        self._stack.callback(self._close_sessions)
        upstream = self._stack.enter_context(serve())
        self.proxy = TcpProxy(upstream["port"])
        self.proxy.start()
        self._stack.callback(self.proxy.stop)

    def stop(self) -> None:
        self._stack.close()

    def _close_sessions(self) -> None:
        for conn in list(self.module.sessions.values()):
            with contextlib.suppress(Exception):
                conn.close()
        self.module.sessions.clear()
        self.engine.emulator = None

    # -- per test --

    def fresh(self) -> None:
        """No jobs, the stand-in models, no faults, a plain proxy, and an empty query history
        for the sessions opened from now on: the start of every test."""
        self.clock.offset = 0.0
        self.emulator = self._new_emulator()
        self.engine.emulator = self.emulator
        self.engine.history = QueryHistory()
        self.injector.reset()
        self.proxy.reset()

    def _new_emulator(self) -> Emulator:
        emulator = Emulator(
            clock=self.clock.time,
            duration=60.0,
            pending_seconds=1.0,
            database=DATABASE,
            schema=SCHEMA,
        )
        emulator.register_model("echo", echo)
        emulator.register_model(DEPRECATED_MODEL, deprecated)
        return emulator

    def connect_kwargs(self, **overrides: Any) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": self.proxy.port,
            "protocol": "http",
            "account": "wire",
            "user": USER,
            "password": PASSWORD,
            "database": DATABASE,
            "schema": SCHEMA,
            "platform_detection_timeout_seconds": 0.0,
            "socket_timeout": SOCKET_TIMEOUT,
            "network_timeout": NETWORK_TIMEOUT,
            "login_timeout": 5,
            "backoff_policy": fast_backoff,
            "session_parameters": {"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
            "retry": RETRY,
        }
        kwargs.update(overrides)
        return {k: v for k, v in kwargs.items() if v is not None}

    def connect(self, **overrides: Any) -> Cortex:
        """A client through the proxy, by the code path users take: ``Cortex.connect``."""
        return Cortex.connect(**self.connect_kwargs(**overrides))

    def jwt_kwargs(self) -> dict[str, Any]:
        return {
            "password": None,
            "authenticator": "SNOWFLAKE_JWT",
            "private_key_file": str(self.keys.path),
            "private_key_file_pwd": KEY_PASSPHRASE,
        }

    def secrets(self) -> list[str]:
        """Every secret the tier uses, or the server handed out (tokens, JWTs)."""
        return [
            PASSWORD,
            OAUTH_TOKEN,
            KEY_PASSPHRASE,
            *self.issued_jwts,
            *self.injector.session_tokens,
        ]

    # -- the server's side of authentication (fakesnow accepts anything) --

    def _check_login(self, body: Any) -> dict[str, Any] | None:
        data = body.get("data", {}) if isinstance(body, dict) else {}
        authenticator = str(data.get("AUTHENTICATOR", "SNOWFLAKE")).upper()
        if authenticator == "OAUTH":
            ok = data.get("TOKEN") == OAUTH_TOKEN
            code, message = "390303", "Invalid OAuth access token."
        elif authenticator == "SNOWFLAKE_JWT":
            token = str(data.get("TOKEN", ""))
            self.issued_jwts.append(token)
            ok = self._valid_jwt(token)
            code, message = "390144", "JWT token is invalid."
        else:
            ok = data.get("PASSWORD") == PASSWORD and data.get("LOGIN_NAME") == USER
            code, message = "390100", "Incorrect username or password was specified."
        if ok:
            return None
        return {"data": {"errorCode": code}, "code": code, "message": message, "success": False}

    def _valid_jwt(self, token: str) -> bool:
        try:
            jwt.decode(token, self.keys.public_key, algorithms=["RS256"])
        except jwt.PyJWTError:
            return False
        return True


TRAINING = "SELECT P AS prompt, C AS completion FROM WIRE_TRAIN"
CREATE = "FINETUNE('CREATE'"
SHOW = "FINETUNE('SHOW')"
DESCRIBE = "FINETUNE('DESCRIBE'"

# The preflight check (where this cortex-tune has one) runs its own statements and has its
# own tests; the wire tests aim at the CREATE statement itself.
_UNCHECKED: dict[str, Any] = (
    {"check": False} if "check" in inspect.signature(FineTune.create).parameters else {}
)


def training_table(cx: Cortex) -> None:
    cx.sql("CREATE OR REPLACE TABLE WIRE_TRAIN (P STRING, C STRING)")
    cx.sql(
        "INSERT INTO WIRE_TRAIN VALUES (?, ?), (?, ?), (?, ?)",
        ["my bill is wrong", "billing", "no signal abroad", "roaming", "charged twice", "billing"],
    )


def create_job(cx: Cortex, name: str = "WIRE_MODEL", **kwargs: Any) -> FineTuneJob:
    return cx.finetune.create(
        name, base_model="mistral-7b", training=TRAINING, **_UNCHECKED, **kwargs
    )


def server_tables(wire: WireServer) -> set[str]:
    """The tables that exist, seen from the server side (whatever state a client is in)."""
    cursor = wire.engine.fs.duck_conn.cursor()
    try:
        rows = cursor.execute(
            "SELECT database_name || '.' || schema_name || '.' || table_name FROM duckdb_tables()"
        ).fetchall()
    finally:
        cursor.close()
    return {str(r[0]) for r in rows}


def server_jobs(wire: WireServer) -> set[str]:
    """The fine-tuning jobs that exist, seen from the server side."""
    return {job.id for job in wire.emulator.store.all()}

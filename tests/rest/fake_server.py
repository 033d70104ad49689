"""A local Chat Completions endpoint for the REST tier: HTTP on 127.0.0.1, answers from the emulator.

It speaks what Cortex's ``/api/v2/cortex/v1/chat/completions`` speaks (JSON answers, SSE
streams ending with ``data: [DONE]``), checks the credential of every request (a PAT, an
OAuth token, or a key-pair JWT verified with the user's public key), records requests, and
injects faults: an error status before the answer (429 with Retry-After, 5xx, 400...), an
error event in mid-stream, or a connection dropped in mid-stream. It is bounded: at most
``max_requests`` requests per test and ``timeout`` seconds per connection.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization

from cortex_tune._emulator import Emulator, EngineError, Responder
from cortex_tune._emulator.stream import chat, chat_stream, status_of

PATH = "/api/v2/cortex/v1/chat/completions"


@dataclass
class Recorded:
    """One request as the fake received it."""

    headers: dict[str, str]
    body: dict[str, Any]
    claims: dict[str, Any] | None = None


@dataclass
class Fault:
    """What to do instead of (or in the middle of) the next answer."""

    status: int = 0
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    error_after: int | None = None  # content chunks sent before an error event
    drop_after: int | None = None  # content chunks sent before the connection is cut
    end_after: int | None = None  # content chunks sent before the body ends, cleanly, early
    code: str | None = None


class ChatFake:
    """The fake endpoint; ``base_url`` is what a client's REST settings point at."""

    def __init__(self, *, max_requests: int = 200, timeout: float = 10.0) -> None:
        self.emulator = Emulator()
        self.requests: list[Recorded] = []
        self.faults: deque[Fault] = deque()
        self.max_requests, self.timeout = max_requests, timeout
        self.token_delay = 0.0
        self.pat: str | None = None
        self.oauth: str | None = None
        self.key_pair: tuple[str, str, Any] | None = None  # account, user, public key
        self._server: ThreadingHTTPServer | None = None

    # -- scripting -------------------------------------------------------------------------------

    def register(self, model: str, responder: Responder | str) -> None:
        """Make ``model`` answer (a callable taking a ModelRequest, or a fixed text)."""
        if isinstance(responder, str):
            text = responder
            self.emulator.register_model(model, lambda _request: text)
        else:
            self.emulator.register_model(model, responder)

    def fail_next(
        self, status: int, message: str, *, times: int = 1, code: str | None = None, **headers: str
    ) -> None:
        """Answer the next ``times`` requests with ``status`` and Cortex-style error JSON."""
        extra = {k.replace("_", "-"): v for k, v in headers.items()}
        for _ in range(times):
            self.faults.append(Fault(status=status, message=message, headers=extra, code=code))

    def error_mid_stream(self, after: int, message: str) -> None:
        """Send ``after`` content chunks of the next stream, then an error event."""
        self.faults.append(Fault(error_after=after, message=message))

    def drop_mid_stream(self, after: int) -> None:
        """Send ``after`` content chunks of the next stream, then cut the connection."""
        self.faults.append(Fault(drop_after=after))

    def end_mid_stream(self, after: int) -> None:
        """Send ``after`` content chunks, then end the body properly but with no end of answer."""
        self.faults.append(Fault(end_after=after))

    def reset(self) -> None:
        """A fresh emulator, no faults, no recorded requests, no delay, no credentials."""
        server = self._server
        self.__init__(max_requests=self.max_requests, timeout=self.timeout)  # type: ignore[misc]
        self._server = server

    # -- server ----------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/api/v2/cortex/v1``."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/v2/cortex/v1"

    @property
    def port(self) -> int:
        """The port the fake listens on."""
        assert self._server is not None
        return int(self._server.server_address[1])

    def start(self) -> None:
        """Listen on 127.0.0.1 (a free port) in a daemon thread."""
        fake = self

        class Handler(_Handler):
            owner = fake
            timeout = fake.timeout

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # -- the endpoint ----------------------------------------------------------------------------

    def authenticate(self, headers: dict[str, str]) -> tuple[str | None, dict[str, Any] | None]:
        """(an error message, or None; the JWT claims when a key pair signed the token)."""
        auth = headers.get("authorization", "")
        kind = headers.get("x-snowflake-authorization-token-type", "")
        token = auth.removeprefix("Bearer ")
        if kind == "PROGRAMMATIC_ACCESS_TOKEN" and self.pat is not None and token == self.pat:
            return None, None
        if kind == "OAUTH" and self.oauth is not None and token == self.oauth:
            return None, None
        if kind == "KEYPAIR_JWT" and self.key_pair is not None:
            return self._verify_jwt(token)
        # Echo the presented token, as a careless server might: the client must redact it.
        return f"invalid credential {token!r} for token type {kind!r}", None

    def _verify_jwt(self, token: str) -> tuple[str | None, dict[str, Any] | None]:
        assert self.key_pair is not None
        account, user, public_key = self.key_pair
        try:
            claims = jwt.decode(
                token, public_key, algorithms=["RS256"], options={"require": ["exp", "iat"]}
            )
        except jwt.PyJWTError as exc:
            return f"JWT token is invalid: {type(exc).__name__}", None
        subject = f"{account}.{user}"
        fingerprint = public_key_fingerprint_of(public_key)
        if claims.get("sub") != subject or claims.get("iss") != f"{subject}.{fingerprint}":
            return "JWT token is invalid: wrong issuer or subject", None
        if claims["exp"] - claims["iat"] > 3600:
            return "JWT token is invalid: lifetime over one hour", None
        return None, claims


def public_key_fingerprint_of(public_key: Any) -> str:
    """``SHA256:`` + base64 of the SHA-256 of the DER public key, as Snowflake documents it."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "SHA256:" + base64.b64encode(hashlib.sha256(der).digest()).decode()


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (a timeout under test, a stream closed early) is expected.
        return


class _Handler(BaseHTTPRequestHandler):
    owner: ChatFake
    protocol_version = "HTTP/1.1"  # streams use chunked transfer encoding, as SSE servers do

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def do_POST(self) -> None:
        fake = self.owner
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        headers = {k.lower(): v for k, v in self.headers.items()}
        if self.path != PATH:
            self._json(404, {"message": f"no such endpoint {self.path}"})
            return
        if len(fake.requests) >= fake.max_requests:
            self._json(503, {"message": "the fake's request bound was reached"})
            return
        problem, claims = fake.authenticate(headers)
        fake.requests.append(Recorded(headers=headers, body=body, claims=claims))
        if problem is not None:
            self._json(401, {"message": problem, "code": "390144"})
            return
        fault = fake.faults.popleft() if fake.faults else None
        if fault is not None and fault.status:
            error = {"message": fault.message, **({"code": fault.code} if fault.code else {})}
            self._json(fault.status, error, fault.headers)
            return
        try:
            if body.get("stream"):
                self._stream(chat_stream(fake.emulator, body), fault)
            else:
                self._json(200, chat(fake.emulator, body))
        except EngineError as exc:
            self._json(status_of(exc), {"message": exc.msg})

    def _json(
        self, status: int, data: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        if status >= 400:
            data = {**data, "request_id": "req-fake-0001"}
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-Snowflake-Request-ID", "req-fake-0001")
        self.send_header("Connection", "close")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    def _stream(self, chunks: list[dict[str, Any]], fault: Fault | None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        sent = 0
        for chunk in chunks:
            if fault is not None and sent == fault.error_after:
                self._event({"error": {"message": fault.message, "code": "503"}})
                self._chunk(b"")
                return
            if fault is not None and sent == fault.drop_after:
                self.wfile.write(b"400\r\ndata: {")  # a chunk promised, never finished
                self.wfile.flush()
                self.connection.shutdown(2)
                return
            if fault is not None and sent == fault.end_after:
                self._chunk(b"")
                return
            self._event(chunk)
            if _has_content(chunk):
                sent += 1
                if self.owner.token_delay:
                    time.sleep(self.owner.token_delay)
        self._chunk(b"data: [DONE]\n\n")
        self._chunk(b"")

    def _event(self, data: dict[str, Any]) -> None:
        self._chunk(b"data: " + json.dumps(data).encode() + b"\n\n")

    def _chunk(self, payload: bytes) -> None:
        self.wfile.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
        self.wfile.flush()


def _has_content(chunk: dict[str, Any]) -> bool:
    choices = chunk.get("choices") or []
    return bool(choices and choices[0].get("delta", {}).get("content"))

"""Fault injection for the wire tier: an ASGI middleware and a TCP proxy, both on 127.0.0.1.

The middleware sits between uvicorn and fakesnow's Starlette app. It records every request
(path, URL parameters, the decoded JSON body) and plays a script of faults, each bounded in
count and time: HTTP errors before or after the statement ran, Snowflake JSON error bodies
with HTTP 200, responses slower than the client's socket timeout, bodies cut off mid-way,
rewritten results, and connections reset after the statement ran (by asking the proxy).

Like Snowflake, it runs a query-request at most once per request id and session: a resubmit
(the connector's own retry, same ``requestId``) of a statement that ran successfully is answered
from that first run, waiting for it if it is still running; a new request id runs again. Snowflake
documents this for resubmitted requests ("Snowflake does not execute the statement again if the
statement has already been executed successfully",
https://docs.snowflake.com/en/developer-guide/sql-api/submitting-requests; "To resubmit a query
using a request ID, you must use the same connection", the Node.js driver's
https://docs.snowflake.com/en/developer-guide/node-js/nodejs-driver-execute). So the tier tells a
connector resubmit (harmless) from a statement sent again by cortex-tune (a second run).

The proxy forwards TCP between the connector and uvicorn. It can reset new connections,
reset the pooled keep-alive ones, reset a connection when a request arrives, and swallow
everything (a server that never answers).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import math
import re
import socket
import struct
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

QUERY = "/queries/v1/query-request"
LOGIN = "/session/v1/login-request"
TOKEN = "/session/token-request"
TELEMETRY = "/telemetry/send"

#: A response header the middleware sets to ask the proxy to reset the connection instead of
#: delivering that response (the statement has run; the client never hears of it).
RESET_MARKER = b"x-wire-fault: reset"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# fakesnow puts the connector's formatted text ("002003 (02000): ...") in the message field,
# where Snowflake sends the bare text; the connector then adds its prefix a second time.
_FORMATTED = re.compile(r"^\d{6} \([0-9A-Z]{5}\): ")


@dataclass
class Seen:
    """One request the middleware saw."""

    path: str
    params: dict[str, str]
    body: Any
    at: float
    fault: str | None = None
    status: int | None = None
    #: Answered from the first run of the same request id in the same session (not run again).
    replayed: bool = False

    @property
    def sql(self) -> str:
        return str(self.body.get("sqlText", "")) if isinstance(self.body, dict) else ""

    @property
    def bindings(self) -> dict[str, Any]:
        if isinstance(self.body, dict):
            return dict(self.body.get("bindings") or {})
        return {}

    @property
    def request_id(self) -> str | None:
        return self.params.get("requestId")

    @property
    def retry_count(self) -> int:
        return int(self.params.get("retryCount", 0))


@dataclass
class Fault:
    """One scripted fault: applies to the next ``times`` matching requests within ``ttl`` s.

    Kinds: ``status`` (an HTTP status before the statement runs), ``status_after`` (the
    statement runs, its answer is replaced by an HTTP status), ``snowflake`` (a Snowflake JSON
    error body with HTTP 200, before the statement runs), ``slow`` (the answer is sent
    ``seconds`` late), ``drop_body`` (the answer stops half-way), ``reset_after`` (the proxy
    resets the connection instead of delivering the answer), ``rewrite`` (``edit`` changes the
    answer's JSON).
    """

    kind: str
    path: str = QUERY
    sql: str | None = None
    times: float = 1
    ttl: float = 15.0
    status: int = 503
    payload: dict[str, Any] | None = None
    seconds: float = 0.0
    edit: Callable[[dict[str, Any]], None] | None = None
    #: Only the request id of the first request it applies to (its resubmits), not a new one.
    pinned: bool = False
    request_id: str | None = None
    armed_at: float = field(default_factory=time.monotonic)
    used: int = 0

    def matches(self, seen: Seen) -> bool:
        if self.times <= 0 or time.monotonic() - self.armed_at > self.ttl:
            return False
        if seen.path != self.path:
            return False
        if self.request_id is not None and seen.request_id != self.request_id:
            return False
        return self.sql is None or self.sql in seen.sql


# -- script builders -------------------------------------------------------------------------


def http_error(
    status: int, *, times: float = 1, after: bool = False, sql: str | None = None
) -> Fault:
    """The next ``times`` query-requests get HTTP ``status`` (``after``: once the SQL ran)."""
    return Fault("status_after" if after else "status", status=status, times=times, sql=sql)


def snowflake_error(
    code: str,
    message: str,
    *,
    sqlstate: str | None = None,
    times: float = 1,
    path: str = QUERY,
    sql: str | None = None,
) -> Fault:
    """A Snowflake JSON error body with HTTP 200, before the statement runs."""
    data: dict[str, Any] = {"errorCode": code, "sqlState": sqlstate}
    if path == QUERY:
        data["queryId"] = str(uuid.uuid4())
    payload = {"data": data, "code": code, "message": message, "success": False}
    return Fault("snowflake", path=path, payload=payload, times=times, sql=sql)


def slow(seconds: float, *, times: float = 1, sql: str | None = None) -> Fault:
    """The statement runs; its answer leaves ``seconds`` late."""
    return Fault("slow", seconds=seconds, times=times, sql=sql)


def drop_body(*, times: float = 1, sql: str | None = None) -> Fault:
    """The statement runs; its answer is cut off half-way and the connection closed."""
    return Fault("drop_body", times=times, sql=sql)


def reset_after(*, times: float = 1, sql: str | None = None) -> Fault:
    """The statement runs; the connection is reset instead of the answer being delivered."""
    return Fault("reset_after", times=times, sql=sql)


def lost_answer(how: str, *, until_given_up: bool = False, sql: str | None = None) -> Fault:
    """The statement runs, then its answer is lost: ``"close"`` (the connection is reset),
    ``"503"`` (an HTTP 503 replaces it) or ``"truncated"`` (the body stops half-way).

    Once, or ``until_given_up``: every resubmit of that request (same request id, answered
    from the first run) loses its answer too, until the connector gives up; a statement sent
    again under a new request id is not affected.
    """
    times = INFINITE if until_given_up else 1
    if how == "close":
        fault = reset_after(times=times, sql=sql)
    elif how == "503":
        fault = http_error(503, after=True, times=times, sql=sql)
    elif how == "truncated":
        fault = drop_body(times=times, sql=sql)
    else:
        raise ValueError(f"unknown way to lose an answer: {how!r}")
    fault.pinned = until_given_up
    return fault


def rewrite(
    edit: Callable[[dict[str, Any]], None], *, times: float = 1, sql: str | None = None
) -> Fault:
    """The statement runs; ``edit`` changes its JSON answer in place."""
    return Fault("rewrite", edit=edit, times=times, sql=sql)


def result_value(value: str | None, *, times: float = 1, sql: str | None = None) -> Fault:
    """The statement runs; its one-cell result is replaced by ``value`` (a JSON rowset)."""

    def edit(payload: dict[str, Any]) -> None:
        data = payload["data"]
        data.pop("rowsetBase64", None)
        data["queryResultFormat"] = "json"
        data["rowset"] = [[value]]
        data["total"] = data["returned"] = 1

    return rewrite(edit, times=times, sql=sql)


# -- the middleware --------------------------------------------------------------------------


class FaultInjector:
    """ASGI middleware in front of fakesnow: records requests and plays scripted faults.

    It also papers over two fakesnow quirks in error answers, so that the client sees what
    Snowflake sends: a ``queryId`` is added when missing, and the connector-formatted
    ``"002003 (02000): "`` prefix is taken off the message.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[Seen] = []
        self.faults: list[Fault] = []
        self.login_check: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None
        self.renew_token: Callable[[dict[str, Any]], dict[str, Any]] | None = None
        #: Every session token the server handed out (secrets: never to be logged).
        self.session_tokens: list[str] = []
        #: First runs by (session, request id): their answer once they ran successfully, None
        #: while they run (accessed on the server's event loop only).
        self._runs: dict[tuple[str, str], asyncio.Future[tuple[int, list[Any], bytes] | None]] = {}
        #: Answer resubmits from the first run, as Snowflake does; False makes a server that
        #: runs every resubmit again (to test cortex-tune's own safety nets).
        self.dedupe = True
        self._lock = threading.Lock()

    # -- the test-facing side --

    def arm(self, *faults: Fault) -> None:
        with self._lock:
            for fault in faults:
                fault.armed_at = time.monotonic()
                self.faults.append(fault)

    def reset(self) -> None:
        with self._lock:
            self.faults.clear()
            self.seen.clear()
        self._runs.clear()
        self.renew_token = None
        self.dedupe = True

    def requests(self, path: str = QUERY, sql: str | None = None) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.path == path and (sql is None or sql in s.sql)]

    def unused(self) -> list[Fault]:
        with self._lock:
            return [f for f in self.faults if f.used == 0]

    # -- ASGI --

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = await read_body(receive)
        headers = request_headers(scope)
        seen = Seen(
            path=scope["path"],
            params=dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"))),
            body=decode(raw, headers),
            at=time.monotonic(),
        )
        with self._lock:
            self.seen.append(seen)
            fault = next((f for f in self.faults if f.matches(seen)), None)
            if fault is not None:
                fault.times -= 1
                fault.used += 1
                seen.fault = fault.kind
                if fault.pinned and fault.request_id is None:
                    fault.request_id = seen.request_id

        if fault is not None and fault.kind == "status":
            seen.status = fault.status
            await _respond(send, fault.status, b"Service fault injected by the wire harness")
            return
        if fault is not None and fault.kind == "snowflake":
            seen.status = 200
            await respond_json(send, 200, dict(fault.payload or {}))
            return
        if seen.path == TELEMETRY:
            seen.status = 200
            await respond_json(send, 200, {"success": True, "data": None})
            return
        if seen.path == LOGIN and self.login_check is not None:
            refusal = self.login_check(seen.body)
            if refusal is not None:
                seen.status = 200
                await respond_json(send, 200, refusal)
                return
        if seen.path == TOKEN:
            seen.status = 200
            renew = self.renew_token or _refuse_renewal
            await respond_json(send, 200, renew(seen.body))
            return

        status, out_headers, body = await self._run_once(seen, headers, scope, raw, receive)
        body, out_headers = _fix_fakesnow_error(seen.path, body, out_headers)
        seen.status = status
        if seen.path == LOGIN:
            body = self._fix_login(body)

        if fault is None:
            await _send(send, status, out_headers, body)
        elif fault.kind == "status_after":
            seen.status = fault.status
            await _respond(send, fault.status, b"Service fault injected after execution")
        elif fault.kind == "slow":
            await asyncio.sleep(fault.seconds)
            with contextlib.suppress(Exception):
                await _send(send, status, out_headers, body)
        elif fault.kind == "drop_body":
            # The headers declare the whole length; half the body follows, then the app fails
            # and uvicorn closes the connection mid-body.
            await send({"type": "http.response.start", "status": status, "headers": out_headers})
            half = body[: len(body) // 2]
            await send({"type": "http.response.body", "body": half, "more_body": True})
            raise _DroppedBody
        elif fault.kind == "reset_after":
            await _send(send, status, [*out_headers, (b"x-wire-fault", b"reset")], body)
        elif fault.kind == "rewrite":
            payload = json.loads(body)
            assert fault.edit is not None
            fault.edit(payload)
            await _send(send, status, out_headers, json.dumps(payload).encode())
        else:  # pragma: no cover - a typo in a test script
            raise AssertionError(f"unknown fault kind {fault.kind!r}")

    def _fix_login(self, body: bytes) -> bytes:
        """Note the session token, and add the login fields fakesnow leaves out.

        Without a master token connector 4.8 cannot log out: ``close()`` fails quietly and
        the connection stays usable, so a closed client could not be tested. Connector 5.x
        refuses a login answer without the master token, both validities and a session id.
        """
        try:
            payload = json.loads(body)
            data = payload["data"]
            token = data["token"]
        except (ValueError, KeyError, TypeError):
            return body
        data.setdefault("masterToken", "master-" + uuid.uuid4().hex)
        data.setdefault("validityInSeconds", 3600)
        data.setdefault("masterValidityInSeconds", 14400)
        data.setdefault("sessionId", uuid.uuid4().int >> 65)
        with self._lock:
            self.session_tokens.extend([str(token), data["masterToken"]])
        return json.dumps(payload).encode()

    async def _run_once(
        self, seen: Seen, headers: dict[str, str], scope: Scope, raw: bytes, receive: Receive
    ) -> tuple[int, list[Any], bytes]:
        """Run the request, unless its request id already ran successfully in this session:
        then answer from that first run (waiting for it while it runs)."""
        request_id = seen.request_id
        if seen.path != QUERY or request_id is None or not self.dedupe:
            return await self._run_app(scope, raw, receive)
        key = (headers.get("authorization", ""), request_id)
        while (first := self._runs.get(key)) is not None:
            answer = await asyncio.shield(first)
            if answer is not None:
                seen.replayed = True
                return answer
            # The first run failed: this resubmit runs the statement (the loop re-checks).
        future: asyncio.Future[tuple[int, list[Any], bytes] | None] = (
            asyncio.get_running_loop().create_future()
        )
        self._runs[key] = future
        answer: tuple[int, list[Any], bytes] | None = None
        try:
            answer = await self._run_app(scope, raw, receive)
            return answer
        finally:
            ok = answer is not None and answer[0] == 200 and _succeeded(answer[2])
            if not ok:
                del self._runs[key]
            future.set_result(answer if ok else None)

    async def _run_app(
        self, scope: Scope, raw: bytes, receive: Receive
    ) -> tuple[int, list[Any], bytes]:
        messages: list[Message] = []

        async def capture(message: Message) -> None:
            messages.append(message)

        await self.app(scope, replay(raw, receive), capture)
        start = next(m for m in messages if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
        return int(start["status"]), list(start.get("headers", [])), body


class _DroppedBody(Exception):
    """Ends a response half-way (uvicorn then closes the connection)."""


def _succeeded(body: bytes) -> bool:
    try:
        payload = json.loads(body)
    except ValueError:
        return False
    return isinstance(payload, dict) and payload.get("success") is True


def _refuse_renewal(body: Any) -> dict[str, Any]:
    # fakesnow hands out no master token, so a renewal can only be refused.
    return {
        "data": {"errorCode": "390114"},
        "code": "390114",
        "message": "Authentication token has expired.  The user must authenticate again.",
        "success": False,
    }


async def read_body(receive: Receive) -> bytes:
    """The whole body of an ASGI request."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def request_headers(scope: Scope) -> dict[str, str]:
    """An ASGI request's headers, names in lower case."""
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def decode(raw: bytes, headers: dict[str, str]) -> Any:
    """A request body as JSON (gzip undone), or None."""
    if not raw:
        return None
    if headers.get("content-encoding") == "gzip":
        raw = gzip.decompress(raw)
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _fix_fakesnow_error(path: str, body: bytes, headers: list[Any]) -> tuple[bytes, list[Any]]:
    if path != QUERY:
        return body, headers
    try:
        payload = json.loads(body)
    except ValueError:
        return body, headers
    if not isinstance(payload, dict) or payload.get("success") is not False:
        return body, headers
    data = payload.get("data")
    if isinstance(data, dict):
        data.setdefault("queryId", str(uuid.uuid4()))
    if isinstance(payload.get("message"), str):
        payload["message"] = _FORMATTED.sub("", payload["message"])
    return json.dumps(payload).encode(), headers


async def _send(send: Send, status: int, headers: list[Any], body: bytes) -> None:
    headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _respond(send: Send, status: int, text: bytes) -> None:
    await _send(send, status, [(b"content-type", b"text/plain")], text)


def replay(raw: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands over ``raw`` (a body already read) once, then the client's
    own messages (its disconnect, if it comes)."""
    delivered = False

    async def replayed() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": raw, "more_body": False}
        return await receive()

    return replayed


async def respond_json(send: Send, status: int, payload: dict[str, Any]) -> None:
    """Answer with ``payload`` as JSON."""
    await _send(
        send, status, [(b"content-type", b"application/json")], json.dumps(payload).encode()
    )


# -- the TCP proxy ---------------------------------------------------------------------------


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (SO_LINGER 0), as a crashed peer or a middlebox would."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class TcpProxy:
    """A TCP forwarder on 127.0.0.1 with connection faults, run on its own event loop thread.

    Attributes:
        reset_new: Reset this many new connections as soon as they are accepted.
        reset_on_request: Reset this many connections when a request arrives on them (the
            request never reaches the server).
        blackhole: Accept and read everything, forward nothing, answer nothing.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.reset_new = 0
        self.reset_on_request = 0
        self.blackhole = False
        self.accepted = 0
        self.resets = 0
        self._clients: set[asyncio.StreamWriter] = set()
        self._pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="wire proxy", daemon=True
        )
        self._server: asyncio.Server | None = None
        self.port = 0

    def start(self) -> None:
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", 0), self._loop
        )
        self._server = started.result(timeout=5)
        self.port = self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        async def shutdown() -> None:
            assert self._server is not None
            self._server.close()
            for client, upstream in list(self._pairs):
                client.transport.abort()
                upstream.transport.abort()
            if self._handlers:
                await asyncio.wait(list(self._handlers), timeout=5)
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def reset(self) -> None:
        """Back to a plain forwarder; every open connection is dropped."""
        self.reset_new = self.reset_on_request = 0
        self.blackhole = False
        self.kill_pooled()

    def kill_pooled(self) -> None:
        """Reset every open client connection (the connector's keep-alive pool)."""

        def kill() -> None:
            for writer in list(self._clients):
                _abort(writer)

        done = threading.Event()
        self._loop.call_soon_threadsafe(lambda: (kill(), done.set()))
        done.wait(timeout=5)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        self.accepted += 1
        if self.reset_new > 0:
            self.reset_new -= 1
            self.resets += 1
            _abort(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            _abort(writer)
            return
        for stream in (writer, up_writer):
            sock = stream.get_extra_info("socket")
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._clients.add(writer)
        pair = (writer, up_writer)
        self._pairs.add(pair)
        try:
            await asyncio.gather(
                self._upstream(reader, writer, up_writer),
                self._downstream(up_reader, writer, up_writer),
                return_exceptions=True,
            )
        finally:
            self._clients.discard(writer)
            self._pairs.discard(pair)
            up_writer.transport.abort()
            writer.transport.abort()

    async def _upstream(
        self, reader: asyncio.StreamReader, client: asyncio.StreamWriter, up: asyncio.StreamWriter
    ) -> None:
        while data := await reader.read(65536):
            if self.blackhole:
                continue  # swallowed: the server never hears of it, the client never hears back
            if self.reset_on_request > 0:
                self.reset_on_request -= 1
                self.resets += 1
                _abort(client)
                up.transport.abort()
                return
            up.write(data)
            await up.drain()
        up.close()

    async def _downstream(
        self,
        up_reader: asyncio.StreamReader,
        client: asyncio.StreamWriter,
        up: asyncio.StreamWriter,
    ) -> None:
        tail = b""
        while data := await up_reader.read(65536):
            if RESET_MARKER in (tail + data).lower():
                self.resets += 1
                _abort(client)
                up.transport.abort()
                return
            tail = data[-len(RESET_MARKER) :]
            client.write(data)
            await client.drain()
        client.close()


INFINITE = math.inf

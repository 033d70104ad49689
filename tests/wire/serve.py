"""The wire server as a process of its own, driven over a small HTTP control API.

Connector 5.x cannot share a Python environment with fakesnow (fakesnow needs connector 4.x
to import), so the 5.x tier (tests/wire5) runs in another environment and drives the same
server from outside: ``python tests/wire/serve.py`` starts :class:`WireServer` (fakesnow with
Cortex behind the fault injector and the TCP proxy) and a control server, both on
127.0.0.1, prints one JSON line ``{"control": <port>, "snowflake": <port>}`` and serves until
its standard input closes or ``POST /shutdown`` arrives.

Control API (JSON in, JSON out):

- ``POST /fresh``: no jobs, no faults, a plain proxy (the start of every test).
- ``POST /arm`` ``{"faults": [{"fault": "http_error", "status": 503, "after": true, ...}]}``:
  script faults; ``fault`` names a builder of ``wire_faults`` and the other keys are its
  arguments (``"times": "inf"`` for a fault that never runs out).
- ``POST /proxy`` ``{"blackhole": true, "reset_on_request": 1, "reset_new": 2,
  "kill_pooled": true}``: connection faults; ``{"reset": true}`` ends them.
- ``POST /clock`` ``{"advance": 120}``: move the emulator's clock.
- ``POST /models`` ``{"models": {"llama3.1-70b": "a fixed answer"}}``: base-model stand-ins
  that answer with a fixed text (until the next ``/fresh``), for clients that need a model by
  its real name.
- ``POST /dedupe`` ``{"on": false}``: switch the server's deduplication of resubmitted
  request ids, where the fault injector has it (``"supported"`` in the answer says so).
- ``POST /renewal`` ``{"accept": true}``: grant session-token renewals (refused by default).
- ``POST /held`` ``{"pause": 0.25}``: a model ``held`` that takes ``pause`` seconds to answer
  each row (a fixed per-row cost, so that statements run long enough to be attached to or
  cancelled); ``{}`` holds every answer until ``{"release": true}``.
- ``GET /statements?sql=...``: the statements the server ran or runs whose text contains
  ``sql`` (query id, status, whether a cancel was asked for, rows).
- ``GET /state``: jobs (id, name, status, training data), tables, unused faults, proxy counts.
- ``GET /requests?path=...&sql=...``: the requests the server saw (no login bodies).
- ``GET /config``: what a client needs to log in (the tier's made-up credentials).
- ``GET /secrets``: every secret the tier uses or handed out, for scanning logs.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import wire_faults
from wire_faults import QUERY, Fault, Seen
from wire_server import (
    DATABASE,
    KEY_PASSPHRASE,
    OAUTH_TOKEN,
    PASSWORD,
    SCHEMA,
    USER,
    WireServer,
    server_tables,
)

from cortex_tune._emulator.models import ModelRequest

#: The fault builders a client may name in ``POST /arm``.
BUILDERS: dict[str, Callable[..., Fault]] = {
    "http_error": wire_faults.http_error,
    "snowflake_error": wire_faults.snowflake_error,
    "slow": wire_faults.slow,
    "drop_body": wire_faults.drop_body,
    "reset_after": wire_faults.reset_after,
    "result_value": wire_faults.result_value,
}
PROXY_SETTINGS = ("blackhole", "reset_on_request", "reset_new")


def build_fault(spec: dict[str, Any]) -> Fault:
    """A fault from its JSON description (``{"fault": name, **arguments}``)."""
    args = dict(spec)
    builder = BUILDERS[args.pop("fault")]
    ttl = args.pop("ttl", None)
    if args.get("times") == "inf":
        args["times"] = wire_faults.INFINITE
    fault = builder(**args)
    if ttl is not None:
        fault.ttl = float(ttl)
    return fault


def seen_json(seen: Seen) -> dict[str, Any]:
    """A recorded request, without its body (a login body carries the password): its SQL,
    bindings and, for a login, the session parameters."""
    data = seen.body.get("data") if isinstance(seen.body, dict) else None
    session = data.get("SESSION_PARAMETERS") if isinstance(data, dict) else None
    return {
        "session_parameters": session if isinstance(session, dict) else None,
        "path": seen.path,
        "params": seen.params,
        "sql": seen.sql,
        "bindings": seen.bindings,
        "request_id": seen.request_id,
        "retry_count": seen.retry_count,
        "status": seen.status,
        "fault": seen.fault,
    }


def _answer(text: str) -> Callable[[Any], str]:
    """A stand-in model that answers every request with ``text``."""
    return lambda _request: text


def _renew(body: dict[str, Any]) -> dict[str, Any]:
    """A session-token renewal the server grants (fakesnow keeps the session as it was)."""
    data = {
        "sessionToken": body["oldSessionToken"],
        "masterToken": "renewed-master",
        "validityInSecondsST": 3600,
        "validityInSecondsMT": 14400,
        "sessionId": 1,
    }
    return {"success": True, "data": data}


class Control:
    """What the control API does, on one :class:`WireServer`."""

    def __init__(self, wire: WireServer) -> None:
        self.wire = wire
        self.stopped = threading.Event()
        self.release = threading.Event()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        wire = self.wire
        if path == "/fresh":
            wire.fresh()
            return {"ok": True}
        if path == "/arm":
            wire.injector.arm(*(build_fault(spec) for spec in body.get("faults", [])))
            return {"ok": True}
        if path == "/proxy":
            return self._proxy(body)
        if path == "/clock":
            wire.clock.advance(float(body["advance"]))
            return {"ok": True}
        if path == "/dedupe":
            return self._dedupe(body)
        if path == "/models":
            for name, text in body["models"].items():
                wire.emulator.register_model(str(name), _answer(str(text)))
            return {"ok": True}
        if path == "/renewal":
            wire.injector.renew_token = _renew if body.get("accept") else None
            return {"ok": True}
        if path == "/held":
            return self._held(body)
        if path == "/shutdown":
            self.stopped.set()
            return {"ok": True}
        raise KeyError(path)

    def _held(self, body: dict[str, Any]) -> Any:
        if body.get("release"):
            self.release.set()
            return {"ok": True}
        self.release = release = threading.Event()
        pause = body.get("pause")

        def held(request: ModelRequest) -> str:
            if pause is not None:
                time.sleep(float(pause))
            else:
                assert release.wait(timeout=120), "the test never released the model"
            return f"ans:{request.prompt}"

        self.wire.emulator.register_model("held", held)
        return {"ok": True}

    def get(self, path: str, query: dict[str, str]) -> Any:
        wire = self.wire
        if path == "/state":
            return self._state()
        if path == "/requests":
            seen = wire.injector.requests(query.get("path", QUERY), query.get("sql"))
            return [seen_json(s) for s in seen]
        if path == "/config":
            return {
                "host": "127.0.0.1",
                "port": wire.proxy.port,
                "account": "wire",
                "user": USER,
                "password": PASSWORD,
                "database": DATABASE,
                "schema": SCHEMA,
                "oauth_token": OAUTH_TOKEN,
                "private_key_file": str(wire.keys.path),
                "private_key_password": KEY_PASSPHRASE,
            }
        if path == "/secrets":
            return wire.secrets()
        if path == "/statements":
            return [
                {
                    "query_id": r.query_id,
                    "status": r.status,
                    "running": r.running,
                    "cancel_requested": r.cancel_requested,
                    "rows": r.rows_produced,
                }
                for r in wire.engine.history.matching(query.get("sql", ""))
            ]
        raise KeyError(path)

    def _proxy(self, body: dict[str, Any]) -> Any:
        proxy = self.wire.proxy
        if body.get("reset"):
            proxy.reset()
        if body.get("kill_pooled"):
            proxy.kill_pooled()
        for name in PROXY_SETTINGS:
            if name in body:
                setattr(proxy, name, body[name])
        return {"ok": True}

    def _dedupe(self, body: dict[str, Any]) -> Any:
        # The fault injector's deduplication of resubmitted request ids is its own feature;
        # this only switches it, where it exists.
        injector = self.wire.injector
        supported = hasattr(injector, "dedupe")
        if supported and "on" in body:
            injector.dedupe = bool(body["on"])  # type: ignore[attr-defined]
        return {"supported": supported, "on": bool(getattr(injector, "dedupe", False))}

    def _state(self) -> dict[str, Any]:
        wire = self.wire
        now = wire.emulator.now_ms()
        jobs = [
            {
                "id": job.id,
                "name": job.name,
                "status": job.state(now)["status"],
                "created_on": job.created_ms,
                "training_data": job.training_data,
            }
            for job in sorted(wire.emulator.store.all(), key=lambda j: j.created_ms)
        ]
        proxy = wire.proxy
        return {
            "jobs": jobs,
            "tables": sorted(server_tables(wire)),
            "unused_faults": len(wire.injector.unused()),
            "proxy": {
                "resets": proxy.resets,
                "reset_new": proxy.reset_new,
                "reset_on_request": proxy.reset_on_request,
                "blackhole": proxy.blackhole,
            },
        }


def handler(control: Control) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            self._answer(lambda: control.get(url.path, dict(parse_qsl(url.query))))

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            self._answer(lambda: control.post(urlsplit(self.path).path, body))

        def _answer(self, call: Callable[[], Any]) -> None:
            try:
                status, payload = 200, call()
            except KeyError as exc:
                status, payload = 404, {"error": f"unknown: {exc}"}
            except Exception as exc:  # the test sees what went wrong
                status, payload = 500, {"error": f"{type(exc).__name__}: {exc}"}
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return  # quiet: the tier's output is the tests'

    return Handler


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="cortex-tune-wire-") as directory:
        wire = WireServer(Path(directory))
        wire.start()
        control = Control(wire)
        http = ThreadingHTTPServer(("127.0.0.1", 0), handler(control))
        threading.Thread(target=http.serve_forever, name="wire control", daemon=True).start()

        def watch_stdin() -> None:
            sys.stdin.read()  # the parent closed our stdin, or died
            control.stopped.set()

        threading.Thread(target=watch_stdin, name="wire stdin", daemon=True).start()
        ports = {"control": http.server_address[1], "snowflake": wire.proxy.port}
        print(json.dumps(ports), flush=True)
        # Nothing reads our stdout after that line: whatever else is written there (uvicorn's
        # access log goes to stdout) would fill the pipe and then block the server's event
        # loop. From here on, stdout is the log (stderr).
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
        try:
            control.stopped.wait()
        finally:
            http.shutdown()
            wire.stop()


if __name__ == "__main__":
    main()

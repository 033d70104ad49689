"""Asynchronous statements on the wire server, as Snowflake serves them to the connector.

fakesnow's server runs every query-request to its end and answers ``SUCCESS`` to any status
request for a query id it has a result for. This ASGI layer, between the fault injector and
fakesnow's app, serves the connector's asynchronous protocol from the engine instead:

- a query-request with ``asyncExec`` (``cursor.execute_async``, connector 4.x and 5.x) is
  started on the engine (``cortex_tune._backends._engine_async``: recorded RUNNING in the
  session's query history, run on a session of its own) and answered at once with Snowflake's
  "in progress" code 333334 and the query id;
- ``GET /monitoring/queries/<id>`` (``get_query_status``) answers the statement's status from
  the query history: RUNNING, ABORTING, SUCCESS, FAILED_WITH_ERROR (with its error code and
  message), or no query at all for an unknown id (the connector reads NO_DATA);
- ``POST /queries/<id>/abort-request`` (``cursor.abort_query``) cancels it, as
  ``SYSTEM$CANCEL_QUERY`` does;
- ``GET /queries/<id>/result`` (``cursor.query_result``, the 5.x connector's
  ``get_results_from_sfqid``) answers an ended statement's result by running
  ``SELECT * FROM TABLE(RESULT_SCAN('<id>'))`` through fakesnow in the caller's session.

The statements keep running whatever happens to the client that sent them: a client killed
mid-run leaves them to end on the server, as Snowflake does (ABORT_DETACHED_QUERY is FALSE by
default).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from typing import Any

from wire_faults import (
    QUERY,
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    decode,
    read_body,
    replay,
    request_headers,
    respond_json,
)

from cortex_tune._backends import _engine_async

#: Snowflake's answer to an asynchronous submission: the statement runs, here is its id.
IN_PROGRESS_ASYNC = "333334"
#: Connector 4.x asks /monitoring/queries/<id>; 5.2 asks /monitoring/queries//<id>.
_MONITOR = re.compile(r"/monitoring/queries/+([^/]+)/?")
_ABORT = re.compile(r"/queries/([^/]+)/abort-request")
_RESULT = re.compile(r"/queries/([^/]+)/result")


class AsyncQueries:
    """ASGI middleware serving asynchronous statements from the engine.

    Args:
        app: fakesnow's app (everything else goes there).
        session: The engine session of a session token, or None.
        engine: The engine the sessions belong to.
    """

    def __init__(
        self, app: ASGIApp, session: Callable[[str], Any], engine: Callable[[], Any]
    ) -> None:
        self.app, self.session, self.engine = app, session, engine
        #: Statements started asynchronously, by query id (for tests to inspect).
        self.started: list[str] = []
        #: Status names to answer instead of the history's, by query id: plays a status
        #: Snowflake documents that the connector cannot name (tests set and clear them).
        self.statuses: dict[str, str] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        token = _token(scope)
        if path == QUERY:
            raw = await read_body(receive)
            body = decode(raw, request_headers(scope))
            if isinstance(body, dict) and body.get("asyncExec"):
                await respond_json(send, 200, self._submit(token, body))
                return
            await self.app(scope, replay(raw, receive), send)
            return
        if (match := _MONITOR.fullmatch(path)) is not None:
            await respond_json(send, 200, self._status(token, match.group(1)))
            return
        if (match := _ABORT.fullmatch(path)) is not None:
            cancelled = self._history(token).cancel(match.group(1))
            await respond_json(
                send, 200, {"success": cancelled, "data": None, "code": None, "message": None}
            )
            return
        if (match := _RESULT.fullmatch(path)) is not None and scope["method"] == "GET":
            await self._result(scope, match.group(1), send)
            return
        await self.app(scope, receive, send)

    def _history(self, token: str) -> Any:
        """The query history the session of ``token`` reads (the engine's, else)."""
        conn = self.session(token)
        return conn.history if conn is not None else self.engine().history

    def _submit(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        conn = self.session(token)
        if conn is None:
            return {"data": None, "code": "390104", "success": False, "message": "login again"}
        query_id, _ = _engine_async.submit(
            self.engine(), conn, str(body["sqlText"]), _params(body), server=True
        )
        self.started.append(query_id)
        return {
            "data": {
                "queryId": query_id,
                "getResultUrl": f"/queries/{query_id}/result",
                "queryAbortsAfterSecs": 300,
                "progressDesc": None,
            },
            "code": IN_PROGRESS_ASYNC,
            "message": "Asynchronous execution in progress. Use provided query id to perform "
            "query monitoring and management.",
            "success": True,
        }

    def _status(self, token: str, query_id: str) -> dict[str, Any]:
        record = self._history(token).get(query_id)
        if record is None:
            return {"data": {"queries": []}, "success": True, "code": None, "message": None}
        status = self.statuses.get(query_id, record.status)
        query: dict[str, Any] = {"id": query_id, "status": status}
        if record.error_message is not None:
            query["errorCode"] = f"{record.error_code or 0:06d}"
            query["errorMessage"] = record.error_message
        return {"data": {"queries": [query]}, "success": True, "code": None, "message": None}

    async def _result(self, scope: Scope, query_id: str, send: Send) -> None:
        """An ended statement's result, as a query-request of RESULT_SCAN would answer it."""
        body = json.dumps(
            {"sqlText": f"SELECT * FROM TABLE(RESULT_SCAN('{query_id}'))", "sequenceId": 1}
        ).encode()
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-encoding"]
        request = {**scope, "method": "POST", "path": QUERY, "headers": headers}
        request["query_string"] = f"requestId={uuid.uuid4()}".encode()
        await self.app(request, replay(body, _never), send)


def _params(body: dict[str, Any]) -> Any:
    bindings = body.get("bindings")
    if not bindings:
        return None
    from fakesnow.converter import from_binding

    return tuple(from_binding(bindings[str(i)]) for i in range(1, len(bindings) + 1))


def _token(scope: Scope) -> str:
    for key, value in scope["headers"]:
        if key.lower() == b"authorization":
            return value.decode("latin-1")[17:-1]  # Snowflake Token="..."
    return ""


async def _never() -> Message:
    return {"type": "http.disconnect"}

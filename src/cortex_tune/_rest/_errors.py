"""Errors of the REST transport (the ``openai`` package, the emulator) into the CortexError tree.

The HTTP status decides the class; Cortex's error text refines it with the same rules as the
SQL functions' texts (``max tokens of ... exceeded``, ``unknown model``, ``too many
requests``...). ``Retry-After`` on a 429 is kept on the error as ``retry_after`` (seconds), and
the client's retry policy waits at least that long.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any

from cortex_tune._core.errors import (
    AuthenticationError,
    BudgetExceededError,
    CortexError,
    InvalidOptionsError,
    NetworkError,
    PermissionDeniedError,
    QueryError,
    SessionExpiredError,
    StructuredOutputError,
    ThrottledError,
    TransientError,
    UnknownModelError,
    from_text,
    translate,
)

_HINTS = {
    401: "Cortex's REST API refused the credential: check that the programmatic access token "
    "is valid and not expired, or that the key pair's public key is assigned to the user "
    "(DESCRIBE USER shows RSA_PUBLIC_KEY_FP).",
    403: "The user's default role needs the SNOWFLAKE.CORTEX_USER database role (REST uses the "
    "default role), the model must be allowed (CORTEX_MODELS_ALLOWLIST), and a network policy "
    "must admit this client.",
    # Cortex documents an unknown model as a 400; a 404 (not documented) is read the same way.
    404: "Check the model name (fine-tuned models by their fully qualified name, DB.SCHEMA.MODEL), "
    "that it is offered in this region, and the account URL.",
    400: "Cortex refused the request: check the options (temperature and top_p 0..1, "
    "max_tokens a positive integer) and the length of the conversation.",
    500: "Cortex's REST API failed on its side; cortex-tune retried within its budget.",
}
_BY_STATUS: dict[int, type[CortexError]] = {
    400: InvalidOptionsError,
    401: AuthenticationError,
    402: BudgetExceededError,
    403: PermissionDeniedError,
    404: UnknownModelError,
    408: NetworkError,
    409: TransientError,
    422: StructuredOutputError,
    429: ThrottledError,
}
# Snowflake session/token expiry codes, which REST can carry in an error body.
_EXPIRED_CODES = {"390112", "390114"}


def translate_rest(exc: BaseException, *, op: str = "rest.chat") -> CortexError:
    """The cortex-tune error for an exception raised by the ``openai`` package or the emulator."""
    if isinstance(exc, CortexError):
        if exc.op is None:
            exc.op = op
        return exc
    try:
        import openai
    except ImportError:  # the emulator path runs without the rest extra
        return translate(exc, op=op)
    if isinstance(exc, openai.APIStatusError):
        return _from_status(exc, op)
    if isinstance(exc, openai.APITimeoutError):
        return NetworkError("Cortex's REST API did not answer in time", op=op)
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__
        detail = f" ({type(cause).__name__})" if cause is not None else ""
        return NetworkError(f"the connection to Cortex's REST API failed{detail}", op=op)
    if isinstance(exc, openai.APIError):  # an error event in the middle of a stream
        message = _message(exc.body) or exc.message
        error = from_text(message, op=op)
        return error if type(error) is not QueryError else QueryError(message, op=op)
    return translate(exc, op=op)


def _from_status(exc: Any, op: str) -> CortexError:
    status = int(exc.status_code)
    body = exc.body
    message = _message(body) or str(getattr(exc, "message", "")) or f"HTTP {status}"
    request_id = exc.response.headers.get("x-snowflake-request-id") or _field(body, "request_id")
    details: dict[str, Any] = {"op": op, "query_id": request_id}
    code = _field(body, "code") or _field(body, "error_code")
    if code in _EXPIRED_CODES:
        return SessionExpiredError(f"HTTP {status}: {message}", **details)
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = TransientError if status >= 500 else QueryError
    refined = from_text(message, **details)
    hint = _HINTS.get(status) or (_HINTS[500] if status >= 500 else None)
    # The text names the condition more precisely than a generic 400/5xx does: Cortex answers
    # an unknown model and its own throttling with a 400 too ("400 unknown model model_name",
    # "400 all requests were throttled by remote service"); the hint follows the condition.
    if type(refined) is not QueryError and (status in (400, 503) or status >= 500):
        cls = type(refined)
        hint = _HINTS[404] if cls is UnknownModelError else None
    error = cls(f"HTTP {status}: {message}", hint=hint, **details)
    if isinstance(error, ThrottledError):
        error.retry_after = retry_after(exc.response.headers)  # type: ignore[attr-defined]
    return error


def _message(body: Any) -> str:
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict):
            return str(inner.get("message") or "")
        if isinstance(inner, str):
            return inner
        return str(body.get("message") or "")
    return body.strip() if isinstance(body, str) else ""


def _field(body: Any, key: str) -> str | None:
    if not isinstance(body, dict):
        return None
    value = body.get(key)
    if value is None and isinstance(body.get("error"), dict):
        value = body["error"].get(key)
    return None if value is None else str(value)


def retry_after(headers: Any) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or an HTTP date) or ``retry-after-ms``."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())

"""The connector-5 tier's side of the wire server: its control API, fault scripts, a client.

See conftest.py for how the tier runs. Nothing here imports fakesnow or the wire server's
own modules: this runs in the connector-5 environment, and reaches the server over HTTP on
127.0.0.1 only.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any
from urllib.parse import urlencode

import snowflake.connector

from cortex_tune import Cortex, FineTuneJob, RetryPolicy

CONTROL = "CORTEX_TUNE_WIRE_CONTROL"
MAJOR = int(str(snowflake.connector.__version__).split(".")[0])

#: Per-attempt timeout (s): an answer later than this is lost to the client.
RETRY_TIMEOUT = 1
#: The connector's budget for one statement (s), all its attempts included.
QUERY_TIMEOUT = 2
#: cortex-tune's policy in the tier: a few quick attempts within a small budget.
RETRY = RetryPolicy(attempts=4, budget=4.0, base_delay=0.05, max_delay=0.2)
#: For servers that never recover.
GIVE_UP = RetryPolicy(attempts=4, budget=2.0, base_delay=0.05, max_delay=0.2)

TRAINING = "SELECT P AS prompt, C AS completion FROM WIRE_TRAIN"
CREATE = "FINETUNE('CREATE'"
SHOW = "FINETUNE('SHOW')"
DESCRIBE = "FINETUNE('DESCRIBE'"
QUERY = "/queries/v1/query-request"
LOGIN = "/session/v1/login-request"


# -- fault scripts (see tests/wire/wire_faults.py for what each does) --------------------------


def http_error(
    status: int, *, times: float | str = 1, after: bool = False, sql: str | None = None
) -> dict[str, Any]:
    return {"fault": "http_error", "status": status, "times": times, "after": after, "sql": sql}


def snowflake_error(
    code: str,
    message: str,
    *,
    sqlstate: str | None = None,
    times: float | str = 1,
    path: str = QUERY,
    sql: str | None = None,
) -> dict[str, Any]:
    return {
        "fault": "snowflake_error",
        "code": code,
        "message": message,
        "sqlstate": sqlstate,
        "times": times,
        "path": path,
        "sql": sql,
    }


def slow(seconds: float, *, times: float | str = 1, sql: str | None = None) -> dict[str, Any]:
    return {"fault": "slow", "seconds": seconds, "times": times, "sql": sql}


def drop_body(*, sql: str | None = None) -> dict[str, Any]:
    return {"fault": "drop_body", "sql": sql}


def reset_after(*, sql: str | None = None) -> dict[str, Any]:
    return {"fault": "reset_after", "sql": sql}


# -- the server, from outside -------------------------------------------------------------------

#: Straight to 127.0.0.1, whatever proxy the environment names.
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Wire:
    """The wire server's control API, and clients logged in to the server it controls."""

    def __init__(self, control: str) -> None:
        self.control = control.rstrip("/")
        self.config: dict[str, Any] = self._call("GET", "/config")
        self.scanned_records = 0
        self.secret_count = 0

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body or {}).encode() if method == "POST" else None
        request = urllib.request.Request(self.control + path, data=data, method=method)
        with _LOCAL.open(request, timeout=30) as answer:
            return json.load(answer)

    def fresh(self) -> None:
        self._call("POST", "/fresh")

    def arm(self, *faults: dict[str, Any]) -> None:
        self._call("POST", "/arm", {"faults": list(faults)})

    def proxy(self, **settings: Any) -> None:
        self._call("POST", "/proxy", settings)

    def advance(self, seconds: float) -> None:
        self._call("POST", "/clock", {"advance": seconds})

    def renewals(self, *, accept: bool) -> None:
        """Grant (or refuse, the default) session-token renewals."""
        self._call("POST", "/renewal", {"accept": accept})

    def dedupe(self, on: bool | None = None) -> dict[str, Any]:
        """Switch the server's deduplication of resubmits (``{"supported", "on"}``)."""
        return dict(self._call("POST", "/dedupe", {} if on is None else {"on": on}))

    def hold(self, *, pause: float | None = None, release: bool = False) -> None:
        """A model ``held`` taking ``pause`` seconds a row (or answering once released)."""
        body: dict[str, Any] = {"release": release}
        if pause is not None:
            body["pause"] = pause
        self._call("POST", "/held", body)

    def statements(self, sql: str) -> list[dict[str, Any]]:
        """The statements the server ran or runs whose text contains ``sql``."""
        return list(self._call("GET", "/statements?" + urlencode({"sql": sql})))

    def state(self) -> dict[str, Any]:
        return dict(self._call("GET", "/state"))

    def jobs(self) -> list[dict[str, Any]]:
        return list(self.state()["jobs"])

    def requests(self, sql: str | None = None, path: str = QUERY) -> list[dict[str, Any]]:
        query = {"path": path, **({"sql": sql} if sql is not None else {})}
        return list(self._call("GET", "/requests?" + urlencode(query)))

    def secrets(self) -> list[str]:
        return [str(s) for s in self._call("GET", "/secrets")]

    def connect_kwargs(self, **overrides: Any) -> dict[str, Any]:
        config = self.config
        kwargs: dict[str, Any] = {
            "host": config["host"],
            "port": config["port"],
            "protocol": "http",
            "account": config["account"],
            "user": config["user"],
            "password": config["password"],
            "database": config["database"],
            "schema": config["schema"],
            "platform_detection_timeout_seconds": 0.0,
            "use_proxy_env": False,  # straight to 127.0.0.1, whatever proxy the environment names
            "retry_timeout": RETRY_TIMEOUT,
            "query_timeout": QUERY_TIMEOUT,
            "login_timeout": 5,
            "retry_backoff_base_ms": 10,
            "retry_backoff_cap_ms": 200,
            "session_parameters": {"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
            "retry": RETRY,
        }
        kwargs.update(overrides)
        return {k: v for k, v in kwargs.items() if v is not None}

    def connect(self, **overrides: Any) -> Cortex:
        """A client through the server's proxy, by the path users take: ``Cortex.connect``."""
        return Cortex.connect(**self.connect_kwargs(**overrides))

    def key_pair(self) -> dict[str, Any]:
        """Key-pair login with 5.x's parameter names."""
        return {
            "password": None,
            "authenticator": "SNOWFLAKE_JWT",
            "private_key_file": self.config["private_key_file"],
            "private_key_password": self.config["private_key_password"],
        }


def training_table(cx: Cortex) -> None:
    cx.sql("CREATE OR REPLACE TABLE WIRE_TRAIN (P STRING, C STRING)")
    cx.sql(
        "INSERT INTO WIRE_TRAIN VALUES (?, ?), (?, ?), (?, ?)",
        ["my bill is wrong", "billing", "no signal abroad", "roaming", "charged twice", "billing"],
    )


def create_job(cx: Cortex, name: str = "WIRE5_MODEL", **kwargs: Any) -> FineTuneJob:
    return cx.finetune.create(
        name, base_model="mistral-7b", training=TRAINING, check=False, **kwargs
    )

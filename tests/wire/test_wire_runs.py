"""Runs over the real connector: a client killed mid-run and restarted, and runs listed, awaited
and cancelled from other processes and from the command line.

The killed client is a process of its own (SIGKILL: no logout, no cleanup), as a notebook kernel
restart or a CI timeout would leave things. Its statements run on in the wire server, as they do
in Snowflake (ABORT_DETACHED_QUERY is FALSE by default). The oracle is the server's own query
history (every INSERT it ran) and the results table; the model counts every prompt it answers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from wire_faults import slow
from wire_server import DATABASE, PASSWORD, SCHEMA, USER, WireServer

from cortex_tune import Cortex, ModelRequest, RunStatus, WaitTimeoutError

ROWS = 40
INSERT = "INSERT INTO KOUT"

CLIENT = """
import json, sys
from cortex_tune import Cortex
cx = Cortex.connect(**json.loads(sys.argv[1]))
summary = cx.complete_table("held", source="KSRC", into="KOUT", key="ID", prompt="PROMPT",
                            parallel=2)
print(json.dumps({"run_id": summary.run_id}), flush=True)
"""


class Held:
    """A model that answers only once released, and counts what it was asked."""

    def __init__(self) -> None:
        self.asked: Counter[str] = Counter()
        self.release = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, request: ModelRequest) -> str:
        with self._lock:
            self.asked[request.prompt] += 1
        assert self.release.wait(timeout=120), "the test never released the model"
        return f"ans:{request.prompt}"


@pytest.fixture
def held(wire: WireServer) -> Any:
    model = Held()
    wire.emulator.register_model("held", model)
    yield model
    model.release.set()


def _kwargs(wire: WireServer) -> dict[str, Any]:
    """What a client process needs to connect (JSON: no callables)."""
    kwargs = wire.connect_kwargs(retry=None, backoff_policy=None, poll_min=0.2)
    kwargs.pop("session_parameters", None)
    return kwargs


def _env() -> dict[str, str]:
    return {**os.environ, "SNOWFLAKE_DISABLE_PLATFORM_DETECTION": "true"}


def _until(check: Any, what: str, seconds: float = 60.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _inserts(wire: WireServer) -> list[Any]:
    return wire.engine.history.matching(INSERT)


def _running(cx: Cortex) -> list[Any]:
    """The runs over this file's results table still running. The runs table outlives the
    tier's tests, and another file's run may stay RUNNING for a while: a submission whose
    answer its fault swallowed is SUBMITTING until its claim's grace has passed."""
    return [r for r in cx.runs.list() if r.status is RunStatus.RUNNING and r.target == "KOUT"]


def _source(cx: Cortex) -> None:
    cx.sql(
        "CREATE OR REPLACE TABLE KSRC AS SELECT seq4() AS ID, 'p' || seq4() AS PROMPT "
        f"FROM TABLE(GENERATOR(ROWCOUNT => {ROWS}))"
    )
    cx.sql("DROP TABLE IF EXISTS KOUT")


@pytest.mark.parametrize("when", ["running", "unrecorded"])
def test_a_killed_client_restarted_attaches_and_every_key_is_answered_once(
    wire: WireServer, held: Held, cx: Cortex, when: str
) -> None:
    _source(cx)
    if when == "unrecorded":  # the first submission's answer is on its way when it dies
        wire.injector.arm(slow(10, sql=INSERT))
    client = subprocess.Popen(
        [sys.executable, "-c", CLIENT, json.dumps(_kwargs(wire))],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        started = 1 if when == "unrecorded" else 2
        _until(lambda: len([r for r in _inserts(wire) if r.running]) >= started, "statements")
        if when == "running":  # both lanes' query ids are in the runs table
            _until(lambda: len(_running(cx)[0].query_ids) == 2, "the query ids recorded")
    finally:
        os.kill(client.pid, signal.SIGKILL)
        client.communicate(timeout=30)  # reaps it and closes its pipes
    (before,) = _running(cx)
    sent_before = len(_inserts(wire))

    cx.runs.claim_grace = 0.0  # the killed client will not record anything any more
    run = cx.complete_table(
        "held", source="KSRC", into="KOUT", key="ID", prompt="PROMPT", parallel=2, wait=False
    )

    assert run.id == before.id, "the restart attached to the run still running"
    assert len(_inserts(wire)) == sent_before + (1 if when == "unrecorded" else 0)
    assert len({r.query_id for r in _inserts(wire) if r.running}) == 2
    held.release.set()
    done = cx.runs.wait(run.id)

    assert done.status is RunStatus.SUCCEEDED
    assert cx.sql("SELECT COUNT(*), COUNT(DISTINCT ID) FROM KOUT") == [(ROWS, ROWS)]
    assert sum(held.asked.values()) == ROWS, "no key answered (paid for) twice"
    assert len(_inserts(wire)) == 2, "one statement per key partition, whoever sent it"


def _connections(wire: WireServer, home: Path) -> dict[str, str]:
    """A connections.toml naming the wire server ``wire``, for the command line."""
    home.mkdir(exist_ok=True)
    kwargs = _kwargs(wire)
    lines = ["[wire]"]
    for key in ("host", "port", "protocol", "account", "socket_timeout", "login_timeout"):
        lines.append(f"{key} = {json.dumps(kwargs[key])}")
    lines += [
        f'user = "{USER}"',
        f'password = "{PASSWORD}"',
        f'database = "{DATABASE}"',
        f'schema = "{SCHEMA}"',
        "platform_detection_timeout_seconds = 0.0",
    ]
    toml = home / "connections.toml"
    toml.write_text("\n".join(lines) + "\n", "utf-8")
    toml.chmod(0o600)
    return {**_env(), "SNOWFLAKE_HOME": str(home)}


def _cli(env: dict[str, str], *args: str) -> tuple[int, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "cortex_tune", "--connection", "wire", *args, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    return done.returncode, json.loads(done.stdout)


def test_runs_are_listed_awaited_and_cancelled_from_the_command_line(
    wire: WireServer, held: Held, cx: Cortex, tmp_path: Path
) -> None:
    env = _connections(wire, tmp_path / "snowflake")
    _source(cx)
    run = cx.complete_table(
        "held", source="KSRC", into="KOUT", key="ID", prompt="PROMPT", parallel=2, wait=False
    )

    code, listed = _cli(env, "runs", "list")
    assert code == 0 and (run.id, "RUNNING") in [(r["id"], r["status"]) for r in listed]
    code, described = _cli(env, "runs", "describe", run.id)
    assert code == 0 and sorted(described["query_ids"]) == sorted(run.query_ids)
    code, timed_out = _cli(env, "runs", "wait", run.id, "--timeout", "1")
    assert code == 5 and timed_out["error"]["type"] == "WaitTimeoutError"

    def release_once_cancelled() -> None:
        _until(lambda: all(r.cancel_requested for r in _inserts(wire)), "the cancel", 120)
        held.release.set()

    threading.Thread(target=release_once_cancelled, daemon=True).start()
    code, cancelled = _cli(env, "runs", "cancel", run.id)
    assert code == 0 and cancelled["status"] == "CANCELLED"
    code, waited = _cli(env, "runs", "wait", run.id)
    assert code == 4 and waited["status"] == "CANCELLED"
    assert cx.sql("SELECT COUNT(*) FROM KOUT") == [(0,)], "cancelled statements commit nothing"

    again = cx.complete_table("held", source="KSRC", into="KOUT", key="ID", prompt="PROMPT")
    assert again.rows_done == ROWS
    assert cx.sql("SELECT COUNT(*), COUNT(DISTINCT ID) FROM KOUT") == [(ROWS, ROWS)]


@pytest.mark.parametrize("status", ["QUEUED_REPAIRING_WAREHOUSE", "SOME_STATUS_ADDED_LATER"])
def test_a_status_the_connector_cannot_name_is_waited_through(
    wire: WireServer, held: Held, cx: Cortex, status: str
) -> None:
    """Snowflake documents QUEUED_REPAIRING_WAREHOUSE; the connector's enum spells it
    QUEUED_REPARING_WAREHOUSE and raises KeyError for any name it lacks."""
    _source(cx)
    run = cx.complete_table(
        "held", source="KSRC", into="KOUT", key="ID", prompt="PROMPT", parallel=1, wait=False
    )
    (query_id,) = run.query_ids
    wire.asynchronous.statuses[query_id] = status

    assert cx.runs.describe(run.id).status is RunStatus.RUNNING
    with pytest.raises(WaitTimeoutError):
        cx.runs.wait(run.id, timeout=1.0, progress=False)

    del wire.asynchronous.statuses[query_id]
    held.release.set()
    done = cx.runs.wait(run.id, progress=False)
    assert done.status is RunStatus.SUCCEEDED and done.rows_done == ROWS

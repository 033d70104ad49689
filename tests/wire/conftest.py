"""The wire tier: the real connector against fakesnow's HTTP server with Cortex, on 127.0.0.1.

One server (with its fault injector and TCP proxy) serves the whole tier; every test starts
with a fresh emulator (no jobs), no faults and a plain proxy. Logging is at DEBUG on every
logger, and after each test no captured log record may contain a secret.
"""

from __future__ import annotations

import gc
import logging
import os
import re
from collections.abc import Iterator

import pytest
from wire_server import WireServer

from cortex_tune import Cortex

# The connector probes cloud metadata hosts at login unless told not to: 127.0.0.1 only.
os.environ.setdefault("SNOWFLAKE_DISABLE_PLATFORM_DETECTION", "true")


@pytest.fixture(scope="session")
def wire(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WireServer]:
    pytest.importorskip("uvicorn", reason="the wire tier needs fakesnow[server]")
    pytest.importorskip("starlette", reason="the wire tier needs fakesnow[server]")
    server = WireServer(tmp_path_factory.mktemp("wire"))
    server.start()
    request.config._wire_server = server  # type: ignore[attr-defined]  # for the summary
    try:
        yield server
    finally:
        server.stop()
        _drop_hypothesis_gc_callback()


def _drop_hypothesis_gc_callback() -> None:
    # Hypothesis times garbage collections with a gc callback. Left in place until the
    # interpreter exits, after a run that also held DuckDB sessions, DuckDB's bindings report
    # leaked objects on stderr (observed; the exit status is unaffected). The tier is over.
    gc.callbacks[:] = [
        callback
        for callback in gc.callbacks
        if not getattr(callback, "__module__", "").startswith("hypothesis")
    ]


@pytest.fixture(autouse=True)
def _wire_test(wire: WireServer, caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    wire.fresh()
    caplog.set_level(logging.DEBUG)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):
            caplog.set_level(logging.DEBUG, logger=name)
    yield
    wire.proxy.reset()
    secret = re.compile("|".join(re.escape(s) for s in wire.secrets() if s))
    leaked = []
    records = [*caplog.get_records("setup"), *caplog.get_records("call"), *caplog.records]
    wire.scanned_records += len(records)
    for record in records:
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        if found := secret.search(text):
            leaked.append((record.name, found.group(0)[:12] + "..."))
    assert not leaked, f"secrets in log records: {leaked}"


@pytest.fixture
def cx(wire: WireServer) -> Iterator[Cortex]:
    """A client on the wire server, opened with ``Cortex.connect`` through the proxy."""
    client = wire.connect()
    try:
        yield client
    finally:
        client.close()


def summary(server: WireServer) -> dict[str, object]:
    """What the tier's summary says: log records scanned, secrets, the write campaign."""
    campaign = getattr(server, "campaign", None)
    return {
        "records": server.scanned_records,
        "secrets": len(server.secrets()),
        "campaign": None if campaign is None else campaign.line(),
    }


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Hand the tier's summary to the report (tests/conftest.py prints it): this process's
    own, or under pytest-xdist, through the worker's output to the controller."""
    server = getattr(session.config, "_wire_server", None)
    if server is None:
        return
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output["wire_summary"] = summary(server)
    else:
        session.config._wire_summaries = [summary(server)]  # type: ignore[attr-defined]

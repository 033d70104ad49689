"""The wire tier with connector 5.x: the client users get, against the wire server on 127.0.0.1.

``pip install cortex-tune`` without the ``local`` extra installs connector 5.x, which fakesnow
cannot import beside. So this tier runs in an environment of its own (``.venv5``: cortex-tune,
connector 5.x, pytest; no fakesnow), and drives the wire server of tests/wire, started as a
process of its own (tests/wire/serve.py), over its control API. ``python3 tasks.py test``
(or ``python3 tasks.py wire5`` alone) starts that server and passes its control address in
``CORTEX_TUNE_WIRE_CONTROL``.

Every test starts with a fresh server (no jobs, no faults, a plain proxy), logs at DEBUG on
every logger, and fails if a captured log record contains a secret.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator

import pytest
import snowflake.connector
from wire5_client import CONTROL, MAJOR, Wire

from cortex_tune import Cortex

# The connector probes cloud metadata hosts at login unless told not to: 127.0.0.1 only.
os.environ.setdefault("SNOWFLAKE_DISABLE_PLATFORM_DETECTION", "true")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = os.path.dirname(__file__)
    mine = [item for item in items if str(item.fspath).startswith(here)]
    if not mine:
        return
    if MAJOR < 5:
        skip = pytest.mark.skip(reason="the 5.x tier runs in .venv5: python3 tasks.py wire5")
        for item in mine:
            item.add_marker(skip)
    elif not os.environ.get(CONTROL):
        raise pytest.UsageError(
            f"the 5.x tier needs the wire server: run it with `python3 tasks.py wire5` "
            f"(which sets {CONTROL})"
        )


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def wire(request: pytest.FixtureRequest) -> Wire:
    server = Wire(os.environ[CONTROL])
    request.config._wire5 = server  # type: ignore[attr-defined]  # for the summary
    return server


@pytest.fixture(autouse=True)
def _wire_test(wire: Wire, caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    wire.fresh()
    caplog.set_level(logging.DEBUG)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):
            caplog.set_level(logging.DEBUG, logger=name)
    yield
    wire.proxy(reset=True)
    secrets = [s for s in wire.secrets() if s]
    wire.secret_count = len(secrets)
    secret = re.compile("|".join(re.escape(s) for s in secrets))
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
def cx(wire: Wire) -> Iterator[Cortex]:
    """A client on the wire server, opened with ``Cortex.connect``."""
    client = wire.connect()
    try:
        yield client
    finally:
        client.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    server = getattr(terminalreporter.config, "_wire5", None)
    if server is not None:
        terminalreporter.write_line(
            f"wire tier, connector {snowflake.connector.__version__}: "
            f"{server.scanned_records} log records (DEBUG, every logger) scanned for "
            f"{server.secret_count} secrets"
        )

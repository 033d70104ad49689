"""Shared fixtures. Tests never reach beyond 127.0.0.1."""

from __future__ import annotations

import os

# The connector probes cloud metadata hosts at login unless told not to.
os.environ.setdefault("SNOWFLAKE_DISABLE_PLATFORM_DETECTION", "true")

import pytest

from cortex_tune import Cortex, RetryPolicy
from cortex_tune.testing import FakeBackend


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """pytest-xdist: keep each worker's wire-tier summary for the controller's report."""
    found = getattr(node, "workeroutput", {}).get("wire_summary")
    config = getattr(node, "config", None)
    if found is not None and config is not None:
        config._wire_summaries = [*getattr(config, "_wire_summaries", []), found]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The wire tier's summary (tests/wire/conftest.py), summed over pytest-xdist's workers."""
    summaries = getattr(terminalreporter.config, "_wire_summaries", [])
    if not summaries:
        return
    records = sum(int(s["records"]) for s in summaries)
    secrets = max(int(s["secrets"]) for s in summaries)
    terminalreporter.write_line(
        f"wire tier: {records} log records (DEBUG, every logger) scanned for {secrets} secrets"
    )
    for campaign in (s["campaign"] for s in summaries if s["campaign"]):
        terminalreporter.write_line(f"wire tier: {campaign}")


@pytest.fixture
def fake() -> FakeBackend:
    """An in-memory Cortex whose jobs take one simulated minute."""
    return FakeBackend()


@pytest.fixture
def cx(fake: FakeBackend) -> Cortex:
    """A client on ``fake`` with a short, deterministic retry policy."""
    return Cortex(backend=fake, retry=RetryPolicy(attempts=4, budget=60.0, base_delay=1.0))

"""Shared fixtures. Tests never reach beyond 127.0.0.1."""

from __future__ import annotations

import os

# The connector probes cloud metadata hosts at login unless told not to.
os.environ.setdefault("SNOWFLAKE_DISABLE_PLATFORM_DETECTION", "true")

import pytest

from cortex_tune import Cortex, RetryPolicy
from cortex_tune.testing import FakeBackend


@pytest.fixture
def fake() -> FakeBackend:
    """An in-memory Cortex whose jobs take one simulated minute."""
    return FakeBackend()


@pytest.fixture
def cx(fake: FakeBackend) -> Cortex:
    """A client on ``fake`` with a short, deterministic retry policy."""
    return Cortex(backend=fake, retry=RetryPolicy(attempts=4, budget=60.0, base_delay=1.0))

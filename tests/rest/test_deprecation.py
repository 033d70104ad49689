"""Calls that fall back to functions Snowflake announced for deprecation warn once per process.

Each case runs in a fresh interpreter: "once per process" is the behaviour under test, and the
suite itself ignores the category (pyproject.toml) so that other tests are not affected.
"""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
import warnings
warnings.simplefilter("default")
from cortex_tune import Cortex, Message, LegacyFunctionWarning
from cortex_tune.testing import FakeBackend

fake = FakeBackend()
fake.respond("llama3.1-8b", "ok")
cx = Cortex(backend=fake)
conversation = [Message.system("Be brief"), Message.user("Hi")]
with warnings.catch_warnings(record=True) as seen:
    warnings.simplefilter("always")
    {calls}
for w in seen:
    if issubclass(w.category, LegacyFunctionWarning):
        print("WARNING:", w.message)
print("OPS:", fake.ops())
"""


def _run(calls: str) -> list[str]:
    code = SCRIPT.format(calls=calls)
    env = {**os.environ, "SNOWFLAKE_DISABLE_PLATFORM_DETECTION": "true"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def test_legacy_complete_warns_once_with_the_date_and_the_way_out() -> None:
    lines = _run(
        "cx.complete('llama3.1-8b', conversation); cx.complete('llama3.1-8b', conversation)"
    )
    warned = [line for line in lines if line.startswith("WARNING:")]
    assert len(warned) == 1
    assert "SNOWFLAKE.CORTEX.COMPLETE" in warned[0]
    assert "end of 2026" in warned[0]
    assert "functions='ai'" in warned[0] and "programmatic access token" in warned[0]
    assert lines[-1] == "OPS: ['complete', 'complete']"


def test_legacy_count_tokens_and_finetune_warn_once_each() -> None:
    lines = _run(
        "Cortex(backend=fake, functions='legacy').count_tokens('llama3.1-8b', 'a b c'); "
        "Cortex(backend=fake, functions='legacy').count_tokens('llama3.1-8b', 'a b c'); "
        "cx.finetune.list(); cx.finetune.list()"
    )
    warned = [line for line in lines if line.startswith("WARNING:")]
    assert len(warned) == 2
    assert "COUNT_TOKENS" in warned[0] and "AI_COUNT_TOKENS" in warned[0]
    assert "FINETUNE" in warned[1] and "Q1 2027" in warned[1]


def test_the_successor_functions_do_not_warn() -> None:
    lines = _run("cx.complete('llama3.1-8b', 'Hi'); cx.count_tokens('llama3.1-8b', 'Hi')")
    assert not [line for line in lines if line.startswith("WARNING:")]
    assert lines[-1] == "OPS: ['ai_complete', 'ai_count_tokens']"

"""With no connection configured, ``Cortex.connect()`` says so, where it looked, and what to do.

The connector resolves where connections.toml lives when it is imported (``$SNOWFLAKE_HOME``
if that folder exists), so each case runs in a fresh interpreter with its own home. Nothing
connects: the check happens before any network traffic.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CONNECT = """
import json, sys
from cortex_tune import Cortex, CortexError
try:
    Cortex.connect(*sys.argv[1:])
except CortexError as exc:
    print(json.dumps({"type": type(exc).__name__, "message": exc.message, "hint": exc.hint,
                      "op": exc.op}))
"""


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNOWFLAKE_")}
    env["SNOWFLAKE_HOME"] = str(home)
    env["SNOWFLAKE_DISABLE_PLATFORM_DETECTION"] = "true"
    return env


def _connect(home: Path, *args: str) -> dict[str, str]:
    done = subprocess.run(
        [sys.executable, "-c", CONNECT, *args],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture
def empty_home(tmp_path: Path) -> Path:
    home = tmp_path / "snowflake-home"
    home.mkdir()
    return home


def test_no_connections_toml_says_nothing_is_configured_and_where(empty_home: Path) -> None:
    error = _connect(empty_home)

    assert error["type"] == "ConnectionFailedError"
    assert error["op"] == "connect"
    assert error["message"].startswith("no Snowflake connection is configured")
    assert str(empty_home / "connections.toml") in error["message"]
    assert "does not exist" in error["message"]
    assert "known ones are []" not in error["message"]
    hint = error["hint"]
    for words in ("connections.toml", "$SNOWFLAKE_HOME", "~/.snowflake", "~/.config/snowflake"):
        assert words in hint
    assert "Cortex.local()" in hint and "--local" in hint  # the offline way
    assert "network" not in hint


def test_an_unknown_name_lists_the_configured_ones(empty_home: Path) -> None:
    toml = empty_home / "connections.toml"
    toml.write_text('[dev]\naccount = "myorg-dev"\nuser = "me"\n', encoding="utf-8")
    toml.chmod(0o600)

    error = _connect(empty_home, "prod")

    assert error["type"] == "ConnectionFailedError"
    assert error["message"] == f"no Snowflake connection named 'prod' in {toml}; known: dev"
    assert "connections.toml" in error["hint"]


def test_the_cli_prints_the_same_and_exits_with_the_connection_code(empty_home: Path) -> None:
    cli = Path(sys.executable).with_name("cortex-tune")
    if not cli.exists():
        pytest.skip("the cortex-tune command is not installed next to this interpreter")
    done = subprocess.run(
        [str(cli), "jobs", "list"], env=_env(empty_home), capture_output=True, text=True
    )
    assert done.returncode == 7
    assert "no Snowflake connection is configured" in done.stderr
    assert "Traceback" not in done.stderr

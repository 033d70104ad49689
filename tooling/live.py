"""``python3 tasks.py live``: the conformance probes against a real account (opt-in)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tooling.envs import LIVE, ensure, run


def live_skip_reason(env: dict[str, str]) -> str | None:
    """Why ``live`` would not run with this environment, or None when it would."""
    if env.get("CORTEX_TUNE_LIVE") != "1":
        return "CORTEX_TUNE_LIVE is not 1"
    if not connection_configured(env):
        return "no Snowflake connection is configured"
    return None


def connection_configured(env: dict[str, str]) -> bool:
    """A named connection, connections in the environment, or a connector config file."""
    names = ("CORTEX_TUNE_CONNECTION", "SNOWFLAKE_CONNECTIONS", "SNOWFLAKE_DEFAULT_CONNECTION_NAME")
    if any(env.get(name) for name in names):
        return True
    return any(
        (folder / name).is_file()
        for folder in snowflake_dirs(env)
        for name in ("connections.toml", "config.toml")
    )


def snowflake_dirs(env: dict[str, str]) -> list[Path]:
    """Where the connector looks for its files: SNOWFLAKE_HOME (default ~/.snowflake) when it
    exists, else the platform's configuration folder."""
    home = Path(env.get("SNOWFLAKE_HOME") or "~/.snowflake").expanduser()
    if home.exists():
        return [home]
    if sys.platform == "darwin":
        return [Path("~/Library/Application Support/snowflake").expanduser()]
    if os.name == "nt":
        return [Path(env.get("LOCALAPPDATA") or "~/AppData/Local").expanduser() / "snowflake"]
    return [Path(env.get("XDG_CONFIG_HOME") or "~/.config").expanduser() / "snowflake"]


def live(args: list[str]) -> None:
    """Run the conformance probes against a real account and write the report (opt-in).

    No test environment here: the connector talks to the real account, as it would for a user.
    """
    reason = live_skip_reason(dict(os.environ))
    if reason is not None:
        print(
            f"live: skipped ({reason}); to run it against your account: CORTEX_TUNE_LIVE=1 "
            "[CORTEX_TUNE_CONNECTION=<connections.toml name>] python3 tasks.py live"
        )
        return
    py = ensure(LIVE)
    # In the caller's directory: the report is written where the command was run.
    run([str(py), "-m", "cortex_tune._conformance", *args], cwd=Path.cwd())

#!/usr/bin/env python3
"""Project tasks that need nothing but Python.

- ``python3 tasks.py demo``: the end-to-end demo on the embedded emulator.
- ``python3 tasks.py test``: lint, format check, type check and the test suite.
- ``python3 tasks.py live``: the conformance probes against a real Snowflake account; skipped
  (exit 0) unless ``CORTEX_TUNE_LIVE=1`` and a connection are set. See docs/live.md.

``demo`` and ``test`` run in ``.venv`` (cortex-tune with every extra); ``live`` runs in
``.venv-live`` (cortex-tune alone, as ``pip install cortex-tune`` gives it: no emulator, the
connector users get). Each is created, or refreshed when pyproject.toml changed, on first use.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
EXTRAS = "local,dev,pandas,s3"
#: The live task's environment: cortex-tune without extras, as users install it.
LIVE_VENV = ROOT / ".venv-live"


def python_of(venv_dir: Path) -> Path:
    """The interpreter of a virtual environment."""
    return venv_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


PY = python_of(VENV)


def ensure_venv(venv_dir: Path = VENV, extras: str = EXTRAS) -> Path:
    """Create ``venv_dir`` and install the project (with ``extras``) into it, unless it is
    already current; return its interpreter."""
    py = python_of(venv_dir)
    stamp = venv_dir / ".cortex-tune-installed"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest and py.exists():
        return py
    if not py.exists():
        print(f"creating {venv_dir.name} ...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir)
    print(f"installing cortex-tune and its dependencies into {venv_dir.name} ...", flush=True)
    target = f".[{extras}]" if extras else "."
    run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-e", target])
    stamp.write_text(digest)
    return py


def run(cmd: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> None:
    """Run a command (in the repository root by default); exit with its status if it fails."""
    code = subprocess.call(cmd, cwd=cwd, env=env)
    if code != 0:
        sys.exit(code)


def test_env(tmp: str) -> dict[str, str]:
    """Environment for tests: a private TMPDIR, and no traffic beyond 127.0.0.1."""
    env = dict(os.environ)
    env["TMPDIR"] = tmp
    env["SNOWFLAKE_DISABLE_PLATFORM_DETECTION"] = "true"
    return env


def demo(args: list[str]) -> None:
    """Run the end-to-end demo on the embedded emulator."""
    ensure_venv()
    with tempfile.TemporaryDirectory(prefix="cortex-tune-demo-") as tmp:
        run([str(BIN / "cortex-tune"), "demo", *args], env=test_env(tmp))


def test(args: list[str]) -> None:
    """Lint, format check, type check, then the test suite."""
    ensure_venv()
    targets = ["src", "tests", "examples", "benchmarks", "tasks.py"]
    run([str(BIN / "ruff"), "check", *targets])
    run([str(BIN / "ruff"), "format", "--check", *targets])
    run([str(BIN / "mypy"), "--strict", "src"])
    tmp = tempfile.mkdtemp(prefix="cortex-tune-tests-")
    try:
        run([str(PY), "-m", "pytest", *args], env=test_env(tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


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
    py = ensure_venv(LIVE_VENV, extras="")
    # In the caller's directory: the report is written where the command was run.
    run([str(py), "-m", "cortex_tune._conformance", *args], cwd=Path.cwd())


def main() -> None:
    tasks = {"demo": demo, "test": test, "live": live}
    if len(sys.argv) < 2 or sys.argv[1] not in tasks:
        print("usage: python3 tasks.py {demo|test|live} [args...]", file=sys.stderr)
        sys.exit(2)
    tasks[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Project tasks that need nothing but Python: ``python3 tasks.py demo`` and ``python3 tasks.py test``.

Each task creates (or refreshes, when pyproject.toml changed) a virtual environment in
``.venv`` with cortex-tune and its extras installed, then runs in it.
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
PY = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".cortex-tune-installed"
EXTRAS = "local,dev,pandas,s3"


def ensure_venv() -> None:
    """Create .venv and install the project into it, unless it is already current."""
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + EXTRAS.encode()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == digest and PY.exists():
        return
    if not PY.exists():
        print("creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    print("installing cortex-tune and its dependencies into .venv ...", flush=True)
    run(
        [str(PY), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-e", f".[{EXTRAS}]"]
    )
    STAMP.write_text(digest)


def run(cmd: list[str], env: dict[str, str] | None = None) -> None:
    """Run a command in the repository root; exit with its status if it fails."""
    code = subprocess.call(cmd, cwd=ROOT, env=env)
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


def main() -> None:
    tasks = {"demo": demo, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in tasks:
        print("usage: python3 tasks.py {demo|test} [args...]", file=sys.stderr)
        sys.exit(2)
    tasks[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Project tasks that need nothing but Python: ``python3 tasks.py demo``, ``python3 tasks.py test``
and ``python3 tasks.py wire5``.

Each task creates (or refreshes, when pyproject.toml changed) a virtual environment in
``.venv`` with cortex-tune and its extras installed, then runs in it. The connector-5 wire
tier (tests/wire5) runs in a second environment, ``.venv5``, holding what
``pip install cortex-tune`` gives a user (connector 5.x, no fakesnow) plus pytest; it drives
the wire server, which runs in ``.venv`` as a process of its own.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import venv
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SCRIPTS = "Scripts" if os.name == "nt" else "bin"
PYTHON = "python.exe" if os.name == "nt" else "python"
VENV = ROOT / ".venv"
BIN = VENV / SCRIPTS
PY = BIN / PYTHON
EXTRAS = "local,dev,pandas,s3"
MAIN = (VENV, [f".[{EXTRAS}]"])
#: What a user gets without the ``local`` extra, at the newest connector major, and pytest.
VENV5 = ROOT / ".venv5"
PY5 = VENV5 / SCRIPTS / PYTHON
CONNECTOR5 = (VENV5, [".", "snowflake-connector-python>=5.2,<6", "pytest>=8"])
#: The connector-5 tier finds the wire server's control API here.
CONTROL = "CORTEX_TUNE_WIRE_CONTROL"


def ensure_venv(spec: tuple[Path, list[str]] = MAIN) -> None:
    """Create a virtual environment and install the project into it, unless it is current."""
    path, requirements = spec
    python = path / SCRIPTS / PYTHON
    stamp = path / ".cortex-tune-installed"
    digest = hashlib.sha256(
        (ROOT / "pyproject.toml").read_bytes() + " ".join(requirements).encode()
    ).hexdigest()
    if stamp.exists() and stamp.read_text() == digest and python.exists():
        return
    if not python.exists():
        print(f"creating {path.name} ...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(path)
    print(f"installing cortex-tune and its dependencies into {path.name} ...", flush=True)
    project, *others = requirements
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    run([*pip, "-e", project, *others])
    stamp.write_text(digest)


def ensure_both() -> None:
    """Both environments, installed side by side (each install mostly waits on downloads)."""
    failed: list[BaseException] = []

    def second() -> None:
        try:
            ensure_venv(CONNECTOR5)
        except BaseException as exc:  # SystemExit from run(), reported in this thread
            failed.append(exc)

    thread = threading.Thread(target=second)
    thread.start()
    try:
        ensure_venv(MAIN)
    finally:
        thread.join()
    if failed:
        raise failed[0]


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
    """Lint, format check, type check, the test suite, then the connector-5 wire tier."""
    ensure_both()
    targets = ["src", "tests", "examples", "benchmarks", "tasks.py"]
    run([str(BIN / "ruff"), "check", *targets])
    run([str(BIN / "ruff"), "format", "--check", *targets])
    run([str(BIN / "mypy"), "--strict", "src"])
    tmp = tempfile.mkdtemp(prefix="cortex-tune-tests-")
    try:
        run([str(PY), "-m", "pytest", "--ignore=tests/wire5", *args], env=test_env(tmp))
        if not args:  # a run of chosen tests runs just those
            run_wire5([], test_env(tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def wire5(args: list[str]) -> None:
    """The wire tier with connector 5.x alone (tests/wire5), in .venv5."""
    ensure_both()
    tmp = tempfile.mkdtemp(prefix="cortex-tune-wire5-")
    try:
        run_wire5(args, test_env(tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_wire5(args: list[str], env: dict[str, str]) -> None:
    """Run tests/wire5 in .venv5 against a wire server running in .venv."""
    with wire_server(env) as control:
        run([str(PY5), "-m", "pytest", "tests/wire5", *args], env={**env, CONTROL: control})


@contextlib.contextmanager
def wire_server(env: dict[str, str]) -> Iterator[str]:
    """Start tests/wire/serve.py in .venv (on 127.0.0.1); yield its control address.

    The server stops when its standard input closes; its own log is shown only if it fails.
    """
    log_path = Path(env["TMPDIR"]) / "wire-server.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [str(PY), str(ROOT / "tests" / "wire" / "serve.py")],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    assert server.stdin is not None and server.stdout is not None
    try:
        line = server.stdout.readline()
        if not line:
            sys.exit(f"the wire server did not start:\n{log_path.read_text()}")
        yield f"http://127.0.0.1:{json.loads(line)['control']}"
    finally:
        server.stdin.close()
        try:
            code = server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            code = server.wait()
        if code != 0:
            print(f"the wire server ended with status {code}:\n{log_path.read_text()}")


def main() -> None:
    tasks = {"demo": demo, "test": test, "wire5": wire5}
    if len(sys.argv) < 2 or sys.argv[1] not in tasks:
        print("usage: python3 tasks.py {demo|test|wire5} [args...]", file=sys.stderr)
        sys.exit(2)
    tasks[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()

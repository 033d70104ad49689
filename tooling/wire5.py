"""The connector-5 wire tier: tests/wire5 in .venv5 against the wire server running in .venv."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from tooling.envs import CONNECTOR5, MAIN, ROOT, run

#: The connector-5 tier finds the wire server's control API here.
CONTROL = "CORTEX_TUNE_WIRE_CONTROL"


def run_wire5(args: list[str], env: dict[str, str]) -> None:
    """Run tests/wire5 in .venv5 against a wire server running in .venv."""
    with wire_server(env) as control:
        run(
            [str(CONNECTOR5.python), "-m", "pytest", "tests/wire5", *args],
            env={**env, CONTROL: control},
        )


@contextlib.contextmanager
def wire_server(env: dict[str, str]) -> Iterator[str]:
    """Start tests/wire/serve.py in .venv (on 127.0.0.1); yield its control address.

    The server stops when its standard input closes; its own log is shown only if it fails.
    """
    log_path = Path(env["TMPDIR"]) / "wire-server.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [str(MAIN.python), str(ROOT / "tests" / "wire" / "serve.py")],
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

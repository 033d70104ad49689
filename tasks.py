#!/usr/bin/env python3
"""Project tasks that need nothing but Python 3.11+ (an older ``python3`` finds a newer one).

- ``python3 tasks.py demo``: the end-to-end demo on the embedded emulator.
- ``python3 tasks.py test``: lint, format check, ``mypy --strict``, the test suite, then the
  connector-5 wire tier (tests/wire5).
- ``python3 tasks.py wire5``: the connector-5 wire tier alone.
- ``python3 tasks.py live``: the conformance probes against a real Snowflake account; skipped
  (exit 0) unless ``CORTEX_TUNE_LIVE=1`` and a connection are set (see docs/live.md).
- ``python3 tasks.py versions [3.10 3.12 ...]``: install and run cortex-tune on other Pythons.
- ``python3 tasks.py python``: which Python the tasks run with.

Each task creates (or refreshes, when pyproject.toml or the interpreter changed) the virtual
environment it needs: ``.venv`` (cortex-tune with every extra: the demo and the tests),
``.venv5`` (what ``pip install cortex-tune`` gives a user, connector 5.x, plus pytest) and
``.venv-live`` (cortex-tune alone). The SDK itself runs on Python 3.10+; the embedded emulator
(fakesnow 0.12.1 and the connector 4.8.1 it needs) requires 3.11+.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from tooling import live as live_task
from tooling import versions as versions_task
from tooling.envs import CONNECTOR5, MAIN, ensure, ensure_together, require_python, run, test_env
from tooling.wire5 import run_wire5

LINTED = ["src", "tests", "examples", "benchmarks", "tooling", "tasks.py"]


def demo(args: list[str]) -> None:
    """Run the end-to-end demo on the embedded emulator."""
    ensure(MAIN)
    with tempfile.TemporaryDirectory(prefix="cortex-tune-demo-") as tmp:
        run([str(MAIN.bin / "cortex-tune"), "demo", *args], env=test_env(tmp))
    where = MAIN.bin.relative_to(MAIN.path.parent)
    activate = f"{where}\\activate" if os.name == "nt" else f"source {where}/activate"
    print(
        f"\ncortex-tune is installed in {MAIN.path.name}, not in your shell: run `{activate}` to "
        f"use the cortex-tune command and the examples, or call {where / 'cortex-tune'} "
        '(README: "Using cortex-tune from the clone").'
    )


def test(args: list[str]) -> None:
    """Lint, format check, type check, the test suite, then the connector-5 wire tier."""
    ensure_together(MAIN, CONNECTOR5)
    run([str(MAIN.bin / "ruff"), "check", *LINTED])
    run([str(MAIN.bin / "ruff"), "format", "--check", *LINTED])
    run([str(MAIN.bin / "mypy"), "--strict", "src"])
    tmp = tempfile.mkdtemp(prefix="cortex-tune-tests-")
    try:
        run(
            [str(MAIN.python), "-m", "pytest", "--ignore=tests/wire5", *workers(args), *args],
            env=test_env(tmp),
        )
        if not args:  # a run of chosen tests runs just those
            run_wire5([], test_env(tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def workers(args: list[str]) -> list[str]:
    """pytest-xdist options for a whole run: the suite waits on servers and subprocesses more
    than it computes, so 4 workers beat 2 cores' worth; each test file stays on one worker
    (a file's tests share its servers and the write campaign's figure). A run of chosen tests,
    or CORTEX_TUNE_TEST_WORKERS=0, runs in one process."""
    count = os.environ.get("CORTEX_TUNE_TEST_WORKERS", "4")
    if args or count == "0":
        return []
    return ["-n", count, "--dist", "loadfile"]


def wire5(args: list[str]) -> None:
    """The wire tier with connector 5.x alone (tests/wire5), in .venv5."""
    ensure_together(MAIN, CONNECTOR5)
    tmp = tempfile.mkdtemp(prefix="cortex-tune-wire5-")
    try:
        run_wire5(args, test_env(tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def python(args: list[str]) -> None:
    """Say which Python the demo and test tasks run with."""
    print(f"Python {sys.version.split()[0]} at {sys.executable}")


TASKS: dict[str, Callable[[list[str]], None]] = {
    "demo": demo,
    "test": test,
    "wire5": wire5,
    "live": live_task.live,
    "versions": versions_task.versions,
    "python": python,
}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TASKS:
        print(
            "usage: python3 tasks.py {demo|test|wire5|live|versions|python} [args...]\n"
            "  demo: the end-to-end demo on the embedded emulator\n"
            "  test: lint, types, the test suite and the connector-5 wire tier\n"
            "  wire5: the connector-5 wire tier alone\n"
            "  live: conformance probes on a real account (CORTEX_TUNE_LIVE=1; docs/live.md)\n"
            "  versions [3.10 3.12 3.13]: install and run cortex-tune on each, fresh\n"
            "  python: which Python the tasks use (3.11+; an older python3 finds a newer one)",
            file=sys.stderr,
        )
        sys.exit(2)
    if sys.argv[1] != "live":  # live needs only the SDK, which runs on 3.10
        require_python(Path(__file__).resolve())
    TASKS[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()

"""``tasks.py`` says which Python it needs, and finds one when ``python3`` is too old."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TASKS = ROOT / "tasks.py"
sys.path.insert(0, str(ROOT))
from tooling import envs as tasks  # noqa: E402


@pytest.fixture(scope="module")
def old_python() -> str:
    python = tasks.find_python("3.10")
    if python is None:
        pytest.skip("no Python 3.10 on this machine")
    return python


def _env(path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = str(path)
    env["PYENV_ROOT"] = str(path / "no-pyenv")
    return env


def test_an_old_python_with_no_newer_one_around_stops_and_says_why(
    old_python: str, tmp_path: Path
) -> None:
    done = subprocess.run(
        [old_python, str(TASKS), "demo"], env=_env(tmp_path), capture_output=True, text=True
    )
    assert done.returncode == 1
    assert "tasks.py needs Python 3.11 or newer, and this is Python 3.10" in done.stderr
    assert "runs on 3.10" in done.stderr  # the SDK alone does
    assert not (tmp_path / ".venv").exists()


def test_an_old_python_reruns_the_task_with_a_newer_one(old_python: str, tmp_path: Path) -> None:
    newer = tmp_path / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    newer.symlink_to(sys.executable)
    done = subprocess.run(
        [old_python, str(TASKS), "python"], env=_env(tmp_path), capture_output=True, text=True
    )
    assert done.returncode == 0
    assert "tasks.py needs Python 3.11+ (this is 3.10" in done.stdout
    assert f"using {newer}" in done.stdout
    assert f"Python {sys.version.split()[0]} at {newer}" in done.stdout


def test_find_python_checks_the_interpreter_really_is_that_version(tmp_path: Path) -> None:
    (tmp_path / "python3.99").symlink_to(sys.executable)  # a misnamed interpreter
    os.environ["PATH"], saved = str(tmp_path), os.environ["PATH"]
    try:
        assert tasks.find_python("3.99") is None
    finally:
        os.environ["PATH"] = saved

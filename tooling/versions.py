"""``python3 tasks.py versions``: install and run cortex-tune on other Pythons, fresh."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tooling.envs import MIN_PYTHON, ROOT, SDK_MIN_PYTHON, find_python, test_env

DEFAULT_VERSIONS = ("3.10", "3.12", "3.13")


# What the SDK alone must do on a Python without the emulator: the public API end to end on
# FakeBackend (a completion, a fine-tuning job to SUCCESS, a typed error).
SDK_SMOKE = """
import sys
from cortex_tune import Cortex, FakeBackend, JobNotFoundError, JobStatus
fake = FakeBackend()
fake.respond("mistral-7b", "Bonjour")
with Cortex(backend=fake) as cx:
    assert cx.complete("mistral-7b", "Say hello in French").text == "Bonjour"
    job = cx.finetune.create("M", base_model="mistral-7b", training="SELECT 1")
    job = cx.finetune.wait(job.id, progress=False)
    assert job.status is JobStatus.SUCCESS, job
    try:
        cx.finetune.describe("ft_missing")
    except JobNotFoundError:
        pass
    else:
        raise AssertionError("describe of a missing job did not raise JobNotFoundError")
import snowflake.connector
print("SDK on FakeBackend: ok (Python %d.%d, connector %s)"
      % (*sys.version_info[:2], snowflake.connector.__version__))
"""


def _check_version(version: str, workdir: Path) -> tuple[str, float]:
    """Install into a fresh environment for ``version`` and run what that version supports."""
    started = time.monotonic()
    if tuple(int(p) for p in version.split(".")) < SDK_MIN_PYTHON:
        return "not supported (cortex-tune needs Python 3.10+)", 0.0
    python = find_python(version)
    if python is None:
        return "not found (install it, e.g. with pyenv)", 0.0
    env_dir = workdir / f"py{version}"
    subprocess.check_call([python, "-m", "venv", str(env_dir)])
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    pip = [str(bin_dir / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    emulator = tuple(int(p) for p in version.split(".")) >= MIN_PYTHON
    python_bin, cli = str(bin_dir / "python"), str(bin_dir / "cortex-tune")
    if emulator:
        steps = [
            ("pip install cortex-tune[local]", [*pip, f"{ROOT}[local]"]),
            ("cortex-tune demo", [cli, "demo"]),
        ]
    else:
        steps = [
            ("pip install cortex-tune", [*pip, str(ROOT)]),
            ("the SDK on FakeBackend", [python_bin, "-c", SDK_SMOKE]),
            ("cortex-tune --help", [cli, "--help"]),
        ]
    env = test_env(str(workdir))
    for label, step in steps:
        print(f"[{version}] {label}", flush=True)
        if subprocess.call(step, cwd=workdir, env=env) != 0:
            return f"FAILED: {label}", time.monotonic() - started
    what = "installed [local], ran the demo" if emulator else "installed the SDK, ran it"
    return f"ok: {what}", time.monotonic() - started


def versions(args: list[str]) -> None:
    """Check other Python versions in fresh environments (not part of ``test``: minutes each)."""
    wanted = args or list(DEFAULT_VERSIONS)
    results = []
    with tempfile.TemporaryDirectory(prefix="cortex-tune-versions-") as tmp:
        for version in wanted:
            workdir = Path(tmp) / version
            workdir.mkdir()
            results.append((version, *_check_version(version, workdir)))
    print("\nPython | result | seconds")
    for version, result, seconds in results:
        print(f"{version:6} | {result} | {seconds:.0f}")
    if any(not result.startswith("ok") for _, result, _ in results):
        sys.exit(1)

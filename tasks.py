#!/usr/bin/env python3
"""Project tasks that need nothing but Python: ``python3 tasks.py demo`` and ``python3 tasks.py test``.

Each task creates (or refreshes, when pyproject.toml or the interpreter changed) a virtual
environment in ``.venv`` with cortex-tune and its extras installed, then runs in it.

Which Python: the SDK itself runs on Python 3.10+, but these tasks use the embedded emulator
(the ``local`` extra: fakesnow 0.12.1 and the connector 4.8.1 it needs), which requires
Python 3.11+. Run by an older ``python3``, this script looks for ``python3.13`` ...
``python3.11`` (on PATH, or installed by pyenv) and re-runs itself with the newest it finds;
if there is none, it says so and stops.

``python3 tasks.py python`` says which interpreter that is.

``python3 tasks.py live`` runs the conformance probes against a real Snowflake account; it is
skipped (exit 0) unless ``CORTEX_TUNE_LIVE=1`` and a connection are set (see docs/live.md). It
runs in ``.venv-live``: cortex-tune alone, as ``pip install cortex-tune`` gives it (no emulator,
the connector users get).

``python3 tasks.py versions [3.10 3.12 ...]`` checks the other Python versions in fresh
environments: on 3.11+ it installs ``cortex-tune[local]`` and runs the demo; on 3.10 it
installs the SDK alone and drives it through FakeBackend.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
#: The live task's environment: cortex-tune without extras, as users install it.
LIVE_VENV = ROOT / ".venv-live"
EXTRAS = "local,dev,pandas,s3"
#: The emulator (the ``local`` extra), and so the demo and the tests, need this Python or newer.
MIN_PYTHON = (3, 11)
#: The SDK alone (``pip install cortex-tune``) supports this Python or newer.
SDK_MIN_PYTHON = (3, 10)
NEWEST_FIRST = ("3.13", "3.12", "3.11")
DEFAULT_VERSIONS = ("3.10", "3.12", "3.13")


def _version_of(python: str) -> tuple[int, int] | None:
    """The (major, minor) of interpreter ``python``, or None if it does not run."""
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print(sys.version_info[0], sys.version_info[1])"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    parts = out.stdout.split()
    if out.returncode != 0 or len(parts) != 2:
        return None
    return int(parts[0]), int(parts[1])


def find_python(version: str) -> str | None:
    """A working interpreter for ``version`` ("3.12"): on PATH, else under pyenv's versions."""
    wanted = tuple(int(p) for p in version.split("."))
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = [shutil.which(f"python{version}")]
    candidates += sorted(glob.glob(str(pyenv / f"{version}.*" / "bin" / f"python{version}")))
    for candidate in candidates:
        if candidate and _version_of(candidate) == wanted:
            return candidate
    return None


def require_python() -> None:
    """Run under Python 3.11+: re-run this script with one if found, else stop and say why."""
    if sys.version_info[:2] >= MIN_PYTHON:
        return
    have = ".".join(map(str, sys.version_info[:3]))
    for version in NEWEST_FIRST:
        python = find_python(version)
        if python is not None:
            print(f"tasks.py needs Python 3.11+ (this is {have}); using {python}", flush=True)
            os.execv(python, [python, str(Path(__file__).resolve()), *sys.argv[1:]])
    sys.exit(
        f"tasks.py needs Python 3.11 or newer, and this is Python {have}.\n"
        "The demo and the tests run on cortex-tune's embedded emulator, whose fakesnow and "
        "snowflake-connector-python versions require Python 3.11+ (the SDK alone, "
        "`pip install cortex-tune`, runs on 3.10).\nInstall Python 3.11, 3.12 or 3.13 and run "
        "e.g. `python3.12 tasks.py demo`."
    )


def python_of(venv_dir: Path) -> Path:
    """The interpreter of a virtual environment."""
    return venv_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_venv(venv_dir: Path = VENV, extras: str = EXTRAS) -> Path:
    """Create ``venv_dir`` and install the project (with ``extras``) into it, unless it is
    already current (same pyproject.toml, extras and Python); return its interpreter."""
    require_python()
    py = python_of(venv_dir)
    stamp = venv_dir / ".cortex-tune-installed"
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    digest = hashlib.sha256(
        (ROOT / "pyproject.toml").read_bytes() + extras.encode() + here.encode()
    ).hexdigest()
    if stamp.exists() and stamp.read_text() == digest and py.exists():
        return py
    if not py.exists() or _version_of(str(py)) != sys.version_info[:2]:
        print(f"creating {venv_dir.name} with Python {here} ...", flush=True)
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


def python(args: list[str]) -> None:
    """Say which Python the demo and test tasks run with (finding one if python3 is too old)."""
    require_python()
    print(f"Python {sys.version.split()[0]} at {sys.executable}")


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
    tasks = {"demo": demo, "test": test, "live": live, "versions": versions, "python": python}
    if len(sys.argv) < 2 or sys.argv[1] not in tasks:
        print(
            "usage: python3 tasks.py {demo|test|live|versions|python} [args...]\n"
            "  demo, test: need Python 3.11+ (an older python3 finds a newer one or says so)\n"
            "  live: conformance probes on a real account (CORTEX_TUNE_LIVE=1; docs/live.md)\n"
            "  versions [3.10 3.12 3.13]: install and run cortex-tune on each, fresh\n"
            "  python: which Python demo and test use",
            file=sys.stderr,
        )
        sys.exit(2)
    tasks[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()

"""Which Python runs the tasks, and the virtual environments they run in."""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import sys
import threading
import venv
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = "Scripts" if os.name == "nt" else "bin"
PYTHON = "python.exe" if os.name == "nt" else "python"
EXTRAS = "local,dev,pandas,s3"
#: The emulator (the ``local`` extra), and so the demo and the tests, need this Python or newer.
MIN_PYTHON = (3, 11)
#: The SDK alone (``pip install cortex-tune``) supports this Python or newer.
SDK_MIN_PYTHON = (3, 10)
NEWEST_FIRST = ("3.13", "3.12", "3.11")


@dataclass(frozen=True)
class Env:
    """A virtual environment: where it lives and what is installed in it (the project first)."""

    path: Path
    requirements: tuple[str, ...]

    @property
    def bin(self) -> Path:
        """Its scripts folder."""
        return self.path / SCRIPTS

    @property
    def python(self) -> Path:
        """Its interpreter."""
        return self.bin / PYTHON


#: The demo and the tests: cortex-tune with every extra.
MAIN = Env(ROOT / ".venv", (f".[{EXTRAS}]",))
#: What ``pip install cortex-tune`` gives a user at the newest connector major, and pytest:
#: the connector-5 wire tier (tests/wire5) runs here.
CONNECTOR5 = Env(ROOT / ".venv5", (".", "snowflake-connector-python>=5.2,<6", "pytest>=8"))
#: The live conformance probes: cortex-tune alone, as users install it.
LIVE = Env(ROOT / ".venv-live", (".",))


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


def version_of(python: str) -> tuple[int, int] | None:
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
        if candidate and version_of(candidate) == wanted:
            return candidate
    return None


def require_python(script: Path) -> None:
    """Run under Python 3.11+: re-run ``script`` with one if found, else stop and say why."""
    if sys.version_info[:2] >= MIN_PYTHON:
        return
    have = ".".join(map(str, sys.version_info[:3]))
    for version in NEWEST_FIRST:
        python = find_python(version)
        if python is not None:
            print(f"tasks.py needs Python 3.11+ (this is {have}); using {python}", flush=True)
            os.execv(python, [python, str(script), *sys.argv[1:]])
    sys.exit(
        f"tasks.py needs Python 3.11 or newer, and this is Python {have}.\n"
        "The demo and the tests run on cortex-tune's embedded emulator, whose fakesnow and "
        "snowflake-connector-python versions require Python 3.11+ (the SDK alone, "
        "`pip install cortex-tune`, runs on 3.10).\nInstall Python 3.11, 3.12 or 3.13 and run "
        "e.g. `python3.12 tasks.py demo`."
    )


def ensure(env: Env) -> Path:
    """Create ``env`` and install the project into it, unless it is current (same
    pyproject.toml, requirements and Python); return its interpreter."""
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    stamp = env.path / ".cortex-tune-installed"
    digest = hashlib.sha256(
        (ROOT / "pyproject.toml").read_bytes() + " ".join(env.requirements).encode() + here.encode()
    ).hexdigest()
    if stamp.exists() and stamp.read_text() == digest and env.python.exists():
        return env.python
    if not env.python.exists() or version_of(str(env.python)) != sys.version_info[:2]:
        print(f"creating {env.path.name} with Python {here} ...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(env.path)
    print(f"installing cortex-tune and its dependencies into {env.path.name} ...", flush=True)
    project, *others = env.requirements
    pip = [str(env.python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    run([*pip, "-e", project, *others])
    stamp.write_text(digest)
    return env.python


def ensure_together(*envs: Env) -> None:
    """Several environments, installed side by side (each install mostly waits on downloads)."""
    failed: list[BaseException] = []

    def install(env: Env) -> None:
        try:
            ensure(env)
        except BaseException as exc:  # SystemExit from run(), reported in this thread
            failed.append(exc)

    threads = [threading.Thread(target=install, args=(env,)) for env in envs[1:]]
    for thread in threads:
        thread.start()
    try:
        ensure(envs[0])
    finally:
        for thread in threads:
            thread.join()
    if failed:
        raise failed[0]

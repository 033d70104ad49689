"""The documentation runs as written: every python block of README.md and docs/*.md, and every
command line that calls cortex-tune.

How the pages are read (tests/test_docs_conventions.py keeps the pages to it):

- A `````output`` block right after a `````python`` or `````bash`` block is exactly what that
  block prints on stdout (compared line by line; trailing spaces and blank lines at the end are
  ignored). Nothing else claims output: a python line that prints has no trailing comment.
- Each python block runs alone in a fresh interpreter, with its own imports and setup.
- In bash blocks, the lines that call ``cortex-tune`` (also ``echo ... | cortex-tune ...``) and
  ``python examples/...`` run as written, in one working directory: the lines with ``--local``
  on the emulator, in page order; the lines without it on "a Snowflake account", in page order,
  beside them (the two share nothing). Each must exit 0, print no traceback and no Python source
  line, and print one JSON document with ``--json``. ``ft_...`` stands for a job id. The set-up
  lines (``python3 tasks.py``, ``pip install``, ``source``) are checked by following the README
  on a fresh clone, not here.
- Standard input is a user who asks one thing, then enters an empty line: ``STDIN``.

"A Snowflake account" is a local one, on 127.0.0.1 only: the wire server (tests/wire/serve.py,
fakesnow over HTTP with Cortex's functions, the real connector logs in to it) in a process of its
own, with stand-ins for the base models the pages name, and a Chat Completions endpoint for REST
(tests/rest/fake_server.py). A connections.toml in a temporary ``SNOWFLAKE_HOME`` names them, so
``Cortex.connect()`` and the CLI read it as users' code does: ``[default]`` logs in with a
password, ``[prod]`` with a key pair (``rsa_key.p8`` in the working directory) that also signs
the REST requests. The account has one fine-tuning job, ``TICKETS_MISTRAL_7B``.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shlex
import shutil
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
STDIN = "Why is the sky blue?\n\n"
FENCE = re.compile(r"^```(\w*)[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
PIPED = re.compile(r"""^echo\s+(?:"[^"]*"|'[^']*')\s*\|\s*cortex-tune\b""")
JOB_ID = "ft_..."
#: How Python shows where a warning came from; the CLI prints warnings in one line instead.
SOURCE_LINE = re.compile(r"\.py:\d+: ")
ACCOUNT_JOB = "TICKETS_MISTRAL_7B"
#: The base models the pages name, and what their stand-ins answer on the local account.
STAND_INS = {
    "mistral-7b": "Billing dispute",
    "llama3.1-70b": "Sunlight scatters off air molecules, blue light the most.",
    "claude-sonnet-4-5": "Blue light scatters the most.",
}
TIMEOUT = 300


@dataclass(frozen=True)
class Block:
    """A fenced code block of a page, and the ```output block right after it, if any."""

    page: str
    line: int
    lang: str
    code: str
    output: str | None
    intro: str

    @property
    def name(self) -> str:
        return f"{self.page}:{self.line}"


def page_blocks(path: Path) -> list[Block]:
    """The code blocks of a page (an ```output block belongs to the block before it)."""
    text = path.read_text("utf-8")
    fences = list(FENCE.finditer(text))
    blocks = []
    for i, fence in enumerate(fences):
        if fence[1] == "output":
            continue
        following = fences[i + 1] if i + 1 < len(fences) else None
        output = None
        if (
            following
            and following[1] == "output"
            and not text[fence.end() : following.start()].strip()
        ):
            output = following[2]
        before = text[: fence.start()].rstrip()
        intro = before.rsplit("\n\n", 1)[-1]
        line = text.count("\n", 0, fence.start()) + 1
        blocks.append(Block(str(path.relative_to(ROOT)), line, fence[1], fence[2], output, intro))
    return blocks


def all_blocks(lang: str) -> list[Block]:
    return [b for page in PAGES for b in page_blocks(page) if b.lang == lang]


def runnable(line: str) -> bool:
    """Whether the docs test runs this shell line."""
    return line.startswith(("cortex-tune ", "python examples/")) or bool(PIPED.match(line))


def command_lines(block: Block) -> list[str]:
    return [line.strip() for line in block.code.splitlines() if runnable(line.strip())]


def needs_account(line: str) -> bool:
    """A command line that talks to Snowflake (not the emulator, not --version or --help)."""
    return (
        "cortex-tune" in line
        and "--local" not in line
        and not re.search(r"cortex-tune --(version|help)\b", line)
    )


def same_output(shown: str, printed: str) -> bool:
    def lines(text: str) -> list[str]:
        return [line.rstrip() for line in text.rstrip().splitlines()]

    return lines(shown) == lines(printed)


# -- the local account ---------------------------------------------------------------------------


@dataclass
class Account:
    """Where the pages' code runs: the environment, the working directory, the servers."""

    env: dict[str, str]
    cwd: Path
    control: str
    chat: Any
    job_id: str = ""

    def post(self, path: str, body: dict[str, Any]) -> Any:
        request = urllib.request.Request(
            self.control + path, json.dumps(body).encode(), {"content-type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read())

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.control + path, timeout=30) as answer:
            return json.loads(answer.read())


def _start_wire_server(log: Path) -> tuple[subprocess.Popen[str], dict[str, int]]:
    env = {**os.environ, "SNOWFLAKE_DISABLE_PLATFORM_DETECTION": "true"}
    with log.open("w") as stderr:
        server = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "wire" / "serve.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=env,
        )
    lines: queue.Queue[str] = queue.Queue()

    def drain() -> None:
        # The ports come first; then uvicorn logs every request on stdout, which must be read
        # or the server stops when the pipe is full.
        assert server.stdout is not None
        for line in server.stdout:
            lines.put(line)

    threading.Thread(target=drain, daemon=True).start()
    try:
        first = lines.get(timeout=120)
        return server, json.loads(first)
    except (queue.Empty, ValueError):
        server.kill()
        _stop(server)
        pytest.fail(f"the wire server did not start:\n{log.read_text()[-2000:]}")


def _stop(server: subprocess.Popen[str]) -> None:
    """Close the server's stdin (it stops when it closes) and wait for it."""
    assert server.stdin is not None and server.stdout is not None
    server.stdin.close()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    server.stdout.close()


def _write_key(config: dict[str, Any], path: Path) -> Any:
    """The server's key pair, written unencrypted to ``path`` as a user's key file; its public key."""
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(
        Path(config["private_key_file"]).read_bytes(), config["private_key_password"].encode()
    )
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return key.public_key()


def _connections(config: dict[str, Any], key_file: Path) -> str:
    common = (
        f'host = "127.0.0.1"\nport = {config["port"]}\nprotocol = "http"\n'
        f'account = "{config["account"]}"\nuser = "{config["user"]}"\n'
        f'database = "{config["database"]}"\nschema = "{config["schema"]}"\n'
        "platform_detection_timeout_seconds = 0.0\n"
    )
    return (
        f'[default]\n{common}password = "{config["password"]}"\n\n'
        f'[prod]\n{common}authenticator = "SNOWFLAKE_JWT"\nprivate_key_file = "{key_file.as_posix()}"\n'
    )


def _chat_endpoint(config: dict[str, Any], public_key: Any) -> Any:
    sys.path.insert(0, str(ROOT / "tests" / "rest"))
    from fake_server import ChatFake

    chat = ChatFake(max_requests=1000, timeout=60.0)
    chat.start()
    chat.key_pair = (config["account"].upper(), config["user"].upper(), public_key)
    for model, text in STAND_INS.items():
        chat.register(model, text)
    return chat


def _environment(home: Path, chat: Any, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SNOWFLAKE_", "CORTEX_TUNE_"))}
    env.update(
        SNOWFLAKE_HOME=str(home),
        SNOWFLAKE_DISABLE_PLATFORM_DETECTION="true",
        CORTEX_TUNE_REST_URL=chat.base_url,
        PATH=str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", ""),
        TMPDIR=str(tmp),
    )
    return env


def _train_the_account_job(account: Account, config: dict[str, Any]) -> None:
    from cortex_tune import Cortex

    params = {k: config[k] for k in ("host", "port", "account", "user", "password")}
    params.update(database=config["database"], schema=config["schema"], protocol="http")
    with Cortex.connect(platform_detection_timeout_seconds=0.0, **params) as cx:
        cx.sql("CREATE TABLE TICKETS (PROMPT STRING, COMPLETION STRING)")
        cx.sql(
            "INSERT INTO TICKETS VALUES (?, ?), (?, ?), (?, ?)",
            [
                *("My bill is wrong", "Billing dispute"),
                *("No signal abroad", "Roaming fees"),
                *("I lost my phone", "Lost phone"),
            ],
        )
        # check=False: the preflight's statement has an ARRAY column, which fakesnow's server
        # cannot describe (it answers HTTP 500); the emulator in-process runs it.
        job = cx.finetune.create(
            ACCOUNT_JOB, base_model="mistral-7b", training="SELECT * FROM TICKETS", check=False
        )
        account.post("/clock", {"advance": 3600})
        assert cx.finetune.describe(job.id).status.value == "SUCCESS"
    account.job_id = job.id


@pytest.fixture(scope="module")
def account(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Account]:
    for module in ("fakesnow", "uvicorn", "starlette", "openai"):
        pytest.importorskip(module, reason="the docs test needs the dev and local extras")
    tmp = tmp_path_factory.mktemp("docs")
    home, cwd = tmp / "snowflake-home", tmp / "work"
    home.mkdir()
    cwd.mkdir()
    server, ports = _start_wire_server(tmp / "wire-server.log")
    chat = None
    try:
        control = f"http://127.0.0.1:{ports['control']}"
        with urllib.request.urlopen(control + "/config", timeout=30) as answer:
            config = json.loads(answer.read())
        key_file = cwd / "rsa_key.p8"
        public_key = _write_key(config, key_file)
        (home / "connections.toml").write_text(_connections(config, key_file))
        (home / "connections.toml").chmod(0o600)
        chat = _chat_endpoint(config, public_key)
        env = _environment(home, chat, tmp)
        account = Account(env=env, cwd=cwd, control=control, chat=chat)
        account.post("/models", {"models": STAND_INS})
        _train_the_account_job(account, config)
        yield account
    finally:
        if chat is not None:
            chat.stop()
        _stop(server)


# -- running the pages ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Ran:
    """What one block or command line did."""

    what: str
    code: int
    stdout: str
    stderr: str

    def report(self) -> str:
        return (
            f"{self.what}: exit {self.code}\n--- stdout\n{self.stdout[-3000:]}\n"
            f"--- stderr\n{self.stderr[-3000:]}"
        )


def run_python(block: Block, account: Account, scripts: Path) -> Ran:
    page = re.sub(r"\W", "_", block.page)
    script = scripts / f"{page}_line_{block.line}.py"
    script.write_text(block.code)
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=account.cwd,
        env=account.env,
        input=STDIN,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    return Ran(block.name, done.returncode, done.stdout, done.stderr)


def run_line(line: str, account: Account) -> Ran:
    command = line.replace(JOB_ID, account.job_id)
    cwd = ROOT if command.startswith("python examples/") else account.cwd
    done = subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        env=account.env,
        input=STDIN,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    return Ran(line, done.returncode, done.stdout, done.stderr)


def run_command_lines(account: Account, on_account: bool) -> dict[tuple[str, int], Ran]:
    """The command lines for the account (or for the emulator), in page order.

    The two kinds share no state, so they run side by side; each kind runs in order.
    """
    ran = {}
    for block in all_blocks("bash"):
        for index, line in enumerate(command_lines(block)):
            if needs_account(line) == on_account:
                ran[block.name, index] = run_line(line, account)
    return ran


def command_results(runs: dict[str, Future[Any]]) -> list[tuple[Block, list[Ran]]]:
    """Each bash block with what its command lines did, in page order."""
    ran = {**runs["cli-local"].result(), **runs["cli-account"].result()}
    return [
        (block, [ran[block.name, i] for i in range(len(command_lines(block)))])
        for block in all_blocks("bash")
    ]


PYTHON_BLOCKS = all_blocks("python")


@pytest.fixture(scope="module")
def runs(
    account: Account, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Future[Any]]]:
    """Every block and the command lines, started at once (each block in its own interpreter)."""
    if shutil.which("bash") is None:
        pytest.skip("the command lines run in bash")
    scripts = tmp_path_factory.mktemp("blocks")
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures: dict[str, Future[Any]] = {
            "cli-account": pool.submit(run_command_lines, account, True),
            "cli-local": pool.submit(run_command_lines, account, False),
        }
        for block in PYTHON_BLOCKS:
            futures[block.name] = pool.submit(run_python, block, account, scripts)
        yield futures


@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=[b.name for b in PYTHON_BLOCKS])
def test_python_block_runs_alone(block: Block, runs: dict[str, Future[Any]]) -> None:
    if "snowflake.snowpark" in block.code:
        pytest.importorskip("snowflake.snowpark")
    ran: Ran = runs[block.name].result()
    assert ran.code == 0, ran.report()
    assert "Traceback" not in ran.stderr, ran.report()
    if block.output is not None:
        assert same_output(block.output, ran.stdout), (
            f"{block.name} shows\n{block.output}\nbut prints\n{ran.stdout}"
        )


def test_command_lines_run_as_written(account: Account, runs: dict[str, Future[Any]]) -> None:
    failures = []
    ran_lines = 0
    for block, ran in command_results(runs):
        for one in ran:
            ran_lines += 1
            if one.code != 0 or "Traceback" in one.stdout + one.stderr:
                failures.append(one.report())
            elif "cortex-tune" in one.what and SOURCE_LINE.search(one.stderr):
                failures.append(f"{one.what}: stderr shows Python source lines\n{one.stderr}")
            elif "--json" in shlex.split(one.what, comments=True):
                try:
                    json.loads(one.stdout)
                except ValueError:
                    failures.append(f"{one.what}: stdout is not one JSON document\n{one.stdout}")
        printed = "".join(one.stdout for one in ran)
        if block.output is not None and not same_output(block.output, printed):
            failures.append(f"{block.name} shows\n{block.output}\nbut prints\n{printed}")
    assert ran_lines >= 10
    assert not failures, "\n\n".join(failures)


def test_account_lines_reached_the_account(account: Account, runs: dict[str, Future[Any]]) -> None:
    """The lines without --local went to the local account, over SQL and over REST."""
    for future in runs.values():
        future.result()
    assert account.chat.requests, "no REST request reached the Chat Completions endpoint"
    assert all(r.claims is not None for r in account.chat.requests)  # signed with [prod]'s key
    logins = account.get("/requests?path=/session/v1/login-request")
    assert len(logins) >= 5  # the setup, the connection blocks and the account lines

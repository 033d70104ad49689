"""The global options of ``cortex-tune``, taken from anywhere on the command line.

``--json``, ``--debug``, ``--connection NAME`` (``-c``) and ``--local [PATH]`` work before the
command (``cortex-tune --json jobs list``) and after it (``cortex-tune jobs list --json``), as
in git, gh and sqlite-utils. They are lifted out of the arguments before the command line is
parsed, so every command accepts them without declaring them.

``--local`` takes an optional PATH: the word after it is the PATH unless it is a command, an
option, or an argument the command still needs (``cortex-tune sql --local "SELECT 1"`` runs
the statement on the default ``.cortex-local``). ``--local=PATH`` is never ambiguous.
Everything after ``--`` is left alone.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

DEFAULT_LOCAL_PATH = ".cortex-local"

_FLAGS = {"--json": "json", "--debug": "debug"}
_CONNECTION = ("--connection", "-c")


@dataclass
class Settings:
    """The global options of one run, and where its JSON document goes.

    Attributes:
        connection: ``--connection NAME``, or None for the connector's default.
        local: None without ``--local``; ``""`` for ``--local`` alone; else its PATH.
        json: ``--json``: print exactly one JSON document on stdout.
        debug: ``--debug``: tracebacks and DEBUG logs on stderr.
        problem: A mistake in the global options (reported as a usage error).
        stdout: The real stdout (with ``--json`` everything else printed goes to stderr).
        emitted: Whether the run's document was printed.
    """

    connection: str | None = None
    local: str | None = None
    json: bool = False
    debug: bool = False
    problem: str | None = None
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    emitted: bool = False

    @property
    def local_path(self) -> str | None:
        """The emulator's directory, or None when not ``--local``."""
        if self.local is None:
            return None
        return self.local or DEFAULT_LOCAL_PATH


@dataclass
class _Scan:
    """Where the scan is: the command reached so far and what it has kept."""

    command: Any
    kept: list[str] = field(default_factory=list)
    positionals: int = 0
    candidates: list[tuple[int, str]] = field(default_factory=list)  # (index in kept, word)


def split_globals(root: Any, args: list[str]) -> tuple[Settings, list[str]]:
    """Lift the global options out of ``args``: (their settings, the arguments left).

    ``root`` is the click/typer group of the command line; its commands and their options say
    which words are commands and which options take a value.
    """
    settings = Settings()
    scan = _Scan(root)
    words = list(args)
    i = 0
    while i < len(words):
        word = words[i]
        if word == "--":
            scan.kept += words[i:]
            break
        i = _take(settings, scan, words, i)
    _resolve_local(settings, scan)
    return settings, scan.kept


def _take(settings: Settings, scan: _Scan, words: list[str], i: int) -> int:
    """Consume the word at ``i`` (and its value); return the index of the next word."""
    word = words[i]
    name, eq, value = word.partition("=")
    if word in _FLAGS:
        setattr(settings, _FLAGS[word], True)
        return i + 1
    if name in _CONNECTION or (
        word.startswith("-c") and not word.startswith("--") and word != "-c"
    ):
        return _take_connection(settings, words, i)
    if name == "--local":
        if eq:
            settings.local = value
            return i + 1
        settings.local = ""
        following = words[i + 1] if i + 1 < len(words) else None
        if following is None or following.startswith("-") or _subcommand(scan.command, following):
            return i + 1
        if _is_group(scan.command):  # before the command: nothing else it could be
            settings.local = following
            return i + 2
        scan.candidates.append((len(scan.kept), following))
        scan.kept.append(following)
        scan.positionals += 1
        return i + 2
    return _keep(scan, words, i)


def _take_connection(settings: Settings, words: list[str], i: int) -> int:
    word = words[i]
    if word.startswith("--connection="):
        settings.connection = word.partition("=")[2]
        return i + 1
    if word.startswith("-c") and len(word) > 2:  # -cNAME
        settings.connection = word[2:]
        return i + 1
    following = words[i + 1] if i + 1 < len(words) else None
    if following is None or (following.startswith("-") and following != "-"):
        settings.problem = f"Option '{word}' requires a connection name."
        return i + 1
    settings.connection = following
    return i + 2


def _keep(scan: _Scan, words: list[str], i: int) -> int:
    """A word of the command itself: descend into a subcommand, or keep it (and its value)."""
    word = words[i]
    scan.kept.append(word)
    if word.startswith("-") and word != "-":
        takes = _option_values(scan.command, word)
        scan.kept += words[i + 1 : i + 1 + takes]
        return i + 1 + takes
    sub = _subcommand(scan.command, word)
    if sub is not None:
        scan.command, scan.positionals, scan.candidates = sub, 0, []
    else:
        scan.positionals += 1
    return i + 1


def _resolve_local(settings: Settings, scan: _Scan) -> None:
    """Each word kept after ``--local`` is its PATH unless the command needs it as an argument."""
    needed = _arguments(scan.command)
    for index, word in reversed(scan.candidates):
        if scan.positionals - 1 >= needed:
            del scan.kept[index]
            scan.positionals -= 1
            settings.local = word


def _is_group(command: Any) -> bool:
    return isinstance(getattr(command, "commands", None), dict)


def _subcommand(command: Any, word: str) -> Any:
    commands = getattr(command, "commands", None)
    return commands.get(word) if isinstance(commands, dict) else None


def _option_values(command: Any, word: str) -> int:
    """How many following words the option ``word`` of ``command`` takes (0 for flags)."""
    if word.startswith("--") and "=" in word:
        return 0
    for param in getattr(command, "params", []):
        if getattr(param, "param_type_name", "") != "option":
            continue
        if word in param.opts or word in param.secondary_opts:
            return 0 if param.is_flag or param.count else max(param.nargs, 1)
        if any(len(o) == 2 and word.startswith(o) and len(word) > 2 for o in param.opts):
            return 0  # -mVALUE
    return 0


def _arguments(command: Any) -> int:
    """How many positional words ``command`` takes (a group: one, its subcommand)."""
    if _is_group(command):
        return 1
    return sum(
        max(p.nargs, 1)
        for p in getattr(command, "params", [])
        if getattr(p, "param_type_name", "") == "argument"
    )

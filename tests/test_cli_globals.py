"""Global options work before and after the command; --version; help shows no types for flags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from cortex_tune import __version__, cli
from cortex_tune._cli.args import split_globals

ROOT = typer.main.get_command(cli.app)


def _split(line: str) -> tuple[dict[str, object], list[str]]:
    settings, rest = split_globals(ROOT, line.split())
    found = {"connection": settings.connection, "local": settings.local, "json": settings.json}
    found["debug"], found["problem"] = settings.debug, settings.problem
    return {k: v for k, v in found.items() if v not in (None, False)}, rest


@pytest.mark.parametrize(
    ("line", "settings", "rest"),
    [
        ("--json jobs list", {"json": True}, ["jobs", "list"]),
        ("jobs list --json", {"json": True}, ["jobs", "list"]),
        ("jobs --json list", {"json": True}, ["jobs", "list"]),
        (
            "--connection prod jobs list --json",
            {"connection": "prod", "json": True},
            ["jobs", "list"],
        ),
        ("jobs list -c prod --debug", {"connection": "prod", "debug": True}, ["jobs", "list"]),
        ("jobs list --connection=prod", {"connection": "prod"}, ["jobs", "list"]),
        ("--local jobs list", {"local": ""}, ["jobs", "list"]),
        ("--local /data jobs list", {"local": "/data"}, ["jobs", "list"]),
        ("jobs list --json --local", {"local": "", "json": True}, ["jobs", "list"]),
        ("jobs list --local /data", {"local": "/data"}, ["jobs", "list"]),
        ("jobs list --local=/data", {"local": "/data"}, ["jobs", "list"]),
        # the word after --local is the command's argument when the command needs it
        ("jobs describe --local ft_1", {"local": ""}, ["jobs", "describe", "ft_1"]),
        ("jobs describe ft_1 --local /data", {"local": "/data"}, ["jobs", "describe", "ft_1"]),
        ("jobs describe --local /data ft_1", {"local": "/data"}, ["jobs", "describe", "ft_1"]),
        ("sql --local SELECT_1", {"local": ""}, ["sql", "SELECT_1"]),
        ("complete m --local -", {"local": ""}, ["complete", "m", "-"]),
        # an option's value is never taken for a global option or a command
        ("check -m demo -t --json", {}, ["check", "-m", "demo", "-t", "--json"]),
        ("create M --training jobs --local", {"local": ""}, ["create", "M", "--training", "jobs"]),
        ("sql -- --json", {}, ["sql", "--", "--json"]),
        (
            "jobs list --connection",
            {"problem": "Option '--connection' requires a connection name."},
            ["jobs", "list"],
        ),
    ],
)
def test_global_options_are_taken_from_anywhere(
    line: str, settings: dict[str, object], rest: list[str]
) -> None:
    assert _split(line) == (settings, rest)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    pytest.importorskip("fakesnow")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "store"


def test_json_and_local_after_the_command(store: Path) -> None:
    runner = CliRunner()
    made = runner.invoke(
        cli.app, ["sql", "CREATE TABLE T AS SELECT 'p' AS PROMPT", "--local", str(store)]
    )
    assert made.exit_code == 0, made.output
    listed = runner.invoke(cli.app, ["jobs", "list", "--json", "--local", str(store)])
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout) == []
    bare = runner.invoke(cli.app, ["jobs", "list", "--json", "--local"])
    assert bare.exit_code == 0, bare.output
    assert json.loads(bare.stdout) == []
    assert (store.parent / ".cortex-local").is_dir()  # bare --local: the default path


def test_connection_and_json_after_the_command_as_the_readme_shows() -> None:
    result = CliRunner().invoke(
        cli.app, ["--connection", "definitely-not-configured", "jobs", "list", "--json"]
    )
    assert result.exit_code == cli.EXIT_CONNECTION
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "ConnectionFailedError"
    assert "definitely-not-configured" in error["message"]


def test_version_flag_and_command() -> None:
    runner = CliRunner()
    flag = runner.invoke(cli.app, ["--version"])
    assert flag.exit_code == 0, flag.output
    assert flag.stdout.strip() == __version__
    command = runner.invoke(cli.app, ["version"])
    assert flag.stdout == command.stdout
    assert json.loads(runner.invoke(cli.app, ["--version", "--json"]).stdout) == {
        "version": command.stdout.strip()
    }


def _commands() -> list[tuple[list[str], object]]:
    found: list[tuple[list[str], object]] = [([], ROOT)]
    stack = list(found)
    while stack:
        path, command = stack.pop()
        for name, sub in getattr(command, "commands", {}).items():
            found.append(([*path, name], sub))
            stack.append(([*path, name], sub))
    return found


@pytest.mark.parametrize("path", [p for p, _ in _commands()], ids=lambda p: " ".join(p) or "root")
def test_help_shows_no_type_for_flags(path: list[str]) -> None:
    result = CliRunner().invoke(cli.app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.stdout
    assert "BOOLEAN" not in result.stdout
    if path:  # each command says that the global options apply
        assert "--json, --local [PATH]" in result.stdout


def test_no_command_uses_a_global_option_name() -> None:
    taken = {"--json", "--debug", "--local", "--connection", "-c"}
    for path, command in _commands()[1:]:
        for param in getattr(command, "params", []):
            names = set(getattr(param, "opts", [])) | set(getattr(param, "secondary_opts", []))
            assert not names & taken, f"{' '.join(path)} declares {names & taken}"

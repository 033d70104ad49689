"""``cortex-tune complete --stream`` and ``cortex-tune chat``, driven through stdin."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_server import ChatFake
from typer.testing import CliRunner

from conftest import PAT
from cortex_tune import ModelRequest, cli


def _env(chat: ChatFake) -> dict[str, str]:
    return {"CORTEX_TUNE_REST_URL": chat.base_url, "SNOWFLAKE_PAT": PAT}


def test_complete_stream_against_the_rest_fake(chat: ChatFake) -> None:
    chat.register("llama3.1-70b", "Snowflakes form around dust.")
    result = CliRunner().invoke(
        cli.app, ["complete", "llama3.1-70b", "-", "--stream"], input="Why?", env=_env(chat)
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "Snowflakes form around dust.\n"
    assert chat.requests[0].body["stream"] is True
    assert chat.requests[0].body["messages"] == [{"role": "user", "content": "Why?"}]


def test_chat_keeps_history_and_ends_at_end_of_input(chat: ChatFake) -> None:
    def echo(request: ModelRequest) -> str:
        return f"turn {sum(m['role'] == 'user' for m in request.messages)}: {request.prompt}"

    chat.register("llama3.1-70b", echo)
    result = CliRunner().invoke(
        cli.app,
        ["chat", "llama3.1-70b", "--system", "Be brief"],
        input="Hello\n\nAnd again\n",
        env=_env(chat),
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["turn 1: Hello", "turn 2: And again"]
    last = chat.requests[-1].body["messages"]
    assert [m["role"] for m in last] == ["system", "user", "assistant", "user"]
    assert last[2]["content"] == "turn 1: Hello"


def test_chat_errors_exit_with_a_hint_and_no_traceback(chat: ChatFake) -> None:
    result = CliRunner().invoke(cli.app, ["chat", "no-such-model"], input="Hi\n", env=_env(chat))
    assert result.exit_code == cli.EXIT_ERROR
    assert "UnknownModelError" in result.stderr
    assert "hint:" in result.stderr
    assert PAT not in result.output + result.stderr


def test_stream_and_chat_on_the_emulator(tmp_path: Path) -> None:
    pytest.importorskip("fakesnow")
    store = str(tmp_path / "store")
    runner = CliRunner()

    def run(*args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
        return runner.invoke(cli.app, ["--local", store, *args], input=stdin)

    made = run(
        "sql",
        "CREATE OR REPLACE TABLE T AS SELECT 'question ' || range::STRING AS PROMPT, "
        "'answer ' || range::STRING AS COMPLETION FROM range(30)",
    )
    assert made.exit_code == 0, made.output
    created = run(
        "create",
        "CHAT_MODEL",
        "--base-model",
        "mistral-7b",
        "--training",
        "SELECT * FROM T",
        "--wait",
    )
    assert created.exit_code == 0, created.output
    streamed = run("complete", "CHAT_MODEL", "-", "--stream", stdin="question 7")
    assert streamed.exit_code == 0, streamed.output
    assert streamed.stdout == "answer 7\n"
    chatted = run("chat", "CHAT_MODEL", stdin="question 3\nquestion 12\n")
    assert chatted.exit_code == 0, chatted.output
    assert chatted.stdout.splitlines() == ["answer 3", "answer 12"]

"""``cortex-tune complete --stream`` and ``cortex-tune chat``: tokens as they come, on any transport.

Both use Cortex's Chat Completions REST API when the connection has a REST credential (a
programmatic access token, a key pair, OAuth; see docs/rest.md), without opening a SQL session;
otherwise the SQL connection; ``--local`` the embedded emulator.
"""

from __future__ import annotations

import sys
from typing import Any

import typer


def client(ctx: typer.Context) -> Any:
    """The client for streaming commands: local, REST when configured, else SQL."""
    from cortex_tune import cli
    from cortex_tune._backends.snowflake import connect_params
    from cortex_tune._client import Cortex
    from cortex_tune._rest import RestSettings

    settings = cli._settings(ctx)
    if settings.local is not None:
        return Cortex.local(settings.local or None)
    params = connect_params(settings.connection, {})
    if RestSettings.from_params(params).ready:
        return Cortex.rest(settings.connection)
    return Cortex.connect(settings.connection)


def stream_complete(ctx: typer.Context, model: str, text: str, **options: Any) -> None:
    """Print a completion's tokens as they arrive (``--json``: the final completion)."""
    from cortex_tune import cli

    def run(cx: Any) -> Any:
        with cx.complete(model, text, stream=True, **options) as stream:
            for delta in stream:
                if not cli._settings(ctx).json:
                    sys.stdout.write(delta)
                    sys.stdout.flush()
        return stream.completion

    completion = _run(ctx, run)
    if cli._settings(ctx).json:
        data = completion.model_dump(mode="json", exclude={"raw", "parsed"})
        cli._emit(ctx, data, completion.text)
    else:
        sys.stdout.write("\n")


def chat(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="A Cortex model or a fine-tuned model's name."),
    system: str = typer.Option(None, "--system", "-s", help="A system message to start with."),
    temperature: float = typer.Option(None, help="0 to 1."),
    max_tokens: int = typer.Option(None, "--max-tokens", help="Most tokens per answer."),
) -> None:
    """Chat with a model: one line per turn, answers streamed, history kept; Ctrl-D ends."""
    interactive = sys.stdin.isatty()

    def run(cx: Any) -> None:
        history: list[dict[str, str]] = [{"role": "system", "content": system}] if system else []
        while True:
            if interactive:
                sys.stdout.write("> ")
                sys.stdout.flush()
            line = sys.stdin.readline()
            if not line:  # Ctrl-D / end of input
                break
            if not line.strip():
                continue
            history.append({"role": "user", "content": line.rstrip("\n")})
            options = {"temperature": temperature, "max_tokens": max_tokens}
            with cx.complete(model, history, stream=True, **options) as stream:
                for delta in stream:
                    sys.stdout.write(delta)
                    sys.stdout.flush()
            sys.stdout.write("\n")
            history.append({"role": "assistant", "content": stream.completion.text})

    _run(ctx, run)


def _run(ctx: typer.Context, action: Any) -> Any:
    from cortex_tune import cli

    try:
        with client(ctx) as cx:
            return action(cx)
    except Exception as exc:
        sys.stdout.flush()
        cli._fail(ctx, exc)


def register(app: typer.Typer) -> None:
    """Add the ``chat`` command to the CLI."""
    app.command()(chat)

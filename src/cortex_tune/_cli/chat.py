"""``cortex-tune complete --stream`` and ``cortex-tune chat``: tokens as they come, on any transport.

Both use Cortex's Chat Completions REST API when the connection has a REST credential (a
programmatic access token, a key pair, OAuth; see docs/rest.md), without opening a SQL session;
otherwise the SQL connection; ``--local`` the embedded emulator.
"""

from __future__ import annotations

import sys
from typing import Any

import typer

from cortex_tune._cli.core import Command, emit, settings_of, usage_error


def client(ctx: typer.Context) -> Any:
    """The client for streaming commands: local, REST when configured, else SQL."""
    from cortex_tune._backends.snowflake import connect_params
    from cortex_tune._client.cortex import Cortex
    from cortex_tune._core.errors import ConnectionFailedError
    from cortex_tune._rest import RestSettings

    settings = settings_of(ctx)
    if settings.local_path is not None:
        return Cortex.local(settings.local_path)
    try:
        params = connect_params(settings.connection, {})
    except ConnectionFailedError:
        # No SQL connection configured: REST may come from the environment alone.
        if settings.connection is not None or not RestSettings.from_params({}).ready:
            raise
        return Cortex.rest()
    if RestSettings.from_params(params).ready:
        return Cortex.rest(settings.connection)
    return Cortex.connect(settings.connection)


def stream_complete(ctx: typer.Context, model: str, text: str, **options: Any) -> None:
    """Print a completion's tokens as they arrive (``--json``: the final completion)."""
    settings = settings_of(ctx)

    def run(cx: Any) -> Any:
        with cx.complete(model, text, stream=True, **options) as stream:
            for delta in stream:
                if not settings.json:
                    sys.stdout.write(delta)
                    sys.stdout.flush()
        return stream.completion

    completion = _run(ctx, run)
    if settings.json:
        data = completion.model_dump(mode="json", exclude={"raw", "parsed"})
        emit(settings, data, completion.text)
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
    if settings_of(ctx).json:
        usage_error(
            "chat is interactive and prints no JSON: leave out --json", where="cortex-tune chat"
        )
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
    """Open the client, run ``action``, close it (errors go to the CLI's one handler)."""
    try:
        with client(ctx) as cx:
            return action(cx)
    finally:
        sys.stdout.flush()


def register(app: typer.Typer) -> None:
    """Add the ``chat`` command to the CLI."""
    app.command(cls=Command)(chat)

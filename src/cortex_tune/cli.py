"""The ``cortex-tune`` command line."""

from __future__ import annotations

import typer

from cortex_tune._version import __version__

app = typer.Typer(
    name="cortex-tune",
    help="Fine-tune and serve LLMs with Snowflake Cortex, or offline on the embedded emulator.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command()
def demo(
    path: str = typer.Option(None, help="Keep the emulator's jobs and data in this directory."),
    progress: bool = typer.Option(True, help="Show a progress bar while the job trains."),
) -> None:
    """Run the end-to-end demo on the embedded emulator: load, check, fine-tune, wait, evaluate."""
    from cortex_tune._demo import run_demo

    run_demo(path=path, progress=progress)


@app.command()
def version() -> None:
    """Print the cortex-tune version."""
    typer.echo(__version__)


def main() -> None:
    """Entry point of the ``cortex-tune`` script."""
    app()

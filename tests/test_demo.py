"""`cortex-tune demo` runs end to end on the emulator and says what happened."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cortex_tune import cli

pytest.importorskip("fakesnow")


def test_demo_runs_end_to_end() -> None:
    result = CliRunner().invoke(cli.app, ["demo", "--no-progress"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "checked the data" in out
    assert "0 errors" in out
    assert "job SUCCESS" in out
    assert "answered 80 validation emails" in out
    assert "accuracy (EQUAL_NULL" in out


def test_demo_returns_its_numbers() -> None:
    from cortex_tune._cli.demo import run_demo

    numbers = run_demo(progress=False)
    assert numbers["checked"] is True
    assert numbers["status"] == "SUCCESS"
    assert numbers["trained_tokens"] > 0
    assert numbers["truck_accuracy"] >= 0.9

"""The examples in examples/: each guide's workflow runs offline and gives the numbers it prints.

The accuracy floors sit a little below what the examples measure on the emulator with the
shipped synthetic data (the runs are deterministic): support emails truck 0.975, location
0.5625, both 0.55; ticket categorisation tuned 1.0, labeller 1.0; distillation 1.0.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytest.importorskip("fakesnow")

from cortex_tune import Cortex

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
DATA = EXAMPLES / "data"
JOB_ID = re.compile(r"fine-tuning job (\S+):")


def load(name: str, path: Path | None = None) -> ModuleType:
    """Import an example by its file path (examples/ is not a package)."""
    path = path or EXAMPLES / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"cortex_tune_example_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(name: str, cx: Cortex | None = None, **kwargs: Any) -> dict[str, Any]:
    cx = cx or Cortex.local()
    try:
        result: dict[str, Any] = load(name).main(cx, **kwargs)
    finally:
        cx.close()
    return result


def assert_job(result: dict[str, Any], out: str, *, percent: bool = False) -> None:
    assert result["status"] == "SUCCESS"
    assert isinstance(result["trained_tokens"], int)
    assert result["trained_tokens"] > 0
    assert result["job_id"] in JOB_ID.findall(out)
    assert f"job SUCCESS: model {result['model']}, trained tokens {result['trained_tokens']}" in out
    statuses = re.findall(r"^ {3}status (\S+)(?: \(\d+%\))?$", out, re.MULTILINE)
    assert statuses[0] in ("PENDING", "IN_PROGRESS")
    assert statuses[-1] == "SUCCESS"
    if not percent:
        assert len(statuses) == len(set(statuses)), "a status is printed once, when it changes"


def assert_accuracy(value: Any, floor: float) -> None:
    assert isinstance(value, float)
    assert floor <= value <= 1.0


def test_support_email_agent(capsys: pytest.CaptureFixture[str]):
    statements: list[tuple[str, tuple[Any, ...]]] = []
    cx = Cortex.local(tracer=lambda sql, params: statements.append((sql, params)))
    result = run("support_email_agent", cx)
    out = capsys.readouterr().out

    assert_job(result, out)
    assert result["validation_rows"] == 80
    assert_accuracy(result["truck_accuracy"], 0.9)
    assert_accuracy(result["location_accuracy"], 0.5)
    assert_accuracy(result["accuracy"], 0.5)
    assert "loaded 400 synthetic support emails: 320 training, 80 validation" in out
    assert f"accuracy truck: {result['truck_accuracy']:.1%}" in out
    assert f"accuracy location: {result['location_accuracy']:.1%}" in out
    assert f"accuracy truck and location: {result['accuracy']:.1%}" in out
    # The emails reach Snowflake as one bound JSON array; no email text is part of any SQL.
    lines = (DATA / "support_emails.jsonl").read_text("utf-8").splitlines()
    bodies = [json.loads(line)["BODY"] for line in lines]
    assert not any(body in sql for sql, _ in statements for body in bodies[:50])
    assert sum(1 for _, params in statements if any(bodies[0] in str(p) for p in params)) == 1


def test_ticket_categorization(capsys: pytest.CaptureFixture[str]):
    result = run("ticket_categorization")
    out = capsys.readouterr().out

    assert_job(result, out)
    assert result["held_out_rows"] == 60
    assert_accuracy(result["tuned_accuracy"], 0.9)
    assert_accuracy(result["labeller_accuracy"], 0.9)
    assert_accuracy(result["agreement"], 0.9)
    assert "llama3.1-405b is an offline stand-in" in out
    assert f"accuracy fine-tuned llama3-8b: {result['tuned_accuracy']:.1%}" in out
    assert f"accuracy llama3.1-405b labeller: {result['labeller_accuracy']:.1%}" in out


def test_synthetic_distillation(capsys: pytest.CaptureFixture[str]):
    result = run("synthetic_distillation", progress=True)
    out = capsys.readouterr().out

    assert_job(result, out, percent=True)
    assert result["stand_ins"] is True
    assert result["generated"] == 125
    assert 0 < result["kept"] < result["generated"], "the judge rejects the off-topic tickets"
    assert 0 < result["validation_rows"] < result["kept"]
    assert_accuracy(result["accuracy"], 0.85)
    assert "(writer and judge) is an offline stand-in" in out
    assert re.search(r"status IN_PROGRESS \(\d+%\)", out), "progress=True prints percentages"
    expected = f"accuracy of the distilled llama3-8b on {result['validation_rows']} held-out"
    assert f"{expected} tickets: {result['accuracy']:.1%}" in out


def test_an_example_runs_as_a_script(tmp_path: Path):
    env = {**os.environ, "TMPDIR": str(tmp_path), "SNOWFLAKE_DISABLE_PLATFORM_DETECTION": "true"}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "support_email_agent.py")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert JOB_ID.search(done.stdout)
    assert "status SUCCESS" in done.stdout
    assert re.search(r"^accuracy truck: \d+\.\d%$", done.stdout, re.MULTILINE)
    assert re.search(r"^accuracy location: \d+\.\d%$", done.stdout, re.MULTILINE)


def test_the_data_regenerates_byte_identical(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    counts = load("generate", DATA / "generate.py").main(tmp_path)
    assert counts == {
        "support_emails.jsonl": 400,
        "support_tickets.jsonl": 300,
        "teacher_tickets.jsonl": 125,
    }
    for name in counts:
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name
    assert "synthetic rows" in capsys.readouterr().out

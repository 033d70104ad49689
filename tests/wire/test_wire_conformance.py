"""``python3 tasks.py live`` against the wire tier: the real connector, the local server.

The live command runs against a real account only when asked; here the same probes run over the
connector on every CI run, so none of them can rot: each one runs once and yields a well-formed
record, and the report holds no secret of the connection, no prompt and no answer.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from wire_server import PASSWORD, WireServer

from cortex_tune import Cortex
from cortex_tune._conformance import FORMAT, VERSION, Settings, all_probes, run
from cortex_tune._conformance.__main__ import main
from cortex_tune._emulator.models import ModelRequest

PROMPT = "Wire-Prompt-5c1e: reply with one word"
ANSWER = "Wire-Answer-e07d"
MODEL = "llama3.1-8b"
CONTRACT = Path(__file__).resolve().parents[2] / "docs"


def _model(request: ModelRequest) -> str | dict[str, bool]:
    if "response_format" in request.options:
        return {"ok": True}
    return f"{ANSWER} {request.prompt}"


def _contract_rows() -> set[str]:
    text = "".join(p.read_text("utf-8") for p in CONTRACT.glob("snowflake-contract*.md"))
    return set(re.findall(r"^### (C-[A-Z]+-\d+):", text, re.M))


def test_every_probe_runs_once_over_the_connector(wire: WireServer, cx: Cortex) -> None:
    wire.emulator.register_model(MODEL, _model)
    report = run(cx, Settings(model=MODEL, prompt=PROMPT, finetune=True))
    data = json.loads(report.to_json())

    assert (data["format"], data["version"]) == (FORMAT, VERSION)
    assert data["target"]["backend"] == "SnowflakeBackend"
    assert [p["name"] for p in data["probes"]] == [p.name for p in all_probes()]
    assert {p["status"] for p in data["probes"]} <= {"ok", "failed", "skipped"}, "none broke"
    known = _contract_rows()
    for probe in data["probes"]:
        assert set(probe["rows"]) <= known, probe["name"]
        assert set(probe["observed"]) <= set(probe["rows"]), probe["name"]
        if probe["status"] == "failed":
            assert probe["error"]["class"], probe["name"]
    completions = {p["name"]: p for p in data["probes"] if p["name"].startswith(("ai.", "legacy."))}
    assert all(p["status"] == "ok" for n, p in completions.items() if "unknown" not in n)
    # The local server answers RESULT_SCAN with the earlier result whatever the select list, so
    # it cannot tell an answer's SQL type: no type may be reported from it.
    types = {p["answer"]["sql_type"] for p in data["probes"] if p["answer"]}
    assert types == {None} and data["target"]["sql_types"] == "unavailable"
    create = next(p for p in data["probes"] if p["name"] == "finetune.create_cancel")
    assert create["observed"]["C-FT-13"] == "status after CANCEL: CANCELLED"
    assert [job.status.value for job in cx.finetune.list()] == ["CANCELLED"]


def test_the_report_holds_no_secret_prompt_or_answer(wire: WireServer, cx: Cortex) -> None:
    wire.emulator.register_model(MODEL, _model)
    report = run(cx, Settings(model=MODEL, prompt=PROMPT, finetune=True))
    for text in (report.to_json(), report.text()):
        for secret in [*wire.secrets(), PROMPT, ANSWER]:
            assert secret not in text


def test_the_command_writes_its_report_from_a_connections_file(
    wire: WireServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    wire.emulator.register_model(MODEL, _model)
    kwargs = wire.connect_kwargs(backoff_policy=None, retry=None, session_parameters=None)
    monkeypatch.setenv("SNOWFLAKE_CONNECTIONS", _toml({"wire": kwargs}))
    out = tmp_path / "report.json"

    assert main(["--connection", "wire", "--out", str(out), "--model", MODEL]) == 0

    printed = capsys.readouterr().out
    assert printed.index("billed Cortex calls") < printed.index("report written to")
    data = json.loads(out.read_text("utf-8"))
    assert data["settings"]["finetune"] is False
    skipped = {p["name"] for p in data["probes"] if p["status"] == "skipped"}
    assert "finetune.create_cancel" in skipped
    assert PASSWORD not in out.read_text("utf-8") + printed


def _toml(connections: dict[str, dict[str, object]]) -> str:
    lines = []
    for name, params in connections.items():
        lines.append(f"[{name}]")
        for key, value in params.items():
            lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"

"""The conformance probes (``python3 tasks.py live``) on the embedded emulator.

On a real account the probes settle the contract rows the documentation leaves open; here they
run on every test run so that none can rot: every probe runs once and yields a well-formed
record, the report names only rows of the contract, it never holds a secret, a prompt or an
answer, and where the documentation is silent it reports whatever the emulator answers.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fakesnow")

from cortex_tune import Cortex, QueryError
from cortex_tune._backends.local import LocalBackend
from cortex_tune._conformance import (
    FORMAT,
    VERSION,
    Probe,
    Settings,
    all_probes,
    cost_note,
    run,
)
from cortex_tune._conformance import reading as r
from cortex_tune._conformance.__main__ import main
from cortex_tune._conformance.runner import Finding
from cortex_tune._conformance.shape import skeleton
from cortex_tune._emulator.models import ModelRequest

ROOT = Path(__file__).resolve().parents[1]
MODEL = "llama3.1-8b"
SECRET = "Sec-r3t-Passphrase-91f4"
PROMPT = "Prompt-Sentinel-77aa: reply with one word"
ANSWER = "Answer-Sentinel-c0de"
LEFT_BEHIND = (
    "SELECT COUNT(*) FROM INFORMATION_SCHEMA.TABLES "
    "WHERE TABLE_NAME LIKE 'CORTEX_TUNE_CONFORMANCE%' OR TABLE_NAME = 'CORTEX_TUNE_RUNS'"
)


def _model(request: ModelRequest) -> str | dict[str, bool]:
    if "response_format" in request.options:
        return {"ok": True}
    # An answer that repeats the secret and the prompt: neither may reach the report.
    return f"{ANSWER} {SECRET} {request.prompt}"


def _client(**backend_options: Any) -> Cortex:
    backend = LocalBackend(duration=60.0, **backend_options)
    backend.register_model(MODEL, _model)
    return Cortex(backend=backend, secrets=[SECRET])


def _contract_rows() -> set[str]:
    text = "".join(p.read_text("utf-8") for p in (ROOT / "docs").glob("snowflake-contract*.md"))
    return set(re.findall(r"^### (C-[A-Z]+-\d+):", text, re.M))


def _by_name(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in data["probes"]}


@pytest.fixture(scope="module")
def report_data() -> dict[str, Any]:
    with _client() as cx:
        report = run(cx, Settings(model=MODEL, prompt=PROMPT, finetune=True))
        left = cx.sql(LEFT_BEHIND)[0][0]
        return {"json": report.to_json(), "text": report.text(), "tables_left": left}


def test_every_probe_runs_once_and_yields_a_well_formed_record(
    report_data: dict[str, Any],
) -> None:
    data = json.loads(report_data["json"])
    assert (data["format"], data["version"]) == (FORMAT, VERSION)
    assert list(data) == [
        "format", "version", "created", "cortex_tune", "python",
        "target", "settings", "interrupted", "summary", "probes", "rows",
    ]  # fmt: skip
    assert [p["name"] for p in data["probes"]] == [p.name for p in all_probes()]
    keys = ["name", "rows", "shape", "billed_calls", "status", "error", "query_id", "answer"]
    known = _contract_rows()
    for probe in data["probes"]:
        assert list(probe)[:8] == keys
        assert probe["status"] in ("ok", "failed", "skipped"), probe["name"]  # none broke
        assert probe["rows"] and set(probe["rows"]) <= known, probe["name"]
        assert set(probe["observed"]) <= set(probe["rows"]), probe["name"]
        assert probe["shape"].startswith(("SELECT", "INSERT", "/*", "cx.")), probe["name"]
        if probe["status"] == "failed":
            assert probe["error"]["class"] and probe["error"]["class"] != "Exception"
        if probe["answer"] is not None:
            assert set(probe["answer"]) == {"python_type", "sql_type", "skeleton"}
    assert set(data["rows"]) <= known
    assert data["summary"]["error"] == 0
    assert report_data["tables_left"] == 0, "every table a probe made is dropped, runs tables too"


def test_completions_in_both_generations_are_observed(report_data: dict[str, Any]) -> None:
    probes = _by_name(json.loads(report_data["json"]))
    answered = [n for n in probes if n.startswith(("ai.complete", "legacy.complete"))]
    assert len(answered) >= 10
    for name in answered:
        if "unknown_model" not in name:
            assert probes[name]["status"] == "ok", name
            assert set(probes[name]["observed"]) == set(probes[name]["rows"]), name
    details = probes["ai.complete.details_and_errors"]
    assert details["answer"]["skeleton"]["$json_text"]["value"]["choices"] == [{"messages": "str"}]
    assert details["observed"]["C-AI-07"].endswith("cortex-tune's parser: parsed")
    created = probes["finetune.create_cancel"]["observed"]
    assert created["C-FT-13"] == "status after CANCEL: CANCELLED"
    assert created["C-FT-14"].startswith("training_data is the query as sent, byte for byte")


def test_the_asynchronous_statement_probe_reads_what_the_emulator_answers(
    report_data: dict[str, Any],
) -> None:
    probe = _by_name(json.loads(report_data["json"]))["platform.async_statement"]
    assert probe["status"] == "ok" and probe["facts"]["statuses"][-1] == "SUCCESS"
    observed = probe["observed"]
    assert observed["C-ASYNC-02"].endswith("SUCCESS")
    assert observed["C-ASYNC-05"].endswith("answers a row: 'not currently executing'")
    assert observed["C-ASYNC-06"] == "its result read by query id: 1 row(s)"


def test_the_report_holds_no_secret_prompt_or_answer(report_data: dict[str, Any]) -> None:
    for text in (report_data["json"], report_data["text"]):
        for needle in (SECRET, PROMPT, ANSWER):
            assert needle not in text


def test_failures_keep_their_class_and_codes_never_their_text_and_are_not_retried() -> None:
    calls: list[str] = []

    def failing(request: ModelRequest) -> str:
        calls.append(request.model)
        raise RuntimeError(f"{SECRET} could not answer {request.prompt}")

    backend = LocalBackend()
    backend.register_model(MODEL, failing)
    with Cortex(backend=backend, secrets=[SECRET]) as cx:
        report = run(cx, Settings(model=MODEL, prompt=PROMPT))
        plain = [p for p in all_probes() if p.name == "legacy.complete.plain"]
        calls.clear()
        again = run(cx, Settings(model=MODEL, prompt=PROMPT), probes=plain)
    assert len(calls) == 1, "a transient failure of a billed call is not retried"
    legacy = _by_name(again.to_dict())["legacy.complete.plain"]
    assert legacy["status"] == "failed"
    assert legacy["error"]["class"] == "ThrottledError" and "text" not in legacy["error"]
    for text in (report.to_json(), report.text()):
        assert SECRET not in text and PROMPT not in text and "could not answer" not in text


def test_an_error_text_that_quotes_a_secret_is_redacted() -> None:
    def leaky(_ctx: Any) -> Finding:
        return Finding(error=QueryError(f"refused for {SECRET} on {PROMPT}"), error_text=True)

    probe = Probe("test.leaky", ("C-ERR-05",), "SELECT ?", 0, leaky)
    with _client() as cx:
        report = run(cx, Settings(model=MODEL, prompt=PROMPT), probes=[probe])
    error = report.to_dict()["probes"][0]["error"]
    assert error["text"] == "refused for <redacted> on <redacted>"


def test_ctrl_c_stops_the_run_and_keeps_what_it_saw() -> None:
    def interrupted(_ctx: Any) -> Finding:
        raise KeyboardInterrupt

    chosen = [p for p in all_probes() if p.name in ("legacy.count_tokens", "ai.count_tokens")]
    stop = Probe("test.interrupted", ("C-ERR-05",), "SELECT 1", 0, interrupted)
    with _client() as cx:
        report = run(cx, Settings(model=MODEL), probes=[chosen[0], stop, chosen[1]])
    data = report.to_dict()
    assert data["interrupted"] is True
    assert [(p["name"], p["status"]) for p in data["probes"]] == [
        (chosen[0].name, "ok"),
        ("test.interrupted", "skipped"),
        (chosen[1].name, "skipped"),
    ]
    assert data["probes"][1]["note"] == "interrupted"


def test_a_refused_create_leaves_no_table_and_says_how_to_check_for_a_job() -> None:
    chosen = [p for p in all_probes() if p.name == "finetune.create_cancel"]
    with _client() as cx:
        report = run(cx, Settings(finetune=True, base_model="not-a-base-model"), probes=chosen)
        tables = cx.sql(LEFT_BEHIND)
    record = report.to_dict()["probes"][0]
    assert record["status"] == "failed" and "FINETUNE('SHOW')" in record["note"]
    assert tables == [(0,)]


# -- where the documentation is silent -----------------------------------------------------------

#: LocalBackend's option to answer either way where the docs are silent (when it has one).
SHAPES_OPTION = "answer_shapes" in inspect.signature(LocalBackend.__init__).parameters
SHAPES: list[dict[str, str] | None] = (
    [
        {"ai_details_value": "object", "legacy_structured": "bare"},
        {"ai_details_value": "text", "legacy_structured": "wrapped"},
    ]
    if SHAPES_OPTION
    else [None]
)
SILENT = ("ai.complete.details_and_errors", "ai.complete.structured_details")


@pytest.mark.parametrize(
    "shapes", SHAPES, ids=lambda s: "default" if s is None else "-".join(s.values())
)
def test_silent_rows_report_what_the_emulator_answers(shapes: dict[str, str] | None) -> None:
    options = {} if shapes is None else {"answer_shapes": shapes}
    chosen = [p for p in all_probes() if p.name in (*SILENT, "legacy.complete.structured")]
    with _client(**options) as cx:
        probes = _by_name(run(cx, Settings(model=MODEL, prompt=PROMPT), probes=chosen).to_dict())
    value = {"object": "value is an OBJECT", "text": "value is JSON text"}
    legacy = {
        "bare": "the bare object following the schema",
        "wrapped": "the structured_output wrapper: an array of {raw_message, type}",
    }
    for name in SILENT:
        seen = probes[name]["observed"]["C-AI-07"]
        assert seen.endswith("cortex-tune's parser: parsed"), seen
        expected = value[shapes["ai_details_value"]] if shapes else None
        assert seen.startswith(expected or ("value is an OBJECT", "value is JSON text"))
    seen = probes["legacy.complete.structured"]["observed"]["C-COMPLETE-07"]
    assert seen == legacy[shapes["legacy_structured"]] if shapes else seen in legacy.values()


def test_both_answers_of_each_silent_row_are_told_apart() -> None:
    details = {"choices": [{"messages": "x"}], "usage": {"total_tokens": 3}}
    assert r.value_form({"value": details, "error": None}) == "value is an OBJECT"
    assert r.value_form(json.dumps({"value": json.dumps(details)})) == "value is JSON text"
    assert r.value_form({"value": None, "error": "boom"}) == "value is NULL, error is set"
    assert r.value_form({"value": None, "error": None}) == "value is NULL, error is NULL too"
    wrapped = {"structured_output": [{"raw_message": {"ok": True}, "type": "json"}]}
    assert r.structured_form(wrapped).startswith("the structured_output wrapper: an array")
    assert r.structured_form('{"ok": true}') == "the bare object following the schema"
    assert r.structured_form({"structured_output": {"ok": True}}).endswith("holding a dict")
    usage = {"prompt_tokens": 2, "completion_tokens": 1}
    assert r.usage_form({"usage": {**usage, "total_tokens": 3}}).endswith("= prompt + completion")
    guarded = {"usage": {**usage, "guardrails _tokens": 4, "total_tokens": 7}}
    assert r.usage_form(guarded) == (
        "guard-token key 'guardrails _tokens'; total_tokens = prompt + completion + guard"
    )
    assert skeleton({"value": json.dumps(details)}) == {
        "value": {
            "$json_text": {"choices": [{"messages": "str"}], "usage": {"total_tokens": "int"}}
        }
    }


# -- the command -----------------------------------------------------------------------------------


def test_the_cost_note_counts_billed_calls_before_anything_runs() -> None:
    off, on = cost_note(Settings()), cost_note(Settings(finetune=True))
    billed = sum(p.billed for p in all_probes() if p.name != "finetune.create_cancel")
    assert f"{len(all_probes()) - 1} probes, {billed} billed Cortex calls" in off
    assert f"{len(all_probes())} probes, {billed + 1} billed Cortex calls" in on
    assert "CORTEX_TUNE_LIVE_FINETUNE=1" in off and "cancelled as soon as CREATE answers" in on


def test_plan_lists_the_probes_and_their_rows_without_connecting(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--plan", "--connection", "no-such-connection"]) == 0
    printed = capsys.readouterr().out
    assert "ai.complete.details_and_errors: C-AI-06, C-AI-07" in printed
    assert "finetune.create_cancel" in printed and "could not connect" not in printed


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({}, "CORTEX_TUNE_LIVE is not 1"),
        ({"CORTEX_TUNE_LIVE": "1"}, "no Snowflake connection is configured"),
    ],
)
def test_tasks_live_skips_cleanly_without_an_account(
    tmp_path: Path, env: dict[str, str], reason: str
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    clean = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), **env}
    clean["SNOWFLAKE_HOME"] = str(home / ".snowflake")
    done = subprocess.run(
        [sys.executable, str(ROOT / "tasks.py"), "live"],
        env=clean,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"live: skipped ({reason})")
    assert "CORTEX_TUNE_LIVE=1" in lines[0]
    assert list(tmp_path.iterdir()) == [home], "nothing written, nothing installed"

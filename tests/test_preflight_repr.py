"""A PreflightReport's repr is one short line with what a user looks for first; str() has it all."""

from __future__ import annotations

import pytest

from cortex_tune import Finding, PreflightReport
from cortex_tune._core.rules import DataStats
from cortex_tune._finetune.preflight import CostEstimate, DataCheck

MAX_REPR = 250


def _busy_report() -> PreflightReport:
    findings = [
        Finding(
            severity=severity,
            code=f"{severity}-{i}",
            message=f"finding {severity} {i}: " + "a long explanation of what to do " * 5,
            data="training",
            count=i,
            samples=("a sample prompt " * 10,),
        )
        for severity in ("error", "warning", "info")
        for i in range(8)
    ]
    return PreflightReport(
        base_model="llama3.1-70b",
        max_epochs=3,
        findings=tuple(findings),
        training=DataCheck(
            data="training", query="SELECT * FROM T", stats=DataStats(rows=1200, usable=1100)
        ),
        validation=DataCheck(data="validation", query="SELECT * FROM V", stats=None),
        cost=CostEstimate(
            input_tokens=90_000,
            tokens_counted_by="estimate",
            epochs=(3, 3),
            trained_tokens=(270_000, 270_000),
        ),
        statements=3,
    )


def test_repr_is_one_short_line_of_what_matters() -> None:
    report = _busy_report()
    text = repr(report)

    assert "\n" not in text
    assert len(text) <= MAX_REPR
    assert text.startswith("PreflightReport(ok=False, base_model='llama3.1-70b', max_epochs=3")
    assert "errors=8, warnings=8, notes=8" in text
    assert "training_rows=1200" in text and "validation_rows=None" in text
    assert "trained_tokens=(270000, 270000)" in text
    assert "a long explanation" not in text


def test_str_keeps_the_full_table() -> None:
    report = _busy_report()
    text = str(report)
    for finding in report.findings:
        assert finding.code in text
    assert "Cortex would refuse this job" in text
    assert len(text) > 10 * MAX_REPR


def test_repr_of_a_real_check_on_the_emulator() -> None:
    pytest.importorskip("fakesnow")
    from cortex_tune import Cortex

    with Cortex.local() as cx:
        cx.sql("CREATE TABLE T AS SELECT 'p' || range AS PROMPT, 'c' AS COMPLETION FROM range(50)")
        report = cx.finetune.check("mistral-7b", training="SELECT * FROM T", max_epochs=3)

    text = repr(report)
    assert text.startswith("PreflightReport(ok=True, base_model='mistral-7b', max_epochs=3,")
    assert "training_rows=50" in text
    assert len(text) <= MAX_REPR

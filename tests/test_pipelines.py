"""The distillation pipeline end to end on the emulator, and its resumability."""

from __future__ import annotations

import json

import pytest

from cortex_tune import Cortex, ModelRequest, pipelines
from cortex_tune.sample_data import keyword_labeller, support_tickets
from cortex_tune.sql import Template

pytest.importorskip("fakesnow")


#: The judge's structured answer is read in SQL: in the shape the COMPLETE reference
#: describes (the bare object) and in the other plausible ones.
SHAPES = {
    "documented": {},
    "other": {"legacy_structured": "wrapped", "ai_details_value": "text"},
}


EVERY_SHAPE = [(shape, f) for shape in SHAPES for f in ("ai", "legacy")]


@pytest.fixture
def cx(request: pytest.FixtureRequest) -> Cortex:
    shape, functions = getattr(request, "param", ("documented", "auto"))
    cx = Cortex.local(answer_shapes=SHAPES[shape], functions=functions)
    calls: list[str] = []

    def teacher(request: ModelRequest) -> str:
        calls.append(request.prompt)
        return keyword_labeller(request.prompt)

    cx.backend.register_model("llama3.1-405b", teacher)  # type: ignore[attr-defined]
    cx.backend.register_model(  # type: ignore[attr-defined]
        "judge", lambda r: {"score": 2 if "Urgent" in r.prompt else 5}
    )
    cx.teacher_calls = calls  # type: ignore[attr-defined]
    cx.sql(
        "CREATE TABLE TICKETS AS SELECT value:TICKET_ID::INT AS TICKET_ID, "
        "value:REQUEST::STRING AS REQUEST, value:CATEGORY::STRING AS CATEGORY "
        "FROM TABLE(FLATTEN(INPUT => PARSE_JSON(?)))",
        [json.dumps(support_tickets(200))],
    )
    return cx


def _distill(cx: Cortex) -> pipelines.DistillReport:
    return pipelines.distill(
        cx,
        teacher="llama3.1-405b",
        student_base="llama3-8b",
        source="TICKETS",
        key="TICKET_ID",
        input="REQUEST",
        teacher_prompt=Template("Classify this ticket: {REQUEST}"),
        truth="CATEGORY",
        judge="judge",
        name="TICKETS_8B",
    )


@pytest.mark.parametrize("cx", EVERY_SHAPE, indirect=True, ids=str)
def test_distill_end_to_end(cx: Cortex) -> None:
    report = _distill(cx)
    assert report.labelled.rows_done == 200
    assert report.rated is not None
    assert (report.rated.rows_done, report.rated.rows_failed) == (200, 0)
    assert report.rated.tokens > 0
    urgent = cx.sql("SELECT COUNT(*) FROM TICKETS WHERE REQUEST LIKE 'Urgent%'")[0][0]
    assert report.kept_rows == 200 - urgent
    assert report.train_rows + report.validation_rows == report.kept_rows
    assert report.job.succeeded
    assert report.student is not None
    assert report.student.accuracy >= 0.8
    assert report.teacher_accuracy == 1.0
    # The student learned from the raw ticket, without the teacher's instructions.
    prompts = cx.sql("SELECT PROMPT FROM TICKETS_8B_DATA LIMIT 1")[0][0]
    assert not prompts.startswith("Classify this ticket")
    assert "student accuracy" in str(report)


def test_distill_resumes_without_paying_twice(cx: Cortex) -> None:
    first = _distill(cx)
    calls = len(cx.teacher_calls)  # type: ignore[attr-defined]
    second = _distill(cx)
    assert second.labelled.rows_done == 0
    assert len(cx.teacher_calls) == calls  # type: ignore[attr-defined]
    assert second.job.id == first.job.id
    assert len(cx.finetune.list()) == 1


def test_split_is_the_guides_mod_split() -> None:
    train, validation = pipelines.split("P", key="ID", train=0.8)
    assert train.to_sql().endswith("WHERE MOD(ID, 10) < 8")
    assert validation.to_sql().endswith("WHERE MOD(ID, 10) >= 8")
    with pytest.raises(ValueError, match="train"):
        pipelines.split("P", key="ID", train=1.5)

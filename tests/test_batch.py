"""Batch inference, tables and evaluation run in the warehouse, on the embedded emulator."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel

from cortex_tune import Cortex, ModelRequest, UnknownModelError
from cortex_tune._inference.sql_batch import read_answers
from cortex_tune.sql import Template

pytest.importorskip("fakesnow")


class Label(BaseModel):
    category: str


def _echo(request: ModelRequest) -> str:
    if "explode" in request.prompt:
        raise RuntimeError("the stand-in model failed")
    return f"ans:{request.prompt}"


@pytest.fixture
def statements() -> list[str]:
    return []


#: Where Snowflake's documentation is silent, Cortex may answer either way: every batch test
#: runs against the shapes the reference pages describe and against the other plausible ones.
SHAPES = {
    "documented": {},
    "other": {"legacy_structured": "wrapped", "ai_details_value": "text"},
}


@pytest.fixture(params=list(SHAPES))
def local(request: pytest.FixtureRequest, statements: list[str]) -> Cortex:
    cx = Cortex.local(
        tracer=lambda sql, params: statements.append(sql), answer_shapes=SHAPES[request.param]
    )
    cx.backend.register_model("stand-in", _echo)  # type: ignore[attr-defined]
    return cx


NASTY = ["plain", "it's", 'say "hi"', "back\\slash", "$$dollar$$", "-- comment", "é🦄", "?", "%s"]


@pytest.mark.parametrize("functions", ["ai", "legacy"])
def test_complete_many_keeps_order_and_bytes(local: Cortex, functions: Any) -> None:
    cx = local.with_options(functions=functions)
    results = cx.complete_many("stand-in", NASTY)
    assert [r.index for r in results] == list(range(len(NASTY)))
    assert [r.text for r in results] == [f"ans:{p}" for p in NASTY]


def test_ten_thousand_prompts_take_a_handful_of_statements(
    local: Cortex, statements: list[str]
) -> None:
    prompts = [f"question number {i}" for i in range(10_000)]
    results = local.complete_many("stand-in", prompts)
    assert len(statements) == 1
    assert results[9_999].text == "ans:question number 9999"
    assert all(r.ok for r in results)


def test_chunks_are_bounded_by_bytes_not_only_count(local: Cortex, statements: list[str]) -> None:
    prompts = ["x" * 1000 for _ in range(50)]
    results = local.complete_many("stand-in", prompts, max_bytes=10_000)
    assert 5 <= len(statements) <= 7
    assert all(r.text == "ans:" + "x" * 1000 for r in results)
    statements.clear()
    local.complete_many("stand-in", ["a"] * 30, max_rows=10)
    assert len(statements) == 3


@pytest.mark.parametrize("functions", ["ai", "legacy"])
def test_a_failing_row_does_not_fail_the_batch(local: Cortex, functions: Any) -> None:
    results = local.with_options(functions=functions).complete_many(
        "stand-in", ["fine", "please explode", "also fine"]
    )
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].error is not None
    assert results[1].text is None
    if functions == "ai":
        assert "stand-in model failed" in results[1].error.message


def test_unknown_model_is_a_per_row_typed_error(local: Cortex) -> None:
    (result,) = local.complete_many("no-such-model", ["hi"])
    assert isinstance(result.error, UnknownModelError)


@pytest.mark.parametrize("functions", ["ai", "legacy"])
@pytest.mark.parametrize("options", [{}, {"temperature": 0.2, "max_tokens": 20}])
def test_every_answer_brings_usage(local: Cortex, functions: Any, options: dict[str, Any]) -> None:
    (result,) = local.with_options(functions=functions).complete_many(
        "stand-in", ["hello"], **options
    )
    assert result.completion is not None
    assert result.completion.usage is not None
    assert result.completion.usage.total_tokens


@pytest.mark.parametrize("functions", ["ai", "legacy"])
def test_structured_output_in_a_batch(local: Cortex, functions: Any) -> None:
    local.backend.register_model("labeller", lambda r: {"category": r.prompt.split()[-1]})  # type: ignore[attr-defined]
    results = local.with_options(functions=functions).complete_many(
        "labeller", ["about billing", "about roaming"], response_format=Label
    )
    assert [r.completion.parsed for r in results if r.completion] == [
        Label(category="billing"),
        Label(category="roaming"),
    ]


def test_conversations_in_a_batch(local: Cortex) -> None:
    convo = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    (result,) = local.complete_many("stand-in", [convo])
    assert result.text == "ans:hi"


def _source(cx: Cortex, n: int) -> None:
    cx.sql(
        "CREATE OR REPLACE TABLE TICKETS AS SELECT value:id::INT AS ID, value:body::STRING AS BODY "
        "FROM TABLE(FLATTEN(INPUT => PARSE_JSON(?)))",
        [json.dumps([{"id": i, "body": f"ticket {i}" if i != 3 else "explode"} for i in range(n)])],
    )


def test_complete_table_runs_in_the_warehouse_and_resumes(
    local: Cortex, statements: list[str]
) -> None:
    _source(local, 40)
    first = local.complete_table(
        "stand-in",
        source="TICKETS",
        into="REPLIES",
        key="ID",
        prompt=Template("Reply to: {BODY}"),
        limit=15,
    )
    assert (first.rows_done, first.stopped) == (15, "limit")
    assert first.rows_failed == 1  # the row that explodes
    assert "Reply to: " not in " ".join(statements)  # the template's text is bound
    second = local.complete_table(
        "stand-in", source="TICKETS", into="REPLIES", key="ID", prompt=Template("Reply to: {BODY}")
    )
    assert (second.rows_done, second.stopped) == (25, "done")
    assert local.sql("SELECT COUNT(*), COUNT(DISTINCT ID) FROM REPLIES") == [(40, 40)]
    assert local.sql("SELECT RESPONSE FROM REPLIES WHERE ID = 7") == [("ans:Reply to: ticket 7",)]
    again = local.complete_table(
        "stand-in", source="TICKETS", into="REPLIES", key="ID", prompt="BODY"
    )
    assert again.rows_done == 0


def test_complete_table_retries_failed_rows_when_asked(local: Cortex) -> None:
    _source(local, 5)
    local.complete_table("stand-in", source="TICKETS", into="R", key="ID", prompt="BODY")
    assert local.sql("SELECT ERROR IS NOT NULL FROM R WHERE ID = 3") == [(True,)]
    local.backend.register_model("stand-in", lambda r: "fixed")  # type: ignore[attr-defined]
    rerun = local.complete_table(
        "stand-in", source="TICKETS", into="R", key="ID", prompt="BODY", retry_failed=True
    )
    assert (rerun.rows_done, rerun.rows_failed) == (1, 0)
    assert local.sql("SELECT RESPONSE FROM R WHERE ID = 3") == [("fixed",)]


def test_token_budget_stops_cleanly(local: Cortex) -> None:
    _source(local, 40)
    run = local.complete_table(
        "stand-in",
        source="TICKETS",
        into="R",
        key="ID",
        prompt="BODY",
        token_budget=30,
        chunk_rows=5,
    )
    assert run.stopped == "token_budget"
    assert run.tokens >= 30
    assert run.rows_done < 40
    assert run.rows_done % 5 == 0


def test_read_table_streams_in_batches(local: Cortex) -> None:
    _source(local, 25)
    local.complete_table("stand-in", source="TICKETS", into="R", key="ID", prompt="BODY")
    batches = list(local.read_table("R", key="ID", batch_size=10))
    assert [len(b) for b in batches] == [10, 10, 5]
    assert batches[0][0]["ID"] == 0
    assert set(batches[0][0]) == {"ID", "RESPONSE", "ERROR", "TOKENS"}


def test_evaluate_scores_in_sql(local: Cortex) -> None:
    local.sql(
        "CREATE TABLE VAL AS SELECT value:p::STRING AS PROMPT, value:c::STRING AS COMPLETION "
        "FROM TABLE(FLATTEN(INPUT => PARSE_JSON(?)))",
        [
            json.dumps(
                [{"p": "a", "c": "ans:a"}, {"p": "b", "c": "ANS:B "}, {"p": "c", "c": "wrong"}]
            )
        ],
    )
    exact = local.evaluate("stand-in", "SELECT * FROM VAL")
    assert exact.accuracy == pytest.approx(1 / 3)
    assert [r.correct for r in exact.rows] == [True, False, False]
    assert exact.tokens > 0
    normalized = local.evaluate("stand-in", "SELECT * FROM VAL", metric="normalized")
    assert normalized.accuracy == pytest.approx(2 / 3)
    assert "accuracy 33.3%" in str(exact)
    assert "<table>" in exact._repr_html_()


def test_evaluate_json_field_by_field(local: Cortex) -> None:
    local.backend.register_model(
        "extractor", lambda r: json.dumps({"truck": "Smoky BBQ", "location": None})
    )  # type: ignore[attr-defined]
    local.sql(
        "CREATE TABLE VAL AS SELECT 'email' AS PROMPT, ? AS COMPLETION",
        [json.dumps({"truck": "Smoky BBQ", "location": "Denver"})],
    )
    report = local.evaluate("extractor", "SELECT * FROM VAL", metric="json")
    assert report.rows[0].score == 0.5
    assert report.accuracy == 0.5


def test_compare_models_side_by_side(local: Cortex) -> None:
    local.sql("CREATE TABLE VAL AS SELECT 'a' AS PROMPT, 'ans:a' AS COMPLETION")
    comparison = local.compare(["stand-in", "no-such-model"], "SELECT * FROM VAL")
    assert [r.accuracy for r in comparison.reports] == [1.0, 0.0]
    assert comparison.best().model == "stand-in"
    assert "no-such-model" in str(comparison)


def test_template_rejects_bad_columns_and_needs_one() -> None:
    with pytest.raises(ValueError, match="invalid column"):
        Template("Hi {not a column}").render()
    with pytest.raises(ValueError, match="names no column"):
        Template("no placeholders").render()
    assert Template("{{literal}} {BODY}!").render() == (
        "CONCAT(?, TO_VARCHAR(BODY), ?)",
        ("{literal} ", "!"),
    )


# -- every answer shape, read in SQL -------------------------------------------------------------

SCORE = {"type": "object", "properties": {"score": {"type": "integer"}}, "required": ["score"]}


def _scorer(request: ModelRequest) -> dict[str, int]:
    return {"score": len(request.prompt)}


@pytest.mark.parametrize("functions", ["ai", "legacy"])
def test_complete_table_reads_structured_output_in_every_shape(
    local: Cortex, functions: Any
) -> None:
    _source(local, 6)
    local.backend.register_model("scorer", _scorer)  # type: ignore[attr-defined]
    run = local.with_options(functions=functions).complete_table(
        "scorer", source="TICKETS", into="SCORES", key="ID", prompt="BODY", response_format=SCORE
    )
    assert (run.rows_done, run.rows_failed) == (6, 0)
    rows = local.sql("SELECT BODY, RESPONSE, TOKENS FROM TICKETS JOIN SCORES USING (ID)")
    assert sorted(json.loads(response)["score"] for _, response, _ in rows) == sorted(
        len(body) for body, _, _ in rows
    )
    assert all(tokens > 0 for _, _, tokens in rows)
    assert run.tokens == sum(tokens for _, _, tokens in rows)


@pytest.mark.parametrize("functions", ["ai", "legacy"])
def test_token_budget_trips_in_every_shape(local: Cortex, functions: Any) -> None:
    # Legacy COMPLETE's documented structured answer is the bare object, with no usage: the
    # budget then counts an estimate (four characters a token) and still stops the run.
    _source(local, 40)
    local.backend.register_model("scorer", _scorer)  # type: ignore[attr-defined]
    run = local.with_options(functions=functions).complete_table(
        "scorer",
        source="TICKETS",
        into="SCORES",
        key="ID",
        prompt="BODY",
        response_format=SCORE,
        token_budget=20,
        chunk_rows=5,
    )
    assert run.stopped == "token_budget"
    assert run.tokens >= 20
    assert run.rows_done < 40


def test_the_model_is_called_once_per_row(local: Cortex) -> None:
    _source(local, 12)
    calls: list[str] = []
    local.backend.register_model("counted", lambda r: calls.append(r.prompt) or "x")  # type: ignore[attr-defined]
    for functions in ("ai", "legacy"):
        calls.clear()
        run = local.with_options(functions=functions).complete_table(  # type: ignore[arg-type]
            "counted", source="TICKETS", into=f"OUT_{functions}", key="ID", prompt="BODY"
        )
        assert run.rows_done == len(calls) == 12


def test_rows_without_an_answer_are_failed_and_retried(local: Cortex) -> None:
    # A results table as an earlier version wrote it when it could not read Cortex's answer:
    # no RESPONSE and no ERROR. Such rows count as failed and retry_failed answers them again.
    _source(local, 4)
    local.sql(
        "CREATE TABLE REPLIES AS SELECT ID, CAST(NULL AS VARCHAR) AS RESPONSE, "
        "CAST(NULL AS VARCHAR) AS ERROR, CAST(NULL AS INTEGER) AS TOKENS FROM TICKETS"
    )
    rerun = local.complete_table(
        "stand-in", source="TICKETS", into="REPLIES", key="ID", prompt="BODY", retry_failed=True
    )
    assert (rerun.rows_done, rerun.rows_failed) == (4, 1)  # ID 3 explodes
    assert local.sql("SELECT COUNT(*) FROM REPLIES WHERE RESPONSE IS NULL AND ERROR IS NULL") == [
        (0,)
    ]


@pytest.mark.parametrize(
    ("functions", "raw"),
    [
        ("ai", '{"value": null, "error": null}'),
        ("ai", '{"value": {"unexpected": 1}, "error": null}'),
        ("ai", None),
        ("legacy", '{"unexpected": 1}'),
        ("legacy", "not json at all"),
    ],
)
def test_an_answer_in_no_known_shape_is_a_failed_row(
    local: Cortex, functions: Any, raw: str | None
) -> None:
    inner = "SELECT 1 AS K, 'prompt' AS P, ? AS CT_R"
    query = read_answers(functions, structured=False, inner=inner, keep="K", prompt="P")
    ((key, response, error, tokens),) = local.sql(query, [raw])
    assert (key, response, tokens) == (1, None, None)
    assert error


@pytest.mark.parametrize("functions", ["ai", "legacy"])
def test_evaluate_in_every_shape_counts_failures_and_never_scores_them(
    local: Cortex, functions: Any
) -> None:
    local.sql(
        "CREATE TABLE VAL AS SELECT value:p::STRING AS PROMPT, value:c::STRING AS COMPLETION "
        "FROM TABLE(FLATTEN(INPUT => PARSE_JSON(?)))",
        [json.dumps([{"p": "a", "c": "ans:a"}, {"p": "explode", "c": None}])],
    )
    report = local.with_options(functions=functions).evaluate("stand-in", "SELECT * FROM VAL")
    assert [r.correct for r in report.rows] == [True, False]
    assert report.failed == 1
    assert report.rows[1].error
    json_report = local.with_options(functions=functions).evaluate(
        "stand-in", "SELECT * FROM VAL", metric="json"
    )
    assert json_report.rows[1].score == 0.0


def test_eval_report_repr_shows_what_users_look_for_first(local: Cortex) -> None:
    local.sql("CREATE TABLE VAL AS SELECT 'a' AS PROMPT, 'ans:a' AS COMPLETION")
    report = local.evaluate("stand-in", "SELECT * FROM VAL")
    text = repr(report)
    assert text.startswith("EvalReport(model='stand-in', metric='exact', n=1, accuracy=1.000")
    assert "failed=0" in text
    assert len(text) < 120

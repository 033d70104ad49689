"""Answers Snowflake's documentation leaves open, each handled: one test per case that no other
test shows (the rows of docs/snowflake-contract.md name them)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cortex_tune import CortexError, sql
from cortex_tune._core.parsing import parse_completion

pytest.importorskip("fakesnow")

from snowflake.connector.errors import OperationalError, ProgrammingError

from cortex_tune import Cortex
from cortex_tune._backends.base import Result
from cortex_tune._backends.local import LocalBackend
from cortex_tune._core.statement import Statement
from cortex_tune._inference.sql_batch import read_answers
from cortex_tune.testing import FakeClock


def test_null_validation_with_options_splits_the_training_data() -> None:
    # C-FT-07 (A): NULL in the validation slot, then options: "If a query for validation data
    # is not specified, your training data is automatically split".
    clock = FakeClock()
    backend = LocalBackend(clock=clock.time, pending_seconds=0.0, duration=1.0)
    backend.execute(
        sql.Statement("CREATE TABLE T AS SELECT 'q' || range AS P, 'a' AS C FROM range(30)")
    )
    statement = sql.finetune_create_sql(
        "SPLIT",
        base_model="llama3.1-8b",
        training="SELECT P AS prompt, C AS completion FROM T",
        max_epochs=2,
    )
    assert statement.params[3] is None
    job_id = backend.execute(statement).scalar()
    clock.advance(10)
    job = json.loads(backend.execute(sql.finetune_describe_sql(job_id)).scalar())
    assert (job["status"], job["validation_data"], job["options"]) == (
        "SUCCESS",
        "",
        {"max_epochs": 2},
    )
    assert job["training_result"]["validation_loss"] is not None  # rows were held out
    backend.close()


SHAPES: dict[str, Any] = {
    "array": {
        "structured_output": [{"raw_message": {"a": 1}, "type": "json"}],
        "usage": {"total_tokens": 5},
    },
    "object": {"structured_output": {"a": 1}, "usage": {"total_tokens": 5}},
    "bare": {"a": 1},
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_structured_output_is_read_in_every_documented_shape(shape: str) -> None:
    # C-AI-05: "structured_output: A json object" (the text) or [{"raw_message": ...}] (every
    # example); C-COMPLETE-07: the bare object. Python and SQL read the same answer.
    answer = json.dumps(SHAPES[shape])
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    parsed = parse_completion(answer, model="m", detailed=True, response_format=schema)
    assert parsed.structured == {"a": 1}
    with Cortex.local() as cx:
        inner = "SELECT 1 AS K, 'p' AS P, ? AS CT_R"
        query = read_answers("legacy", structured=True, inner=inner, keep="K", prompt="P")
        ((_, response, error, tokens),) = cx.sql(query, [answer])
    assert (json.loads(response), error) == ({"a": 1}, None)
    assert tokens > 0


class _Scripted(LocalBackend):
    """The emulator, where statements containing a fragment get a chosen answer or error."""

    def __init__(self, answers: dict[str, Any]) -> None:
        super().__init__()
        self.answers = answers

    def execute(self, statement: Statement) -> Result:
        for fragment, answer in self.answers.items():
            if fragment in statement.sql:
                if isinstance(answer, BaseException):
                    raise answer
                return Result(
                    rows=[answer], query_id=None, columns=[f"C{i}" for i, _ in enumerate(answer)]
                )
        return super().execute(statement)


def _refused(text: str) -> ProgrammingError:
    return ProgrammingError(msg=text, errno=3001, sqlstate="42501", send_telemetry=False)


@pytest.mark.parametrize(
    ("fragment", "answer", "check", "state", "detail"),
    [
        # C-PRIV-11 (B): no warehouse, no current schema.
        ("CURRENT_WAREHOUSE()", (None,), "warehouse", "fail", "no warehouse in use"),
        (
            "CURRENT_SCHEMA()",
            ("SYSADMIN", "{}", None, None),
            "create model",
            "unknown",
            "no current schema",
        ),
        # C-IDENT-04 (B): IDENTIFIER(?) refused in SHOW GRANTS.
        (
            "IDENTIFIER(?)",
            _refused("SQL compilation error: unexpected 'IDENTIFIER'"),
            "create model",
            "unknown",
            "could not tell",
        ),
        # C-PRIV-06 (B): SHOW PARAMETERS ... IN ACCOUNT refused to this role.
        (
            "SHOW PARAMETERS LIKE 'CORTEX_ENABLED",
            _refused("Insufficient privileges"),
            "cross-region",
            "unknown",
            "could not tell",
        ),
    ],
    ids=["no-warehouse", "no-schema", "identifier-refused", "parameters-refused"],
)
def test_doctor_says_it_could_not_tell_where_the_docs_leave_it_open(
    fragment: str, answer: Any, check: str, state: str, detail: str
) -> None:
    with Cortex(backend=_Scripted({fragment: answer})) as cx:
        report = cx.doctor()
    (found,) = [c for c in report.checks if c.name == check]
    assert (found.state, detail in found.detail) == (state, True), found


class _LowerCaseHistory(LocalBackend):
    """The next INSERT runs and loses its answer; the history prints statuses in lower case."""

    lose = True

    def execute(self, statement: Statement) -> Result:
        if self.lose and statement.sql.startswith("INSERT"):
            self.lose = False
            super().execute(statement)
            raise OperationalError(msg="Connection aborted", send_telemetry=False)
        result = super().execute(statement)
        if statement.op == "history.lookup":
            rows = [(r[0], str(r[1]).lower(), *r[2:]) for r in result.rows]
            return Result(rows=rows, query_id=result.query_id, columns=result.columns)
        return result


def test_history_statuses_are_read_whatever_their_case() -> None:
    # C-HIST-03 (B): "Execution status for the query: resuming_warehouse, running, queued,
    # blocked, success, failed_with_error, or failed_with_incident." (printed in lower case)
    clock = FakeClock()
    with Cortex(backend=_LowerCaseHistory(), clock=clock.time, sleep=clock.sleep) as cx:
        cx.sql("CREATE TABLE T (A INT)")
        cx.sql("INSERT INTO T VALUES (1)")
        assert cx.sql("SELECT COUNT(*) FROM T") == [(1,)]  # recovered, not run twice


def test_a_refused_copy_grants_leaves_the_table_as_it_was() -> None:
    # C-TXN-03 (B): CREATE OR REPLACE is atomic: refused, nothing changed, the error raised.
    refusal = _refused("SQL compilation error: syntax error unexpected 'COPY'")
    with Cortex(backend=_Scripted({"COPY GRANTS": refusal})) as cx:
        cx.sql("CREATE TABLE TARGET AS SELECT 'kept' AS PROMPT, 'x' AS COMPLETION")
        rows = [{"prompt": "new", "completion": "c"}]
        with pytest.raises(CortexError, match="COPY"):
            cx.datasets.load(rows, table="TARGET", mode="replace")
        assert cx.sql("SELECT PROMPT FROM TARGET") == [("kept",)]

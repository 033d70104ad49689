"""Where cortex-tune or its emulator departed from Snowflake's documentation, now fixed.

Each test names the row of docs/snowflake-contract.md it pins; each failed on the code as it
was before the fix.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fakesnow")

from snowflake.connector.errors import ProgrammingError

from cortex_tune import Cortex, CortexError, MaxTokensExceededError, QueryError, TrainingData
from cortex_tune._backends.base import Result
from cortex_tune._backends.local import LocalBackend
from cortex_tune._core.statement import Statement
from cortex_tune.testing import FakeClock, ModelRequest

#: About 30,000 tokens (four characters a token): over llama3.1-8b's fine-tuning allotment
#: (24k), within its inference window (128,000).
PROMPT_30K = "word " * 24_000


def _echo(request: ModelRequest) -> str:
    return f"echo {len(request.prompt)}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=1_750_000_000.0)


def _local(clock: FakeClock, **options: Any) -> LocalBackend:
    backend = LocalBackend(clock=clock.time, pending_seconds=0.0, duration=1.0, **options)
    backend.register_model("llama3.1-8b", _echo)
    backend.register_model("mistral-7b", _echo)
    return backend


@pytest.fixture
def cx(clock: FakeClock) -> Iterator[Cortex]:
    client = Cortex(backend=_local(clock), clock=clock.time, sleep=clock.sleep)
    yield client
    client.close()


def _training(cx: Cortex) -> TrainingData:
    cx.sql("CREATE OR REPLACE TABLE PAIRS AS SELECT 'q' || range AS P, 'a' AS C FROM range(20)")
    return TrainingData.table("PAIRS", prompt="P", completion="C")


# -- C-LIMITS-03 / C-LIMITS-04: context windows ----------------------------------------------


def test_base_models_answer_within_their_inference_window(cx: Cortex) -> None:
    # C-LIMITS-03: llama3.1-8b "| 128,000 | 8,192 |" for AI_COMPLETE; 24k is its fine-tuning
    # allotment, not its inference window.
    for functions in ("ai", "legacy"):
        client = cx.with_options(functions=functions)  # type: ignore[arg-type]
        assert client.complete("llama3.1-8b", PROMPT_30K).text == f"echo {len(PROMPT_30K)}"
        with pytest.raises(MaxTokensExceededError, match="max tokens of 128000 exceeded"):
            client.complete("llama3.1-8b", PROMPT_30K * 5)


@pytest.mark.parametrize(("window", "answers"), [("training", False), ("base", True)])
def test_a_fine_tuned_models_window_is_not_prechecked_either_way(
    clock: FakeClock, window: str, answers: bool
) -> None:
    # C-LIMITS-04: no page gives it. Either answer reaches Cortex, which decides; a refusal is
    # MaxTokensExceededError.
    sent: list[str] = []
    backend = _local(clock, answer_shapes={"fine_tuned_window": window})
    cx = Cortex(
        backend=backend, clock=clock.time, sleep=clock.sleep, tracer=lambda s, p: sent.append(s)
    )
    job = cx.finetune.create("TUNED", base_model="llama3.1-8b", training=_training(cx), check=False)
    model = cx.finetune.wait(job.id, progress=False).model
    assert model is not None
    sent.clear()
    if answers:
        assert cx.complete(model, PROMPT_30K).text
    else:
        with pytest.raises(MaxTokensExceededError, match="max tokens of 24000 exceeded"):
            cx.complete(model, PROMPT_30K)
    assert any("AI_COMPLETE" in s for s in sent)  # sent: cortex-tune never pre-checks it
    cx.close()


# -- C-COMPLETE-02: the options form -----------------------------------------------------------


@pytest.mark.parametrize(
    "prompt",
    ["'how does a snowflake get its unique pattern?'", "[{'content': 'hi'}]", "[]"],
    ids=["string", "no-role", "empty"],
)
def test_the_options_form_takes_an_array_of_messages_with_roles(cx: Cortex, prompt: str) -> None:
    # "If options is present, the argument must be an array of objects ... Each object must
    # contain a role key and a content key."
    cursor = cx.backend.connection().cursor()  # type: ignore[attr-defined]
    with pytest.raises(ProgrammingError):
        cursor.execute(f"SELECT SNOWFLAKE.CORTEX.COMPLETE('llama3.1-8b', {prompt}, {{}})")
    cursor.execute(
        "SELECT SNOWFLAKE.CORTEX.COMPLETE('llama3.1-8b', [{'role': 'user', 'content': 'hi'}], {})"
    )
    assert "choices" in cursor.fetchone()[0]


# -- C-TOKENS-02: NULL is "could not count" -----------------------------------------------------


def test_a_null_token_count_is_estimated_and_said_never_summed_as_zero(clock: FakeClock) -> None:
    with Cortex(backend=_local(clock, unavailable_models=["mistral-7b"])) as cx:
        report = cx.finetune.check("mistral-7b", training=_training(cx), server_tokens=True)
        (found,) = [f for f in report.findings if f.code == "tokens-uncounted"]
        assert (found.severity, found.count) == ("warning", 20)
        assert report.cost is not None and report.cost.input_tokens > 0


# -- C-FT-05 / C-LIMITS-06: legacy base models ------------------------------------------------


def test_a_legacy_base_is_a_warning_and_the_account_decides(clock: FakeClock) -> None:
    with Cortex(backend=_local(clock)) as cx:  # an account that used mistral-7b: accepted
        report = cx.finetune.check("mistral-7b", training=_training(cx))
        assert report.ok and "legacy-base-model" in {f.code for f in report.warnings}
        assert cx.finetune.create("OLD", base_model="mistral-7b", training=_training(cx)).id
    with Cortex(backend=_local(clock, unavailable_models=["mistral-7b"])) as cx:  # one that did not
        with pytest.raises(QueryError, match="mistral-7b"):
            cx.finetune.create("OLD", base_model="mistral-7b", training=_training(cx))
        assert cx.finetune.list() == []


# -- AS_VARCHAR, COPY GRANTS -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("PARSE_JSON('\"text\"')", "text"),
        ("PARSE_JSON('{\"a\": 1}')", None),
        ("PARSE_JSON('12')", None),
        ('PARSE_JSON(\'{"v": "x"}\'):v', "x"),
        ("NULL", None),
    ],
)
def test_as_varchar_returns_the_string_or_null(cx: Cortex, expression: str, expected: Any) -> None:
    # "If the type of the value in the variant_expr argument doesn't match the type of the
    # output value, the function returns NULL." (AS_CHAR, AS_VARCHAR)
    assert cx.sql(f"SELECT AS_VARCHAR({expression}), AS_CHAR({expression})") == [(expected,) * 2]


def test_complete_table_reads_ai_complete_values_with_as_varchar(cx: Cortex) -> None:
    sent: list[str] = []
    client = cx.with_options(functions="ai", tracer=lambda s, p: sent.append(s))
    cx.sql("CREATE TABLE SRC AS SELECT range AS ID, 'p' || range AS PROMPT FROM range(3)")
    client.complete_table("llama3.1-8b", source="SRC", into="OUT", key="ID")
    assert cx.sql("SELECT COUNT(*) FROM OUT WHERE RESPONSE LIKE 'echo %' AND ERROR IS NULL") == [
        (3,)
    ]
    insert = next(s for s in sent if s.startswith("INSERT INTO OUT"))
    assert "AS_VARCHAR(CT_R:value)" in insert and "::STRING), CT_R:value" not in insert


def test_create_or_replace_with_copy_grants_is_accepted(cx: Cortex) -> None:
    # C-TXN-03: "COPY GRANTS Specifies to retain the access privileges from the original table
    # when a new table is created using ... CREATE OR REPLACE TABLE".
    cx.sql("CREATE TABLE KEEP (A INT)")
    cx.sql("CREATE OR REPLACE TABLE KEEP COPY GRANTS AS SELECT 1 AS A, 2 AS B")
    assert cx.sql("SELECT A, B FROM KEEP") == [(1, 2)]


# -- C-LOAD-03: a COPY that loads no file -------------------------------------------------------


class _NothingStaged(LocalBackend):
    """The emulator, where PUT answers as if it uploaded and stages nothing."""

    def execute(self, statement: Statement) -> Result:
        if statement.sql.startswith("PUT "):
            return Result(rows=[], query_id=None, columns=[])
        return super().execute(statement)


def test_a_copy_that_loads_no_file_never_replaces_the_target(tmp_path: Path) -> None:
    # COPY answers one `status` column ("Copy executed with 0 files processed.") when it loads
    # nothing: the raw table is counted, and the target keeps its rows.
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(f'{{"prompt": "p{i}", "completion": "c"}}\n' for i in range(5)))
    with Cortex(backend=_NothingStaged()) as cx:
        cx.sql("CREATE TABLE TARGET AS SELECT 'kept' AS PROMPT, 'x' AS COMPLETION")
        with pytest.raises(CortexError, match="loaded 0 of 5 rows"):
            cx.datasets.load(str(data), table="TARGET", mode="replace")
        assert cx.sql("SELECT PROMPT FROM TARGET") == [("kept",)]


# -- C-FT-18: CANCEL of a job that already ended -------------------------------------------------


class _CancelIgnoresEndedJobs(LocalBackend):
    """Answer A: CANCEL of an ended job answers the documented text and changes nothing."""

    def execute(self, statement: Statement) -> Result:
        if "FINETUNE('CANCEL'" in statement.sql:
            text = f"Canceled Cortex Fine-tuning job: {statement.params[0]}"
            return Result(rows=[(text,)], query_id=None, columns=["CANCEL"])
        return super().execute(statement)


@pytest.mark.parametrize("answer", ["refused", "ignored"])
def test_cancelling_a_job_that_already_succeeded_returns_it_as_it_ended(
    clock: FakeClock, answer: str
) -> None:
    # The emulator refuses (answer B); a backend that answers the "Canceled ..." text and
    # leaves the job alone is answer A. Either way the job keeps its final state.
    backend = _local(clock) if answer == "refused" else _CancelIgnoresEndedJobs(clock=clock.time)
    with Cortex(backend=backend, clock=clock.time, sleep=clock.sleep) as cx:
        job = cx.finetune.create("DONE", base_model="llama3.1-8b", training=_training(cx))
        assert cx.finetune.wait(job.id, progress=False).succeeded
        cancelled = cx.finetune.cancel(job.id)
    assert cancelled.status.value == "SUCCESS"


# -- C-ASYNC-02 / C-ASYNC-05: asynchronous statements ----------------------------------------


def test_every_documented_query_status_is_read_as_running_ended_or_unknown() -> None:
    # QueryStatus (python-connector-api) and SYSTEM$GET_RESULTSET_STATUS's table, which spells
    # "QUEUED_REPAIRING_WAREHOUSE | The warehouse is being repaired, and the query is queued for
    # execution." (the connector's enum spells it QUEUED_REPARING_WAREHOUSE).
    from cortex_tune._backends.base import StatementStatus

    running = ["RUNNING", "QUEUED", "RESUMING_WAREHOUSE", "BLOCKED", "ABORTING", "RESTARTED"]
    running += ["QUEUED_REPARING_WAREHOUSE", "QUEUED_REPAIRING_WAREHOUSE"]
    failed = ["FAILED_WITH_ERROR", "FAILED_WITH_INCIDENT", "ABORTED", "DISCONNECTED"]
    assert [n for n in running if not StatementStatus(n).running] == []
    assert [n for n in failed if not StatementStatus(n).failed] == []
    assert StatementStatus("SUCCESS").succeeded
    assert StatementStatus("NO_DATA").unknown  # "not yet available": never taken as an end


def test_cancelling_a_statement_that_ended_answers_a_row_not_an_error(clock: FakeClock) -> None:
    # SYSTEM$CANCEL_QUERY "Cancels the specified query (or statement) if it is currently
    # active/running."; for one that is not, Snowflake answers the row its own command line's
    # tests read back from an account (the emulator raised an error 605).
    with Cortex(backend=_local(clock), clock=clock.time, sleep=clock.sleep) as cx:
        ended = cx.backend.execute(Statement("SELECT 1", (), "sql")).query_id
        answer = cx.sql("SELECT SYSTEM$CANCEL_QUERY(?)", [ended])
    assert answer == [("Identified SQL statement is not currently executing.",)]

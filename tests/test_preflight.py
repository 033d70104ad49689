"""cx.finetune.check: every finding on purpose-built data in the emulator, and create()'s gate."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from cortex_tune import (
    ConfigurationError,
    Cortex,
    FakeBackend,
    Finding,
    PreflightError,
    PreflightReport,
    Statement,
    TrainingDataError,
)
from cortex_tune._backends.base import Result
from cortex_tune._core import rules as _rules
from cortex_tune._finetune.preflight_sql import PREFLIGHT_OP, columns_sql, stats_sql

Traced = list[tuple[str, tuple[Any, ...]]]


@pytest.fixture
def traced() -> Traced:
    return []


@pytest.fixture
def cx(traced: Traced) -> Iterator[Cortex]:
    """The emulator (real SQL), every statement recorded."""
    with Cortex.local(tracer=lambda sql, params: traced.append((sql, params))) as client:
        yield client


def table(cx: Cortex, name: str, rows: Sequence[tuple[Any, Any]]) -> str:
    """A table of (prompt, completion) rows inserted with bound values; its training query."""
    cx.sql(f"CREATE TABLE {name} (P STRING, C STRING)")
    if rows:
        marks = ", ".join("(?, ?)" for _ in rows)
        cx.sql(f"INSERT INTO {name} VALUES {marks}", [v for row in rows for v in row])
    return f"SELECT p AS prompt, c AS completion FROM {name}"


def generated(cx: Cortex, name: str, n: int, start: int = 0) -> str:
    """A table of ``n`` distinct pairs generated in SQL; its training query."""
    cx.sql(
        f"CREATE TABLE {name} AS SELECT 'question ' || (SEQ4() + {start}) AS P, "
        f"'answer ' || (SEQ4() + {start}) AS C FROM TABLE(GENERATOR(ROWCOUNT => {n}))"
    )
    return f"SELECT p AS prompt, c AS completion FROM {name}"


def codes(report: PreflightReport, severity: str | None = None) -> list[str]:
    return [f.code for f in report.findings if severity is None or f.severity == severity]


def one(report: PreflightReport, code: str) -> Finding:
    (found,) = [f for f in report.findings if f.code == code]
    return found


# -- a clean dataset ------------------------------------------------------------------------------


def test_a_clean_dataset_has_no_errors_or_warnings(cx: Cortex, traced: Traced) -> None:
    training = generated(cx, "TRAIN", 300)
    validation = generated(cx, "VALID", 30, start=1000)
    traced.clear()
    report = cx.finetune.check(
        "llama3.1-8b", training=training, validation=validation, max_epochs=3
    )
    assert report.ok and report.errors == [] and report.warnings == []
    assert codes(report) == ["token-estimate", "no-credit-rate"]
    assert report.training is not None and report.training.stats is not None
    assert report.training.columns == ("PROMPT", "COMPLETION")
    assert report.training.stats.rows == report.training.stats.usable == 300
    assert report.overlap == 0
    assert report.statements == len(traced) == 3
    # No Cortex function runs: nothing is billed beyond the warehouse.
    assert not any("CORTEX" in sql.upper().replace("CORTEX_TUNE", "") for sql, _ in traced)


def test_guidance_notes_for_few_rows_automatic_split_and_epochs(cx: Cortex) -> None:
    report = cx.finetune.check("llama3.1-70b", training=generated(cx, "T", 20))
    assert report.ok
    assert codes(report, "info") == [
        "few-rows",
        "auto-validation-split",
        "epochs-auto",
        "token-estimate",
        "no-credit-rate",
    ]
    assert "a few hundred" in one(report, "few-rows").message
    assert "4,500 rows" in one(report, "epochs-auto").message  # 13,500 / 3


# -- columns and queries --------------------------------------------------------------------------


def test_a_missing_column_is_an_error_naming_the_columns_there_are(
    cx: Cortex, traced: Traced
) -> None:
    table(cx, "T", [("a", "b")])
    traced.clear()
    report = cx.finetune.check("mistral-7b", training="SELECT p AS prompt, c AS answer FROM T")
    assert not report.ok
    found = one(report, "missing-columns")
    assert found.severity == "error" and found.data == "training"
    assert "no COMPLETION column" in found.message and "PROMPT, ANSWER" in found.message
    assert report.training is not None and report.training.columns == ("PROMPT", "ANSWER")
    assert report.training.stats is None
    assert len(traced) == 1  # nothing to aggregate


def test_wrong_column_names_are_listed(cx: Cortex) -> None:
    table(cx, "T", [("a", "b")])
    report = cx.finetune.check("mistral-7b", training="SELECT * FROM T")
    message = one(report, "missing-columns").message
    assert "no PROMPT or COMPLETION column" in message and "P, C" in message


def test_a_quoted_lower_case_column_is_not_the_column_cortex_reads(cx: Cortex) -> None:
    table(cx, "T", [("a", "b")])
    report = cx.finetune.check(
        "mistral-7b", training='SELECT p AS "prompt", c AS completion FROM T'
    )
    message = one(report, "missing-columns").message
    assert "prompt: Cortex wants upper case" in message


def test_a_query_that_fails_is_an_error_and_the_other_query_is_still_read(
    cx: Cortex, traced: Traced
) -> None:
    training = table(cx, "T", [("a", "b"), ("a", "b")])
    traced.clear()
    report = cx.finetune.check("mistral-7b", training=training, validation="SELECT * FROM NOPE")
    found = one(report, "query-failed")
    assert found.severity == "error" and found.data == "validation" and "NOPE" in found.message
    assert one(report, "duplicate-pairs").data == "training"
    assert report.validation is not None and report.validation.columns is None
    assert report.overlap is None
    assert len(traced) == 3


def test_a_trailing_semicolon_is_a_note_and_removed(cx: Cortex, traced: Traced) -> None:
    training = generated(cx, "T", 300) + " ;\n"
    traced.clear()
    report = cx.finetune.check("mistral-7b", training=training, max_epochs=1)
    assert report.ok
    found = one(report, "trailing-semicolon")
    assert found.severity == "info" and "removes" in found.message
    assert report.training is not None and not report.training.query.endswith(";")
    assert all(";" not in sql for sql, _ in traced)


def test_raw_sql_with_a_trailing_semicolon_fails_the_job_in_the_emulator(cx: Cortex) -> None:
    training = generated(cx, "T", 3) + ";"
    (job_id,) = cx.sql(
        "SELECT SNOWFLAKE.CORTEX.FINETUNE('CREATE', 'M', 'mistral-7b', ?)", [training]
    )[0]
    job = cx.finetune.describe(job_id)
    assert job.error is not None and "unexpected ';'" in job.error.message


# -- rows -----------------------------------------------------------------------------------------


def test_nulls_and_empties_are_warnings_with_examples(cx: Cortex) -> None:
    rows = [
        ("fine", "ok"),
        (None, "completion of a NULL prompt"),
        ("prompt of a NULL completion", None),
        ("", "completion of an empty prompt"),
        ("prompt of a blank completion", "   "),
    ]
    report = cx.finetune.check("mistral-7b", training=table(cx, "T", rows))
    assert report.ok  # Cortex trains on the rest
    expected = {
        "null-prompt": ("completion of a NULL prompt",),
        "null-completion": ("prompt of a NULL completion",),
        "empty-prompt": ("completion of an empty prompt",),
        "empty-completion": ("prompt of a blank completion",),
    }
    for code, samples in expected.items():
        found = one(report, code)
        assert (found.severity, found.count, found.samples) == ("warning", 1, samples), code
    assert report.training is not None and report.training.stats is not None
    assert report.training.stats.usable == 3


def test_no_usable_rows_is_an_error(cx: Cortex) -> None:
    training = table(cx, "T", [(None, "x"), ("y", None)])
    assert codes(cx.finetune.check("mistral-7b", training=training), "error") == ["no-rows"]
    empty = training + " WHERE 1 = 0"
    assert codes(cx.finetune.check("mistral-7b", training=empty), "error") == ["no-rows"]


def test_an_empty_validation_query_is_a_warning(cx: Cortex) -> None:
    training = generated(cx, "T", 300)
    report = cx.finetune.check("llama3.1-8b", training=training, validation=training + " WHERE 1=0")
    assert report.ok and codes(report, "warning") == ["no-validation-rows"]


def test_exact_duplicate_pairs_are_counted_beyond_the_first(cx: Cortex) -> None:
    rows = [("same", "pair")] * 3 + [("twice", "pair")] * 2 + [("same", "other answer")]
    found = one(cx.finetune.check("mistral-7b", training=table(cx, "T", rows)), "duplicate-pairs")
    assert (found.severity, found.count) == ("warning", 3)
    assert found.samples == ("same", "twice")  # the most repeated first


def test_prompts_in_both_training_and_validation_overlap(cx: Cortex) -> None:
    training = table(cx, "T", [("shared b", "1"), ("shared a", "2"), ("only train", "3")])
    validation = table(cx, "V", [("shared a", "x"), ("shared b", "y"), ("only valid", "z")])
    report = cx.finetune.check("mistral-7b", training=training, validation=validation)
    found = one(report, "overlap")
    assert (found.severity, found.count, found.samples) == ("warning", 2, ("shared a", "shared b"))
    assert report.overlap == 2


def test_rows_beyond_the_token_allotments_are_warnings_with_shortened_examples(
    cx: Cortex,
) -> None:
    spec = _rules.BASE_MODELS["llama3-8b"]  # 6,000 prompt and 2,000 completion tokens
    long_prompt = "word " * (spec.prompt_tokens * 4 // 5 + 1)  # 6,002 tokens at 4 chars a token
    long_completion = "z" * (spec.completion_tokens * 4 + 1)  # 2,001 tokens
    rows = [(long_prompt, "short"), ("short prompt", long_completion), ("fine", "fine")]
    report = cx.finetune.check("llama3-8b", training=table(cx, "T", rows), max_epochs=1)
    assert report.ok  # Cortex truncates, it does not refuse
    prompt, completion = one(report, "prompt-too-long"), one(report, "completion-too-long")
    assert (prompt.severity, prompt.count, completion.count) == ("warning", 1, 1)
    assert "6,002" in prompt.message and "2,001" in completion.message
    assert completion.samples == ("short prompt",)
    (sample,) = prompt.samples
    assert sample.endswith("…") and len(sample) == _rules.SAMPLE_CHARS
    assert report.cost is not None  # cut to the allotments
    assert report.cost.input_tokens == 6_000 + 2 + 3 + 2_000 + 1 + 1


def test_more_rows_than_the_epochs_allow_is_an_error(cx: Cortex) -> None:
    spec = _rules.BASE_MODELS["llama3.1-70b"]  # 13,500 rows for one epoch: 1,350 for ten
    limit = spec.row_limit(10)
    over = generated(cx, "OVER", limit + 1)
    at = generated(cx, "AT_LIMIT", limit)
    found = one(cx.finetune.check(spec.name, training=over, max_epochs=10), "too-many-rows")
    assert (found.severity, found.count) == ("error", limit + 1)
    assert f"at most {limit} rows for 10 epoch(s)" in found.message
    assert cx.finetune.check(spec.name, training=at, max_epochs=10).ok
    assert cx.finetune.check(spec.name, training=over, max_epochs=9).ok


def test_columns_that_are_not_text_are_a_warning(cx: Cortex) -> None:
    cx.sql("CREATE TABLE T (ID INT, C STRING)")
    cx.sql("INSERT INTO T VALUES (?, ?), (?, ?)", [1, "one", 2, "two"])
    report = cx.finetune.check("mistral-7b", training="SELECT id AS prompt, c AS completion FROM T")
    found = one(report, "not-text")
    assert found.severity == "warning" and "PROMPT" in found.message


# -- base models ----------------------------------------------------------------------------------


def test_an_unknown_base_model_is_an_error_and_the_data_is_still_checked(cx: Cortex) -> None:
    training = table(cx, "T", [("a", "b"), ("a", "b")])
    report = cx.finetune.check("gpt-4o", training=training)
    assert codes(report, "error") == ["unknown-base-model"]
    assert "mistral-7b" in one(report, "unknown-base-model").message
    assert "duplicate-pairs" in codes(report)
    assert report.cost is None


def test_a_fine_tuned_model_cannot_be_the_base(cx: Cortex) -> None:
    report = cx.finetune.check("MYDB.PUBLIC.SUPPORT_MISTRAL", training=generated(cx, "T", 300))
    found = one(report, "fine-tuned-base")
    assert found.severity == "error" and "only base models" in found.message


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("llama3.1-8b", []),
        ("  Llama3.1-8B ", []),
        ("mistral-7b", ["legacy-base-model"]),
        ("  Mistral-7B ", ["legacy-base-model"]),
        ("llama3-70b", ["legacy-base-model"]),
        ("mistral", ["unknown-base-model"]),
        ("claude-sonnet-4-5", ["unknown-base-model"]),
        ("my_tuned_model", ["fine-tuned-base"]),
        ("SUPPORT_MODEL", ["fine-tuned-base"]),
        ('"My Model"', ["fine-tuned-base"]),
        ("db.schema.model", ["fine-tuned-base"]),
    ],
)
def test_which_base_models_are_refused(name: str, expected: list[str]) -> None:
    assert [f.code for f in _rules.base_model_findings(name)] == expected


def test_a_legacy_base_model_is_a_warning_citing_both_copies_of_the_reference() -> None:
    # Copy A of the FINETUNE reference lists six bases; the newest copy lists only
    # 'llama3.1-8b' and marks mistral-7b legacy: a job Cortex may still accept is never blocked.
    (found,) = _rules.base_model_findings("mistral-7b")
    assert (found.severity, found.code) == ("warning", "legacy-base-model")
    assert "llama3.1-8b" in found.message
    assert "https://docs.snowflake.com/en/sql-reference/functions/finetune-create" in found.message
    assert "aisql-regional-availability" in found.message


def test_a_deprecated_base_model_is_a_warning_not_an_error() -> None:
    catalogue = {
        "old-7b": _rules.BaseModelSpec("old-7b", 8_000, 6_000, 2_000, 10_000, deprecated=True),
        "new-7b": _rules.BaseModelSpec("new-7b", 8_000, 6_000, 2_000, 10_000),
    }
    (found,) = _rules.base_model_findings("old-7b", models=catalogue)
    assert (found.severity, found.code) == ("warning", "deprecated-base-model")
    assert "use new-7b" in found.message
    assert _rules.base_model_findings("new-7b", models=catalogue) == []


def test_errors_are_exactly_what_the_emulator_refuses() -> None:
    # Adding an error code means teaching the emulator to refuse it too.
    assert sorted(_rules.ERRORS) == [
        "fine-tuned-base",
        "missing-columns",
        "no-rows",
        "query-failed",
        "too-many-rows",
        "unknown-base-model",
    ]
    assert all(severity == "error" for severity, _ in map(_rules.RULES.get, _rules.ERRORS))


# -- the emulator refuses exactly what the check calls an error ---------------------------------


@pytest.mark.parametrize(
    ("base_model", "training", "validation", "epochs"),
    [
        ("mistral-7b", "SELECT * FROM GOOD", None, None),
        ("mistral-7b", "SELECT * FROM MESSY", "SELECT * FROM GOOD", 2),
        ("mistral-7b", "SELECT prompt FROM GOOD", None, None),
        ("mistral-7b", "SELECT * FROM GOOD", "SELECT completion FROM GOOD", None),
        ("mistral-7b", 'SELECT prompt AS "prompt", completion FROM GOOD', None, None),
        ("mistral-7b", "SELECT * FROM GOOD WHERE prompt IS NULL", None, None),
        ("mistral-7b", "SELECT * FROM MISSING_TABLE", None, None),
        ("llama3.1-70b", "SELECT * FROM GOOD", None, 10),
        ("llama3.1-70b", "SELECT * FROM GOOD", None, 9),
        ("gpt-9", "SELECT * FROM GOOD", None, None),
        ("MYDB.PUBLIC.SUPPORT_MODEL", "SELECT * FROM GOOD", None, None),
    ],
)
def test_the_emulator_refuses_exactly_what_the_check_calls_an_error(
    cx: Cortex, base_model: str, training: str, validation: str | None, epochs: int | None
) -> None:
    cx.sql(  # 1,351 rows: one more than llama3.1-70b takes for ten epochs
        "CREATE TABLE GOOD AS SELECT 'question ' || SEQ4() AS prompt, 'answer ' || SEQ4() AS "
        "completion FROM TABLE(GENERATOR(ROWCOUNT => 1351))"
    )
    table(cx, "MESSY_ROWS", [("a", "b"), ("a", "b"), (None, "c"), ("d", ""), ("e" * 30_000, "f")])
    cx.sql("CREATE TABLE MESSY AS SELECT p AS prompt, c AS completion FROM MESSY_ROWS")
    report = cx.finetune.check(
        base_model, training=training, validation=validation, max_epochs=epochs
    )
    try:
        job = cx.finetune.create(
            "AGREE",
            base_model=base_model,
            training=training,
            validation=validation,
            max_epochs=epochs,
            check=False,
        )
        refused = job.error is not None
    except TrainingDataError:  # refused at once, as Cortex refuses a bad base model
        refused = True
    assert refused == (not report.ok), [f.code for f in report.errors]


# -- statements -----------------------------------------------------------------------------------


def test_the_statement_count_does_not_grow_with_the_rows(cx: Cortex, traced: Traced) -> None:
    small, large = generated(cx, "SMALL", 10), generated(cx, "LARGE", 1_000)
    counts = []
    for training in (small, large):
        traced.clear()
        report = cx.finetune.check("mistral-7b", training=training, validation=training)
        counts.append((len(traced), report.statements))
    assert counts == [(3, 3), (3, 3)]
    traced.clear()
    cx.finetune.check("mistral-7b", training=large)
    assert len(traced) == 2


def test_values_are_bound_and_only_queries_are_embedded() -> None:
    query = "SELECT body AS prompt, reply AS completion FROM train"
    columns = columns_sql(query + ";")
    assert (columns.sql, columns.params, columns.op) == (
        f"SELECT * FROM ({query}) LIMIT 0",
        (),
        PREFLIGHT_OP,
    )
    specs = _rules.BASE_MODELS
    a = stats_sql([("training", query)], base_model="llama3-8b", spec=specs["llama3-8b"])
    b = stats_sql([("training", query)], base_model="mistral-7b", spec=specs["mistral-7b"])
    assert a.sql == b.sql and a.params != b.params and a.op == PREFLIGHT_OP
    counted = stats_sql(
        [("training", query)], base_model="mistral-7b", spec=specs["mistral-7b"], tokens="ai"
    )
    assert "mistral-7b" not in counted.sql and counted.params.count("mistral-7b") == 2


@pytest.mark.parametrize(
    ("functions", "counter"),
    [("auto", "AI_COUNT_TOKENS"), ("legacy", "SNOWFLAKE.CORTEX.COUNT_TOKENS")],
)
def test_server_tokens_count_with_cortex_in_sql(
    traced: Traced, functions: str, counter: str
) -> None:
    tracer = lambda sql, params: traced.append((sql, params))  # noqa: E731
    with Cortex.local(functions=functions, tracer=tracer) as cx:
        training = generated(cx, "T", 300)
        estimated = cx.finetune.check("mistral-7b", training=training)
        traced.clear()
        counted = cx.finetune.check("mistral-7b", training=training, server_tokens=True)
    assert counter in traced[-1][0] and len(traced) == 2
    assert counted.cost is not None and estimated.cost is not None
    assert counted.cost.tokens_counted_by == "cortex"
    assert "token-estimate" not in codes(counted)
    # The emulator's counter is itself an estimate, so the two agree here.
    assert counted.cost.input_tokens == estimated.cost.input_tokens


def test_trained_tokens_and_credits_from_a_rate_table(cx: Cortex) -> None:
    training = generated(cx, "T", 300)
    ranged = cx.finetune.check("mistral-7b", training=training)
    assert ranged.cost is not None and ranged.cost.credits is None
    tokens = ranged.cost.input_tokens
    assert ranged.cost.epochs == (1, 10)
    assert ranged.cost.trained_tokens == (tokens, 10 * tokens)
    assert "Service Consumption Table" in one(ranged, "no-credit-rate").message
    rated = cx.finetune.check(
        "mistral-7b", training=training, max_epochs=2, credits_per_million={"Mistral-7B": 2.5}
    )
    assert rated.cost is not None
    assert rated.cost.trained_tokens == (2 * tokens, 2 * tokens)
    assert rated.cost.credits == pytest.approx((2 * tokens * 2.5 / 1e6,) * 2)
    assert "no-credit-rate" not in codes(rated)


def test_the_sql_and_the_emulators_python_count_the_same(cx: Cortex) -> None:
    spec = _rules.BASE_MODELS["llama3-8b"]
    rows = [
        ("a", "b"),
        ("a", "b"),
        (None, "c"),
        ("d", None),
        (" ", "e"),
        ("x" * 30_000, "y" * 9_000),
        ("naïve café 🦄", "ok"),
    ]
    report = cx.finetune.check(spec.name, training=table(cx, "T", rows))
    assert report.training is not None
    assert report.training.stats == _rules.stats_from_pairs(cx.sql("SELECT p, c FROM T"), spec)


def test_bad_arguments_are_refused_before_any_statement(cx: Cortex, traced: Traced) -> None:
    for kwargs in (
        {"max_epochs": 0},
        {"max_epochs": True},
        {"credits_per_million": {"mistral-7b": -1}},
        {"training": "  ;  "},
    ):
        arguments: dict[str, Any] = {"training": "SELECT 1", **kwargs}
        with pytest.raises(ConfigurationError):
            cx.finetune.check("mistral-7b", **arguments)
    assert traced == []


# -- create(check=...) ----------------------------------------------------------------------------


def test_create_refuses_bad_data_and_creates_no_job(cx: Cortex, traced: Traced) -> None:
    training = table(cx, "T", [("a", "b")])
    bad = training.replace("AS completion", "AS answer")
    with pytest.raises(PreflightError) as info:
        cx.finetune.create("M", base_model="mistral-7b", training=bad)
    assert isinstance(info.value, TrainingDataError) and info.value.op == PREFLIGHT_OP
    assert [f.code for f in info.value.report.errors] == ["missing-columns"]
    assert "missing-columns" in str(info.value) and "check=False" in str(info.value)
    assert not any("'CREATE'" in sql for sql, _ in traced)
    assert cx.finetune.list() == []


def test_create_refuses_an_unknown_base_model_as_cortex_would(cx: Cortex) -> None:
    training = generated(cx, "T", 300)
    with pytest.raises(TrainingDataError, match="invalid base model 'gpt-9'") as info:
        cx.finetune.create("M", base_model="gpt-9", training=training)
    assert isinstance(info.value, PreflightError)
    assert cx.finetune.list() == []


def test_create_with_check_false_creates_the_job_anyway(cx: Cortex, traced: Traced) -> None:
    bad = table(cx, "T", [("a", "b")]).replace("AS completion", "AS answer")
    job = cx.finetune.create("M", base_model="mistral-7b", training=bad, check=False)
    assert [j.id for j in cx.finetune.list()] == [job.id]
    assert not any(sql.startswith("SELECT * FROM (") for sql, _ in traced)


def test_create_checks_then_creates(cx: Cortex, traced: Traced) -> None:
    training = generated(cx, "T", 300)
    traced.clear()
    job = cx.finetune.create("M", base_model="mistral-7b", training=training)
    assert [j.id for j in cx.finetune.list()] == [job.id]
    columns, stats, create = (sql for sql, _ in traced[:3])
    assert columns.endswith("LIMIT 0") and stats.startswith("WITH cortex_tune_limits")
    assert create.startswith("SELECT SNOWFLAKE.CORTEX.FINETUNE('CREATE'")


def test_fake_backend_users_create_without_a_check(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeBackend()
    cx = Cortex(backend=fake)
    with caplog.at_level(logging.DEBUG, logger="cortex_tune"):
        job = cx.finetune.create("M", base_model="mistral-7b", training="SELECT a, b FROM t")
    assert fake.ops() == ["finetune.create", "finetune.describe"]  # nothing else was sent
    assert [j.id for j in cx.finetune.list()] == [job.id]
    assert "preflight check skipped" in caplog.text
    with pytest.raises(ConfigurationError) as info:
        cx.finetune.check("mistral-7b", training="SELECT a, b FROM t")
    assert info.value.op == PREFLIGHT_OP and fake.ops()[-1] == "finetune.show"


class _RefusesSQL:
    """A backend that answers Cortex's statements and refuses any other, as FakeBackend does."""

    def __init__(self) -> None:
        self.fake = FakeBackend()
        self.clock = self.fake.clock

    def execute(self, statement: Statement) -> Result:
        return self.fake.execute(statement)

    def close(self) -> None:
        self.fake.close()


def test_a_backend_refusing_the_checks_statements_creates_unchecked() -> None:
    backend = _RefusesSQL()
    cx = Cortex(backend=backend)
    job = cx.finetune.create("M", base_model="mistral-7b", training="SELECT a, b FROM t")
    assert backend.fake.ops() == [PREFLIGHT_OP, "finetune.create", "finetune.describe"]
    assert [j.id for j in cx.finetune.list()] == [job.id]


def test_a_backend_may_declare_that_it_runs_no_sql() -> None:
    backend = _RefusesSQL()
    backend.runs_sql = False  # type: ignore[attr-defined]
    cx = Cortex(backend=backend)
    cx.finetune.create("M", base_model="mistral-7b", training="SELECT a, b FROM t")
    assert backend.fake.ops() == ["finetune.create", "finetune.describe"]
    with pytest.raises(ConfigurationError, match="runs no SQL"):
        cx.finetune.check("mistral-7b", training="SELECT a, b FROM t")


class _NoColumnNames:
    """The emulator seen through a backend that reports no column names, as Snowpark's does."""

    def __init__(self) -> None:
        from cortex_tune._backends.local import LocalBackend

        self.backend = LocalBackend()

    def execute(self, statement: Statement) -> Result:
        result = self.backend.execute(statement)
        return Result(rows=result.rows, query_id=result.query_id)

    def close(self) -> None:
        self.backend.close()


def test_without_column_names_the_aggregate_decides() -> None:
    with Cortex(backend=_NoColumnNames()) as cx:
        training = generated(cx, "T", 300)
        clean = cx.finetune.check("mistral-7b", training=training, max_epochs=1)
        assert clean.ok and clean.statements == 2
        assert clean.training is not None and clean.training.columns is None
        bad = cx.finetune.check("mistral-7b", training=training.replace("completion", "answer"))
        assert codes(bad, "error") == ["query-failed"] and "COMPLETION" in bad.errors[0].message


# -- the report -----------------------------------------------------------------------------------


@pytest.fixture
def report(cx: Cortex) -> PreflightReport:
    training = table(cx, "T", [("<script>alert(1)</script>", "x")] * 2 + [(None, "y")])
    return cx.finetune.check("mistral-7b", training=training, validation="SELECT 1 AS prompt")


def test_the_text_table_shows_severities_codes_and_examples(report: PreflightReport) -> None:
    text = str(report)
    assert text == report.to_text()
    assert text.splitlines()[0].startswith("Preflight check of mistral-7b (max_epochs=auto)")
    assert "SEVERITY" in text and "CODE" in text and "MESSAGE" in text
    for finding in report.findings:
        assert f"{finding.severity:<8} {finding.code}" in text
    assert "e.g. '<script>alert(1)</script>'" in text
    assert all(len(line) <= 100 for line in text.splitlines() if "e.g." not in line)


def test_the_html_is_a_table_with_everything_escaped(report: PreflightReport) -> None:
    page = report._repr_html_()
    assert page.startswith("<div>") and "<table>" in page and "<th" in page
    assert "missing-columns" in page and "duplicate-pairs" in page
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_the_json_round_trips_with_stable_keys(report: PreflightReport) -> None:
    data = json.loads(report.to_json())
    assert data == report.to_dict()
    assert list(data) == [
        "base_model",
        "max_epochs",
        "findings",
        "training",
        "validation",
        "overlap",
        "cost",
        "statements",
    ]
    assert list(data["findings"][0]) == ["severity", "code", "message", "data", "count", "samples"]
    assert data["findings"][0]["severity"] == "error"  # errors first
    assert PreflightReport.from_json(report.to_json()) == report


def test_ok_errors_warnings_and_notes(report: PreflightReport) -> None:
    assert not report.ok
    assert [f.code for f in report.errors] == ["missing-columns"]
    assert {f.code for f in report.warnings} == {
        "null-prompt",
        "duplicate-pairs",
        "legacy-base-model",
    }
    assert all(f.severity == "info" for f in report.notes)
    assert len(report.findings) == len(report.errors + report.warnings + report.notes)

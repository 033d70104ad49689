"""Documented Cortex outputs (tests/golden) parse into the right models with the right values."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from cortex_tune import (
    Completion,
    CortexError,
    FineTuneJob,
    JobError,
    JobStatus,
    JobSummary,
    ResponseParseError,
    StructuredOutputError,
    TrainingResult,
    Usage,
)
from cortex_tune._core.parsing import (
    parse_completion,
    parse_job,
    parse_job_id,
    parse_jobs,
    parse_usage,
)

GOLDEN = Path(__file__).parent / "golden"
UTC = dt.timezone.utc


def golden_text(name: str) -> str:
    return (GOLDEN / name).read_text(encoding="utf-8")


def golden_json(name: str) -> Any:
    return json.loads(golden_text(name))


class Categories(BaseModel):
    food_cost: Literal["positive", "negative", "neutral"]


class Review(BaseModel):
    sentiment_categories: Categories


class Note(BaseModel):
    items_count: int
    price: list[str]


class NoteAnswer(BaseModel):
    note: Note


# -- DESCRIBE ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "progress"),
    [("describe_in_progress_0.json", 0.0), ("describe_in_progress_0333.json", 0.333)],
)
def test_describe_in_progress_minimal_samples(name: str, progress: float) -> None:
    job = parse_job(golden_text(name))

    assert isinstance(job, FineTuneJob)
    assert job.id == "CortexFineTuningWorkflow_6556e15c-..."
    assert job.status is JobStatus.IN_PROGRESS
    assert job.status_raw == "IN_PROGRESS"
    assert job.progress == progress
    assert not job.is_terminal
    assert not job.succeeded
    # everything the minimal sample leaves out is simply absent
    assert job.base_model is None
    assert job.created_on is None
    assert job.finished_on is None
    assert job.model is None
    assert job.trained_tokens is None
    assert job.training_result is None
    assert job.error is None
    assert job.options == {}


def test_describe_success_sample() -> None:
    job = parse_job(golden_text("describe_success.json"))

    assert job.id == "ft_6556e15c-8f12-4d94-8cb0-87e6f2fd2299"
    assert job.status is JobStatus.SUCCESS
    assert job.succeeded
    assert job.is_terminal
    assert job.progress == 1.0
    assert job.base_model == "mistral-7b"
    assert job.model == "mydb.myschema.my_tuned_model"
    assert job.trained_tokens == 2670734
    assert isinstance(job.training_result, TrainingResult)
    assert job.training_result.training_loss == 0.6477728401547047
    assert job.training_result.validation_loss == 1.0138969421386719
    assert job.options == {"max_epochs": 3}
    assert job.training_data == "SELECT prompt, completion FROM train"
    assert job.validation_data == "SELECT prompt, completion FROM validation"
    assert job.error is None


def test_describe_success_times_are_utc_instants_from_epoch_milliseconds() -> None:
    job = parse_job(golden_text("describe_success.json"))

    assert job.created_on == dt.datetime(2024, 5, 29, 17, 39, 48, 348000, tzinfo=UTC)
    assert job.finished_on == dt.datetime(2024, 5, 29, 17, 44, 51, 577000, tzinfo=UTC)
    assert job.created_on is not None
    assert job.created_on.utcoffset() == dt.timedelta(0)
    assert job.finished_on is not None
    assert job.finished_on - job.created_on == dt.timedelta(
        milliseconds=1717004691577 - 1717004388348
    )


def test_describe_error_sample_from_a_real_job() -> None:
    job = parse_job(golden_text("describe_error.json"))

    assert job.id == "CortexFineTuningWorkflow_54cfb2bb-..."
    assert job.status is JobStatus.ERROR
    assert job.is_terminal
    assert not job.succeeded
    assert job.progress == 0.0
    assert job.base_model == "llama3-8b"
    assert isinstance(job.error, JobError)
    assert job.error.code == "INVALID_PARAMETER_VALUE"
    assert job.error.message.startswith("Failed to query input data for Fine-tuning.")
    assert "unexpected ';'" in job.error.message
    assert 'SELECT "PROMPT", "COMPLETION" FROM (select' in job.error.message
    assert job.created_on == dt.datetime(2024, 10, 11, 18, 23, 12, 861000, tzinfo=UTC)
    assert job.finished_on == dt.datetime(2024, 10, 11, 18, 23, 14, 15000, tzinfo=UTC)
    assert job.training_data == "select ... where id % 10 = 0;"
    assert job.validation_data == ""
    assert job.model is None
    assert job.training_result is None


def test_describe_accepts_an_already_decoded_object() -> None:
    data = golden_json("describe_success.json")

    job = parse_job(data)

    assert job == parse_job(golden_text("describe_success.json"))
    assert job.raw == data


# -- SHOW ----------------------------------------------------------------------------------------


def test_show_two_jobs() -> None:
    jobs = parse_jobs(golden_text("show.json"))

    assert [type(j) for j in jobs] == [JobSummary, JobSummary]
    assert [j.id for j in jobs] == [
        "ft_9544250a-20a9-42b3-babe-74f0a6f88f60",
        "ft_354cf617-2fd1-4ffa-a3f9-190633f42a25",
    ]
    assert [j.status for j in jobs] == [JobStatus.SUCCESS, JobStatus.ERROR]
    assert [j.base_model for j in jobs] == ["llama3.1-8b", "llama3.1-8b"]
    assert jobs[0].created_on == dt.datetime(2024, 11, 5, 19, 31, 58, 114000, tzinfo=UTC)
    assert jobs[1].created_on == dt.datetime(2024, 11, 5, 19, 22, 16, 632000, tzinfo=UTC)


def test_show_minimal_objects() -> None:
    jobs = parse_jobs([{"id": "ft_a", "status": "PENDING"}, {"id": "ft_b", "status": "RUNNING"}])

    assert [(j.id, j.status) for j in jobs] == [
        ("ft_a", JobStatus.PENDING),
        ("ft_b", JobStatus.IN_PROGRESS),
    ]
    assert jobs[1].status_raw == "RUNNING"
    assert jobs[0].base_model is None
    assert jobs[0].created_on is None


def test_show_empty_array_is_no_jobs() -> None:
    assert parse_jobs("[]") == []


@pytest.mark.parametrize("value", ['{"id": "ft_a"}', "42", '[{"id": "ft_a"}, "ft_b"]', "[{}]"])
def test_show_in_another_shape_is_a_parse_error(value: str) -> None:
    with pytest.raises(ResponseParseError) as info:
        parse_jobs(value)
    assert info.value.raw is not None


# -- statuses, extra fields, case ----------------------------------------------------------------


def test_running_is_in_progress() -> None:
    job = parse_job({"id": "ft_1", "status": "RUNNING", "progress": 0.5})

    assert job.status is JobStatus.IN_PROGRESS
    assert job.status_raw == "RUNNING"
    assert not job.is_terminal


def test_unknown_status_is_kept_raw() -> None:
    job = parse_job({"id": "ft_1", "status": "QUEUED_FOR_GPU"})

    assert job.status is JobStatus.UNKNOWN
    assert job.status_raw == "QUEUED_FOR_GPU"
    assert not job.is_terminal

    summary = parse_jobs([{"id": "ft_2", "status": "Warming up"}])[0]
    assert summary.status is JobStatus.UNKNOWN
    assert summary.status_raw == "Warming up"


def test_missing_status_is_unknown() -> None:
    job = parse_job({"id": "ft_1"})

    assert job.status is JobStatus.UNKNOWN
    assert job.status_raw is None
    assert job.progress == 0.0


def test_canceled_spelling_of_the_cancel_message_is_cancelled() -> None:
    # CANCEL answers "Canceled Cortex Fine-tuning job: ..."; a status in that spelling counts.
    word = golden_text("cancel.txt").split()[0]
    job = parse_job({"id": "ft_1", "status": word.upper()})

    assert job.status is JobStatus.CANCELLED
    assert job.is_terminal


def test_unknown_fields_survive_on_the_model_and_in_raw() -> None:
    data = golden_json("describe_success.json")
    data["checkpoint_uri"] = "snow://model/x/versions/1"
    data["hyperparameters"] = {"learning_rate": 0.0001}

    job = parse_job(json.dumps(data))

    assert job.checkpoint_uri == "snow://model/x/versions/1"  # type: ignore[attr-defined]
    assert job.hyperparameters == {"learning_rate": 0.0001}  # type: ignore[attr-defined]
    assert job.raw["checkpoint_uri"] == "snow://model/x/versions/1"
    assert job.trained_tokens == 2670734


def test_unknown_fields_of_show_entries_survive() -> None:
    (job,) = parse_jobs([{"id": "ft_1", "status": "SUCCESS", "region": "us-west-2"}])

    assert job.region == "us-west-2"  # type: ignore[attr-defined]
    assert job.raw == {"id": "ft_1", "status": "SUCCESS", "region": "us-west-2"}


def test_unknown_fields_inside_nested_objects_survive() -> None:
    job = parse_job(
        {
            "id": "ft_1",
            "status": "SUCCESS",
            "training_result": {"training_loss": 0.5, "validation_loss": 0.7, "perplexity": 1.9},
        }
    )

    assert job.training_result is not None
    assert job.training_result.perplexity == 1.9  # type: ignore[attr-defined]


def test_upper_case_keys() -> None:
    job = parse_job(
        {
            "ID": "ft_1",
            "STATUS": "SUCCESS",
            "PROGRESS": 1.0,
            "BASE_MODEL": "mistral-7b",
            "CREATED_ON": 1717004388348,
            "MODEL": "DB.SCH.MY_MODEL",
            "TRAINED_TOKENS": 10,
            "TRAINING_RESULT": {"TRAINING_LOSS": 0.5, "VALIDATION_LOSS": 0.75},
            "OPTIONS": {"max_epochs": 2},
        }
    )

    assert job.id == "ft_1"
    assert job.status is JobStatus.SUCCESS
    assert job.progress == 1.0
    assert job.base_model == "mistral-7b"
    assert job.created_on == dt.datetime(2024, 5, 29, 17, 39, 48, 348000, tzinfo=UTC)
    assert job.model == "DB.SCH.MY_MODEL"
    assert job.trained_tokens == 10
    assert job.training_result is not None
    assert job.training_result.training_loss == 0.5
    assert job.training_result.validation_loss == 0.75
    assert job.options == {"max_epochs": 2}


def test_upper_case_keys_of_an_error_job() -> None:
    job = parse_job(
        {
            "ID": "ft_1",
            "STATUS": "ERROR",
            "ERROR": {"CODE": "INVALID_PARAMETER_VALUE", "MESSAGE": "bad query"},
        }
    )

    assert job.error is not None
    assert job.error.code == "INVALID_PARAMETER_VALUE"
    assert job.error.message == "bad query"


def test_upper_case_keys_in_show() -> None:
    (job,) = parse_jobs([{"ID": "ft_1", "STATUS": "PENDING", "CREATED_ON": 1730835118114}])

    assert job.id == "ft_1"
    assert job.status is JobStatus.PENDING
    assert job.created_on == dt.datetime(2024, 11, 5, 19, 31, 58, 114000, tzinfo=UTC)


def test_error_given_as_a_plain_string_becomes_its_message() -> None:
    job = parse_job({"id": "ft_1", "status": "ERROR", "error": "the base model was removed"})

    assert job.error is not None
    assert job.error.message == "the base model was removed"
    assert job.error.code is None


def test_options_given_as_json_text_are_decoded() -> None:
    job = parse_job({"id": "ft_1", "status": "PENDING", "options": '{"max_epochs": 4}'})

    assert job.options == {"max_epochs": 4}


# -- malformed DESCRIBE --------------------------------------------------------------------------


def test_malformed_json_is_a_parse_error_carrying_the_raw_text() -> None:
    text = '{"id": "ft_1", "status": "SUCC'

    with pytest.raises(ResponseParseError) as info:
        parse_job(text)

    assert info.value.raw == text
    assert isinstance(info.value, CortexError)
    assert info.value.hint


def test_cancel_message_is_not_a_describe_answer() -> None:
    text = golden_text("cancel.txt")

    with pytest.raises(ResponseParseError) as info:
        parse_job(text)

    assert info.value.raw == text


@pytest.mark.parametrize("value", ["[]", "42", '"ft_1"', "null", None, 42, ["ft_1"]])
def test_describe_that_is_not_an_object_is_a_parse_error(value: Any) -> None:
    with pytest.raises(ResponseParseError) as info:
        parse_job(value)
    assert info.value.raw == value


@pytest.mark.parametrize("value", [{"status": "SUCCESS"}, {"id": "", "status": "SUCCESS"}])
def test_describe_without_an_id_is_a_parse_error(value: dict[str, Any]) -> None:
    with pytest.raises(ResponseParseError):
        parse_job(value)


def test_describe_with_a_wrongly_typed_field_is_a_parse_error() -> None:
    value = {"id": "ft_1", "status": "SUCCESS", "trained_tokens": "many"}

    with pytest.raises(ResponseParseError) as info:
        parse_job(value)

    assert info.value.raw == value


# -- CREATE --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "ft_6556e15c-8f12-4d94-8cb0-87e6f2fd2299",
        '"ft_6556e15c-8f12-4d94-8cb0-87e6f2fd2299"',
        " ft_6556e15c-8f12-4d94-8cb0-87e6f2fd2299\n",
    ],
)
def test_create_answer_is_the_job_id(value: str) -> None:
    assert parse_job_id(value) == "ft_6556e15c-8f12-4d94-8cb0-87e6f2fd2299"


@pytest.mark.parametrize("value", [None, "", "  ", 42])
def test_create_without_an_id_is_a_parse_error(value: Any) -> None:
    with pytest.raises(ResponseParseError):
        parse_job_id(value)


# -- COMPLETE ------------------------------------------------------------------------------------


def test_complete_plain_string() -> None:
    text = golden_text("complete_plain.txt")

    completion = parse_completion(text, model="mistral-7b", detailed=False)

    assert isinstance(completion, Completion)
    assert completion.text == " The unique pattern on a snowflake is"
    assert str(completion) == completion.text
    assert completion.model == "mistral-7b"
    assert completion.usage is None
    assert completion.created is None
    assert completion.structured is None
    assert completion.parsed is None


def test_complete_with_options() -> None:
    completion = parse_completion(
        golden_text("complete_options.json"), model="asked-for", detailed=True
    )

    assert completion.text == " The unique pattern on a snowflake is"
    assert completion.model == "deepseek-r1"
    assert completion.created == dt.datetime(2024, 2, 21, 17, 27, 6, tzinfo=UTC)
    assert completion.usage == Usage(
        completion_tokens=10, prompt_tokens=22, guard_tokens=0, total_tokens=32
    )
    assert completion.structured is None


def test_complete_created_is_in_seconds() -> None:
    data = golden_json("complete_options.json")

    completion = parse_completion(data, model="m", detailed=True)

    assert completion.created is not None
    assert completion.created.timestamp() == 1708536426
    assert completion.created.tzinfo is not None


@pytest.mark.parametrize(
    ("usage", "guard_tokens", "total"),
    [
        (golden_json("complete_options.json")["usage"], 0, 32),
        (golden_json("usage_guardrails_typo.json"), 677, 1172),
        (golden_json("usage_rest_guard_tokens.json"), 58, 58),
        ({"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}, None, 3),
    ],
    ids=["guardrail_tokens", "guardrails _tokens", "guard_tokens", "absent"],
)
def test_guard_tokens_from_any_spelling(
    usage: dict[str, Any], guard_tokens: int | None, total: int
) -> None:
    parsed = parse_usage(usage)
    assert parsed is not None
    assert parsed.guard_tokens == guard_tokens
    assert parsed.total_tokens == total

    answer = {"choices": [{"messages": "ok"}], "created": 1708536426, "usage": usage}
    completion = parse_completion(json.dumps(answer), model="m", detailed=True)
    assert completion.usage == parsed


def test_guardrails_typo_sample_counts() -> None:
    usage = parse_usage(golden_json("usage_guardrails_typo.json"))

    assert usage == Usage(
        completion_tokens=402, prompt_tokens=93, guard_tokens=677, total_tokens=1172
    )


def test_structured_output_wrapper() -> None:
    raw = golden_text("complete_structured_output.json")

    completion = parse_completion(raw, model="m", detailed=True, response_format=Review)

    assert completion.structured == {"sentiment_categories": {"food_cost": "negative"}}
    assert json.loads(completion.text) == completion.structured
    assert completion.parsed == Review(sentiment_categories=Categories(food_cost="negative"))
    assert completion.model == "mistral-large2"
    assert completion.created == dt.datetime(2025, 2, 4, 15, 42, 24, tzinfo=UTC)
    assert completion.usage == Usage(completion_tokens=60, prompt_tokens=94, total_tokens=154)
    assert completion.raw == raw


def test_structured_output_wrapper_without_response_format_still_gives_the_object() -> None:
    completion = parse_completion(
        golden_text("complete_structured_output.json"), model="m", detailed=True
    )

    assert completion.structured == {"sentiment_categories": {"food_cost": "negative"}}
    assert completion.parsed is None


def test_ai_complete_show_details_structured_sample() -> None:
    completion = parse_completion(
        golden_json("ai_complete_show_details.json"),
        model="llama3.3-70b",
        detailed=True,
        response_format=NoteAnswer,
    )

    assert completion.parsed == NoteAnswer(note=Note(items_count=2, price=["$3.50", "$4.25"]))
    assert completion.model == "llama3.3-70b"
    assert completion.created == dt.datetime(2025, 9, 24, 23, 8, 48, tzinfo=UTC)
    assert completion.usage is not None
    assert completion.usage.total_tokens == 149
    assert completion.usage.guard_tokens is None


@pytest.mark.parametrize(
    "name", ["ai_complete_error_details_object.json", "ai_complete_error_details_text.json"]
)
def test_ai_complete_error_details_value_as_object_or_as_text(name: str) -> None:
    envelope = golden_json(name)
    assert envelope["error"] is None
    completion = parse_completion(
        envelope["value"], model="llama3.3-70b", detailed=True, response_format=NoteAnswer
    )
    assert completion.parsed == NoteAnswer(note=Note(items_count=2, price=["$3.50", "$4.25"]))
    assert completion.usage is not None
    assert completion.usage.total_tokens == 149


def test_bare_structured_object_as_detailed_answer() -> None:
    data = golden_json("structured_bare.json")

    completion = parse_completion(data, model="m", detailed=True, response_format=Review)

    assert completion.structured == data
    assert completion.parsed == Review(sentiment_categories=Categories(food_cost="negative"))
    assert completion.model == "m"
    assert completion.usage is None


def test_bare_structured_object_as_plain_answer() -> None:
    text = golden_text("structured_bare.json")

    completion = parse_completion(text, model="m", detailed=False, response_format=Review)

    assert completion.text == text
    assert completion.structured == {"sentiment_categories": {"food_cost": "negative"}}
    assert completion.parsed is not None
    assert completion.parsed.sentiment_categories.food_cost == "negative"


def test_json_schema_response_format_gives_the_plain_object() -> None:
    schema = {"type": "object", "properties": {"sentiment_categories": {"type": "object"}}}

    completion = parse_completion(
        golden_text("complete_structured_output.json"),
        model="m",
        detailed=True,
        response_format=schema,
    )

    assert completion.parsed == {"sentiment_categories": {"food_cost": "negative"}}


def test_structured_answer_that_does_not_fit_the_model() -> None:
    raw = golden_text("complete_structured_output.json")

    with pytest.raises(StructuredOutputError) as info:
        parse_completion(raw, model="m", detailed=True, response_format=NoteAnswer)

    assert info.value.raw == '{"sentiment_categories": {"food_cost": "negative"}}'
    assert "NoteAnswer" in info.value.message
    assert info.value.op == "complete"
    assert info.value.hint


def test_plain_answer_that_is_not_json_with_a_response_format() -> None:
    with pytest.raises(StructuredOutputError) as info:
        parse_completion(
            "Sure! Here is the JSON:", model="m", detailed=False, response_format=Review
        )

    assert info.value.raw == "Sure! Here is the JSON:"


def test_bare_object_without_a_response_format_is_a_parse_error() -> None:
    with pytest.raises(ResponseParseError) as info:
        parse_completion(golden_text("structured_bare.json"), model="m", detailed=True)

    assert info.value.raw == golden_text("structured_bare.json")


def test_completion_keeps_unknown_fields_in_raw() -> None:
    data = golden_json("complete_options.json")
    data["system_fingerprint"] = "fp_123"

    completion = parse_completion(data, model="m", detailed=True)

    assert completion.raw["system_fingerprint"] == "fp_123"
    assert completion.text == " The unique pattern on a snowflake is"


def test_completion_upper_case_keys() -> None:
    answer = {
        "CHOICES": [{"MESSAGES": "hello"}],
        "CREATED": 1708536426,
        "MODEL": "mistral-7b",
        "USAGE": {"PROMPT_TOKENS": 3, "COMPLETION_TOKENS": 1, "GUARDRAIL_TOKENS": 2},
    }

    completion = parse_completion(answer, model="m", detailed=True)

    assert completion.text == "hello"
    assert completion.model == "mistral-7b"
    assert completion.created == dt.datetime(2024, 2, 21, 17, 27, 6, tzinfo=UTC)
    assert completion.usage == Usage(prompt_tokens=3, completion_tokens=1, guard_tokens=2)


@pytest.mark.parametrize(
    "value",
    [
        '{"choices": [{"messages": "cut o',
        "[]",
        "{}",
        '{"choices": []}',
        '{"choices": [{"text": "x"}]}',
        '{"structured_output": []}',
        None,
    ],
)
def test_detailed_answer_in_another_shape_is_a_parse_error(value: Any) -> None:
    with pytest.raises(ResponseParseError) as info:
        parse_completion(value, model="m", detailed=True)
    assert info.value.raw == value


# -- any JSON value: parses or raises a cortex-tune parse error ---------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)

JOB_KEYS = [
    "status",
    "progress",
    "base_model",
    "created_on",
    "finished_on",
    "model",
    "training_data",
    "validation_data",
    "trained_tokens",
    "training_result",
    "error",
    "options",
    "raw",
    "status_raw",
]
job_like = st.fixed_dictionaries(
    {"id": st.text(min_size=1, max_size=12)},
    optional=dict.fromkeys(JOB_KEYS, json_values),
)
usage_like = st.dictionaries(
    st.sampled_from(
        ["prompt_tokens", "completion_tokens", "guard_tokens", "guardrails _tokens", "total_tokens"]
    )
    | st.text(max_size=8),
    json_values,
    max_size=4,
)
completion_like = st.fixed_dictionaries(
    {},
    optional={
        "choices": st.lists(
            st.fixed_dictionaries({}, optional={"messages": json_values, "message": json_values}),
            max_size=2,
        )
        | json_values,
        "structured_output": st.lists(
            st.fixed_dictionaries({}, optional={"raw_message": json_values, "type": json_values}),
            max_size=2,
        )
        | json_values,
        "created": json_values,
        "model": json_values,
        "usage": usage_like | json_values,
    },
)


def _as_text_or_value(value: Any, as_text: bool) -> Any:
    return json.dumps(value) if as_text else value


@settings(max_examples=300, deadline=None)
@given(value=json_values | job_like, as_text=st.booleans())
def test_parse_job_never_raises_anything_else(value: Any, as_text: bool) -> None:
    try:
        job = parse_job(_as_text_or_value(value, as_text))
    except ResponseParseError:
        return
    assert isinstance(job, FineTuneJob)
    assert isinstance(job.status, JobStatus)


@settings(max_examples=300, deadline=None)
@given(value=json_values | st.lists(job_like | json_values, max_size=3), as_text=st.booleans())
def test_parse_jobs_never_raises_anything_else(value: Any, as_text: bool) -> None:
    try:
        jobs = parse_jobs(_as_text_or_value(value, as_text))
    except ResponseParseError:
        return
    assert all(isinstance(job, JobSummary) for job in jobs)


@settings(max_examples=300, deadline=None)
@given(
    value=json_values | completion_like,
    as_text=st.booleans(),
    response_format=st.sampled_from([None, Review, {"type": "object"}]),
)
def test_parse_completion_never_raises_anything_else(
    value: Any, as_text: bool, response_format: Any
) -> None:
    try:
        completion = parse_completion(
            _as_text_or_value(value, as_text),
            model="m",
            detailed=True,
            response_format=response_format,
        )
    except (ResponseParseError, StructuredOutputError):
        return
    assert isinstance(completion, Completion)
    assert isinstance(completion.text, str)
    if response_format is Review:
        assert isinstance(completion.parsed, Review)

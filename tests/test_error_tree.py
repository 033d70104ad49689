"""The error tree says what to do, and a missing job is a JobNotFoundError however its id is spelled."""

from __future__ import annotations

import pytest
from snowflake.connector import errors

from cortex_tune import (
    ConnectionFailedError,
    Cortex,
    CortexError,
    JobNotFoundError,
    ObjectNotFoundError,
    QueryError,
)
from cortex_tune._core.errors import NO_CONNECTION_HINT, translate
from cortex_tune.testing import FakeBackend

JOB_IDS = [
    "abc",
    "ft_x",
    "ft_00000000-0000-0000-0000-000000000000",
    "CortexFineTuningWorkflow_54cfb2bb-0000",
    "My Job",
]


def _subclasses(root: type[CortexError]) -> list[type[CortexError]]:
    found: list[type[CortexError]] = []
    for cls in root.__subclasses__():
        found += [cls, *_subclasses(cls)]
    return found


def test_every_error_class_has_a_default_hint() -> None:
    classes = [CortexError, *_subclasses(CortexError)]
    assert len(classes) > 25
    missing = [cls.__name__ for cls in classes if not (cls.default_hint or "").strip()]
    assert missing == []


def test_an_error_raised_with_a_message_only_carries_its_class_hint() -> None:
    for cls in (CortexError, QueryError, ObjectNotFoundError, JobNotFoundError):
        assert cls("boom").hint == cls.default_hint


def test_a_missing_job_is_a_missing_object() -> None:
    assert issubclass(JobNotFoundError, ObjectNotFoundError)


@pytest.mark.parametrize("verb", ["describe", "cancel"])
@pytest.mark.parametrize("job_id", JOB_IDS)
def test_a_missing_job_is_job_not_found_however_spelled(verb: str, job_id: str) -> None:
    cx = Cortex(backend=FakeBackend())

    with pytest.raises(JobNotFoundError) as info:
        getattr(cx.finetune, verb)(job_id)

    error = info.value
    assert error.op == f"finetune.{verb}"  # the operation the user called
    assert error.query_id
    assert error.hint is not None and "cx.finetune.list()" in error.hint
    assert "DB.SCHEMA.TABLE" not in str(error)  # not the hint for a missing table


# Texts Snowflake might use for an unknown job id (none is documented), as the connector
# raises them.
LOOKUP_FAILURES = [
    errors.ProgrammingError(
        msg="Fine-tuning job abc does not exist or not authorized.", errno=2003, sqlstate="02000"
    ),
    errors.ProgrammingError(msg="Job abc not found", errno=100357, sqlstate="P0000"),
    errors.ProgrammingError(msg="Unknown job id: 'x'", errno=100357, sqlstate="P0000"),
    errors.ProgrammingError(msg="Object 'ABC' does not exist.", errno=2003, sqlstate="02000"),
]


@pytest.mark.parametrize("op", ["finetune.describe", "finetune.cancel"])
@pytest.mark.parametrize("exc", LOOKUP_FAILURES, ids=lambda e: e.msg[:30])
def test_job_lookups_that_find_nothing_translate_to_job_not_found(
    op: str, exc: errors.ProgrammingError
) -> None:
    error = translate(exc, op=op)
    assert type(error) is JobNotFoundError
    assert error.errno == exc.errno


def test_a_missing_table_elsewhere_stays_an_object_not_found_with_its_hint() -> None:
    exc = errors.ProgrammingError(
        msg="Object 'TRAIN' does not exist or not authorized.", errno=2003, sqlstate="42S02"
    )
    error = translate(exc, op="sql")
    assert type(error) is ObjectNotFoundError
    assert error.hint is not None and "DB.SCHEMA.TABLE" in error.hint


def test_other_refusals_of_a_job_lookup_keep_their_class() -> None:
    exc = errors.ProgrammingError(
        msg="SQL access control error: Insufficient privileges", errno=3001, sqlstate="42501"
    )
    assert not isinstance(translate(exc, op="finetune.describe"), JobNotFoundError)


def test_the_connectors_unknown_connection_name_gets_the_connection_hint() -> None:
    exc = errors.Error(msg="Invalid connection_name 'prod', known ones are []")
    error = translate(exc, op="connect")
    assert type(error) is ConnectionFailedError
    assert error.hint == NO_CONNECTION_HINT


def test_cancel_on_the_emulator_reports_cancel() -> None:
    pytest.importorskip("fakesnow")
    with Cortex.local() as cx, pytest.raises(JobNotFoundError) as info:
        cx.finetune.cancel("abc")
    assert info.value.op == "finetune.cancel"

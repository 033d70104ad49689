"""The models are forward-compatible on their own, not only through the client's parser.

A user who stored DESCRIBE or SHOW output and reads it back with ``model_validate_json``
gets the same tolerance as the client: an unknown status is ``JobStatus.UNKNOWN`` with the
text kept, new fields are kept, and the payload is on ``.raw``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cortex_tune import FineTuneJob, JobStatus, JobSummary
from cortex_tune._core.parsing import parse_job

GOLDEN = Path(__file__).parent / "golden"


def _describe(status: object, **extra: object) -> str:
    data = json.loads((GOLDEN / "describe_success.json").read_text(encoding="utf-8"))
    return json.dumps({**data, "status": status, **extra})


@pytest.mark.parametrize("status", ["QUEUED", "PAUSED", "Archived", "RETRYING_AFTER_FAILURE"])
def test_a_status_this_version_does_not_know_parses_to_unknown(status: str) -> None:
    text = _describe(status, new_field={"nested": 1})

    job = FineTuneJob.model_validate_json(text)

    assert job.status is JobStatus.UNKNOWN
    assert job.status_raw == status
    assert not job.is_terminal
    assert job.raw == json.loads(text)
    assert job.model_extra == {"new_field": {"nested": 1}}
    assert job.model == "mydb.myschema.my_tuned_model"  # the rest is still read


def test_the_model_and_the_clients_parser_agree() -> None:
    text = _describe("QUEUED")
    by_model = FineTuneJob.model_validate_json(text)
    by_parser = parse_job(text)
    assert by_model.model_dump() == by_parser.model_dump()
    assert by_model.raw == by_parser.raw


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("SUCCESS", JobStatus.SUCCESS),
        ("RUNNING", JobStatus.IN_PROGRESS),
        ("canceled", JobStatus.CANCELLED),
        ("FROZEN", JobStatus.UNKNOWN),
        (None, JobStatus.UNKNOWN),
    ],
)
def test_show_entries_parse_on_their_own(status: str | None, expected: JobStatus) -> None:
    entry = {"id": "ft_1", "status": status, "created_on": 1730835118114}

    summary = JobSummary.model_validate(entry)

    assert summary.status is expected
    assert summary.status_raw == status
    assert summary.raw == entry


def test_a_dumped_job_reads_back_the_same() -> None:
    job = FineTuneJob.model_validate_json(_describe("QUEUED"))

    again = FineTuneJob.model_validate_json(job.model_dump_json())

    assert again.model_dump() == job.model_dump()
    assert again.status_raw == "QUEUED"
    assert again.created_on == job.created_on

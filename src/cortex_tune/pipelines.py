"""Pipelines built from cortex-tune's steps. ``distill``: teach a small model what a large one does.

The flow of Snowflake's distillation guide, each step in the warehouse and each callable alone:
label the source rows with a large *teacher* model (:func:`label`), optionally rate the labels
with an LLM judge and keep the good ones (:func:`rate`), build the training table
(:func:`build_training_table`), split it deterministically by key, fine-tune a small *student*
base model (:func:`train`), wait, and evaluate the student against the teacher (and the truth,
when there is one). Every table step is resumable: a re-run answers only the rows still missing
and reuses a job already training on the same table.

Example:
    >>> from cortex_tune import pipelines
    >>> report = pipelines.distill(cx, teacher="llama3.1-405b", student_base="llama3-8b",
    ...     source="TICKETS", key="TICKET_ID", input="REQUEST",
    ...     teacher_prompt=Template("Classify: {REQUEST}"), name="TICKETS_8B")  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cortex_tune._client.cortex import Cortex
from cortex_tune._core.identifiers import quote_column, validate_name
from cortex_tune._core.models import FineTuneJob, JobStatus
from cortex_tune._datasets.datasets import split as split_data
from cortex_tune._finetune.training_data import TrainingData
from cortex_tune._inference.batch import TableRunSummary
from cortex_tune._inference.evaluate import EvalReport
from cortex_tune._inference.sql_batch import Template, source_query
from cortex_tune.sql import Statement

__all__ = [
    "DistillReport",
    "build_training_table",
    "distill",
    "label",
    "rate",
    "split",
    "train",
]

#: The judge is asked for this JSON; rows scoring below the threshold are dropped.
JUDGE_SCHEMA = {
    "type": "object",
    "properties": {"score": {"type": "integer"}},
    "required": ["score"],
}
DEFAULT_JUDGE = Template(
    "Rate from 1 (useless) to 5 (excellent) how well the answer handles the request. "
    'Reply only with JSON {{"score": n}}.\nRequest: {INPUT}\nAnswer: {TEACHER_RESPONSE}'
)


@dataclass(frozen=True)
class DistillReport:
    """What :func:`distill` did, step by step."""

    labelled: TableRunSummary
    rated: TableRunSummary | None
    kept_rows: int
    train_rows: int
    validation_rows: int
    job: FineTuneJob
    student: EvalReport | None
    teacher_accuracy: float | None

    def __str__(self) -> str:
        lines = [
            f"labelled {self.labelled.rows_done} new rows ({self.labelled.rows_failed} failed)",
            f"kept {self.kept_rows} rows: {self.train_rows} train / {self.validation_rows} validation",
            f"job {self.job.id}: {self.job.status.value}, model {self.job.model}",
        ]
        if self.student is not None:
            lines.append(f"student accuracy {self.student.accuracy:.1%} ({self.student.metric})")
        if self.teacher_accuracy is not None:
            lines.append(f"teacher accuracy {self.teacher_accuracy:.1%} (against the truth)")
        return "\n".join(lines)


def _tables(prefix: str) -> tuple[str, str, str]:
    validate_name(prefix, what="table prefix")
    return f"{prefix}_LABELS", f"{prefix}_RATINGS", f"{prefix}_DATA"


def label(
    cx: Cortex,
    teacher: str,
    *,
    source: str,
    key: str,
    prompt: str | Template,
    prefix: str,
    **options: Any,
) -> TableRunSummary:
    """Answer every source row with the teacher into ``<prefix>_LABELS`` (resumable).

    A run (see ``cx.runs``): if an earlier call's labelling still runs in Snowflake, this
    one attaches to it. ``options`` go to :meth:`Cortex.complete_table` (``parallel``,
    ``limit``, ...); to start the labelling and return, call ``cx.complete_table`` with
    ``wait=False`` and the table ``<prefix>_LABELS``.
    """
    labels, _, _ = _tables(prefix)
    summary: TableRunSummary = cx.complete_table(
        teacher, source=source, into=labels, key=key, prompt=prompt, wait=True, **options
    )
    return summary


def _labelled_source(source: str, key: str, input: str, labels: str) -> str:
    k = quote_column(key)
    return (
        f"SELECT s.{k} AS {k}, TO_VARCHAR(s.{quote_column(input)}) AS INPUT, "  # noqa: S608
        f"l.RESPONSE AS TEACHER_RESPONSE FROM ({source_query(source)}) s "
        f"JOIN {labels} l ON s.{k} = l.{k} WHERE l.ERROR IS NULL"
    )


def rate(
    cx: Cortex,
    judge: str,
    *,
    source: str,
    key: str,
    input: str,
    prefix: str,
    judge_prompt: Template = DEFAULT_JUDGE,
) -> TableRunSummary:
    """Ask ``judge`` to score each teacher answer into ``<prefix>_RATINGS`` (resumable).

    The judge template sees ``{INPUT}`` (the source's input column) and ``{TEACHER_RESPONSE}``
    and must answer ``{"score": n}``.
    """
    labels, ratings, _ = _tables(prefix)
    return cx.complete_table(
        judge,
        source=_labelled_source(source, key, input, labels),
        into=ratings,
        key=key,
        prompt=judge_prompt,
        response_format=JUDGE_SCHEMA,
    )


def build_training_table(
    cx: Cortex,
    *,
    source: str,
    key: str,
    input: str,
    prefix: str,
    truth: str | None = None,
    threshold: int | None = None,
) -> int:
    """(Re)build ``<prefix>_DATA`` (key, PROMPT = the raw input, COMPLETION = the teacher's
    answer, TRUTH) from the labels, keeping rows the judge scored ``>= threshold``; return its
    row count. The student learns from the raw input, without the teacher's instructions."""
    labels, ratings, data = _tables(prefix)
    k = quote_column(key)
    truth_sql = f"TO_VARCHAR(s.{quote_column(truth)})" if truth else "CAST(NULL AS VARCHAR)"
    sql = (
        # COPY GRANTS: a rebuild keeps what the user granted on the table since the last run.
        f"CREATE OR REPLACE TABLE {data} COPY GRANTS AS SELECT s.{k} AS {k}, "  # noqa: S608
        f"TO_VARCHAR(s.{quote_column(input)}) AS PROMPT, l.RESPONSE AS COMPLETION, "
        f"{truth_sql} AS TRUTH FROM ({source_query(source)}) s JOIN {labels} l ON s.{k} = l.{k}"
    )
    params: tuple[Any, ...] = ()
    if threshold is not None:
        sql += f" JOIN {ratings} r ON s.{k} = r.{k} WHERE TRY_PARSE_JSON(r.RESPONSE):score::INT >= ? AND l.ERROR IS NULL"
        params = (threshold,)
    else:
        sql += " WHERE l.ERROR IS NULL"
    cx._execute(Statement(sql, params, "pipeline.data"))
    count_sql = f"SELECT COUNT(*) FROM {data}"  # noqa: S608
    return int(cx._execute(Statement(count_sql, (), "pipeline.data")).rows[0][0])


def split(prefix: str, *, key: str, train: float = 0.8) -> tuple[TrainingData, TrainingData]:
    """Training and validation halves of ``<prefix>_DATA``: ``MOD(key, 10) < 8`` for 0.8."""
    _, _, data = _tables(prefix)
    whole = TrainingData.table(data, prompt="PROMPT", completion="COMPLETION")
    return split_data(whole, by=key, train=train)


def train(
    cx: Cortex,
    name: str,
    *,
    student_base: str,
    training: TrainingData,
    validation: TrainingData,
    max_epochs: int | None = None,
) -> FineTuneJob:
    """Create the student's job, or reuse one already training (or trained) on the same data."""
    query = training.to_sql()
    for summary in cx.finetune.list():
        if summary.status in (JobStatus.ERROR, JobStatus.CANCELLED):
            continue
        job = cx.finetune.describe(summary.id)
        if job.training_data and job.training_data.endswith(query):
            return job
    return cx.finetune.create(
        name,
        base_model=student_base,
        training=training,
        validation=validation,
        max_epochs=max_epochs,
    )


def _count(cx: Cortex, data: TrainingData) -> int:
    sql = f"SELECT COUNT(*) FROM ({data.to_sql()})"  # noqa: S608 - validated names, SQL filter
    return int(cx._execute(Statement(sql, (), "pipeline.data")).rows[0][0])


def distill(
    cx: Cortex,
    *,
    teacher: str,
    student_base: str,
    source: str,
    name: str,
    key: str = "ID",
    input: str = "PROMPT",
    teacher_prompt: str | Template | None = None,
    truth: str | None = None,
    judge: str | None = None,
    judge_prompt: Template = DEFAULT_JUDGE,
    threshold: int = 4,
    prefix: str | None = None,
    train_fraction: float = 0.8,
    max_epochs: int | None = None,
    timeout: float | None = None,
    progress: Any = False,
) -> DistillReport:
    """Label with ``teacher``, rate with ``judge`` (optional), split, fine-tune ``student_base``,
    wait, and evaluate the student on the held-out rows (against the truth when given, else
    against the teacher). Re-running resumes from the tables and job already made."""
    prefix = prefix or name
    labelled = label(
        cx, teacher, source=source, key=key, prompt=teacher_prompt or input, prefix=prefix
    )
    rated = None
    if judge is not None:
        rated = rate(
            cx, judge, source=source, key=key, input=input, prefix=prefix, judge_prompt=judge_prompt
        )
    kept = build_training_table(
        cx,
        source=source,
        key=key,
        input=input,
        prefix=prefix,
        truth=truth,
        threshold=threshold if judge is not None else None,
    )
    training, validation = split(prefix, key=key, train=train_fraction)
    job = train(
        cx,
        name,
        student_base=student_base,
        training=training,
        validation=validation,
        max_epochs=max_epochs,
    )
    job = cx.finetune.wait(job.id, timeout=timeout, progress=progress)
    student = teacher_accuracy = None
    if job.succeeded and job.model:
        expected = "TRUTH" if truth else "COMPLETION"
        held_out = TrainingData.table(
            f"{prefix}_DATA", prompt="PROMPT", completion=expected, where=validation.where
        )
        student = cx.evaluate(job.model, held_out)
        if truth:
            teacher_accuracy = _teacher_accuracy(cx, prefix, validation)
    return DistillReport(
        labelled,
        rated,
        kept,
        _count(cx, training),
        _count(cx, validation),
        job,
        student,
        teacher_accuracy,
    )


def _teacher_accuracy(cx: Cortex, prefix: str, validation: TrainingData) -> float:
    _, _, data = _tables(prefix)
    sql = (
        "SELECT DIV0(SUM(IFF(EQUAL_NULL(COMPLETION, TRUTH), 1, 0)), COUNT(*)) "  # noqa: S608
        f"FROM {data} WHERE {validation.where}"
    )
    return float(cx._execute(Statement(sql, (), "pipeline.evaluate")).rows[0][0] or 0.0)

"""``cortex-tune demo``: the support-email workflow end to end on the embedded emulator."""

from __future__ import annotations

import json
import time
from typing import Any

import typer

from cortex_tune._client.cortex import Cortex
from cortex_tune._finetune.training_data import TrainingData
from cortex_tune.sample_data import support_emails

MODEL = "SUPPORT_MISTRAL_7B"
BASE = "mistral-7b"

# The guide's statements, with the data arriving as one bound JSON array (never formatted in).
LOAD = """
CREATE OR REPLACE TABLE SUPPORT_EMAILS AS
SELECT value:ID::INT AS ID, value:BODY::STRING AS BODY,
       value:LABELED_TRUCK::STRING AS LABELED_TRUCK,
       value:LABELED_LOCATION::STRING AS LABELED_LOCATION,
       value:GOLDEN_JSON::STRING AS GOLDEN_JSON
FROM TABLE(FLATTEN(INPUT => PARSE_JSON(?)))
"""
SPLIT = [
    "CREATE OR REPLACE TABLE FINE_TUNING_TRAINING AS SELECT * FROM SUPPORT_EMAILS WHERE MOD(ID, 10) < 8",
    "CREATE OR REPLACE TABLE FINE_TUNING_VALIDATION AS SELECT * FROM SUPPORT_EMAILS WHERE MOD(ID, 10) >= 8",
]
EVALUATE = """
CREATE OR REPLACE TABLE FINE_TUNING_VALIDATION_FINETUNED AS
SELECT ID, BODY, LABELED_TRUCK, LABELED_LOCATION,
       SNOWFLAKE.CORTEX.COMPLETE(?, BODY) AS RESPONSE
FROM FINE_TUNING_VALIDATION
"""
ACCURACY = """
SELECT COUNT(*) AS N,
       DIV0(SUM(IFF(EQUAL_NULL(TRY_PARSE_JSON(RESPONSE):truck::STRING, LABELED_TRUCK), 1, 0)), COUNT(*)),
       DIV0(SUM(IFF(EQUAL_NULL(TRY_PARSE_JSON(RESPONSE):location::STRING, LABELED_LOCATION), 1, 0)), COUNT(*))
FROM FINE_TUNING_VALIDATION_FINETUNED
"""


def _say(text: str = "") -> None:
    typer.echo(text)


def run_demo(
    *, path: str | None = None, progress: bool = True, cx: Cortex | None = None
) -> dict[str, Any]:
    """Run the demo and return its key numbers (the CLI prints them as it goes)."""
    started = time.perf_counter()
    cx = cx or Cortex.local(path)
    _say("cortex-tune demo: fine-tune mistral-7b to read support emails, offline on the emulator")
    _say(
        "(synthetic data; the emulator's fine-tuned model is a nearest-centroid stand-in, see the README)\n"
    )

    rows = support_emails()
    cx.sql(LOAD, [json.dumps(rows)])
    for statement in SPLIT:
        cx.sql(statement)
    (train,) = cx.sql("SELECT COUNT(*) FROM FINE_TUNING_TRAINING")[0]
    (valid,) = cx.sql("SELECT COUNT(*) FROM FINE_TUNING_VALIDATION")[0]
    _say(
        f"1. loaded {len(rows)} emails; split by MOD(ID, 10) < 8: {train} training, {valid} validation"
    )

    training = TrainingData.table("FINE_TUNING_TRAINING", prompt="BODY", completion="GOLDEN_JSON")
    validation = TrainingData.table(
        "FINE_TUNING_VALIDATION", prompt="BODY", completion="GOLDEN_JSON"
    )
    report = cx.finetune.check(BASE, training=training, validation=validation, max_epochs=3)
    trained = report.cost.trained_tokens[0] if report.cost else 0
    _say(
        f"2. checked the data in {report.statements} statements: {len(report.errors)} errors, "
        f"{len(report.warnings)} warnings; about {trained:,} trained tokens (estimate)"
    )
    job = cx.finetune.create(
        MODEL, base_model=BASE, training=training, validation=validation, max_epochs=3
    )
    _say(f"3. created fine-tuning job {job.id} ({BASE} -> {MODEL}), status {job.status.value}")

    done = cx.finetune.wait(job.id, progress=progress)
    result = done.training_result
    _say(f"4. job {done.status.value}: model {done.model}, trained tokens {done.trained_tokens:,}")
    if result is not None:
        _say(
            f"   training loss {result.training_loss:.3f}, validation loss {result.validation_loss:.3f}"
        )
    if not done.succeeded or done.model is None:
        raise typer.Exit(1)

    cx.sql(EVALUATE, [done.model])
    n, truck, location = cx.sql(ACCURACY)[0]
    _say(f"5. answered {n} validation emails with COMPLETE in one statement")
    _say(
        f"6. accuracy (EQUAL_NULL, as in the guide): truck {float(truck):.0%}, location {float(location):.0%}"
    )

    sample = next(r for r in rows if r["ID"] % 10 >= 8)
    reply = cx.complete(done.model, sample["BODY"])
    _say(f'\nexample: "{sample["BODY"]}"\n      -> {reply.text}')
    elapsed = time.perf_counter() - started
    _say(f"\ndone in {elapsed:.1f} s. Next: README.md, examples/, and `cortex-tune --help`.")
    return {
        "checked": report.ok,
        "job_id": done.id,
        "status": done.status.value,
        "trained_tokens": done.trained_tokens,
        "rows": n,
        "truck_accuracy": float(truck),
        "location_accuracy": float(location),
    }

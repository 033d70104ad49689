"""A support-email agent for Tasty Bytes, as in Snowflake's guide "Enhancing Customer Experiences
using Cortex Fine Tuning": fine-tune mistral-7b to read which truck and city an email is about.

Offline (the default) it runs on cortex-tune's embedded emulator with synthetic emails
(``examples/data/support_emails.jsonl``, made by ``examples/data/generate.py``); the emulator's
fine-tuned model is a nearest-centroid stand-in, not a neural network. The same SQL runs on a
real account: ``main(Cortex.connect())``.

    python examples/support_email_agent.py
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cortex_tune import Cortex, FineTuneJob

DATA = Path(__file__).resolve().parent / "data" / "support_emails.jsonl"
MODEL = "SUPPORT_MISTRAL_7B"
BASE = "mistral-7b"

# The rows arrive as one bound JSON array, flattened in SQL (no value is formatted into SQL).
LOAD = """
CREATE OR REPLACE TABLE SUPPORT_EMAILS AS
SELECT value:ID::INT AS ID, value:BODY::STRING AS BODY,
       value:LABELED_TRUCK::STRING AS LABELED_TRUCK,
       value:LABELED_LOCATION::STRING AS LABELED_LOCATION
FROM TABLE(FLATTEN(INPUT => PARSE_JSON(?)))
"""
# The guide's prompt/completion pairs: the email, and the JSON of its labels (null when missing).
EXAMPLES = """
CREATE OR REPLACE TABLE SUPPORT_EXAMPLES AS
SELECT ID, BODY, LABELED_TRUCK, LABELED_LOCATION,
       TO_JSON(OBJECT_CONSTRUCT_KEEP_NULL('truck', LABELED_TRUCK, 'location', LABELED_LOCATION))
           AS GOLDEN_JSON
FROM SUPPORT_EMAILS
"""
# A reproducible split on the id, as the guide does.
SPLIT = [
    "CREATE OR REPLACE TABLE FINE_TUNING_TRAINING AS SELECT * FROM SUPPORT_EXAMPLES WHERE MOD(ID, 10) < 8",
    "CREATE OR REPLACE TABLE FINE_TUNING_VALIDATION AS SELECT * FROM SUPPORT_EXAMPLES WHERE MOD(ID, 10) >= 8",
]
TRAINING = "SELECT BODY AS PROMPT, GOLDEN_JSON AS COMPLETION FROM FINE_TUNING_TRAINING"
VALIDATION = "SELECT BODY AS PROMPT, GOLDEN_JSON AS COMPLETION FROM FINE_TUNING_VALIDATION"
# The fine-tuned model answers every validation email in one statement.
EVALUATE = """
CREATE OR REPLACE TABLE FINE_TUNING_VALIDATION_FINETUNED AS
SELECT ID, BODY, LABELED_TRUCK, LABELED_LOCATION,
       SNOWFLAKE.CORTEX.COMPLETE(?, BODY) AS RESPONSE
FROM FINE_TUNING_VALIDATION
"""
# The guide's ACCURACY function, inlined: DIV0(SUM(IFF(EQUAL_NULL(reference, candidate), 1, 0)), COUNT(*)).
ACCURACY = """
SELECT COUNT(*),
       DIV0(SUM(IFF(EQUAL_NULL(LABELED_TRUCK, TRY_PARSE_JSON(RESPONSE):truck::STRING), 1, 0)), COUNT(*)),
       DIV0(SUM(IFF(EQUAL_NULL(LABELED_LOCATION, TRY_PARSE_JSON(RESPONSE):location::STRING), 1, 0)), COUNT(*)),
       DIV0(SUM(IFF(EQUAL_NULL(LABELED_TRUCK, TRY_PARSE_JSON(RESPONSE):truck::STRING)
                    AND EQUAL_NULL(LABELED_LOCATION, TRY_PARSE_JSON(RESPONSE):location::STRING), 1, 0)),
            COUNT(*))
FROM FINE_TUNING_VALIDATION_FINETUNED
"""


def status_printer(progress: bool = False) -> Callable[[FineTuneJob], None]:
    """A ``progress=`` callback for ``wait()``: prints each status change (and % if asked)."""
    last: list[tuple[str, int]] = []

    def show(job: FineTuneJob) -> None:
        status, percent = job.status_raw or job.status.value, round(job.progress * 100)
        if not last or status != last[-1][0] or (progress and percent != last[-1][1]):
            print(f"   status {status}" + (f" ({percent}%)" if progress else ""))
            last.append((status, percent))

    return show


def main(cx: Cortex | None = None, *, progress: bool = False) -> dict[str, Any]:
    """Run the workflow and return its key numbers."""
    owned = cx is None
    cx = cx or Cortex.local()
    try:
        rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
        cx.sql(LOAD, [json.dumps(rows)])
        cx.sql(EXAMPLES)
        for statement in SPLIT:
            cx.sql(statement)
        (train,) = cx.sql("SELECT COUNT(*) FROM FINE_TUNING_TRAINING")[0]
        (valid,) = cx.sql("SELECT COUNT(*) FROM FINE_TUNING_VALIDATION")[0]
        print(f"loaded {len(rows)} synthetic support emails: {train} training, {valid} validation")

        job = cx.finetune.create(MODEL, base_model=BASE, training=TRAINING, validation=VALIDATION)
        print(f"fine-tuning job {job.id}: {BASE} -> {MODEL}")
        job = cx.finetune.wait(job.id, progress=status_printer(progress))
        print(f"job {job.status.value}: model {job.model}, trained tokens {job.trained_tokens}")
        if not job.succeeded or job.model is None:
            raise SystemExit(f"fine-tuning failed: {job.error}")

        cx.sql(EVALUATE, [job.model])
        n, truck, location, both = cx.sql(ACCURACY)[0]
        print(f"answered {n} validation emails with COMPLETE in one statement")
        print(f"accuracy truck: {float(truck):.1%}")
        print(f"accuracy location: {float(location):.1%}")
        print(f"accuracy truck and location: {float(both):.1%}")
        return {
            "job_id": job.id,
            "status": job.status.value,
            "model": job.model,
            "trained_tokens": job.trained_tokens,
            "validation_rows": n,
            "truck_accuracy": float(truck),
            "location_accuracy": float(location),
            "accuracy": float(both),
        }
    finally:
        if owned:
            cx.close()


if __name__ == "__main__":
    main()

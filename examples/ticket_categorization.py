"""Telecom support-ticket categorisation, as in Snowflake's guide "Serverless LLM Fine-tuning using
Snowflake Cortex AI": label tickets with a large model, fine-tune a small one on those labels.

Offline (the default) it runs on cortex-tune's embedded emulator with synthetic tickets
(``examples/data/support_tickets.jsonl``, made by ``examples/data/generate.py``). Base models
are not available offline, so the large labeller ``llama3.1-405b`` is a registered stand-in
(a keyword rule), and the fine-tuned model is the emulator's nearest-centroid stand-in. The
same SQL runs on a real account: ``main(Cortex.connect())``.

    python examples/ticket_categorization.py
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cortex_tune import Cortex, FineTuneJob, ModelRequest
from cortex_tune.sample_data import keyword_labeller

DATA = Path(__file__).resolve().parent / "data" / "support_tickets.jsonl"
LABELLER = "llama3.1-405b"
BASE = "llama3-8b"
MODEL = "SUPPORT_TICKETS_FINETUNED_LLAMA3_8B"

# The guide's instruction, with the categories of this dataset; bound, never formatted into SQL.
PROMPT = """You are an agent that helps organize requests that come to our support team.

The request category is the reason why the customer reached out. These are the possible types of request categories:

Roaming fees
Slow data speed
Lost phone
Add new line
Closing account
Billing dispute

Try doing it for this request and return only the request category only.

request: """

LOAD = """
CREATE OR REPLACE TABLE SUPPORT_TICKETS AS
SELECT value:TICKET_ID::INT AS TICKET_ID, value:REQUEST::STRING AS REQUEST,
       value:CATEGORY::STRING AS CATEGORY
FROM TABLE(FLATTEN(INPUT => PARSE_JSON(?)))
"""
# The large model labels every ticket in one statement. (The ::STRING before TRIM also works
# around fakesnow 0.12.1 dropping TRIM's second argument.)
LABEL = r"""
CREATE OR REPLACE TABLE SUPPORT_TICKETS_LABELLED AS
SELECT TICKET_ID, REQUEST, CATEGORY, PROMPT,
       TRIM(SNOWFLAKE.CORTEX.COMPLETE(?, PROMPT)::STRING, '\n') AS LARGE_MODEL_RESPONSE
FROM (SELECT *, CONCAT(?, REQUEST) AS PROMPT FROM SUPPORT_TICKETS)
"""
SPLIT = [
    "CREATE OR REPLACE TABLE SUPPORT_TICKETS_TRAIN AS SELECT * FROM SUPPORT_TICKETS_LABELLED WHERE MOD(TICKET_ID, 10) < 8",
    "CREATE OR REPLACE TABLE SUPPORT_TICKETS_EVAL AS SELECT * FROM SUPPORT_TICKETS_LABELLED WHERE MOD(TICKET_ID, 10) >= 8",
]
TRAINING = "SELECT PROMPT, LARGE_MODEL_RESPONSE AS COMPLETION FROM SUPPORT_TICKETS_TRAIN"
VALIDATION = "SELECT PROMPT, LARGE_MODEL_RESPONSE AS COMPLETION FROM SUPPORT_TICKETS_EVAL"
EVALUATE = r"""
CREATE OR REPLACE TABLE SUPPORT_TICKETS_EVAL_FINETUNED AS
SELECT TICKET_ID, REQUEST, CATEGORY, LARGE_MODEL_RESPONSE,
       TRIM(SNOWFLAKE.CORTEX.COMPLETE(?, PROMPT)::STRING, '\n') AS FINE_TUNED_RESPONSE
FROM SUPPORT_TICKETS_EVAL
"""
# Accuracy against the true CATEGORY (EQUAL_NULL, as the guides score), on held-out tickets.
ACCURACY = """
SELECT COUNT(*),
       DIV0(SUM(IFF(EQUAL_NULL(CATEGORY, FINE_TUNED_RESPONSE), 1, 0)), COUNT(*)),
       DIV0(SUM(IFF(EQUAL_NULL(CATEGORY, LARGE_MODEL_RESPONSE), 1, 0)), COUNT(*)),
       DIV0(SUM(IFF(EQUAL_NULL(LARGE_MODEL_RESPONSE, FINE_TUNED_RESPONSE), 1, 0)), COUNT(*))
FROM SUPPORT_TICKETS_EVAL_FINETUNED
"""


def stand_in_labeller(request: ModelRequest) -> str:
    """The offline stand-in for llama3.1-405b: labels the ticket after 'request:' by keywords."""
    return keyword_labeller(request.prompt.rsplit("request:", 1)[-1])


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
        register = getattr(cx.backend, "register_model", None)
        if register is not None:  # the emulator: no base models offline
            register(LABELLER, stand_in_labeller)
            print(f"{LABELLER} is an offline stand-in (a keyword rule), not the real model")

        rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
        cx.sql(LOAD, [json.dumps(rows)])
        cx.sql(LABEL, [LABELLER, PROMPT])
        for statement in SPLIT:
            cx.sql(statement)
        (train,) = cx.sql("SELECT COUNT(*) FROM SUPPORT_TICKETS_TRAIN")[0]
        (held_out,) = cx.sql("SELECT COUNT(*) FROM SUPPORT_TICKETS_EVAL")[0]
        print(f"labelled {len(rows)} synthetic tickets with {LABELLER} in one statement")
        print(f"split by MOD(TICKET_ID, 10) < 8: {train} training, {held_out} held out")

        job = cx.finetune.create(MODEL, base_model=BASE, training=TRAINING, validation=VALIDATION)
        print(f"fine-tuning job {job.id}: {BASE} -> {MODEL}")
        job = cx.finetune.wait(job.id, progress=status_printer(progress))
        print(f"job {job.status.value}: model {job.model}, trained tokens {job.trained_tokens}")
        if not job.succeeded or job.model is None:
            raise SystemExit(f"fine-tuning failed: {job.error}")

        cx.sql(EVALUATE, [job.model])
        n, tuned, labeller, agreement = cx.sql(ACCURACY)[0]
        print(f"accuracy on {n} held-out tickets against the true category:")
        print(f"accuracy fine-tuned {BASE}: {float(tuned):.1%}")
        print(f"accuracy {LABELLER} labeller: {float(labeller):.1%}")
        print(f"fine-tuned model agrees with the labeller on {float(agreement):.1%}")
        return {
            "job_id": job.id,
            "status": job.status.value,
            "model": job.model,
            "trained_tokens": job.trained_tokens,
            "held_out_rows": n,
            "tuned_accuracy": float(tuned),
            "labeller_accuracy": float(labeller),
            "agreement": float(agreement),
        }
    finally:
        if owned:
            cx.close()


if __name__ == "__main__":
    main()

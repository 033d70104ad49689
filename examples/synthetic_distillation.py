"""Synthetic data and distillation, as in Snowflake's guide "Use Llama 3.1 405B to Build Custom LLMs
with Synthetic Data Generation and Distillation": a large model writes support tickets per
category, an LLM judge keeps the good ones, and llama3-8b is fine-tuned on them.

Offline (the default) it runs on cortex-tune's embedded emulator. Base models are not available
offline, so the writer and the judge (both ``llama3.1-405b``) are a registered stand-in: it
answers with synthetic tickets (``examples/data/teacher_tickets.jsonl``, some off-topic) and
rates a ticket by a rule. The
fine-tuned model is the emulator's nearest-centroid stand-in. The same SQL runs on a real
account: ``main(Cortex.connect())``.

    python examples/synthetic_distillation.py
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cortex_tune import Cortex, FineTuneJob, ModelRequest

DATA = Path(__file__).resolve().parent / "data" / "teacher_tickets.jsonl"
TEACHER = "llama3.1-405b"
BASE = "llama3-8b"
MODEL = "SUPPORT_TICKETS_FINETUNED"

# The guide's prompts, bound around the category or the ticket (never formatted into SQL).
# fmt: off
WRITE = ("Please provide 25 examples of customer service calls in a telecom company for the following category:", '. Provide detailed and realistic scenarios that customer service representatives might encounter. Ensure the examples are diverse and cover various situations within each category. Please put the  examples into a JSON list. Each element in JSON list should include the following: {"scenario": <scenario>, "request": <detailed request from the customer, which usually is less than 3 sentences.>}. Only include JSON in output and no other words.')
JUDGE = ("You are a judge to verify if a the support ticket received in a telecom company is realistic, and valid, please give scores from 1 to 5 for each category and give your final recommendation for the given question. Support Ticket: ", ' Please give the score in JSON format alone following this example: "{"realistic": 5, "valid": 4}".  You can put a reason into the result JSON as "reason": <reason>. Only include JSON in the output and no other words.')
# fmt: on

STATEMENTS = [
    "CREATE OR REPLACE TABLE SUPPORT_TICKET_CATEGORY (CATEGORY STRING)",
    "INSERT INTO SUPPORT_TICKET_CATEGORY (CATEGORY) VALUES ('Roaming fees'), ('Slow data speed'), ('Lost phone'), ('Add new line'), ('Closing account')",
]
# COMPLETE runs in a subquery and TRY_PARSE_JSON outside it: fakesnow 0.12.1 would otherwise
# run COMPLETE twice per row (it rewrites TRY_PARSE_JSON(x) to repeat x) and repeat the binds.
GENERATE = """
CREATE OR REPLACE TABLE SUPPORT_TICKETS AS
SELECT CATEGORY, TRY_PARSE_JSON(RESPONSE) AS TICKETS
FROM (SELECT CATEGORY, SNOWFLAKE.CORTEX.COMPLETE(?, CONCAT(?, CATEGORY, ?)) AS RESPONSE
      FROM SUPPORT_TICKET_CATEGORY)
"""
# One ticket a row, with ids that are the same on every engine (HASH differs between engines).
FLATTEN = """
CREATE OR REPLACE TABLE FLATTEN_SUPPORT_TICKETS AS
SELECT CATEGORY, ROW_NUMBER() OVER (ORDER BY CATEGORY, value:request::STRING) AS ID,
       value:request::STRING AS REQUEST, value:scenario::STRING AS SCENARIO
FROM SUPPORT_TICKETS, LATERAL FLATTEN(INPUT => TICKETS)
"""
RATE = """
CREATE OR REPLACE TABLE RATE_SUPPORT_TICKETS AS
SELECT CATEGORY, ID, REQUEST, SCENARIO, TRY_PARSE_JSON(RESPONSE) AS RATING
FROM (SELECT *, SNOWFLAKE.CORTEX.COMPLETE(?, CONCAT(?, REQUEST, ?)) AS RESPONSE
      FROM FLATTEN_SUPPORT_TICKETS)
"""
SPLIT = [
    "CREATE OR REPLACE TABLE FILTERED_SUPPORT_TICKETS AS SELECT * FROM RATE_SUPPORT_TICKETS WHERE RATING['realistic'] >= 4 AND RATING['valid'] >= 4",
    "CREATE OR REPLACE TABLE TRAINING_DATA AS SELECT * FROM FILTERED_SUPPORT_TICKETS WHERE MOD(ID, 10) < 8",
    "CREATE OR REPLACE TABLE VALIDATION_DATA AS SELECT * FROM FILTERED_SUPPORT_TICKETS WHERE MOD(ID, 10) >= 8",
]
TRAINING = "SELECT REQUEST AS PROMPT, CATEGORY AS COMPLETION FROM TRAINING_DATA"
VALIDATION = "SELECT REQUEST AS PROMPT, CATEGORY AS COMPLETION FROM VALIDATION_DATA"
# No prompt template any more: the student gets the ticket text alone. (The ::STRING before
# TRIM also works around fakesnow 0.12.1 dropping TRIM's second argument.)
EVALUATE = r"""
CREATE OR REPLACE TABLE VALIDATION_FINETUNED AS
SELECT ID, REQUEST, CATEGORY,
       TRIM(SNOWFLAKE.CORTEX.COMPLETE(?, REQUEST)::STRING, '\n') AS FINE_TUNED_MODEL_RESPONSE
FROM VALIDATION_DATA
"""
ACCURACY = """
SELECT COUNT(*), DIV0(SUM(IFF(EQUAL_NULL(CATEGORY, FINE_TUNED_MODEL_RESPONSE), 1, 0)), COUNT(*))
FROM VALIDATION_FINETUNED
"""

# Telecom words, for the stand-in judge's rule.
TELECOM = {"phone", "line", "account", "data", "roaming", "sim", "bill", "plan", "contract", "speed", "internet", "charge", "charges", "providers", "service", "travel", "4g"}  # fmt: skip


def stand_in_teacher(request: ModelRequest, tickets: list[dict[str, str]]) -> Any:
    """Offline stand-in for llama3.1-405b: writes tickets from a file, or judges one by a rule."""
    if "Support Ticket: " in request.prompt:  # the judge's prompt
        ticket = request.prompt.split("Support Ticket: ", 1)[1].split(" Please give the score")[0]
        words = re.findall(r"[a-z0-9]+", ticket.lower())
        return {"realistic": 5 if len(words) >= 6 else 2, "valid": 5 if TELECOM & set(words) else 1}
    found = re.search(r"provide (\d+) examples.*category:(.*?)\. Provide", request.prompt, re.S)
    n, category = (int(found[1]), found[2].strip()) if found else (0, "")
    return [t for t in tickets if t["category"] == category][:n]


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
        if stand_ins := register is not None:  # the emulator: no base models offline
            tickets = [json.loads(line) for line in DATA.read_text("utf-8").splitlines()]
            register(TEACHER, lambda request: stand_in_teacher(request, tickets))
            print(f"{TEACHER} (writer and judge) is an offline stand-in, not the real model")
        for statement in STATEMENTS:
            cx.sql(statement)
        cx.sql(GENERATE, [TEACHER, *WRITE])
        cx.sql(FLATTEN)
        cx.sql(RATE, [TEACHER, *JUDGE])
        for statement in SPLIT:
            cx.sql(statement)
        (generated,) = cx.sql("SELECT COUNT(*) FROM FLATTEN_SUPPORT_TICKETS")[0]
        (kept,) = cx.sql("SELECT COUNT(*) FROM FILTERED_SUPPORT_TICKETS")[0]
        (train,) = cx.sql("SELECT COUNT(*) FROM TRAINING_DATA")[0]
        print(f"{TEACHER} wrote {generated} synthetic tickets; the judge kept {kept} (both >= 4)")
        print(f"split by MOD(ID, 10) < 8: {train} training, {kept - train} validation")

        job = cx.finetune.create(MODEL, base_model=BASE, training=TRAINING, validation=VALIDATION)
        print(f"fine-tuning job {job.id}: {BASE} -> {MODEL}")
        job = cx.finetune.wait(job.id, progress=status_printer(progress))
        print(f"job {job.status.value}: model {job.model}, trained tokens {job.trained_tokens}")
        if not job.succeeded or job.model is None:
            raise SystemExit(f"fine-tuning failed: {job.error}")

        cx.sql(EVALUATE, [job.model])
        n, accuracy = cx.sql(ACCURACY)[0]
        print(f"accuracy of the distilled {BASE} on {n} held-out tickets: {float(accuracy):.1%}")
        return {
            "job_id": job.id,
            "status": job.status.value,
            "model": job.model,
            "trained_tokens": job.trained_tokens,
            "stand_ins": stand_ins,
            "generated": generated,
            "kept": kept,
            "validation_rows": n,
            "accuracy": float(accuracy),
        }
    finally:
        if owned:
            cx.close()


if __name__ == "__main__":
    main()

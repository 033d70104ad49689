"""The messages of the data rules' findings, by code and severity (see :mod:`cortex_tune._core.rules`).

Only what Cortex refuses is an error; everything else is a warning or a note.
"""

from __future__ import annotations

from typing import Literal

Severity = Literal["error", "warning", "info"]

#: What Cortex (and the emulator) refuses: a bad base model at once; a failing query, missing
#: columns, no usable rows or too many rows as an ERROR job.
ERRORS = {
    "unknown-base-model": "invalid base model {name!r} for fine-tuning; choose one of: {bases}",
    "fine-tuned-base": (
        "{name!r} looks like a fine-tuned model; Cortex fine-tunes only base models, so "
        "fine-tune the base it came from on all the data instead; the bases: {bases}"
    ),
    "query-failed": "{what} fails, so the job would fail too: {error}",
    "missing-columns": (
        "the {data} query has no {missing} column; it returns: {columns}. Alias the text "
        "columns: SELECT <prompt text> AS prompt, <completion text> AS completion ...{near}"
    ),
    "no-rows": (
        "The training data has no rows with a prompt and a completion: check the query's "
        "filter and that PROMPT and COMPLETION are not all NULL."
    ),
    "too-many-rows": "{limit}: keep fewer rows (a filter or SAMPLE), or set fewer epochs",
}
#: What Cortex accepts but is most likely a mistake.
WARNINGS = {
    "deprecated-base-model": "base model {name} is deprecated and may be refused: use {bases}",
    "legacy-base-model": (
        "base model {name} is in the older copies of the FINETUNE reference only; the newest "
        "lists {bases} alone (https://docs.snowflake.com/en/sql-reference/functions/finetune-create)"
        ", and an account that never used a legacy model can't start using it "
        "(https://docs.snowflake.com/en/user-guide/snowflake-cortex/aisql-regional-availability)"
        ": Cortex may refuse the job; {bases} is the safe choice"
    ),
    "tokens-uncounted": (
        "Cortex could not count the tokens of {n} {data} row(s) (its counter answered NULL), "
        "so their tokens are estimates (about four characters a token)"
    ),
    "no-validation-rows": (
        "the validation query has no row with a prompt and a completion, so its loss means "
        "nothing: fix its filter, or leave it out to let Cortex split the training data"
    ),
    "null-prompt": (
        "{n} {data} row(s) have a NULL prompt and teach nothing: filter them out "
        "(WHERE prompt IS NOT NULL); the examples are their completions"
    ),
    "null-completion": (
        "{n} {data} row(s) have a NULL completion and teach nothing: filter them out "
        "(WHERE completion IS NOT NULL)"
    ),
    "empty-prompt": (
        "{n} {data} row(s) have an empty prompt: fix or filter them; the examples are their "
        "completions"
    ),
    "empty-completion": (
        "{n} {data} row(s) have an empty completion, which teaches the model to answer nothing: "
        "fix or filter them"
    ),
    "duplicate-pairs": (
        "{n} {data} row(s) repeat an identical prompt/completion pair, weighing it more and "
        "billing it again: use SELECT DISTINCT unless that is intended"
    ),
    "prompt-too-long": (
        "{n} {data} prompt(s) exceed {model}'s {prompt_limit:,}-token prompt allotment (longest: "
        "{longest_prompt:,}) and Cortex truncates them: shorten them or pick a larger base"
    ),
    "completion-too-long": (
        "{n} {data} completion(s) exceed {model}'s {completion_limit:,}-token allotment (longest: "
        "{longest_completion:,}) and Cortex truncates them: shorten them or pick a larger base"
    ),
    "not-text": (
        "the {data} query's {columns} column(s) do not hold text: cast them, "
        "e.g. TO_VARCHAR(x) AS completion, so the model learns the text you expect"
    ),
    "overlap": (
        "{n} prompt(s) appear in both the training and the validation data, so the "
        "validation loss flatters the model: remove them from one side"
    ),
}
#: Notes: guidance from Cortex's guide, and how the check's numbers were reached.
NOTES = {
    "trailing-semicolon": (
        "the {data} query ends with ';', which cortex-tune removes before sending (Cortex would "
        "fail the job); remove it too where you pass the query to FINETUNE yourself"
    ),
    "few-rows": (
        "{n} usable training row(s): Cortex's guide suggests starting with a few hundred "
        "examples and adding more if the results fall short"
    ),
    "auto-validation-split": (
        "no validation query: Cortex holds some training rows out for validation itself (it "
        "trains on fewer rows than counted here); pass validation=... to choose them"
    ),
    "epochs-auto": (
        "max_epochs is not set: Cortex chooses 1 to 10 epochs, so trained tokens and credits "
        "are a range, and the row limit checked is the {epochs}-epoch one ({limit:,} rows)"
    ),
    "token-estimate": (
        "token counts are estimates (about {chars:g} characters a token); "
        "server_tokens=True counts them with Cortex instead (billed compute)"
    ),
    "no-credit-rate": (
        "no credit rate for {name}: cortex-tune ships none (Snowflake publishes them in its "
        "Service Consumption Table); pass credits_per_million={{{name!r}: <rate>}} for credits"
    ),
}
#: Every code: (severity, message template).
RULES: dict[str, tuple[Severity, str]] = {
    **{code: ("error", text) for code, text in ERRORS.items()},
    **{code: ("warning", text) for code, text in WARNINGS.items()},
    **{code: ("info", text) for code, text in NOTES.items()},
}

"""Probes of one statement each: completions in both generations, token counts, FINETUNE reads.

Where cortex-tune has a builder for the shape (:mod:`cortex_tune.sql`), the probe runs the
builder's statement, so the report tests what cortex-tune sends; the other shapes (the plain
forms, each AI_COMPLETE option alone, TRY_COMPLETE with options) are written here, every value
bound. Completions ask for one output token (``max_tokens = 1``) except the two-argument forms,
which take no options, and the structured ones, whose smallest answer is a few tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cortex_tune._conformance import reading as r
from cortex_tune._conformance.runner import Context, Finding, Probe, Settings, refused
from cortex_tune._conformance.shape import json_container
from cortex_tune._core.errors import CortexError
from cortex_tune._core.statement import Statement, dump_json
from cortex_tune._finetune.jobs import refuses_bound_arguments
from cortex_tune.sql import (
    complete_options,
    complete_sql,
    count_tokens_sql,
    finetune_describe_sql,
    finetune_show_sql,
)

#: A model no account has: its refusals cost nothing and show the error forms.
UNKNOWN_MODEL = "cortex-tune-no-such-model"
#: A well-formed job id no account has.
MISSING_JOB = "ft_00000000-0000-4000-8000-000000000000"

Read = Callable[[Any, Settings], dict[str, str]]
Build = Callable[[Settings], Statement]


def _one_token() -> dict[str, Any]:
    return complete_options(max_tokens=1)


def _structured(s: Settings) -> dict[str, Any]:
    return complete_options(max_tokens=s.structured_tokens, response_format=r.SCHEMA)


def _ai(s: Settings, *args: str, params: dict[str, Any] | None = None) -> Statement:
    """AI_COMPLETE with named arguments; ``args`` are the extra ones, values bound in order."""
    sql = "SELECT AI_COMPLETE(model => ?, prompt => ?"
    values: list[Any] = [s.model, s.prompt]
    for arg in args:
        if arg == "model_parameters":
            sql += ", model_parameters => PARSE_JSON(?)"
            values.append(dump_json(params if params is not None else {"max_tokens": 1}))
        else:
            sql += f", {arg} => TRUE"
    return Statement(sql + ")", tuple(values), "ai_complete")


def statement_probe(
    name: str,
    rows: tuple[str, ...],
    billed: int,
    build: Build,
    read: Read | None = None,
    *,
    on_error: Callable[[CortexError], dict[str, str]] | None = None,
) -> Probe:
    """A probe that runs ``build``'s statement once; ``on_error`` makes an error the answer."""

    def run(ctx: Context) -> Finding:
        try:
            result = ctx.run(build(ctx.settings))
        except CortexError as exc:
            if on_error is None:
                raise
            return Finding(error=exc, observed=on_error(exc), error_text=True)
        finding = Finding(answer=result.scalar(), query_id=result.query_id)
        if read is not None:
            finding.observed.update(read(finding.answer, ctx.settings))
        return finding

    return Probe(name, rows, build(Settings()).sql, billed, run)


def _legacy_options(a: Any, _s: Settings) -> dict[str, str]:
    return {
        "C-COMPLETE-02": "a PARSE_JSON array and options accepted; " + r.text_form(a),
        "C-COMPLETE-04": r.key_list(a),
        "C-COMPLETE-05": r.usage_form(a),
    }


def _details_and_errors(a: Any, s: Settings) -> dict[str, str]:
    value = r.inner_value(a)
    return {
        "C-AI-06": r.error_object_form(a),
        "C-AI-07": r.value_form(a)
        + f"; cortex-tune's parser: {r.parses(value, model=s.model, structured=False)}",
    }


def _structured_details(a: Any, s: Settings) -> dict[str, str]:
    value = r.inner_value(a)
    return {
        "C-COMPLETE-08": "a schema with required and additionalProperties: false accepted",
        "C-AI-05": r.structured_form(value),
        "C-AI-07": r.value_form(a)
        + f"; cortex-tune's parser: {r.parses(value, model=s.model, structured=True)}",
    }


def _raised(row: str) -> Callable[[CortexError], dict[str, str]]:
    return lambda exc: {row: f"raised {refused(exc)}"}


def _null_or_value(row: str, what: str) -> Read:
    return lambda a, _s: {row: "NULL" if a is None else f"{what}: {r.text_form(a)}"}


def _describe_missing(a: Any, _s: Settings) -> dict[str, str]:
    seen = "NULL" if a is None else "an answer, not an error: " + r.key_list(a)
    return {"C-FT-15": seen, "C-FT-10": "a bound job id accepted"}


def _describe_error(exc: CortexError) -> dict[str, str]:
    if refuses_bound_arguments(exc):
        return {"C-FT-10": f"a bound job id refused: {refused(exc)}"}
    return {
        "C-FT-15": f"a SQL error: {refused(exc)}",
        "C-ERR-05": "the error text is kept in this probe's error.text",
        "C-FT-10": "a bound job id compiled (the error is not a bind refusal)",
    }


def _show(a: Any, _s: Settings) -> dict[str, str]:
    data = json_container(a) if not isinstance(a, list) else a
    if not isinstance(data, list):
        return {"C-FT-16": f"not an ARRAY: {r.text_form(a)}"}
    if not data:
        return {"C-FT-16": "an empty ARRAY (no job to show the element keys)"}
    keys = sorted({str(k) for item in data if isinstance(item, dict) for k in item})
    return {"C-FT-16": f"an ARRAY of objects with keys {', '.join(keys)}"}


def _integer(row: str) -> Read:
    return lambda a, _s: {
        row: "an integer" if isinstance(a, int) and not isinstance(a, bool) else r.text_form(a)
    }


LEGACY_COMPLETE_PLAIN = statement_probe(
    "legacy.complete.plain",
    ("C-COMPLETE-01", "C-DEPR-02"),
    1,
    lambda s: complete_sql(s.model, s.prompt, functions="legacy"),
    lambda a, _s: {
        "C-COMPLETE-01": r.text_form(a),
        "C-DEPR-02": "legacy COMPLETE answers in this account",
    },
)

LEGACY_COMPLETE_OPTIONS = statement_probe(
    "legacy.complete.options",
    ("C-COMPLETE-02", "C-COMPLETE-04", "C-COMPLETE-05"),
    1,
    lambda s: complete_sql(s.model, s.prompt, options=_one_token(), functions="legacy"),
    _legacy_options,
)

LEGACY_COMPLETE_STRUCTURED = statement_probe(
    "legacy.complete.structured",
    ("C-COMPLETE-07", "C-COMPLETE-08"),
    1,
    lambda s: complete_sql(s.model, s.prompt, options=_structured(s), functions="legacy"),
    lambda a, _s: {
        "C-COMPLETE-07": r.structured_form(a),
        "C-COMPLETE-08": "a schema with required and additionalProperties: false accepted",
    },
)

LEGACY_TRY_COMPLETE_OPTIONS = statement_probe(
    "legacy.try_complete.options",
    ("C-COMPLETE-09", "C-COMPLETE-02"),
    1,
    lambda s: Statement(
        "SELECT SNOWFLAKE.CORTEX.TRY_COMPLETE(?, PARSE_JSON(?), PARSE_JSON(?))",
        (s.model, dump_json([{"role": "user", "content": s.prompt}]), dump_json(_one_token())),
        "complete",
    ),
    lambda a, _s: {"C-COMPLETE-09": "answered like COMPLETE: " + r.key_list(a)},
)

LEGACY_TRY_COMPLETE_UNKNOWN_MODEL = statement_probe(
    "legacy.try_complete.unknown_model",
    ("C-COMPLETE-09",),
    0,
    lambda s: Statement(
        "SELECT SNOWFLAKE.CORTEX.TRY_COMPLETE(?, ?)", (UNKNOWN_MODEL, s.prompt), "complete"
    ),
    _null_or_value("C-COMPLETE-09", "not NULL for an unknown model"),
    on_error=_raised("C-COMPLETE-09"),
)

AI_COMPLETE_PLAIN = statement_probe(
    "ai.complete.plain",
    ("C-AI-01", "C-AI-04"),
    1,
    lambda s: _ai(s),
    lambda a, _s: {"C-AI-01": "named arguments accepted", "C-AI-04": r.text_form(a)},
)

AI_COMPLETE_MODEL_PARAMETERS = statement_probe(
    "ai.complete.model_parameters",
    ("C-AI-01", "C-AI-02", "C-AI-04"),
    1,
    lambda s: _ai(s, "model_parameters"),
    lambda a, _s: {
        "C-AI-01": "model_parameters as a PARSE_JSON VARIANT accepted",
        "C-AI-02": "max_tokens 1 accepted",
        "C-AI-04": "without show_details: " + r.text_form(a),
    },
)

AI_COMPLETE_SHOW_DETAILS = statement_probe(
    "ai.complete.show_details",
    ("C-AI-05", "C-COMPLETE-05"),
    1,
    lambda s: _ai(s, "model_parameters", "show_details"),
    lambda a, _s: {"C-AI-05": r.key_list(a), "C-COMPLETE-05": r.usage_form(a)},
)

AI_COMPLETE_RETURN_ERROR_DETAILS = statement_probe(
    "ai.complete.return_error_details",
    ("C-AI-06",),
    1,
    lambda s: _ai(s, "model_parameters", "return_error_details"),
    lambda a, _s: {"C-AI-06": r.error_object_form(a)},
)

AI_COMPLETE_DETAILS_AND_ERRORS = statement_probe(
    "ai.complete.details_and_errors",
    ("C-AI-06", "C-AI-07"),
    1,
    lambda s: complete_sql(s.model, s.prompt, options=_one_token(), functions="ai"),
    _details_and_errors,
)

AI_COMPLETE_STRUCTURED = statement_probe(
    "ai.complete.structured",
    ("C-AI-03", "C-AI-04"),
    1,
    lambda s: Statement(
        "SELECT AI_COMPLETE(model => ?, prompt => ?, model_parameters => PARSE_JSON(?), "
        "response_format => PARSE_JSON(?))",
        (
            s.model,
            s.prompt,
            dump_json({"max_tokens": s.structured_tokens}),
            dump_json(_structured(s)["response_format"]),
        ),
        "ai_complete",
    ),
    lambda a, _s: {
        "C-AI-03": "response_format as its own argument (a PARSE_JSON VARIANT) accepted",
        "C-AI-04": "without show_details: " + r.structured_form(a),
    },
)

AI_COMPLETE_STRUCTURED_DETAILS = statement_probe(
    "ai.complete.structured_details",
    ("C-AI-05", "C-AI-07", "C-COMPLETE-08"),
    1,
    lambda s: complete_sql(s.model, s.prompt, options=_structured(s), functions="ai"),
    _structured_details,
)

AI_COMPLETE_UNKNOWN_MODEL = statement_probe(
    "ai.complete.unknown_model",
    ("C-AI-06", "C-ERR-04", "C-ERR-06"),
    0,
    lambda s: _ai(
        Settings(model=UNKNOWN_MODEL, prompt=s.prompt),
        "model_parameters",
        "return_error_details",
    ),
    lambda a, _s: {
        "C-AI-06": r.error_object_form(a),
        "C-ERR-06": "no error raised; " + r.value_form(a),
        "C-ERR-04": "error text: " + r.error_field(a),
    },
    on_error=_raised("C-ERR-06"),
)

LEGACY_COUNT_TOKENS = statement_probe(
    "legacy.count_tokens",
    ("C-TOKENS-01",),
    0,
    lambda s: count_tokens_sql(s.model, s.prompt, functions="legacy"),
    _integer("C-TOKENS-01"),
)

AI_COUNT_TOKENS = statement_probe(
    "ai.count_tokens",
    ("C-TOKENS-02",),
    0,
    lambda s: count_tokens_sql(s.model, s.prompt, functions="ai"),
    _integer("C-TOKENS-02"),
)

AI_COUNT_TOKENS_UNKNOWN_MODEL = statement_probe(
    "ai.count_tokens.unknown_model",
    ("C-TOKENS-02",),
    0,
    lambda s: count_tokens_sql(UNKNOWN_MODEL, s.prompt, functions="ai"),
    _null_or_value("C-TOKENS-02", "not NULL for an unknown model"),
    on_error=_raised("C-TOKENS-02"),
)

FINETUNE_SHOW = statement_probe(
    "finetune.show", ("C-FT-16",), 0, lambda _s: finetune_show_sql(), _show
)

FINETUNE_DESCRIBE_MISSING = statement_probe(
    "finetune.describe_missing",
    ("C-FT-15", "C-ERR-05", "C-FT-10"),
    0,
    lambda _s: finetune_describe_sql(MISSING_JOB),
    _describe_missing,
    on_error=_describe_error,
)


def probes() -> list[Probe]:
    """The single-statement probes, in report order."""
    return [
        LEGACY_COMPLETE_PLAIN,
        LEGACY_COMPLETE_OPTIONS,
        LEGACY_COMPLETE_STRUCTURED,
        LEGACY_TRY_COMPLETE_OPTIONS,
        LEGACY_TRY_COMPLETE_UNKNOWN_MODEL,
        AI_COMPLETE_PLAIN,
        AI_COMPLETE_MODEL_PARAMETERS,
        AI_COMPLETE_SHOW_DETAILS,
        AI_COMPLETE_RETURN_ERROR_DETAILS,
        AI_COMPLETE_DETAILS_AND_ERRORS,
        AI_COMPLETE_STRUCTURED,
        AI_COMPLETE_STRUCTURED_DETAILS,
        AI_COMPLETE_UNKNOWN_MODEL,
        LEGACY_COUNT_TOKENS,
        AI_COUNT_TOKENS,
        AI_COUNT_TOKENS_UNKNOWN_MODEL,
        FINETUNE_SHOW,
        FINETUNE_DESCRIBE_MISSING,
    ]

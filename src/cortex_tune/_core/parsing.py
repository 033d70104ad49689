"""Parsing of Cortex results into models: the only place Cortex JSON is decoded."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ValidationError

from cortex_tune._core.errors import QueryError, ResponseParseError, StructuredOutputError
from cortex_tune._core.models import Completion, FineTuneJob, JobStatus, JobSummary, Usage

_GUARD_KEY = re.compile(r"guard\w*tokens")


def load_json(value: Any, *, what: str) -> Any:
    """Decode a JSON text (VARIANT columns arrive as text); pass dicts and lists through."""
    if isinstance(value, (dict, list)):
        return value
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        raise ResponseParseError(
            f"{what}: expected JSON text, got {type(value).__name__}", raw=value
        )
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise ResponseParseError(f"{what}: malformed JSON ({exc.msg})", raw=value) from exc


def _object(value: Any, what: str) -> dict[str, Any]:
    data = load_json(value, what=what)
    if not isinstance(data, dict):
        raise ResponseParseError(f"{what}: expected a JSON object", raw=value)
    return {str(k).lower(): v for k, v in data.items()}


def parse_job(value: Any) -> FineTuneJob:
    """FINETUNE('DESCRIBE') output to a :class:`FineTuneJob`."""
    data = _object(value, "FINETUNE('DESCRIBE')")
    return _build(FineTuneJob, data, value)  # type: ignore[return-value]


def parse_jobs(value: Any) -> list[JobSummary]:
    """FINETUNE('SHOW') output to a list of :class:`JobSummary`."""
    data = None if value is None else load_json(value, what="FINETUNE('SHOW')")
    if data is None:
        return []
    if not isinstance(data, list):
        raise ResponseParseError("FINETUNE('SHOW'): expected a JSON array", raw=value)
    jobs = []
    for item in data:
        if not isinstance(item, dict):
            raise ResponseParseError("FINETUNE('SHOW'): expected objects in the array", raw=value)
        jobs.append(_build(JobSummary, {str(k).lower(): v for k, v in item.items()}, item))
    return jobs


def _build(cls: type[JobSummary], data: dict[str, Any], raw: Any) -> JobSummary:
    if not isinstance(data.get("id"), str) or not data["id"]:
        raise ResponseParseError("job object without an id", raw=raw)
    fields = dict(data)
    fields["status_raw"] = None if data.get("status") is None else str(data["status"])
    fields["status"] = JobStatus.parse(data.get("status"))
    if isinstance(fields.get("options"), str):
        fields["options"] = load_json(fields["options"], what="job options") or {}
    if fields.get("options") is None:
        fields.pop("options", None)
    for key in ("error", "training_result"):
        if fields.get(key) in (None, "", {}):
            fields.pop(key, None)
        elif isinstance(fields[key], str):
            fields[key] = (
                {"message": fields[key]} if key == "error" else load_json(fields[key], what=key)
            )
        if isinstance(fields.get(key), dict):  # keys arrive upper-cased from object literals
            fields[key] = {str(k).lower(): v for k, v in fields[key].items()}
    if fields.get("progress") is None:
        fields.pop("progress", None)
    try:
        return cls.model_validate({**fields, "raw": raw if isinstance(raw, dict) else data})
    except ValidationError as exc:
        raise ResponseParseError(
            f"job object does not fit the documented shape: {exc}", raw=raw
        ) from exc


def parse_job_id(value: Any) -> str:
    """FINETUNE('CREATE') output: the job id string."""
    if not isinstance(value, str) or not value.strip():
        raise ResponseParseError("FINETUNE('CREATE') returned no job id", raw=value)
    text = value.strip()
    # A JSON-quoted string is still an id.
    if text.startswith('"') and text.endswith('"'):
        text = str(load_json(text, what="FINETUNE('CREATE')"))
    return text


def parse_usage(data: Any) -> Usage | None:
    """A usage object, accepting any spelling of the guard-token key."""
    if not isinstance(data, dict):
        return None
    fields: dict[str, Any] = {}
    for key, val in data.items():
        norm = str(key).lower().replace(" ", "")
        if _GUARD_KEY.fullmatch(norm):
            fields["guard_tokens"] = val
        else:
            fields[norm] = val
    try:
        return Usage.model_validate(fields)
    except ValidationError as exc:
        raise ResponseParseError(f"usage object does not fit: {exc}", raw=data) from exc


def parse_completion(
    value: Any,
    *,
    model: str,
    detailed: bool,
    response_format: Any = None,
) -> Completion[Any]:
    """COMPLETE / AI_COMPLETE output to a :class:`Completion`.

    ``detailed`` says the statement asked for the JSON envelope (legacy options form, or
    ``show_details``). Handles ``choices[0].messages``, ``structured_output[0].raw_message``
    and a bare structured object.
    """
    if value is None:
        raise ResponseParseError("COMPLETE returned NULL (the row failed)", raw=value)
    if not detailed:
        text = value if isinstance(value, str) else json.dumps(value)
        return _with_parsed(Completion(text=text, model=model, raw=value), response_format)
    data = load_json(value, what="COMPLETE")
    if not isinstance(data, dict):
        raise ResponseParseError("COMPLETE: expected a JSON object", raw=value)
    lowered = {str(k).lower(): v for k, v in data.items()}
    structured: Any = None
    if isinstance(lowered.get("structured_output"), dict):
        # "structured_output: A json object following the specified response format" (the
        # Returns text), where every example shows [{"raw_message": ...}].
        structured = lowered["structured_output"]
        text = json.dumps(structured, ensure_ascii=False)
    elif "structured_output" in lowered:
        structured = _first(lowered["structured_output"], "raw_message", value)
        text = json.dumps(structured, ensure_ascii=False)
    elif "choices" in lowered:
        text_value = _first(lowered["choices"], "messages", value)
        if isinstance(text_value, (dict, list)):
            structured = text_value
            text = json.dumps(text_value, ensure_ascii=False)
        else:
            text = str(text_value)
    elif response_format is not None:
        structured = data
        text = json.dumps(data, ensure_ascii=False)
    else:
        raise ResponseParseError(
            "COMPLETE: no choices or structured_output in the answer", raw=value
        )
    usage = parse_usage(lowered.get("usage"))
    try:
        completion: Completion[Any] = Completion(
            text=text,
            model=lowered.get("model") or model,
            created=lowered.get("created"),
            usage=usage,
            structured=structured,
            raw=value,
        )
    except ValidationError as exc:
        raise ResponseParseError(f"COMPLETE answer does not fit: {exc}", raw=value) from exc
    return _with_parsed(completion, response_format)


def _first(items: Any, key: str, raw: Any) -> Any:
    if not isinstance(items, list) or not items or not isinstance(items[0], dict):
        raise ResponseParseError(f"COMPLETE: expected a non-empty list carrying {key!r}", raw=raw)
    first = {str(k).lower(): v for k, v in items[0].items()}
    if key not in first:
        # OpenAI-style {"message": {"content": ...}} as a courtesy to future shapes.
        message = first.get("message")
        if isinstance(message, dict) and "content" in message:
            return message["content"]
        raise ResponseParseError(f"COMPLETE: {key!r} missing from the answer", raw=raw)
    return first[key]


def _with_parsed(completion: Completion[Any], response_format: Any) -> Completion[Any]:
    if response_format is None:
        return completion
    structured = completion.structured
    if structured is None:
        try:
            structured = json.loads(completion.text)
        except json.JSONDecodeError as exc:
            raise StructuredOutputError(
                "the model's answer is not JSON", raw=completion.text, op="complete"
            ) from exc
    parsed: Any = structured
    if isinstance(response_format, type) and issubclass(response_format, BaseModel):
        try:
            parsed = response_format.model_validate(structured)
        except ValidationError as exc:
            raise StructuredOutputError(
                f"the model's answer does not fit {response_format.__name__}: {exc}",
                raw=completion.text,
                op="complete",
            ) from exc
    return completion.model_copy(update={"structured": structured, "parsed": parsed})


def parse_count(value: Any) -> int:
    """COUNT_TOKENS / AI_COUNT_TOKENS output to an int.

    Raises:
        QueryError: The answer is NULL: "By default, if AI_COUNT_TOKENS can't process the
            input, the function returns NULL." Cortex could not count, which is never zero.
        ResponseParseError: The answer is not an integer.
    """
    if value is None:
        raise QueryError(
            "the token count is NULL: Cortex could not count these tokens",
            hint="AI_COUNT_TOKENS answers NULL for a model it does not know or does not "
            "support (fine-tuned models among them); count with the base model's name.",
        )
    if isinstance(value, bool):
        raise ResponseParseError("COUNT_TOKENS returned a boolean", raw=value)
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise ResponseParseError("COUNT_TOKENS returned no integer", raw=value) from exc

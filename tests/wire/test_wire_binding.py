"""Values are bound on the wire: prompts travel in ``bindings``, never in ``sqlText``."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wire_faults import LOGIN, Seen
from wire_server import CREATE, TRAINING, WireServer, create_job, training_table

from cortex_tune import Cortex, Message
from cortex_tune._core.constants import MARKER_PREFIX, QUERY_TAG
from cortex_tune._emulator.models import ModelRequest

SENTINEL = "wire-sentinel 'quoted' \"double\" \\ $$ -- ; ? %s \x00 é 😀"


def _bound_values(request: Seen) -> list[str]:
    return [str(b["value"]) for b in request.bindings.values()]


def _carries(request: Seen, prompt: str) -> bool:
    """Whether a bound value is the prompt, or a JSON array of messages holding it."""
    for value in _bound_values(request):
        if value == prompt:
            return True
        try:
            messages = json.loads(value)
        except ValueError:
            continue
        if isinstance(messages, list) and any(
            isinstance(m, dict) and m.get("content") == prompt for m in messages
        ):
            return True
    return False


@pytest.mark.parametrize("functions", ["ai", "legacy"])
def test_prompt_travels_in_bindings_never_in_sql_text(
    wire: WireServer, cx: Cortex, functions: str
) -> None:
    client = cx.with_options(functions=functions)  # type: ignore[arg-type]

    assert client.complete("echo", SENTINEL).text == SENTINEL

    (request,) = wire.injector.requests()
    assert _carries(request, SENTINEL)
    assert "wire-sentinel" not in request.sql
    assert "?" in request.sql
    assert {b["type"] for b in request.bindings.values()} == {"TEXT"}


def test_conversation_and_options_are_bound_as_json(wire: WireServer, cx: Cortex) -> None:
    legacy = cx.with_options(functions="legacy")
    conversation = [Message.system("be terse " + SENTINEL), Message.user(SENTINEL)]

    answer = legacy.complete("echo", conversation, temperature=0.2, max_tokens=50)

    assert answer.text == SENTINEL
    (request,) = wire.injector.requests()
    assert "wire-sentinel" not in request.sql
    messages = json.loads(_bound_values(request)[1])
    assert [m["content"] for m in messages] == ["be terse " + SENTINEL, SENTINEL]
    assert json.loads(_bound_values(request)[2]) == {"temperature": 0.2, "max_tokens": 50}


def test_create_binds_name_base_model_and_training_query(wire: WireServer, cx: Cortex) -> None:
    training_table(cx)
    wire.injector.reset()

    job = create_job(cx, "WIRE_BOUND")

    (request,) = wire.injector.requests(sql=CREATE)
    assert request.sql == "SELECT SNOWFLAKE.CORTEX.FINETUNE('CREATE', ?, ?, ?)"
    name, base, training = _bound_values(request)
    assert (name, base) == ("WIRE_BOUND", "mistral-7b")
    assert training.startswith(f"/* {MARKER_PREFIX}") and training.endswith(TRAINING)
    assert job.training_data == training


def test_session_is_tagged_with_cortex_tune(wire: WireServer, cx: Cortex) -> None:
    logins = wire.injector.requests(path=LOGIN)
    assert logins, "the client logged in through the harness"
    parameters = logins[-1].body["data"]["SESSION_PARAMETERS"]
    assert parameters["QUERY_TAG"] == QUERY_TAG


# Text Snowflake can hold: any code point but lone surrogates (which UTF-8 cannot carry).
PROMPTS = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=300),
    st.lists(
        st.sampled_from(["'", "''", '"', "\\", "\\\\", "$$", "\x00", "?", "%s", "--", ";", "é"]),
        max_size=20,
    ).map("".join),
)


@pytest.mark.parametrize("functions", ["ai", "legacy"])
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(prompt=PROMPTS)
def test_any_prompt_round_trips_byte_exact(cx: Cortex, functions: str, prompt: str) -> None:
    client = cx.with_options(functions=functions)  # type: ignore[arg-type]

    text = client.complete("echo", prompt).text

    assert text.encode("utf-8") == prompt.encode("utf-8")


def _digest(request: ModelRequest) -> str:
    prompt = request.prompt.encode("utf-8")
    return f"{len(prompt)}:{hashlib.sha256(prompt).hexdigest()}"


def test_one_megabyte_prompt_round_trips(wire: WireServer, cx: Cortex) -> None:
    prompt = "é'\\$$\x00 ünïcødé 😀 " * 42_000
    assert len(prompt.encode("utf-8")) > 2**20
    wire.emulator.register_model("digest", _digest)

    # Both generations answer a digest (answers are capped by max_tokens, as Cortex's are).
    legacy = cx.with_options(functions="legacy").complete("digest", prompt).text
    digest = cx.with_options(functions="ai").complete("digest", prompt).text

    expected = hashlib.sha256(prompt.encode("utf-8")).hexdigest()
    assert legacy == digest == f"{len(prompt.encode('utf-8'))}:{expected}"
    for request in wire.injector.requests():
        assert _carries(request, prompt)
        assert len(request.sql) < 200

"""The client's behaviour through FakeBackend: completions, generations, options, lifecycle."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel
from snowflake.connector import errors as sf

from cortex_tune import (
    ConfigurationError,
    Cortex,
    CortexError,
    InvalidOptionsError,
    JobStatus,
    Message,
    QueryError,
    StructuredOutputError,
    TrainingData,
    TrainingDataError,
    UnknownFunctionError,
    UnknownModelError,
)
from cortex_tune.sql import Statement, complete_sql
from cortex_tune.testing import FakeBackend, ModelRequest


class Ticket(BaseModel):
    category: str
    urgent: bool


@pytest.mark.parametrize("functions", ["ai", "legacy"])
def test_plain_prompt_returns_text_and_usage(fake: FakeBackend, functions: Any) -> None:
    fake.respond("mistral-7b", lambda r: f"echo: {r.prompt}")
    c = Cortex(backend=fake, functions=functions).complete("mistral-7b", "It's broken")
    assert str(c) == "echo: It's broken"
    assert c.usage is not None
    assert c.usage.total_tokens
    assert c.model == "mistral-7b"


def test_options_return_usage_and_created(cx: Cortex, fake: FakeBackend) -> None:
    fake.respond("llama3.1-70b", "a reply of some length")
    c = cx.complete("llama3.1-70b", "hello", temperature=0, max_tokens=50)
    assert c.usage is not None
    assert c.usage.completion_tokens == 6
    assert c.usage.total_tokens == c.usage.prompt_tokens + c.usage.completion_tokens  # type: ignore[operator]
    assert c.created is not None and c.created.tzinfo is not None


def test_conversation_reaches_the_model_with_roles(cx: Cortex, fake: FakeBackend) -> None:
    seen: list[ModelRequest] = []
    fake.respond("llama3.1-70b", lambda r: seen.append(r) or "ok")
    convo = [
        Message.system("You label tickets."),
        Message.user("My bill is wrong"),
        Message.assistant("billing"),
    ]
    convo.append(Message.user("And my phone is dead"))
    assert cx.complete("llama3.1-70b", convo).text == "ok"
    assert [m["role"] for m in seen[0].messages] == ["system", "user", "assistant", "user"]
    # AI_COMPLETE has no conversation form: auto mode used legacy COMPLETE for it.
    assert fake.statements[-1].op == "complete"


def test_auto_mode_prefers_ai_complete(cx: Cortex, fake: FakeBackend) -> None:
    fake.respond("mistral-7b", "x")
    cx.complete("mistral-7b", "hi")
    cx.count_tokens("mistral-7b", "hi")
    assert fake.ops() == ["ai_complete", "ai_count_tokens"]


def test_auto_mode_falls_back_to_legacy_once_when_ai_functions_are_missing(
    fake: FakeBackend,
) -> None:
    fake.respond("mistral-7b", "x")
    missing = sf.ProgrammingError(
        msg="SQL compilation error:\nUnknown function AI_COMPLETE",
        errno=2140,
        sqlstate="42601",
        send_telemetry=False,
    )
    fake.fail_next(missing, op="ai_complete")
    cx = Cortex(backend=fake)
    assert cx.complete("mistral-7b", "hi").text == "x"
    assert cx.complete("mistral-7b", "again").text == "x"
    assert fake.ops() == ["ai_complete", "complete", "complete"]


def test_explicit_generation_does_not_fall_back(fake: FakeBackend) -> None:
    fake.fail_next(
        sf.ProgrammingError(msg="Unknown function AI_COMPLETE", errno=2140, send_telemetry=False)
    )
    with pytest.raises(UnknownFunctionError):
        Cortex(backend=fake, functions="ai").complete("mistral-7b", "hi")


@pytest.mark.parametrize("functions", ["legacy", "ai"])
def test_structured_output_is_validated_into_the_model(fake: FakeBackend, functions: Any) -> None:
    fake.respond("llama3.1-70b", lambda r: {"category": "billing", "urgent": True})
    c = Cortex(backend=fake, functions=functions).complete(
        "llama3.1-70b", "Label: my bill doubled", response_format=Ticket
    )
    assert c.parsed == Ticket(category="billing", urgent=True)
    assert json.loads(c.text) == {"category": "billing", "urgent": True}
    sent = json.loads(str(fake.statements[-1].params[-1]))
    schema = sent["response_format"]["schema"] if functions == "legacy" else sent["schema"]
    assert schema["required"] == ["category", "urgent"]
    assert schema["additionalProperties"] is False


def test_structured_output_that_does_not_fit_is_a_typed_error(
    cx: Cortex, fake: FakeBackend
) -> None:
    fake.respond("llama3.1-70b", lambda r: {"category": "billing", "urgent": "very"})
    with pytest.raises(StructuredOutputError) as info:
        cx.complete("llama3.1-70b", "Label it", response_format=Ticket)
    assert info.value.raw is not None and "very" in info.value.raw


def test_a_model_answering_non_json_to_a_schema_is_a_typed_error(
    cx: Cortex, fake: FakeBackend
) -> None:
    fake.respond("llama3.1-70b", "Sure! Here is your JSON")
    with pytest.raises(StructuredOutputError, match="json mode output validation error"):
        cx.complete("llama3.1-70b", "Label it", response_format=Ticket)


def test_bad_options_never_reach_snowflake(cx: Cortex, fake: FakeBackend) -> None:
    with pytest.raises(ConfigurationError):
        cx.complete("mistral-7b", "hi", temperature=3)
    with pytest.raises(ConfigurationError):
        cx.complete("mistral-7b", [{"role": "robot", "content": "x"}])
    assert fake.statements == []


@pytest.mark.parametrize(
    "options",
    [{"temperature": 5}, {"top_p": 2}, {"max_tokens": 0}, {"max_tokens": 8193}],
    ids=["temperature", "top_p", "max_tokens-0", "max_tokens-8193"],
)
def test_options_out_of_documented_range_are_one_class_before_any_io(
    cx: Cortex, fake: FakeBackend, options: dict[str, Any]
) -> None:
    with pytest.raises(InvalidOptionsError) as info:
        cx.complete("mistral-7b", "hi", **options)
    assert isinstance(info.value, ConfigurationError)  # a bad argument, as the README says
    assert fake.statements == []


def test_options_cortex_refuses_are_the_same_class(cx: Cortex, fake: FakeBackend) -> None:
    # A fine-tuned model's output limit is not documented: the client lets Cortex decide, and
    # the emulator applies its base model's (8,192 for llama3.1-8b), refusing with the class
    # the client uses before any I/O.
    fake.add_query(
        "SELECT P AS prompt, C AS completion FROM T", [{"PROMPT": "a", "COMPLETION": "b"}]
    )
    job = cx.finetune.create(
        "MINE", base_model="llama3.1-8b", training="SELECT P AS prompt, C AS completion FROM T"
    )
    model = cx.finetune.wait(job.id, progress=False).model
    assert model is not None
    for functions in ("legacy", "ai"):
        with pytest.raises(InvalidOptionsError) as info:
            cx.with_options(functions=functions).complete(model, "hi", max_tokens=100_000)  # type: ignore[arg-type]
        assert isinstance(info.value, ConfigurationError)
    assert [s.op for s in fake.statements[-2:]] == ["complete", "ai_complete"]


def test_models_with_a_larger_documented_limit_are_not_capped(
    cx: Cortex, fake: FakeBackend
) -> None:
    # "max_tokens: ... Maximum allowed value: 8192" on the function pages, while the model
    # table gives claude-sonnet-4-5 "| 200,000 | 64,000 |": client and emulator both follow the
    # table for the models it lists.
    fake.respond("claude-sonnet-4-5", "x")
    assert cx.complete("claude-sonnet-4-5", "hi", max_tokens=20_000).text == "x"
    with pytest.raises(InvalidOptionsError):
        cx.complete("claude-sonnet-4-5", "hi", max_tokens=64_001)
    fake.respond("mistral-7b", "x")
    with pytest.raises(InvalidOptionsError):
        cx.complete("mistral-7b", "hi", max_tokens=8_193)
    assert len(fake.statements) == 1  # both refused before any I/O


def test_the_emulator_follows_the_model_table_for_output_limits(fake: FakeBackend) -> None:
    fake.respond("claude-sonnet-4-5", "x")
    fake.respond("mistral-7b", "x")
    for functions in ("legacy", "ai"):
        backend = Cortex(backend=fake, functions=functions).backend  # type: ignore[arg-type]
        for model, max_tokens, ok in (
            ("claude-sonnet-4-5", 64_000, True),
            ("claude-sonnet-4-5", 64_001, False),
            ("mistral-7b", 8_192, True),
            ("mistral-7b", 8_193, False),
        ):
            statement = complete_sql(
                model,
                "hi",
                options={"max_tokens": max_tokens},
                functions=functions,  # type: ignore[arg-type]
            )
            try:  # the legacy function raises; AI_COMPLETE answers {value, error}
                answer = str(backend.execute(statement).scalar())
            except sf.ProgrammingError as exc:
                answer = str(exc)
            assert ("invalid options object" not in answer) is ok, (functions, model, max_tokens)


@pytest.mark.parametrize(
    "conversation",
    [
        [Message.user("a"), Message.user("b")],
        [Message.assistant("a")],
        [Message.system("s"), Message.assistant("a")],
        [Message.user("a"), Message.assistant("b"), Message.assistant("c")],
        Message.assistant("alone"),
    ],
    ids=["user-user", "assistant-first", "assistant-after-system", "assistant-twice", "single"],
)
def test_conversations_out_of_order_never_reach_snowflake(
    cx: Cortex, fake: FakeBackend, conversation: Any
) -> None:
    fake.respond("mistral-7b", "x")
    with pytest.raises(ConfigurationError, match="cannot come") as info:
        cx.complete("mistral-7b", conversation)
    assert info.value.hint
    with pytest.raises(ConfigurationError, match="cannot come"):
        cx.complete_many("mistral-7b", [conversation])
    assert fake.statements == []


def test_the_emulator_refuses_the_same_orders(fake: FakeBackend) -> None:
    fake.respond("mistral-7b", "x")
    statement = Statement(
        "SELECT SNOWFLAKE.CORTEX.COMPLETE(?, PARSE_JSON(?), PARSE_JSON(?))",
        ("mistral-7b", json.dumps([{"role": "user", "content": "a"}] * 2), "{}"),
        "complete",
    )
    with pytest.raises(sf.ProgrammingError, match="cannot follow user"):
        fake.execute(statement)


def test_structured_output_error_always_carries_the_raw_text(cx: Cortex, fake: FakeBackend) -> None:
    fake.respond("llama3.1-70b", "Sure! Here is your JSON")
    with pytest.raises(StructuredOutputError) as info:
        cx.complete("llama3.1-70b", "Label it", response_format=Ticket)
    assert info.value.raw
    assert "json mode output validation error" in info.value.raw


def test_count_tokens_of_a_fine_tuned_model_counts_with_its_base_model(
    cx: Cortex, fake: FakeBackend
) -> None:
    job = cx.finetune.wait(
        cx.finetune.create("SUPPORT_MODEL", base_model="mistral-7b", training="SELECT 1").id,
        progress=False,
    )
    text = "how many tokens is this?"
    assert cx.count_tokens("SUPPORT_MODEL", text) == cx.count_tokens("mistral-7b", text)
    assert job.model is not None
    fake.statements.clear()
    assert cx.count_tokens(job.model, text) == cx.count_tokens("mistral-7b", text)
    # The base model was looked up once (SHOW + DESCRIBE) and remembered for the first name.
    assert cx.count_tokens("SUPPORT_MODEL", text) > 0
    assert fake.ops().count("finetune.show") == 1


def test_count_tokens_of_an_unknown_model_is_still_an_error(cx: Cortex, fake: FakeBackend) -> None:
    # "By default, if AI_COUNT_TOKENS can't process the input, the function returns NULL":
    # NULL is "could not count", never a count of zero.
    with pytest.raises(QueryError, match="could not count"):
        cx.count_tokens("mistral-7c", "x")
    assert "finetune.show" not in fake.ops()  # not a fine-tuned model's name: no lookup
    with pytest.raises(CortexError):
        cx.count_tokens("NO_SUCH_MODEL", "x")
    with pytest.raises(UnknownModelError):  # the legacy function raises, with the reason
        cx.with_options(functions="legacy").count_tokens("mistral-7c", "x")


def test_tracer_sees_every_statement_that_runs(fake: FakeBackend) -> None:
    seen: list[tuple[str, tuple[Any, ...]]] = []
    cx = Cortex(backend=fake, tracer=lambda s, p: seen.append((s, p)))
    fake.respond("mistral-7b", "x")
    fake.fail_next(times=1)
    cx.complete("mistral-7b", "hi")
    job = cx.finetune.create("M", base_model="mistral-7b", training="SELECT 1")
    assert [s for s, _ in seen] == [st.sql for st in fake.statements]
    assert seen[0] == seen[1]  # the retried attempt is traced too
    assert job.id in seen[-1][1]


def test_with_options_shares_the_backend_and_does_not_close_it(fake: FakeBackend) -> None:
    cx = Cortex(backend=fake)
    legacy = cx.with_options(functions="legacy")
    fake.respond("mistral-7b", "x")
    legacy.complete("mistral-7b", "hi")
    assert fake.ops() == ["complete"]
    legacy.close()
    assert not fake.closed
    with cx:
        pass
    assert fake.closed


def test_from_connection_never_closes_the_callers_connection() -> None:
    class Connection:
        closed = False
        _paramstyle = "qmark"

        def close(self) -> None:
            self.closed = True

    conn = Connection()
    with Cortex.from_connection(conn):
        pass
    assert conn.closed is False


def test_end_to_end_on_the_fake(cx: Cortex, fake: FakeBackend) -> None:
    fake.add_query(
        "SELECT BODY AS prompt, LABEL AS completion FROM TICKETS",
        [
            {"PROMPT": f"ticket about {topic} {i}", "COMPLETION": topic}
            for i in range(30)
            for topic in ("billing", "roaming")
        ],
    )
    job = cx.finetune.create(
        "TICKETS_MODEL",
        base_model="llama3-8b",
        training=TrainingData.table("TICKETS", prompt="BODY", completion="LABEL"),
        max_epochs=2,
    )
    assert job.status is JobStatus.PENDING
    assert job.options == {"max_epochs": 2}
    done = cx.finetune.wait(job.id, progress=False)
    assert done.succeeded and done.model
    assert cx.complete(done.model, "a question about roaming charges").text == "roaming"
    assert cx.complete("TICKETS_MODEL", "billing question").text == "billing"


def test_duplicate_model_names_get_a_suffix(cx: Cortex) -> None:
    a = cx.finetune.create("SAME", base_model="mistral-7b", training="SELECT 1")
    b = cx.finetune.create("SAME", base_model="mistral-7b", training="SELECT 2")
    a, b = cx.finetune.wait(a.id, progress=False), cx.finetune.wait(b.id, progress=False)
    assert a.model == "CORTEX_LOCAL.PUBLIC.SAME"
    assert b.model == "CORTEX_LOCAL.PUBLIC.SAME_1"


def test_unknown_base_model_is_refused_synchronously(cx: Cortex) -> None:
    with pytest.raises(TrainingDataError, match="invalid base model"):
        cx.finetune.create("M", base_model="gpt-5", training="SELECT 1")


def test_fake_backend_runs_no_arbitrary_sql(cx: Cortex) -> None:
    with pytest.raises(ConfigurationError, match=r"Cortex\.local"):
        cx.sql("SELECT 1")


def test_repr_is_short_and_safe(cx: Cortex) -> None:
    assert repr(cx).startswith("Cortex(backend=FakeBackend(")


def test_functions_option_is_checked() -> None:
    with pytest.raises(Exception, match=r"functions"):
        Cortex(backend=FakeBackend(), functions="newest")  # type: ignore[arg-type]


def test_auto_mode_keeps_sending_conversations_to_legacy(fake: FakeBackend) -> None:
    fake.respond("mistral-7b", "x")
    cx = Cortex(backend=fake)
    cx.complete("mistral-7b", "first a plain prompt")
    cx.complete("mistral-7b", [Message.system("s"), Message.user("u")], temperature=0.1)
    assert fake.ops() == ["ai_complete", "complete"]

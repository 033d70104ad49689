"""Streaming and routing through the real openai client against the local Chat Completions fake."""

from __future__ import annotations

import asyncio

import pytest
from fake_server import ChatFake
from pydantic import BaseModel

from conftest import PAT, rest_params
from cortex_tune import Completion, CompletionStream, Cortex, Message
from cortex_tune.testing import FakeBackend

STORY = "Once upon a time a snowflake fell on a quiet town."


def test_stream_yields_deltas_then_the_completion(cx: Cortex, chat: ChatFake) -> None:
    chat.register("llama3.1-70b", STORY)
    with cx.complete("llama3.1-70b", "Tell me a story", stream=True, max_tokens=100) as stream:
        assert isinstance(stream, CompletionStream)
        deltas = list(stream)
    assert len(deltas) > 5
    assert "".join(deltas) == STORY
    completion = stream.completion
    assert completion.text == STORY
    assert completion.finish_reason == "stop"
    assert completion.usage is not None and completion.usage.completion_tokens
    assert stream.transport == "rest"
    sent = chat.requests[0]
    assert sent.body["stream"] is True
    assert sent.body["stream_options"] == {"include_usage": True}
    assert sent.body["max_completion_tokens"] == 100
    assert "max_tokens" not in sent.body
    assert sent.headers["authorization"] == f"Bearer {PAT}"
    assert sent.headers["x-snowflake-authorization-token-type"] == "PROGRAMMATIC_ACCESS_TOKEN"


def test_completion_before_the_end_says_how_to_get_it(cx: Cortex, chat: ChatFake) -> None:
    chat.register("llama3.1-70b", STORY)
    stream = cx.complete("llama3.1-70b", "Tell me a story", stream=True)
    assert next(stream) == "Once"
    with pytest.raises(Exception, match="has not ended"):
        _ = stream.completion
    assert stream.until_done().text == STORY
    assert stream.text == STORY


def test_auto_keeps_single_prompts_on_sql_and_sends_conversations_to_rest(
    cx: Cortex, chat: ChatFake, fake: FakeBackend
) -> None:
    fake.respond("llama3.1-70b", "from SQL")
    chat.register("llama3.1-70b", "from REST")
    assert cx.complete("llama3.1-70b", "Hi").text == "from SQL"
    conversation = [Message.system("Be brief"), Message.user("Hi")]
    answer = cx.complete("llama3.1-70b", conversation)
    assert answer.text == "from REST"
    assert fake.ops() == ["ai_complete"]  # the conversation never touched legacy COMPLETE
    assert chat.requests[0].body["messages"] == [
        {"role": "system", "content": "Be brief"},
        {"role": "user", "content": "Hi"},
    ]
    assert cx.complete("llama3.1-70b", "Hi", transport="rest").text == "from REST"
    assert cx.complete("llama3.1-70b", conversation, transport="sql").text == "from SQL"
    assert fake.ops() == ["ai_complete", "complete"]


def test_plan_shows_transport_and_request_without_sending(cx: Cortex, chat: ChatFake) -> None:
    plan = cx.plan_complete("llama3.1-70b", [Message.user("Hi")], stream=True, temperature=0.2)
    assert plan.transport == "rest"
    assert plan.request is not None and plan.statement is None
    assert plan.request.url == f"{chat.base_url}/chat/completions"
    assert plan.request.headers["Authorization"] == "Bearer ***"
    assert plan.request.body["temperature"] == 0.2
    assert PAT not in str(plan) and PAT not in repr(plan)
    sql_plan = cx.plan_complete("llama3.1-70b", "Hi")
    assert sql_plan.transport == "sql" and sql_plan.statement is not None
    assert "AI_COMPLETE" in sql_plan.statement.sql
    assert chat.requests == []


def test_structured_output_is_validated_into_parsed(cx: Cortex, chat: ChatFake) -> None:
    class Ticket(BaseModel):
        label: str
        urgent: bool

    chat.register("llama3.1-70b", lambda _r: {"label": "billing", "urgent": True})
    stream = cx.complete("llama3.1-70b", "My bill", response_format=Ticket, stream=True)
    completion = stream.until_done()
    assert completion.parsed == Ticket(label="billing", urgent=True)
    fmt = chat.requests[0].body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "Ticket"
    assert set(fmt["json_schema"]["schema"]["required"]) == {"label", "urgent"}


def test_a_stream_without_rest_yields_the_sql_answer_whole(fake: FakeBackend) -> None:
    fake.respond("llama3.1-70b", STORY)
    cx = Cortex(backend=fake, transport="sql")
    stream = cx.complete("llama3.1-70b", "Tell me a story", stream=True)
    assert list(stream) == [STORY]
    assert stream.transport == "sql"
    assert stream.completion.text == STORY


def test_async_stream_and_completion(cx: Cortex, chat: ChatFake) -> None:
    chat.register("llama3.1-70b", STORY)

    async def main() -> tuple[list[str], Completion[object], Completion[object]]:
        stream = await cx.acomplete("llama3.1-70b", "Tell me a story", stream=True)
        async with stream:
            deltas = [delta async for delta in stream]
        whole = await cx.acomplete("llama3.1-70b", "Tell me a story", transport="rest")
        return deltas, stream.completion, whole

    deltas, streamed, whole = asyncio.run(main())
    assert "".join(deltas) == STORY == streamed.text == whole.text
    assert [r.body.get("stream", False) for r in chat.requests] == [True, False]


def test_rest_only_client_opens_no_sql_connection(chat: ChatFake) -> None:
    chat.register("llama3.1-70b", STORY)
    with Cortex.rest(**rest_params(chat)) as cx:
        assert "".join(cx.complete("llama3.1-70b", "Go", stream=True)) == STORY
        assert "opened=False" in repr(cx.backend)

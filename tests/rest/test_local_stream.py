"""Offline streaming: Cortex.local() and FakeBackend stream from stand-ins and fine-tuned adapters."""

from __future__ import annotations

import asyncio

import pytest

from cortex_tune import Cortex, Message, UnknownModelError
from cortex_tune.testing import FakeBackend

STORY = "The quick brown fox jumps over the lazy dog."


def test_local_streams_a_stand_in_with_the_same_shapes() -> None:
    pytest.importorskip("fakesnow")
    with Cortex.local() as cx:
        cx.backend.register_model("llama3.1-8b", lambda _r: STORY)  # type: ignore[attr-defined]
        stream = cx.complete("llama3.1-8b", "Tell me", stream=True)
        deltas = list(stream)
        assert len(deltas) == len(STORY.split())
        assert stream.transport == "local"
        completion = stream.completion
        assert completion.text == STORY
        assert completion.finish_reason == "stop"
        assert completion.usage is not None and completion.usage.total_tokens


def test_local_streams_a_fine_tuned_adapter() -> None:
    fake = FakeBackend()
    fake.add_query(
        "SELECT * FROM T",
        [{"prompt": f"invoice {i} is wrong", "completion": "billing"} for i in range(20)]
        + [{"prompt": f"no signal in city {i}", "completion": "network"} for i in range(20)],
    )
    cx = Cortex(backend=fake)
    job = cx.finetune.create("TICKETS", base_model="mistral-7b", training="SELECT * FROM T")
    fake.clock.advance(3600)
    model = cx.finetune.describe(job.id).model
    assert model is not None
    stream = cx.complete(model, "my invoice is wrong again", stream=True)
    assert "".join(stream) == "billing"
    assert fake.ops()[-1] == "finetune.describe"  # the stream sent no statement


def test_local_errors_are_typed_before_the_stream_starts() -> None:
    cx = Cortex(backend=FakeBackend())
    with pytest.raises(UnknownModelError):
        cx.complete("no-such-model", "Hi", stream=True)


def test_local_async_stream() -> None:
    fake = FakeBackend()
    fake.respond("llama3.1-8b", STORY)
    cx = Cortex(backend=fake)

    async def main() -> list[str]:
        stream = await cx.acomplete("llama3.1-8b", [Message.user("Tell me")], stream=True)
        return [d async for d in stream]

    assert "".join(asyncio.run(main())) == STORY


def test_conversations_on_the_emulator_stay_on_sql_unless_asked() -> None:
    fake = FakeBackend()
    fake.respond("llama3.1-8b", "ok")
    cx = Cortex(backend=fake)
    conversation = [Message.system("Be brief"), Message.user("Hi")]
    assert cx.complete("llama3.1-8b", conversation).text == "ok"
    assert fake.ops() == ["complete"]
    assert cx.complete("llama3.1-8b", conversation, transport="rest").text == "ok"
    assert fake.ops() == ["complete"]
    assert cx.plan_complete("llama3.1-8b", conversation, transport="rest").transport == "local"

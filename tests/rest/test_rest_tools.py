"""Tool calling over REST and on the emulator: typed calls, the tool loop, its step limit."""

from __future__ import annotations

import pytest
from fake_server import ChatFake
from pydantic import BaseModel

from conftest import POLICY
from cortex_tune import Cortex, ModelRequest, ToolLoopError, tool
from cortex_tune.testing import FakeBackend

ORDERS = {"A7": "shipped on Monday"}


def order_status(order_id: str) -> str:
    """The delivery status of an order.

    Longer details that the model does not need.
    """
    return ORDERS.get(order_id, "unknown order")


class Refund(BaseModel):
    """Ask for a refund."""

    order_id: str
    amount: float


def agent(request: ModelRequest) -> str | dict[str, object]:
    """A stand-in that calls order_status once, then answers with what the tool said."""
    results = [m for m in request.messages if m.get("role") == "tool"]
    if results:
        return f"Your order was {results[-1]['content']}."
    return {"tool_calls": [{"name": "order_status", "arguments": {"order_id": "A7"}}]}


def test_tool_schema_from_a_function() -> None:
    schema = tool(order_status).schema()["function"]
    assert schema["name"] == "order_status"
    assert schema["description"] == "The delivery status of an order."
    assert schema["parameters"]["required"] == ["order_id"]


def test_tool_loop_over_rest(cx: Cortex, chat: ChatFake) -> None:
    chat.register("claude-sonnet-4-5", agent)
    run = cx.run_tools("claude-sonnet-4-5", "Where is my order A7?", tools=[order_status])
    assert run.text == "Your order was shipped on Monday."
    assert [(c.call.name, c.output) for c in run.calls] == [("order_status", "shipped on Monday")]
    first, second = (r.body for r in chat.requests)
    assert first["tools"][0]["function"]["name"] == "order_status"
    assert [m["role"] for m in second["messages"]] == ["user", "assistant", "tool"]
    assert second["messages"][1]["tool_calls"][0]["function"]["name"] == "order_status"
    assert second["messages"][2]["tool_call_id"] == second["messages"][1]["tool_calls"][0]["id"]


def test_tool_calls_come_back_typed_from_a_pydantic_tool(cx: Cortex, chat: ChatFake) -> None:
    chat.register(
        "claude-sonnet-4-5",
        lambda _r: {
            "tool_calls": [{"name": "Refund", "arguments": {"order_id": "A7", "amount": 12.5}}]
        },
    )
    stream = cx.complete("claude-sonnet-4-5", "Refund A7", tools=[Refund], stream=True)
    assert list(stream) == []
    completion = stream.completion
    assert completion.finish_reason == "tool_calls"
    (call,) = completion.tool_calls
    assert call.parsed == Refund(order_id="A7", amount=12.5)
    assert call.arguments == {"order_id": "A7", "amount": 12.5}


def test_the_loop_stops_at_its_step_limit(cx: Cortex, chat: ChatFake) -> None:
    chat.register(
        "claude-sonnet-4-5",
        lambda _r: {"tool_calls": [{"name": "order_status", "arguments": {"order_id": "A7"}}]},
    )
    with pytest.raises(ToolLoopError) as info:
        cx.run_tools("claude-sonnet-4-5", "Loop", tools=[order_status], max_steps=3)
    assert len(chat.requests) == 3
    assert [m["role"] for m in info.value.messages].count("tool") == 3


def test_bad_arguments_and_unknown_tools_are_told_to_the_model(cx: Cortex, chat: ChatFake) -> None:
    def confused(request: ModelRequest) -> str | dict[str, object]:
        results = [m for m in request.messages if m.get("role") == "tool"]
        if len(results) >= 2:
            return " | ".join(str(m["content"]) for m in results)
        return {
            "tool_calls": [
                {"name": "order_status", "arguments": {"wrong": 1}},
                {"name": "cancel_everything", "arguments": {}},
            ]
        }

    chat.register("claude-sonnet-4-5", confused)
    run = cx.run_tools("claude-sonnet-4-5", "?", tools=[order_status])
    assert "invalid arguments for order_status" in run.text
    assert "no tool named 'cancel_everything'" in run.text


def test_tools_on_the_emulator_in_process() -> None:
    fake = FakeBackend()
    fake.respond("claude-sonnet-4-5", agent)
    cx = Cortex(backend=fake, retry=POLICY)
    run = cx.run_tools("claude-sonnet-4-5", "Where is my order A7?", tools=[order_status])
    assert run.text == "Your order was shipped on Monday."
    assert fake.statements == []  # served by the emulator's Chat Completions endpoint

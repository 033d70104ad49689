"""Every error path of the REST transport, typed, with retries only where they are safe."""

from __future__ import annotations

import pytest
from fake_server import ChatFake

from conftest import PAT, POLICY, rest_params
from cortex_tune import (
    AuthenticationError,
    BudgetExceededError,
    Cortex,
    InvalidOptionsError,
    MaxTokensExceededError,
    Message,
    NetworkError,
    PermissionDeniedError,
    RetryPolicy,
    SessionExpiredError,
    StructuredOutputError,
    ThrottledError,
    TransientError,
    UnknownModelError,
)
from cortex_tune.testing import FakeBackend

CHAT = [Message.system("Be brief"), Message.user("Hi")]
STORY = "one two three four five six seven eight"


def test_unknown_model_is_400_and_typed(cx: Cortex, chat: ChatFake) -> None:
    # "400 unknown model model_name The specified model does not exist." (Chat Completions)
    with pytest.raises(UnknownModelError) as info:
        cx.complete("no-such-model", CHAT)
    assert "HTTP 400" in str(info.value)
    assert info.value.query_id == "req-fake-0001"
    assert "fully qualified" in (info.value.hint or "")
    assert len(chat.requests) == 1  # not retried


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        (400, "max tokens of 8192 exceeded", MaxTokensExceededError),
        (400, "invalid options object", InvalidOptionsError),
        (400, 'unknown model "x"', UnknownModelError),
        (404, 'unknown model "x"', UnknownModelError),  # not documented: read the same way
        (400, "schema validation failed", StructuredOutputError),
        (400, "something else entirely", InvalidOptionsError),
        (402, "budget exceeded", BudgetExceededError),
        (403, "Not Authorized", PermissionDeniedError),
        (422, "schema validation failed", StructuredOutputError),
    ],
)
def test_refusals_are_typed_and_not_retried(
    cx: Cortex, chat: ChatFake, status: int, message: str, expected: type[Exception]
) -> None:
    chat.register("llama3.1-70b", "ok")
    chat.fail_next(status, message)
    with pytest.raises(expected) as info:
        cx.complete("llama3.1-70b", CHAT)
    assert f"HTTP {status}" in str(info.value)
    assert info.value.hint  # type: ignore[attr-defined]
    assert len(chat.requests) == 1


def test_a_400_naming_an_unknown_model_gets_the_model_hint(cx: Cortex, chat: ChatFake) -> None:
    chat.fail_next(400, "unknown model llama9")
    with pytest.raises(UnknownModelError) as info:
        cx.complete("llama3.1-70b", CHAT)
    assert "fully qualified" in (info.value.hint or "")
    assert "options" not in (info.value.hint or "")


def test_a_400_saying_throttled_is_retried_like_a_429(cx: Cortex, chat: ChatFake) -> None:
    # "400 all requests were throttled by remote service ... Try again later." and no
    # Retry-After ("retry-after ... Not supported"): the client's own backoff decides.
    chat.register("llama3.1-70b", "ok")
    chat.fail_next(400, "all requests were throttled by remote service")
    assert cx.complete("llama3.1-70b", CHAT).text == "ok"
    assert len(chat.requests) == 2


def test_403_hint_names_the_default_role(cx: Cortex, chat: ChatFake) -> None:
    chat.fail_next(403, "Not Authorized")
    with pytest.raises(PermissionDeniedError) as info:
        cx.complete("llama3.1-70b", CHAT)
    assert "default role" in (info.value.hint or "")


def test_429_is_retried_after_retry_after(cx: Cortex, chat: ChatFake, fake: FakeBackend) -> None:
    chat.register("llama3.1-70b", "ok")
    chat.fail_next(429, "too many requests", times=2, retry_after="3")
    assert cx.complete("llama3.1-70b", CHAT).text == "ok"
    assert len(chat.requests) == 3
    assert fake.clock.slept[:2] == [3.0, 3.0]  # the client's pauses, on its (fake) clock


def test_retry_after_beyond_the_budget_is_not_waited_for(chat: ChatFake, fake: FakeBackend) -> None:
    cx = Cortex(backend=fake, rest=rest_params(chat), retry=RetryPolicy(budget=10.0))
    chat.fail_next(429, "too many requests", retry_after="60")
    with pytest.raises(ThrottledError) as info:
        cx.complete("llama3.1-70b", CHAT)
    assert info.value.retry_after == 60.0  # type: ignore[attr-defined]
    assert len(chat.requests) == 1
    assert fake.clock.slept == []


def test_5xx_is_retried_then_succeeds(cx: Cortex, chat: ChatFake) -> None:
    chat.register("llama3.1-70b", STORY)
    chat.fail_next(500, "internal error")
    chat.fail_next(503, "inference timed out")
    stream = cx.complete("llama3.1-70b", CHAT, stream=True)
    assert "".join(stream) == STORY
    assert len(chat.requests) == 3


def test_5xx_gives_up_when_the_attempts_run_out(cx: Cortex, chat: ChatFake) -> None:
    chat.fail_next(502, "bad gateway", times=POLICY.attempts)
    with pytest.raises(TransientError) as info:
        cx.complete("llama3.1-70b", CHAT)
    assert "HTTP 502" in str(info.value)
    assert len(chat.requests) == POLICY.attempts


def test_mid_stream_error_comes_after_the_deltas_and_is_never_retried(
    cx: Cortex, chat: ChatFake
) -> None:
    chat.register("llama3.1-70b", STORY)
    chat.error_mid_stream(after=3, message="too many requests")
    received: list[str] = []
    stream = cx.complete("llama3.1-70b", CHAT, stream=True)
    with pytest.raises(ThrottledError):
        received.extend(stream)
    assert "".join(received) == "one two three"
    assert stream.text == "one two three"
    assert len(chat.requests) == 1


def test_dropped_connection_mid_stream_is_a_network_error(cx: Cortex, chat: ChatFake) -> None:
    chat.register("llama3.1-70b", STORY)
    chat.drop_mid_stream(after=2)
    received: list[str] = []
    with pytest.raises(NetworkError), cx.complete("llama3.1-70b", CHAT, stream=True) as stream:
        received.extend(stream)
    assert "".join(received) == "one two"
    assert len(chat.requests) == 1


def test_a_body_that_ends_before_the_answer_is_not_a_complete_answer(
    cx: Cortex, chat: ChatFake
) -> None:
    chat.register("llama3.1-70b", STORY)
    chat.end_mid_stream(after=4)
    stream = cx.complete("llama3.1-70b", CHAT, stream=True)
    with pytest.raises(NetworkError, match="before Cortex finished"):
        list(stream)
    assert stream.text == "one two three four"
    assert not stream.done


def test_an_error_before_the_first_token_is_retried(cx: Cortex, chat: ChatFake) -> None:
    chat.register("llama3.1-70b", STORY)
    chat.error_mid_stream(after=0, message="too many requests")
    assert "".join(cx.complete("llama3.1-70b", CHAT, stream=True)) == STORY
    assert len(chat.requests) == 2


def test_a_stalled_stream_times_out_within_the_budget(chat: ChatFake, fake: FakeBackend) -> None:
    chat.register("llama3.1-70b", STORY)
    chat.token_delay = 3.0
    policy = RetryPolicy(attempts=1, budget=0.5)
    cx = Cortex(backend=fake, rest=rest_params(chat), retry=policy)
    with pytest.raises(NetworkError), cx.complete("llama3.1-70b", CHAT, stream=True) as stream:
        list(stream)


def test_unreachable_endpoint_is_a_network_error(fake: FakeBackend) -> None:
    cx = Cortex(
        backend=fake,
        rest={"rest_url": "http://127.0.0.1:9/api/v2/cortex/v1", "token": PAT},
        retry=RetryPolicy(attempts=2, budget=5.0, base_delay=0.01),
    )
    with pytest.raises(NetworkError):
        cx.complete("llama3.1-70b", CHAT)


def test_wrong_token_is_an_authentication_error_with_the_echo_redacted(
    chat: ChatFake, fake: FakeBackend
) -> None:
    chat.pat = "another-token-entirely"
    cx = Cortex(backend=fake, rest=rest_params(chat), retry=POLICY)
    with pytest.raises(AuthenticationError) as info:
        cx.complete("llama3.1-70b", CHAT)
    error = info.value
    assert "HTTP 401" in str(error)
    assert "***" in str(error)  # the fake echoed the token; the client redacted it
    for text in (str(error), repr(error), error.hint or ""):
        assert PAT not in text
    assert len(chat.requests) == 1


def test_expired_session_code_is_session_expired(cx: Cortex, chat: ChatFake) -> None:
    chat.fail_next(401, "Authentication token has expired", code="390112")
    with pytest.raises(SessionExpiredError):
        cx.complete("llama3.1-70b", CHAT)

"""Retry policy: capped exponential backoff with full jitter, within a total time budget."""

from __future__ import annotations

import random
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_any,
)
from tenacity.stop import stop_base

from cortex_tune._core.constants import (
    RETRY_ATTEMPTS,
    RETRY_BASE_DELAY,
    RETRY_BUDGET,
    RETRY_MAX_DELAY,
)
from cortex_tune._core.errors import CortexError, is_transient

T = TypeVar("T")

#: Seconds left in the budget of the statement being retried in this context (unset outside
#: call_with_retries), read through :func:`remaining_budget`.
_REMAINING: ContextVar[Callable[[], float] | None] = ContextVar("_REMAINING", default=None)


def remaining_budget() -> float | None:
    """Seconds left in the retry budget of the statement running now; None outside one.

    Backends use it to keep one attempt within the budget: the connector retries a request on
    its own clock (and, on a connection opened with its defaults, without end).
    """
    remaining = _REMAINING.get()
    return None if remaining is None else remaining()


@dataclass(frozen=True)
class RetryPolicy:
    """How cortex-tune retries a statement that failed transiently.

    Attributes:
        attempts: Attempts per statement, the first included (1 disables retries).
        budget: Total seconds for all attempts and pauses of one statement.
        base_delay: The first pause; each later pause may be twice as long.
        max_delay: The longest single pause.
    """

    attempts: int = RETRY_ATTEMPTS
    budget: float = RETRY_BUDGET
    base_delay: float = RETRY_BASE_DELAY
    max_delay: float = RETRY_MAX_DELAY

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """The pause after failed attempt number ``attempt`` (1-based): full jitter."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return float(ceiling * rng())


class _OutOfBudget(stop_base):
    """Stop once ``budget`` seconds have passed on ``clock`` since ``start``."""

    def __init__(self, clock: Callable[[], float], start: float, budget: float) -> None:
        self.clock, self.start, self.budget = clock, start, budget

    def __call__(self, retry_state: RetryCallState) -> bool:
        # A server that asks for a pause longer than the budget left is not asked again.
        after = retry_after(retry_state)
        return self.clock() - self.start + after >= self.budget


def retry_after(state: RetryCallState) -> float:
    """The pause the failed attempt's error asks for (``retry_after``, e.g. HTTP Retry-After)."""
    error = state.outcome.exception() if state.outcome is not None else None
    after = getattr(error, "retry_after", None)
    return float(after) if isinstance(after, (int, float)) and after > 0 else 0.0


def call_with_retries(
    fn: Callable[[], T],
    *,
    policy: RetryPolicy,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    retryable: Callable[[CortexError], bool] = is_transient,
    on_retry: Callable[[CortexError, float], None] | None = None,
) -> T:
    """Call ``fn`` until it succeeds, a non-retryable error is raised, or the policy gives up.

    ``fn`` must raise :class:`CortexError`; the last error is re-raised when retries run out.
    The budget is measured on ``clock``, so a fake clock makes it deterministic.
    """
    start = clock()

    def wait(state: RetryCallState) -> float:
        remaining = max(0.0, policy.budget - (clock() - start))
        return min(max(policy.delay(state.attempt_number), retry_after(state)), remaining)

    def before_sleep(state: RetryCallState) -> None:
        if on_retry is not None and state.outcome is not None and state.next_action is not None:
            error = state.outcome.exception()
            if isinstance(error, CortexError):
                on_retry(error, state.next_action.sleep)

    retrying = Retrying(
        stop=stop_any(
            stop_after_attempt(max(1, policy.attempts)), _OutOfBudget(clock, start, policy.budget)
        ),
        wait=wait,
        retry=retry_if_exception(lambda e: isinstance(e, CortexError) and retryable(e)),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    token = _REMAINING.set(lambda: policy.budget - (clock() - start))
    try:
        return retrying(fn)
    finally:
        _REMAINING.reset(token)

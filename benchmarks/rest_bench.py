"""REST streaming benchmarks, on the local Chat Completions fake (tests/rest/fake_server.py).

Run with ``.venv/bin/python benchmarks/rest_bench.py``. Two measurements, each side by side
with its alternative in one run, medians of several repeats (this machine is noisy; compare
the ratios, not the absolute times). Nothing asserts; traffic stays on 127.0.0.1.

1. Time to first token: ``cx.complete(..., stream=True)`` through REST against the time to
   the whole answer through SQL (``Cortex.local()`` running AI_COMPLETE on a stand-in that
   takes the same per-token delay for the same answer).
2. Client overhead per streamed token: a 2,000-token stream read through
   ``cx.complete(stream=True)`` against the bare ``openai`` client on the same fake, no delay.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("SNOWFLAKE_DISABLE_PLATFORM_DETECTION", "true")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "rest"))

from fake_server import ChatFake

from cortex_tune import Cortex, Message

TOKEN = "PAT-bench-token-000"
DELAY = 0.01  # seconds per token
TOKENS = 100


def _answer(tokens: int) -> str:
    return " ".join(f"w{i}" for i in range(tokens))


def bench_first_token(repeats: int = 5) -> None:
    fake = ChatFake(max_requests=10_000)
    fake.start()
    fake.pat, fake.token_delay = TOKEN, DELAY
    fake.register("bench", _answer(TOKENS))
    rest = Cortex.rest(rest_url=fake.base_url, token=TOKEN)
    local = Cortex.local()

    def slow(_request: object) -> str:
        time.sleep(DELAY * TOKENS)  # the same generation time, delivered whole
        return _answer(TOKENS)

    local.backend.register_model("bench", slow)  # type: ignore[attr-defined]
    conversation = [Message.user("Go")]

    def first_token() -> float:
        started = time.perf_counter()
        with rest.complete("bench", conversation, stream=True) as stream:
            next(stream)
            elapsed = time.perf_counter() - started
            stream.until_done()
        return elapsed

    def whole_sql() -> float:
        started = time.perf_counter()
        local.complete("bench", "Go")
        return time.perf_counter() - started

    ttft = statistics.median(first_token() for _ in range(repeats))
    whole = statistics.median(whole_sql() for _ in range(repeats))
    print(
        f"time to first token (REST stream): {ttft * 1000:.1f} ms | whole answer via SQL "
        f"(Cortex.local AI_COMPLETE): {whole * 1000:.1f} ms | ratio {ttft / whole:.3f} "
        f"({TOKENS} tokens, {DELAY * 1000:.0f} ms per token)"
    )
    fake.stop()
    local.close()


def bench_overhead(tokens: int = 2_000, repeats: int = 7) -> None:
    import openai

    fake = ChatFake(max_requests=10_000)
    fake.start()
    fake.pat = TOKEN
    fake.register("bench", _answer(tokens))
    cx = Cortex.rest(rest_url=fake.base_url, token=TOKEN)
    bare = openai.OpenAI(
        api_key=TOKEN,
        base_url=fake.base_url,
        default_headers={"X-Snowflake-Authorization-Token-Type": "PROGRAMMATIC_ACCESS_TOKEN"},
    )
    messages = [{"role": "user", "content": "Go"}]

    def ours() -> float:
        started = time.perf_counter()
        text = "".join(cx.complete("bench", [Message.user("Go")], stream=True))
        assert len(text) > tokens
        return time.perf_counter() - started

    def theirs() -> float:
        started = time.perf_counter()
        stream = bare.chat.completions.create(
            model="bench",
            messages=messages,  # type: ignore[arg-type]
            stream=True,
            stream_options={"include_usage": True},
        )
        parts = [c.choices[0].delta.content or "" for c in stream if c.choices]
        assert len("".join(parts)) > tokens
        return time.perf_counter() - started

    ours(), theirs()  # warm up connections and imports
    a, b = [], []
    for _ in range(repeats):  # interleaved, so drift hits both alike
        a.append(ours())
        b.append(theirs())
    mine, base = statistics.median(a), statistics.median(b)
    print(
        f"per streamed token: cortex-tune {mine / tokens * 1e6:.1f} us | bare openai "
        f"{base / tokens * 1e6:.1f} us | ratio {mine / base:.3f} ({tokens} tokens, no delay)"
    )
    fake.stop()


if __name__ == "__main__":
    bench_first_token()
    bench_overhead()

"""FINETUNE with literals: the one quoting function, and the fallback when binds are refused.

Snowflake documents FINETUNE with literal arguments only. cortex-tune binds them; on an account
that refuses a bound argument there (emulated with ``finetune_binds=False``) it sends literals
made by ``sql.quote_literal``, and the values must arrive byte for byte.
"""

from __future__ import annotations

import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cortex_tune import ConfigurationError, Cortex, sql
from cortex_tune._core.literals import unquote_literal
from cortex_tune.testing import FakeBackend

TRAIN = "SELECT P AS PROMPT, C AS COMPLETION FROM TRAIN"
#: Text a literal must carry unchanged: quotes, backslashes and escape look-alikes, newlines.
NASTY = st.sampled_from(
    ["'", "''", "\\", "\\'", "\\\\", "\\n", "\\x41", "\\u0041", "\\0", "$$", "\n", "\r\n", "\t"]
)
TEXT = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")),
    st.lists(st.one_of(NASTY, st.text(max_size=4)), max_size=12)
    .map("".join)
    .filter(lambda s: "\x00" not in s),
)


@pytest.fixture(scope="module")
def local() -> Cortex:
    cx = Cortex.local()
    yield cx
    cx.close()


def test_quote_literal_escapes_only_backslash_and_quote() -> None:
    assert sql.quote_literal("it's") == "'it\\'s'"
    assert sql.quote_literal("C:\\temp\\new") == "'C:\\\\temp\\\\new'"
    assert sql.quote_literal("line\nnext\ttab é") == "'line\nnext\ttab é'"


@pytest.mark.parametrize("value", ["a\x00b", 7, None])
def test_quote_literal_refuses_nul_and_non_strings(value: object) -> None:
    with pytest.raises(ConfigurationError):
        sql.quote_literal(value)  # type: ignore[arg-type]


@given(TEXT)
def test_unquote_is_the_exact_inverse(value: str) -> None:
    assert unquote_literal(sql.quote_literal(value)) == value


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(TEXT)
def test_snowflake_sql_reads_the_literal_back_byte_for_byte(local: Cortex, value: str) -> None:
    (row,) = local.sql(f"SELECT {sql.quote_literal(value)}")
    assert row[0] == value


def test_literal_statements_carry_no_placeholders() -> None:
    st_ = sql.finetune_create_sql(
        "M",
        base_model="mistral-7b",
        training="SELECT 'it''s' AS PROMPT",
        max_epochs=2,
        literals=True,
    )
    assert st_.params == ()
    assert "?" not in st_.sql.replace("'it\\'\\'s'", "")
    assert st_.sql.startswith("SELECT SNOWFLAKE.CORTEX.FINETUNE('CREATE', 'M', 'mistral-7b', ")
    assert st_.sql.endswith(", NULL, '{\"max_epochs\": 2}')")
    assert sql.finetune_describe_sql("ft_1", literals=True).sql == (
        "SELECT SNOWFLAKE.CORTEX.FINETUNE('DESCRIBE', 'ft_1')"
    )


def _training_table(cx: Cortex, completion: str) -> None:
    cx.sql("CREATE OR REPLACE TABLE TRAIN (P STRING, C STRING)")
    cx.sql("INSERT INTO TRAIN VALUES ('my bill', ?), ('no signal', 'roaming')", [completion])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXT.filter(lambda s: "*/" not in s))
def test_refused_binds_fall_back_to_literals_that_arrive_exactly(value: str) -> None:
    seen: list[tuple[str, tuple[object, ...]]] = []
    with Cortex.local(finetune_binds=False, tracer=lambda s, p: seen.append((s, p))) as cx:
        _training_table(cx, "billing")
        query = f"{TRAIN} /* {value} */ WHERE C <> {sql.quote_literal(value + 'x')}"
        job = cx.finetune.create("LIT_MODEL", base_model="mistral-7b", training=query, check=False)
        assert job.training_data is not None
        assert job.training_data.endswith(query)  # after the request marker, byte for byte
        assert [j.id for j in cx.finetune.list()] == [job.id]
    creates = [(s, p) for s, p in seen if "FINETUNE('CREATE'" in s]
    assert [bool(p) for _, p in creates] == [True, False]  # refused bound, then literals


def test_fallback_is_logged_once_and_sticks(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeBackend(finetune_binds=False, job_duration=1.0, pending_seconds=0.0)
    cx = Cortex(backend=fake)
    with caplog.at_level(logging.WARNING, logger="cortex_tune"):
        job = cx.finetune.create("M", base_model="mistral-7b", training=TRAIN)
        cx.finetune.describe(job.id)
        cx.finetune.cancel(job.id)
    refusals = [r for r in caplog.records if "quoted literals" in r.getMessage()]
    assert len(refusals) == 1
    finetunes = [s for s in fake.statements if s.op.startswith("finetune.")]
    # One refused CREATE, then every FINETUNE with literals.
    assert finetunes[0].op == "finetune.create" and finetunes[0].params
    assert len(finetunes) == 6 and not any(s.params for s in finetunes[1:])
    assert len(fake.emulator.store.all()) == 1


def test_accounts_that_take_binds_never_see_literals(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeBackend(job_duration=1.0)
    cx = Cortex(backend=fake)
    with caplog.at_level(logging.WARNING, logger="cortex_tune"):
        job = cx.finetune.create("M", base_model="mistral-7b", training=TRAIN)
        cx.finetune.describe(job.id)
    assert all(s.params for s in fake.statements if s.op.startswith("finetune."))
    assert not [r for r in caplog.records if "literals" in r.getMessage()]


def test_other_refusals_are_not_retried_with_literals() -> None:
    fake = FakeBackend(finetune_binds=True)
    cx = Cortex(backend=fake)
    with pytest.raises(Exception, match=r"gpt-9|base model"):
        cx.finetune.create("M", base_model="gpt-9", training=TRAIN, check=False)
    assert len([s for s in fake.statements if s.op == "finetune.create"]) == 1

"""FINETUNE with literals through the real connector, on an account refusing bound arguments."""

from __future__ import annotations

from wire_server import CREATE, WireServer, training_table

from cortex_tune import JobStatus, sql


def test_refused_binds_fall_back_to_literals_over_the_wire(wire: WireServer) -> None:
    wire.emulator.accepts_bound_finetune = False
    query = "SELECT P AS PROMPT, C AS COMPLETION FROM WIRE_TRAIN WHERE C <> 'it''s \\\\ $X'"
    with wire.connect() as cx:
        training_table(cx)
        job = cx.finetune.create(
            "WIRE_LITERAL", base_model="mistral-7b", training=query, check=False
        )
        assert job.training_data is not None and job.training_data.endswith(query)
        assert cx.finetune.describe(job.id).status in (JobStatus.PENDING, JobStatus.IN_PROGRESS)
    creates = wire.injector.requests(sql=CREATE)
    assert [bool(r.bindings) for r in creates] == [True, False]
    # After the request marker, the query travels as one literal of sql.quote_literal.
    assert sql.quote_literal(query)[1:] in creates[1].sql
    assert len(wire.emulator.store.all()) == 1

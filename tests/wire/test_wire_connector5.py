"""What depends on the connector's major version and only this tier can show.

The real connector 5.x runs in its own tier (tests/wire5, in ``.venv5``): logins, error
shapes, retries and lost CREATE answers are tested there with the 5.x client itself. What
stays here: error shapes no server can make a connector raise, and what connector 4.x is
spared.
"""

from __future__ import annotations

from snowflake.connector import errors
from wire_server import CREATE, DESCRIBE, SHOW, WireServer, create_job, training_table

from cortex_tune import Cortex, NetworkError
from cortex_tune._core.errors import translate


def test_connector4_unreachable_host_stays_a_network_error() -> None:
    # 4.x reports a host it cannot reach with the errno 5.x uses for a refused login.
    exc = errors.OperationalError(
        msg="Could not connect to Snowflake backend after 2 attempt(s).Aborting",
        errno=250001,
        send_telemetry=False,
    )

    assert type(translate(exc, op="connect")) is NetworkError


def test_connector5_transport_error_is_a_network_error() -> None:
    # A failure between 5.x's Python layer and its core, inside the process (no server can
    # cause it): an OperationalError with no errno.
    exc = errors.OperationalError(
        msg="Driver communication error: broken pipe", send_telemetry=False
    )

    error = translate(exc, op="complete")

    assert type(error) is NetworkError and error.errno is None


def test_connector4_create_pays_nothing_for_the_resend_safety_net(
    wire: WireServer, cx: Cortex
) -> None:
    # 4.x is told not to re-send CREATE, so no SHOW looks for a second job afterwards
    # (tests/wire5 shows the SHOW that 5.x needs).
    training_table(cx)
    wire.injector.reset()

    job = create_job(cx)

    statements = [r.sql for r in wire.injector.requests() if "FINETUNE" in r.sql]
    assert [next(k for k in (CREATE, DESCRIBE, SHOW) if k in s) for s in statements] == [
        CREATE,
        DESCRIBE,
    ]
    assert [j.id for j in cx.finetune.list()] == [job.id]

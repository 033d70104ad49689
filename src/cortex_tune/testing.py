"""Test doubles for code that uses cortex-tune: an in-memory Cortex and a controllable clock.

Example:
    >>> from cortex_tune import Cortex
    >>> from cortex_tune.testing import FakeBackend
    >>> fake = FakeBackend(job_duration=3600)
    >>> cx = Cortex(backend=fake)
    >>> job = cx.finetune.create("M", base_model="mistral-7b", training="SELECT p AS prompt, c AS completion FROM t")
    >>> cx.finetune.wait(job.id, progress=False).status.value
    'SUCCESS'
"""

from cortex_tune._backends.fake import FakeBackend, FakeClock
from cortex_tune._emulator import EngineError, ModelRequest

__all__ = ["EngineError", "FakeBackend", "FakeClock", "ModelRequest"]

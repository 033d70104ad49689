"""cortex-tune: a typed Python SDK for Snowflake Cortex fine-tuning and inference.

Example:
    >>> from cortex_tune import Cortex
    >>> cx = Cortex.local()                                      # doctest: +SKIP
    >>> job = cx.finetune.create("MY_MODEL", base_model="mistral-7b",
    ...     training="SELECT body AS prompt, reply AS completion FROM train")  # doctest: +SKIP
    >>> cx.finetune.wait(job.id).status                          # doctest: +SKIP
"""

import importlib
from typing import TYPE_CHECKING, Any

from cortex_tune import sql
from cortex_tune._backends.base import Backend, Result
from cortex_tune._batch import BatchResult, TableRunSummary
from cortex_tune._client import Cortex
from cortex_tune._doctor import DoctorReport
from cortex_tune._errors import (
    AmbiguousCreateError,
    AuthenticationError,
    BudgetExceededError,
    ConfigurationError,
    ConnectionFailedError,
    CortexError,
    InvalidIdentifierError,
    InvalidOptionsError,
    JobCancelledError,
    JobFailedError,
    JobNotFoundError,
    JobVanishedError,
    MaxTokensExceededError,
    NetworkError,
    NoWarehouseError,
    ObjectNotFoundError,
    PermissionDeniedError,
    PreflightError,
    QueryError,
    ResponseParseError,
    SessionExpiredError,
    StatementMayHaveRunError,
    StructuredOutputError,
    ThrottledError,
    TrainingDataError,
    TransientError,
    UnknownFunctionError,
    UnknownModelError,
    WaitTimeoutError,
)
from cortex_tune._evaluate import Comparison, EvalReport, EvalRow
from cortex_tune._models import (
    Completion,
    FineTuneJob,
    JobError,
    JobStatus,
    JobSummary,
    Message,
    TrainingResult,
    Usage,
)
from cortex_tune._preflight import PreflightReport
from cortex_tune._retry import RetryPolicy
from cortex_tune._rules import Finding
from cortex_tune._sql_batch import Template
from cortex_tune._training_data import TrainingData
from cortex_tune._version import __version__
from cortex_tune.sql import Statement

if TYPE_CHECKING:
    from cortex_tune import pipelines
    from cortex_tune._backends.fake import FakeBackend
    from cortex_tune._emulator.models import ModelRequest, OpenAIEndpoint

# The emulator and the test doubles load on first use, to keep `import cortex_tune` light.
_LAZY = {
    "pipelines": "cortex_tune.pipelines",
    "FakeBackend": "cortex_tune._backends.fake",
    "ModelRequest": "cortex_tune._emulator.models",
    "OpenAIEndpoint": "cortex_tune._emulator.models",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cortex_tune' has no attribute {name!r}")
    loaded = importlib.import_module(module)
    value = loaded if module.endswith("." + name) else getattr(loaded, name)
    globals()[name] = value
    return value


__all__ = [
    "AmbiguousCreateError",
    "AuthenticationError",
    "Backend",
    "BatchResult",
    "BudgetExceededError",
    "Comparison",
    "Completion",
    "ConfigurationError",
    "ConnectionFailedError",
    "Cortex",
    "CortexError",
    "DoctorReport",
    "EvalReport",
    "EvalRow",
    "FakeBackend",
    "Finding",
    "FineTuneJob",
    "InvalidIdentifierError",
    "InvalidOptionsError",
    "JobCancelledError",
    "JobError",
    "JobFailedError",
    "JobNotFoundError",
    "JobStatus",
    "JobSummary",
    "JobVanishedError",
    "MaxTokensExceededError",
    "Message",
    "ModelRequest",
    "NetworkError",
    "NoWarehouseError",
    "ObjectNotFoundError",
    "OpenAIEndpoint",
    "PermissionDeniedError",
    "PreflightError",
    "PreflightReport",
    "QueryError",
    "ResponseParseError",
    "Result",
    "RetryPolicy",
    "SessionExpiredError",
    "Statement",
    "StatementMayHaveRunError",
    "StructuredOutputError",
    "TableRunSummary",
    "Template",
    "ThrottledError",
    "TrainingData",
    "TrainingDataError",
    "TrainingResult",
    "TransientError",
    "UnknownFunctionError",
    "UnknownModelError",
    "Usage",
    "WaitTimeoutError",
    "__version__",
    "pipelines",
    "sql",
]

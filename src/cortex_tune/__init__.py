"""cortex-tune: a typed Python SDK for Snowflake Cortex fine-tuning and inference.

Example:
    >>> from cortex_tune import Cortex
    >>> cx = Cortex.local()                                      # doctest: +SKIP
    >>> job = cx.finetune.create("MY_MODEL", base_model="mistral-7b",
    ...     training="SELECT body AS prompt, reply AS completion FROM train")  # doctest: +SKIP
    >>> cx.finetune.wait(job.id).status                          # doctest: +SKIP

Every public name is loaded on first use (``from cortex_tune import Cortex`` loads the client
and its models; ``import cortex_tune`` alone loads nothing), so that the command line, a script
that needs one error class, and type imports do not pay for the rest.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from cortex_tune._version import __version__

if TYPE_CHECKING:
    from cortex_tune import pipelines, sample_data, sql
    from cortex_tune._backends.base import Backend, Result
    from cortex_tune._backends.fake import FakeBackend
    from cortex_tune._client.cortex import Cortex
    from cortex_tune._core.deprecation import LegacyFunctionWarning
    from cortex_tune._core.errors import (
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
        RunCancelledError,
        RunConflictError,
        RunFailedError,
        RunNotFoundError,
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
    from cortex_tune._core.models import (
        Completion,
        FineTuneJob,
        JobError,
        JobStatus,
        JobSummary,
        Message,
        ToolCall,
        TrainingResult,
        Usage,
    )
    from cortex_tune._core.retry import RetryPolicy
    from cortex_tune._core.rules import Finding
    from cortex_tune._doctor.checks import DoctorReport
    from cortex_tune._emulator.models import ModelRequest, OpenAIEndpoint
    from cortex_tune._finetune.preflight import PreflightReport
    from cortex_tune._finetune.training_data import TrainingData
    from cortex_tune._inference.batch import BatchResult, TableRunSummary
    from cortex_tune._inference.evaluate import Comparison, EvalReport, EvalRow
    from cortex_tune._inference.sql_batch import Template
    from cortex_tune._rest import (
        AsyncCompletionStream,
        CompletionStream,
        Plan,
        Request,
        RestCredentialsError,
        RestSettings,
        Tool,
        ToolLoopError,
        ToolRun,
        tool,
    )
    from cortex_tune._runs import PartStatus, Run, RunPart, Runs, RunStatus
    from cortex_tune.sql import Statement

# Where each public name lives. A module's own name stands for the module itself.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "cortex_tune._backends.base": ("Backend", "Result"),
    "cortex_tune._backends.fake": ("FakeBackend",),
    "cortex_tune._inference.batch": ("BatchResult", "TableRunSummary"),
    "cortex_tune._client.cortex": ("Cortex",),
    "cortex_tune._core.deprecation": ("LegacyFunctionWarning",),
    "cortex_tune._doctor.checks": ("DoctorReport",),
    "cortex_tune._emulator.models": ("ModelRequest", "OpenAIEndpoint"),
    "cortex_tune._core.errors": (
        "AmbiguousCreateError",
        "AuthenticationError",
        "BudgetExceededError",
        "ConfigurationError",
        "ConnectionFailedError",
        "CortexError",
        "InvalidIdentifierError",
        "InvalidOptionsError",
        "JobCancelledError",
        "JobFailedError",
        "JobNotFoundError",
        "JobVanishedError",
        "MaxTokensExceededError",
        "NetworkError",
        "NoWarehouseError",
        "ObjectNotFoundError",
        "PermissionDeniedError",
        "PreflightError",
        "QueryError",
        "ResponseParseError",
        "RunCancelledError",
        "RunConflictError",
        "RunFailedError",
        "RunNotFoundError",
        "SessionExpiredError",
        "StatementMayHaveRunError",
        "StructuredOutputError",
        "ThrottledError",
        "TrainingDataError",
        "TransientError",
        "UnknownFunctionError",
        "UnknownModelError",
        "WaitTimeoutError",
    ),
    "cortex_tune._inference.evaluate": ("Comparison", "EvalReport", "EvalRow"),
    "cortex_tune._core.models": (
        "Completion",
        "FineTuneJob",
        "JobError",
        "JobStatus",
        "JobSummary",
        "Message",
        "ToolCall",
        "TrainingResult",
        "Usage",
    ),
    "cortex_tune._finetune.preflight": ("PreflightReport",),
    "cortex_tune._rest": (
        "AsyncCompletionStream",
        "CompletionStream",
        "Plan",
        "Request",
        "RestCredentialsError",
        "RestSettings",
        "Tool",
        "ToolLoopError",
        "ToolRun",
        "tool",
    ),
    "cortex_tune._core.retry": ("RetryPolicy",),
    "cortex_tune._core.rules": ("Finding",),
    "cortex_tune._runs": ("PartStatus", "Run", "RunPart", "RunStatus", "Runs"),
    "cortex_tune._inference.sql_batch": ("Template",),
    "cortex_tune._finetune.training_data": ("TrainingData",),
    "cortex_tune.pipelines": ("pipelines",),
    "cortex_tune.sample_data": ("sample_data",),
    "cortex_tune.sql": ("Statement", "sql"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'cortex_tune' has no attribute {name!r}")
    loaded = importlib.import_module(module)
    value = loaded if module.endswith("." + name) else getattr(loaded, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "AmbiguousCreateError",
    "AsyncCompletionStream",
    "AuthenticationError",
    "Backend",
    "BatchResult",
    "BudgetExceededError",
    "Comparison",
    "Completion",
    "CompletionStream",
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
    "LegacyFunctionWarning",
    "MaxTokensExceededError",
    "Message",
    "ModelRequest",
    "NetworkError",
    "NoWarehouseError",
    "ObjectNotFoundError",
    "OpenAIEndpoint",
    "PartStatus",
    "PermissionDeniedError",
    "Plan",
    "PreflightError",
    "PreflightReport",
    "QueryError",
    "Request",
    "ResponseParseError",
    "RestCredentialsError",
    "RestSettings",
    "Result",
    "RetryPolicy",
    "Run",
    "RunCancelledError",
    "RunConflictError",
    "RunFailedError",
    "RunNotFoundError",
    "RunPart",
    "RunStatus",
    "Runs",
    "SessionExpiredError",
    "Statement",
    "StatementMayHaveRunError",
    "StructuredOutputError",
    "TableRunSummary",
    "Template",
    "ThrottledError",
    "Tool",
    "ToolCall",
    "ToolLoopError",
    "ToolRun",
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
    "sample_data",
    "sql",
    "tool",
]

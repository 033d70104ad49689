"""Cortex's Chat Completions REST API as a second transport: settings, requests, streams, tools."""

from cortex_tune._rest._methods import RestMethods
from cortex_tune._rest._request import Request, build_request
from cortex_tune._rest._routing import Plan, Transport
from cortex_tune._rest._settings import KeyPairToken, RestCredentialsError, RestSettings
from cortex_tune._rest._stream import AsyncCompletionStream, CompletionStream
from cortex_tune._rest._tools import Tool, ToolLoopError, ToolResult, ToolRun, tool

__all__ = [
    "AsyncCompletionStream",
    "CompletionStream",
    "KeyPairToken",
    "Plan",
    "Request",
    "RestCredentialsError",
    "RestMethods",
    "RestSettings",
    "Tool",
    "ToolLoopError",
    "ToolResult",
    "ToolRun",
    "Transport",
    "build_request",
    "tool",
]

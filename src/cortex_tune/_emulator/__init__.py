"""The Cortex emulator core shared by FakeBackend and LocalBackend."""

from cortex_tune._emulator.core import Emulator, QueryRunner
from cortex_tune._emulator.errors import EngineError
from cortex_tune._emulator.models import ModelRequest, OpenAIEndpoint, Responder

__all__ = ["Emulator", "EngineError", "ModelRequest", "OpenAIEndpoint", "QueryRunner", "Responder"]

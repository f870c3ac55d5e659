"""The local Durable Functions backend: histories, replay and a virtual-clock loop."""

from devhost.durable.engine import DurableEngine, EngineStats
from devhost.durable.errors import (
    DurableError,
    InstanceExists,
    InstanceFinished,
    InstanceRunning,
    UnknownInstance,
    UnknownOrchestrator,
)

__all__ = [
    "DurableEngine",
    "DurableError",
    "EngineStats",
    "InstanceExists",
    "InstanceFinished",
    "InstanceRunning",
    "UnknownInstance",
    "UnknownOrchestrator",
]

"""Which bindings the local host serves, and the values it passes for the non-trigger ones."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from devhost.app_loader import ACTIVITY_TRIGGER, ORCHESTRATION_TRIGGER, AppLoadError, FunctionSpec

HTTP_TRIGGER = "httpTrigger"
TIMER_TRIGGER = "timerTrigger"
EVENT_GRID_TRIGGER = "eventGridTrigger"
DURABLE_CLIENT = "durableClient"
_HTTP_OUTPUT = "http"

# Calls a function with the trigger's value (and its other bindings); returns its result.
Invoke = Callable[[FunctionSpec, Any], Any]

_TRIGGERS = frozenset(
    {HTTP_TRIGGER, TIMER_TRIGGER, EVENT_GRID_TRIGGER, ORCHESTRATION_TRIGGER, ACTIVITY_TRIGGER}
)


def refuse_unsupported(functions: tuple[FunctionSpec, ...]) -> None:
    """AppLoadError (one line) for a trigger or binding this host does not play."""
    for spec in functions:
        if spec.trigger_type not in _TRIGGERS:
            raise AppLoadError(
                f"function {spec.name!r}: trigger type {spec.trigger_type!r} is not supported "
                f"(supported: {', '.join(sorted(_TRIGGERS))})"
            )
        if spec.trigger_type in (ORCHESTRATION_TRIGGER, ACTIVITY_TRIGGER):
            continue
        for binding in spec.bindings:
            kind = binding.get("type")
            if kind == spec.trigger_type or kind == DURABLE_CLIENT:
                continue
            if kind == _HTTP_OUTPUT and spec.trigger_type == HTTP_TRIGGER:
                continue
            raise AppLoadError(
                f"function {spec.name!r}: binding {binding.get('name')!r} of type {kind!r} "
                "is not supported by the local host"
            )


def input_arguments(
    spec: FunctionSpec, trigger_value: Any, *, durable_client: str
) -> Mapping[str, Any]:
    """The keyword arguments of one invocation: the trigger's value and the client bindings'."""
    arguments: dict[str, Any] = {spec.trigger_parameter: trigger_value}
    for binding in spec.bindings:
        if binding.get("type") == DURABLE_CLIENT:
            arguments[str(binding["name"])] = durable_client
    return arguments

"""An orchestrator that changes what it schedules between replays (a bug the host must catch)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

app = df.DFApp()

# Flipped by the test between episodes, as a code change during a run would.
activity_to_call = "first"


@app.activity_trigger(input_name="value")
def first(value: str) -> str:
    return f"first {value}"


@app.activity_trigger(input_name="value")
def second(value: str) -> str:
    return f"second {value}"


@app.orchestration_trigger(context_name="context")
def fickle(context: df.DurableOrchestrationContext) -> Generator[Any, Any, list[str]]:
    one = yield context.call_activity(activity_to_call, "a")
    two = yield context.wait_for_external_event("Go")
    three = yield context.call_activity("first", "b")
    return [one, two, three]


@app.orchestration_trigger(context_name="context")
def fickle_and_failing(context: df.DurableOrchestrationContext) -> Generator[Any, Any, None]:
    yield context.call_activity(activity_to_call, "a")
    yield context.wait_for_external_event("Go")
    raise RuntimeError("fails after the replay changed")

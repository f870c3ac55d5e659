"""Flattening what the SDK returns, for every replay schema it speaks."""

from __future__ import annotations

import json
from collections.abc import Generator
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.durable_functions as df
import pytest

from devhost.app_loader import loaded
from devhost.durable.actions import ActionType, UnsupportedAction, flatten
from devhost.durable.history import EventType, event, execution_started

app = df.DFApp()
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@app.orchestration_trigger(context_name="context")
def nested(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    first = context.call_activity("one", 1)
    yield first
    retry = df.RetryOptions(first_retry_interval_in_milliseconds=250, max_number_of_attempts=4)
    both = context.task_all(
        [
            first,
            context.call_activity("two", 2),
            context.call_activity_with_retry("three", retry, 3),
        ]
    )
    deadline = context.create_timer(context.current_utc_datetime + timedelta(minutes=5))
    approval = context.wait_for_external_event("Approval")
    yield context.task_any([both, deadline, approval])
    return None


@app.orchestration_trigger(context_name="context")
def pairs(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    yield context.call_activity("one", 1)
    yield context.task_all([context.call_activity("two", 2), context.call_activity("three", 3)])
    return None


@app.orchestration_trigger(context_name="context")
def entity_caller(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    return (yield context.call_entity(df.EntityId("counter", "k"), "add", 1))


def _episode(orchestrator: str, schema: int, *completions: dict[str, Any]) -> dict[str, Any]:
    history = [
        event(EventType.ORCHESTRATOR_STARTED, NOW),
        execution_started(NOW, name=orchestrator, instance_id="i", execution_id="e",
                          input_json=None, parent=None),
        *completions,
    ]  # fmt: skip
    context = {
        "history": history,
        "instanceId": "i",
        "isReplaying": False,
        "parentInstanceId": None,
        "input": None,
        "upperSchemaVersion": schema,
    }
    handle = loaded(app).orchestrator(orchestrator).user_function
    return json.loads(handle(json.dumps(context)))  # type: ignore[no-any-return]


def test_schema_v1_lists_each_yield_as_its_own_action_list() -> None:
    first_done = [
        event(EventType.TASK_SCHEDULED, NOW, 0, Name="one", Input="1"),
        event(EventType.TASK_COMPLETED, NOW, TaskScheduledId=0, Result="1"),
    ]
    state = _episode("pairs", 0, *first_done)
    assert "schemaVersion" not in state
    assert [[a["functionName"] for a in group] for group in state["actions"]] == [
        ["one"],
        ["two", "three"],
    ]
    assert [action.name for action in flatten(state)] == ["one", "two", "three"]


@pytest.mark.parametrize("schema", [1, 2])
def test_compound_actions_flatten_depth_first_in_sequence_order(schema: int) -> None:
    first_done = [
        event(EventType.TASK_SCHEDULED, NOW, 0, Name="one", Input="1"),
        event(EventType.TASK_COMPLETED, NOW, TaskScheduledId=0, Result="1"),
    ]
    state = _episode("nested", schema, *first_done)
    actions = flatten(state)
    assert [(action.type, action.name) for action in actions] == [
        (ActionType.CALL_ACTIVITY, "one"),
        (ActionType.CALL_ACTIVITY, "two"),
        (ActionType.CALL_ACTIVITY_WITH_RETRY, "three"),
        (ActionType.CREATE_TIMER, ""),
        (ActionType.WAIT_FOR_EXTERNAL_EVENT, "Approval"),
    ]
    retry = actions[2].retry
    assert retry is not None
    assert (retry.first_retry_interval_ms, retry.max_number_of_attempts) == (250, 4)
    assert actions[3].fire_at == NOW + timedelta(minutes=5)
    assert [a.takes_sequence_number for a in actions] == [True, True, True, True, False]
    # task_any/task_all nest; the already scheduled "one" is not repeated inside.
    (outer,) = state["actions"][0][1:]
    assert outer["actionType"] == ActionType.WHEN_ANY
    assert [a["actionType"] for a in outer["compoundActions"]] == [
        ActionType.WHEN_ALL, ActionType.CREATE_TIMER, ActionType.WAIT_FOR_EXTERNAL_EVENT,
    ]  # fmt: skip


def test_entity_calls_are_refused_with_a_clear_reason() -> None:
    state = _episode("entity_caller", 2)
    with pytest.raises(UnsupportedAction, match="entities are not supported"):
        flatten(state)

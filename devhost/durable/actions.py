"""The actions an orchestrator episode returns, flattened into the order they were scheduled.

Replay schema V1 returns a list of action lists; V2 and later return one list
whose `task_all`/`task_any` entries nest their children as `compoundActions`
(only the children not scheduled before). Either way the flat order is the
order the SDK gave the tasks their sequence numbers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Any

from devhost.durable.history import parse_timestamp


class ActionType(IntEnum):
    CALL_ACTIVITY = 0
    CALL_ACTIVITY_WITH_RETRY = 1
    CALL_SUB_ORCHESTRATOR = 2
    CALL_SUB_ORCHESTRATOR_WITH_RETRY = 3
    CONTINUE_AS_NEW = 4
    CREATE_TIMER = 5
    WAIT_FOR_EXTERNAL_EVENT = 6
    CALL_ENTITY = 7
    CALL_HTTP = 8
    SIGNAL_ENTITY = 9
    WHEN_ANY = 11
    WHEN_ALL = 12


OUT_OF_PROC_MARKER = "$OutOfProcData$:"
_COMPOUND = (ActionType.WHEN_ANY, ActionType.WHEN_ALL)
_UNSUPPORTED = {
    ActionType.CALL_ENTITY: "durable entities are not supported",
    ActionType.SIGNAL_ENTITY: "durable entities are not supported",
    ActionType.CALL_HTTP: "durable HTTP calls (call_http) are not supported",
}


class UnsupportedAction(Exception):
    """The orchestrator used an API the local host does not provide."""


@dataclass(frozen=True)
class RetryPolicy:
    first_retry_interval_ms: int
    max_number_of_attempts: int


@dataclass(frozen=True)
class Action:
    type: ActionType
    name: str = ""
    input_json: str | None = None
    instance_id: str | None = None
    fire_at: datetime | None = None
    is_canceled: bool = False
    retry: RetryPolicy | None = None

    @property
    def takes_sequence_number(self) -> bool:
        # External events are matched by name, every other task by number.
        return self.type is not ActionType.WAIT_FOR_EXTERNAL_EVENT

    @property
    def kind(self) -> str:
        """What history records the action as; retrying variants are the same kind."""
        return _KINDS[self.type]


_KINDS = {
    ActionType.CALL_ACTIVITY: "activity",
    ActionType.CALL_ACTIVITY_WITH_RETRY: "activity",
    ActionType.CALL_SUB_ORCHESTRATOR: "sub-orchestration",
    ActionType.CALL_SUB_ORCHESTRATOR_WITH_RETRY: "sub-orchestration",
    ActionType.CONTINUE_AS_NEW: "continue-as-new",
    ActionType.CREATE_TIMER: "timer",
    ActionType.WAIT_FOR_EXTERNAL_EVENT: "external event",
}


def flatten(state: Mapping[str, Any]) -> list[Action]:
    """Every action of an orchestrator state (`actions`), depth-first."""
    groups = state.get("actions") or []
    return [action for group in groups for raw in group for action in _leaves(raw)]


def _leaves(raw: Mapping[str, Any]) -> Iterator[Action]:
    action_type = ActionType(raw["actionType"])
    if action_type in _COMPOUND:
        for child in raw.get("compoundActions") or []:
            yield from _leaves(child)
        return
    if action_type in _UNSUPPORTED:
        raise UnsupportedAction(_UNSUPPORTED[action_type])
    yield _parse(action_type, raw)


def _parse(action_type: ActionType, raw: Mapping[str, Any]) -> Action:
    if action_type is ActionType.CREATE_TIMER:
        return Action(
            action_type,
            fire_at=parse_timestamp(raw["fireAt"]),
            is_canceled=bool(raw.get("isCanceled", False)),
        )
    if action_type is ActionType.WAIT_FOR_EXTERNAL_EVENT:
        return Action(action_type, name=raw["externalEventName"])
    if action_type is ActionType.CONTINUE_AS_NEW:
        return Action(action_type, input_json=raw.get("input"))
    retry_json = raw.get("retryOptions")
    retry = None
    if retry_json:
        retry = RetryPolicy(
            first_retry_interval_ms=int(retry_json["firstRetryIntervalInMilliseconds"]),
            max_number_of_attempts=int(retry_json["maxNumberOfAttempts"]),
        )
    return Action(
        action_type,
        name=raw["functionName"],
        input_json=raw.get("input"),
        instance_id=raw.get("instanceId"),
        retry=retry,
    )


def run_orchestrator(
    handle: Callable[[str], str], context_json: str
) -> tuple[dict[str, Any] | None, str | None]:
    """One episode through the SDK's handle: its state, and its error if it failed.

    A failing orchestrator raises with its state after `$OutOfProcData$:`,
    so its actions can still be checked against history before the error
    counts; without that marker there is no state, only the error.
    """
    try:
        returned = handle(context_json)
    except Exception as error:  # the orchestrator's own failure, as the SDK reports it
        text = str(error)
        if OUT_OF_PROC_MARKER not in text:
            return None, f"{type(error).__name__}: {text}"
        message, _, state_json = text.partition(OUT_OF_PROC_MARKER)
        state: dict[str, Any] = json.loads(state_json)
        return state, str(state.get("error") or message.strip())
    parsed: dict[str, Any] = json.loads(returned)
    return parsed, None

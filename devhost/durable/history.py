"""Orchestration history events in the JSON the Durable extension sends the SDK.

Field names and types follow the Durable Task Framework's history events as the
extension serialises them for out-of-process workers. `History` keeps each
event's JSON text, so a replay joins strings instead of re-serialising the
whole history.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


class EventType(IntEnum):
    EXECUTION_STARTED = 0
    EXECUTION_COMPLETED = 1
    EXECUTION_FAILED = 2
    EXECUTION_TERMINATED = 3
    TASK_SCHEDULED = 4
    TASK_COMPLETED = 5
    TASK_FAILED = 6
    SUB_ORCHESTRATION_INSTANCE_CREATED = 7
    SUB_ORCHESTRATION_INSTANCE_COMPLETED = 8
    SUB_ORCHESTRATION_INSTANCE_FAILED = 9
    TIMER_CREATED = 10
    TIMER_FIRED = 11
    ORCHESTRATOR_STARTED = 12
    ORCHESTRATOR_COMPLETED = 13
    EVENT_SENT = 14
    EVENT_RAISED = 15
    CONTINUE_AS_NEW = 16


# The Durable Task Framework's OrchestrationStatus, as ExecutionCompleted carries it.
class OrchestrationStatus(IntEnum):
    RUNNING = 0
    COMPLETED = 1
    CONTINUED_AS_NEW = 2
    FAILED = 3
    CANCELED = 4
    TERMINATED = 5
    PENDING = 6


_STATUS_NAMES = {
    OrchestrationStatus.RUNNING: "Running",
    OrchestrationStatus.COMPLETED: "Completed",
    OrchestrationStatus.CONTINUED_AS_NEW: "ContinuedAsNew",
    OrchestrationStatus.FAILED: "Failed",
    OrchestrationStatus.CANCELED: "Canceled",
    OrchestrationStatus.TERMINATED: "Terminated",
    OrchestrationStatus.PENDING: "Pending",
}


def status_name(status: OrchestrationStatus) -> str:
    """The runtime status as the extension spells it (`OrchestrationRuntimeStatus`)."""
    return _STATUS_NAMES[status]


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def parse_timestamp(text: str) -> datetime:
    """A timestamp the SDK wrote (`fireAt`); a missing zone means UTC, as the SDK assumes."""
    moment = datetime.fromisoformat(text.removesuffix("Z"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def event(event_type: EventType, at: datetime, event_id: int = -1, **fields: Any) -> dict[str, Any]:
    return {
        "EventType": int(event_type),
        "EventId": event_id,
        "IsPlayed": False,
        "Timestamp": timestamp(at),
        **fields,
    }


def execution_started(
    at: datetime,
    *,
    name: str,
    instance_id: str,
    execution_id: str,
    input_json: str | None,
    parent: dict[str, Any] | None,
) -> dict[str, Any]:
    return event(
        EventType.EXECUTION_STARTED,
        at,
        OrchestrationInstance={"InstanceId": instance_id, "ExecutionId": execution_id},
        ParentInstance=parent,
        Name=name,
        Version="",
        Input=input_json,
        Tags=None,
        Correlation=None,
        ScheduledStartTime=None,
        Generation=0,
    )


class History:
    """One execution's events; those of past episodes are sent with `IsPlayed: true`."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._played_json = ""
        self._played_count = 0
        self._fresh: list[str] = []

    def __len__(self) -> int:
        return len(self.events)

    @property
    def played_count(self) -> int:
        return self._played_count

    def append(self, history_event: dict[str, Any]) -> None:
        self.events.append(history_event)
        self._fresh.append(json.dumps(history_event))

    def as_json(self) -> str:
        """The JSON array of all events, as the orchestrator's context carries it."""
        parts = [self._played_json] if self._played_json else []
        parts.extend(self._fresh)
        return "[" + ",".join(parts) + "]"

    def mark_played(self) -> None:
        """The current episode is over: its events are replayed from now on."""
        played = []
        for history_event in self.events[self._played_count :]:
            history_event["IsPlayed"] = True
            played.append(json.dumps(history_event))
        if played:
            joined = ",".join(played)
            self._played_json = f"{self._played_json},{joined}" if self._played_json else joined
        self._played_count = len(self.events)
        self._fresh = []


def for_status(events: list[dict[str, Any]], *, show_history_output: bool) -> list[dict[str, Any]]:
    """`historyEvents` as the extension's status query shapes them.

    Scheduling events are folded into their completions (`FunctionName`,
    `ScheduledTime`), episode markers dropped, enums spelled out and results
    parsed only when output is asked for.
    """
    shaped: list[dict[str, Any]] = []
    scheduled: dict[tuple[EventType, int], tuple[int, dict[str, Any]]] = {}
    folded: set[int] = set()
    for index, raw in enumerate(events):
        item = dict(raw)
        event_type = EventType(item["EventType"])
        item["EventType"] = _event_type_name(event_type)
        if event_type in (EventType.TASK_SCHEDULED, EventType.SUB_ORCHESTRATION_INSTANCE_CREATED):
            scheduled[(event_type, item["EventId"])] = (index, item)
            item.pop("Version", None)
            item.pop("Input", None)
        elif event_type in (EventType.TASK_COMPLETED, EventType.TASK_FAILED):
            _fold(item, scheduled, EventType.TASK_SCHEDULED, folded)
            _shape_result(item, show_history_output and event_type is EventType.TASK_COMPLETED)
        elif event_type in (
            EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED,
            EventType.SUB_ORCHESTRATION_INSTANCE_FAILED,
        ):
            _fold(item, scheduled, EventType.SUB_ORCHESTRATION_INSTANCE_CREATED, folded)
            _shape_result(
                item,
                show_history_output
                and event_type is EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED,
            )
        elif event_type is EventType.EXECUTION_STARTED:
            item["FunctionName"] = item.pop("Name")
            for key in ("OrchestrationInstance", "ParentInstance", "Version", "Tags", "Input"):
                item.pop(key, None)
        elif event_type is EventType.EXECUTION_COMPLETED:
            item["OrchestrationStatus"] = _STATUS_NAMES[
                OrchestrationStatus(item["OrchestrationStatus"])
            ]
            _shape_result(item, show_history_output)
        elif event_type in (EventType.EXECUTION_TERMINATED, EventType.EVENT_RAISED):
            item.pop("Input", None)
        elif event_type is EventType.TIMER_FIRED:
            item.pop("TimerId", None)
        elif event_type in (EventType.ORCHESTRATOR_STARTED, EventType.ORCHESTRATOR_COMPLETED):
            folded.add(index)
        item.pop("EventId", None)
        item.pop("IsPlayed", None)
        shaped.append(item)
    return [item for index, item in enumerate(shaped) if index not in folded]


def _fold(
    item: dict[str, Any],
    scheduled: dict[tuple[EventType, int], tuple[int, dict[str, Any]]],
    scheduled_type: EventType,
    folded: set[int],
) -> None:
    found = scheduled.get((scheduled_type, item.pop("TaskScheduledId", -1)))
    if found is not None:
        index, scheduling = found
        item["ScheduledTime"] = scheduling["Timestamp"]
        item["FunctionName"] = scheduling["Name"]
        folded.add(index)


def _shape_result(item: dict[str, Any], show_output: bool) -> None:
    if not show_output:
        item.pop("Result", None)
    elif isinstance(item.get("Result"), str):
        item["Result"] = parse_json_or_text(item["Result"])


def parse_json_or_text(text: str | None) -> Any:
    """JSON text as a value; text that is not JSON stays text (the extension's ParseToJToken)."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _event_type_name(event_type: EventType) -> str:
    return "".join(word.capitalize() for word in event_type.name.split("_"))

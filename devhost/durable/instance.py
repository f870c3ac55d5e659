"""One orchestration instance: its history, its sequence numbers and its retries.

Nothing here locks or runs anything; the engine calls it with its lock held.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from devhost.durable.actions import Action, ActionType
from devhost.durable.history import (
    EventType,
    History,
    OrchestrationStatus,
    execution_started,
    parse_json_or_text,
    status_name,
)

# The Azure Storage backend cannot hold a timer beyond about six days; the
# extension tells the SDK to split longer ones into three-day steps.
MAXIMUM_SHORT_TIMER = "6.00:00:00"
LONG_TIMER_INTERVAL = "3.00:00:00"
NON_DETERMINISM = "Non-Deterministic workflow detected"

_FINISHED = frozenset(
    {OrchestrationStatus.COMPLETED, OrchestrationStatus.FAILED, OrchestrationStatus.TERMINATED}
)


@dataclass(frozen=True)
class ParentLink:
    instance_id: str
    execution_id: str
    task_id: int
    name: str


@dataclass(frozen=True)
class Scheduled:
    """What history holds at a sequence number, for the non-determinism check."""

    kind: str
    name: str


@dataclass
class Retry:
    action: Action
    attempts: int = 1


@dataclass(frozen=True)
class RetryStep:
    """What a retry schedules once the episode that read its failure or timer is over."""

    number: int
    retry: Retry
    is_timer: bool


@dataclass
class Instance:
    instance_id: str
    name: str
    input_json: str | None
    parent: ParentLink | None
    created: datetime
    updated: datetime
    execution_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    status: OrchestrationStatus = OrchestrationStatus.PENDING
    output: Any = None
    custom_status: Any = None
    history: History = field(default_factory=History)
    inbox: list[dict[str, Any]] = field(default_factory=list)
    next_sequence: int = 0
    task_ids: list[int] = field(default_factory=list)
    scheduled: dict[int, Scheduled] = field(default_factory=dict)
    retry_attempts: dict[int, Retry] = field(default_factory=dict)
    retry_timers: dict[int, Retry] = field(default_factory=dict)
    open_timers: set[int] = field(default_factory=set)
    busy: bool = False
    queued: bool = False
    terminate_reason: str | None = None
    replay_count: int = 0

    @property
    def finished(self) -> bool:
        return self.status in _FINISHED

    def take_sequence_number(self) -> int:
        number = self.next_sequence
        self.next_sequence += 1
        return number

    def execution_started(self, now: datetime) -> dict[str, Any]:
        parent = None
        if self.parent is not None:
            parent = {
                "Name": self.parent.name,
                "Version": "",
                "TaskScheduleId": self.parent.task_id,
                "OrchestrationInstance": {
                    "InstanceId": self.parent.instance_id,
                    "ExecutionId": self.parent.execution_id,
                },
            }
        return execution_started(
            now,
            name=self.name,
            instance_id=self.instance_id,
            execution_id=self.execution_id,
            input_json=self.input_json,
            parent=parent,
        )

    def new_execution(self, input_json: str | None, now: datetime) -> None:
        """Continue as new: a fresh history; events raised meanwhile carry over."""
        carried = [item for item in self.inbox if item["EventType"] == EventType.EVENT_RAISED]
        self.execution_id = uuid.uuid4().hex
        self.input_json = input_json
        self.history = History()
        self.next_sequence = 0
        self.task_ids = []
        self.scheduled = {}
        self.retry_attempts = {}
        self.retry_timers = {}
        self.open_timers = set()
        self.status = OrchestrationStatus.CONTINUED_AS_NEW
        self.inbox = [self.execution_started(now), *carried]

    def take_batch(self) -> tuple[list[dict[str, Any]], list[RetryStep]]:
        """The inbox in delivery order, and the sequence numbers its retries take.

        The SDK numbers a retry's timer and next attempt when it reads the
        failure or the timer. Delivered before the other new events, those
        are the next free numbers, so the engine takes them here, in order.
        """
        batch = sorted(self.inbox, key=lambda item: not self._is_retry_event(item))
        self.inbox = []
        steps: list[RetryStep] = []
        for item in batch:
            event_type = item["EventType"]
            if event_type in (
                EventType.TASK_COMPLETED,
                EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED,
            ):
                self.retry_attempts.pop(item["TaskScheduledId"], None)
            elif not self._is_retry_event(item):
                continue
            elif event_type == EventType.TIMER_FIRED:
                retry = self.retry_timers.pop(item["TimerId"])
                policy = retry.action.retry
                if policy is not None and retry.attempts < policy.max_number_of_attempts:
                    retry.attempts += 1
                    attempt = self.take_sequence_number()
                    self.retry_attempts[attempt] = retry
                    steps.append(RetryStep(attempt, retry, is_timer=False))
            else:
                retry = self.retry_attempts.pop(item["TaskScheduledId"])
                timer = self.take_sequence_number()
                self.retry_timers[timer] = retry
                steps.append(RetryStep(timer, retry, is_timer=True))
        return batch, steps

    def _is_retry_event(self, item: dict[str, Any]) -> bool:
        event_type = item["EventType"]
        if event_type in (EventType.TASK_FAILED, EventType.SUB_ORCHESTRATION_INSTANCE_FAILED):
            return item["TaskScheduledId"] in self.retry_attempts
        if event_type == EventType.TIMER_FIRED:
            return item["TimerId"] in self.retry_timers
        return False

    def match(self, actions: list[Action]) -> tuple[list[tuple[int, Action]], str | None]:
        """The actions not scheduled before, numbered; or why the replay differs from history.

        As the Durable Task Framework does, each sequence number must come
        back as the same kind of task with the same name (case-insensitive).
        """
        numbered = [action for action in actions if action.takes_sequence_number]
        new_actions: list[tuple[int, Action]] = []
        for index, action in enumerate(numbered):
            if index >= len(self.task_ids):
                number = self.take_sequence_number()
                self.task_ids.append(number)
                self.scheduled[number] = Scheduled(action.kind, action.name)
                new_actions.append((number, action))
                continue
            number = self.task_ids[index]
            recorded = self.scheduled[number]
            if recorded.kind != action.kind or recorded.name.casefold() != action.name.casefold():
                return [], (
                    f"{NON_DETERMINISM}: a previous execution of this orchestration scheduled "
                    f"{_describe(recorded)} with sequence number {number}, but the current "
                    f"replay execution instead scheduled {_describe(action)} at the same "
                    "sequence number. Was a change made to the orchestrator code after this "
                    "instance had already started running?"
                )
            if action.type is ActionType.CREATE_TIMER and action.is_canceled:
                self.open_timers.discard(number)
        if len(numbered) < len(self.task_ids):
            number = self.task_ids[len(numbered)]
            return [], (
                f"{NON_DETERMINISM}: a previous execution of this orchestration scheduled "
                f"{_describe(self.scheduled[number])} with sequence number {number}, but the "
                "current replay execution hasn't (yet?) scheduled this task. Was a change made "
                "to the orchestrator code after this instance had already started running?"
            )
        return new_actions, None

    def context_json(self) -> str:
        """The orchestration trigger's context, as the extension sends it for Azure Storage."""
        parent_id = self.parent.instance_id if self.parent else None
        return (
            '{"history":' + self.history.as_json()
            + ',"instanceId":' + json.dumps(self.instance_id)
            + ',"isReplaying":' + ("true" if self.history.played_count else "false")
            + ',"parentInstanceId":' + json.dumps(parent_id)
            + ',"input":' + json.dumps(self.input_json)
            + ',"upperSchemaVersion":1,"upperSchemaVersionNew":3'
            + f',"maximumShortTimerDuration":"{MAXIMUM_SHORT_TIMER}"'
            + f',"longRunningTimerIntervalDuration":"{LONG_TIMER_INTERVAL}"}}'
        )  # fmt: skip

    def status_json(self, *, show_input: bool) -> dict[str, Any]:
        return {
            "name": self.name,
            "instanceId": self.instance_id,
            "runtimeStatus": status_name(self.status),
            "input": parse_json_or_text(self.input_json) if show_input else None,
            "customStatus": self.custom_status,
            "output": self.output,
            "createdTime": _status_time(self.created),
            "lastUpdatedTime": _status_time(self.updated),
            "historyEventCount": len(self.history),
            "replayCount": self.replay_count,
        }


def _describe(task: Scheduled | Action) -> str:
    return f"{task.kind} '{task.name}'" if task.name else f"a {task.kind}"


def _status_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

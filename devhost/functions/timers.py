"""Timer triggers: six-field NCRONTAB schedules (seconds first) on the host's clock.

An occurrence fires once. A firing more than a second of real time late is
`past_due`; when the clock is found past several occurrences (a suspended
machine, a virtual clock set far ahead), the function runs once, past due,
and the schedule resumes after now, as the host does.
The function gets `azure.functions.TimerRequest` built by the library's own
converter from the JSON the host sends the worker.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.functions import meta
from azure.functions.timer import TimerRequestConverter
from croniter import croniter

from devhost.app_loader import AppLoadError, FunctionSpec
from devhost.functions.bindings import TIMER_TRIGGER

# A firing later than this after its occurrence (in real time) is reported as past due.
PAST_DUE_AFTER = timedelta(seconds=1)
_NCRONTAB_FIELDS = 6


def next_occurrence(schedule: str, after: datetime) -> datetime:
    """The first occurrence of `schedule` strictly after `after` (UTC)."""
    iterator = croniter(schedule, after.astimezone(UTC), second_at_beginning=True)
    return iterator.get_next(datetime).astimezone(UTC)


def parse_schedule(spec: FunctionSpec) -> str:
    schedule = str(spec.trigger.get("schedule", "")).strip()
    if len(schedule.split()) != _NCRONTAB_FIELDS:
        raise AppLoadError(
            f"timer function {spec.name!r}: schedule {schedule!r} must be an NCRONTAB "
            "expression of six fields ({second} {minute} {hour} {day} {month} {day-of-week})"
        )
    if not croniter.is_valid(schedule, second_at_beginning=True):
        raise AppLoadError(f"timer function {spec.name!r}: invalid schedule {schedule!r}")
    return schedule


@dataclass
class _Timer:
    spec: FunctionSpec
    schedule: str
    due: datetime
    last: datetime | None = None


@dataclass(frozen=True)
class DueTimer:
    spec: FunctionSpec
    request: Any  # azure.functions.TimerRequest


class TimerTriggers:
    def __init__(
        self,
        functions: tuple[FunctionSpec, ...],
        start: datetime,
        *,
        past_due_after: timedelta = PAST_DUE_AFTER,
    ) -> None:
        """The app's timer functions, scheduled from `start`; AppLoadError for a bad schedule.

        `past_due_after` is `PAST_DUE_AFTER` in the clock's time (a faster clock, more of it).
        """
        self._lock = threading.Lock()
        self._past_due_after = past_due_after
        self._timers = [
            _Timer(spec, schedule, next_occurrence(schedule, start))
            for spec in functions
            if spec.trigger_type == TIMER_TRIGGER
            for schedule in (parse_schedule(spec),)
        ]

    def next_due(self) -> datetime | None:
        with self._lock:
            return min((timer.due for timer in self._timers), default=None)

    def take_due(self, now: datetime) -> list[DueTimer]:
        """The invocations due at `now`; each timer then moves to its next occurrence after now."""
        due: list[DueTimer] = []
        with self._lock:
            for timer in self._timers:
                if timer.due > now:
                    continue
                following = next_occurrence(timer.schedule, now)
                due.append(
                    DueTimer(
                        timer.spec,
                        timer_request(
                            last=timer.last or timer.due,
                            next_due=following,
                            now=now,
                            past_due=now - timer.due > self._past_due_after,
                        ),
                    )
                )
                timer.last, timer.due = timer.due, following
        return due

    def startup_requests(self, now: datetime) -> list[DueTimer]:
        """The invocations of the timers marked `runOnStartup`."""
        with self._lock:
            return [
                DueTimer(
                    timer.spec,
                    timer_request(last=now, next_due=timer.due, now=now, past_due=False),
                )
                for timer in self._timers
                if timer.spec.trigger.get("runOnStartup")
            ]


def timer_request(*, last: datetime, next_due: datetime, now: datetime, past_due: bool) -> Any:
    payload = {
        "Schedule": {"AdjustForDST": True},
        "ScheduleStatus": {
            "Last": last.isoformat(),
            "Next": next_due.isoformat(),
            "LastUpdated": now.isoformat(),
        },
        "IsPastDue": past_due,
    }
    return TimerRequestConverter.decode(
        meta.Datum(value=json.dumps(payload), type="json"), trigger_metadata=None
    )

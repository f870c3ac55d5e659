"""What a rehearsal is asked to do, apart from running it: light to import, so a command
line can check its input without loading the app, the SDKs and the local host."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from azure_io.settings import Settings
from patching.errors import BadInput
from patching.fleet import Fleet
from patching.models import Cycle
from patching.timefmt import parse_time


@dataclass(frozen=True, slots=True)
class TimedEvent:
    """An Event Grid event and when the clock delivers it."""

    at: datetime
    event: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RehearsalSpec:
    fleet_document: dict[str, Any]
    fleet: Fleet
    cycle: Cycle
    days: int
    settings: Settings  # planning settings; the rehearsal sets where ARM and the tables are
    log_path: Path
    events: tuple[TimedEvent, ...] = ()
    duplicate_activities: float = 0.0
    storage_connection_string: str | None = None  # None: Azurite, started and stopped here
    in_memory_store: bool = False  # fast, nothing kept: no tables at all

    @property
    def start(self) -> datetime:
        return self.cycle.release.released_at

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)


@dataclass(frozen=True, slots=True)
class Progress:
    now: datetime
    installs_done: int


def parse_events(document: object, *, where: str) -> tuple[TimedEvent, ...]:
    """The events of an EVENTS.json (a JSON array of Event Grid or CloudEvents events),
    ordered by their time (`eventTime`, or CloudEvents' `time`)."""
    if not isinstance(document, list):
        raise BadInput(f"{where}: expected a JSON array of events")
    events = []
    for index, event in enumerate(document):
        if not isinstance(event, dict):
            raise BadInput(f"{where}[{index}]: expected an event object")
        name = "eventTime" if "eventTime" in event else "time"
        text = event.get(name)
        if not isinstance(text, str):
            raise BadInput(f"{where}[{index}].eventTime: expected an ISO 8601 UTC time")
        try:
            at = parse_time(text)
        except ValueError as error:
            raise BadInput(f"{where}[{index}].{name}: {error}") from error
        events.append(TimedEvent(at, event))
    return tuple(sorted(events, key=lambda timed: timed.at))

"""Window classes: VMs that share a time zone, an off-peak window and a slot length share
their occurrences.

The planner works in whole minutes since the Unix epoch; a fleet has few distinct
classes, so occurrences are computed once per class, not once per VM.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from patching.windows import OffPeakWindow

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
_EXTEND_DAYS = 31


def minute_floor(moment: datetime) -> int:
    return (moment - EPOCH) // MINUTE


def minute_ceil(moment: datetime) -> int:
    return -((EPOCH - moment) // MINUTE)


def from_minute(minute: int) -> datetime:
    return EPOCH + minute * MINUTE


class WindowClass:
    """The occurrences, in epoch minutes, of one window in one zone, produced on demand, and
    the length of the install slot its VMs get (`patching.slots`)."""

    __slots__ = ("_next_day", "occurrences", "slot", "window", "zone")

    def __init__(self, zone: ZoneInfo, window: OffPeakWindow, since: datetime, slot: int) -> None:
        self.zone = zone
        self.window = window
        self.slot = slot
        self.occurrences: list[tuple[int, int]] = []
        self._next_day = since.astimezone(zone).date() - timedelta(days=1)

    def extend(self, days: int = _EXTEND_DAYS) -> None:
        for _ in range(days):
            opens, closes = self.window.occurrence_on(self._next_day, self.zone)
            self._next_day += timedelta(days=1)
            start, end = minute_ceil(opens), minute_floor(closes)
            if end > start:
                self.occurrences.append((start, end))

    def occurrence(self, index: int) -> tuple[int, int]:
        while index >= len(self.occurrences):
            self.extend()
        return self.occurrences[index]

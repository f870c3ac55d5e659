"""Off-peak windows: local wall-clock spans that recur daily, turned into UTC intervals."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from patching.errors import BadInput

_WINDOW = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)", re.ASCII)


class WindowError(BadInput):
    """Text that is not an off-peak window."""


@dataclass(frozen=True, slots=True)
class OffPeakWindow:
    """`start`-`end` in the VM's local time; an end not after the start is on the next day."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> OffPeakWindow:
        match = _WINDOW.fullmatch(text.strip())
        if not match:
            raise WindowError(f"{text!r} is not a window HH:MM-HH:MM (24-hour clock)")
        start = time(int(match.group(1)), int(match.group(2)))
        end = time(int(match.group(3)), int(match.group(4)))
        if start == end:
            raise WindowError(f"{text!r} starts and ends at the same time")
        return cls(start, end)

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    @property
    def nominal_minutes(self) -> int:
        """Length on a day without a clock change."""
        span = (self.end.hour * 60 + self.end.minute) - (self.start.hour * 60 + self.start.minute)
        return span + 24 * 60 if span <= 0 else span

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def occurrence_on(self, day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """The window that opens on local `day`, in UTC, never wider than the wall clock says.

        A wall time that a spring-forward change skips opens the window after the gap
        (fold=0) and closes it before the gap (fold=1); a wall time that a fall-back
        change repeats opens the window at its second instance and closes it at its first.
        """
        opening = datetime.combine(day, self.start, tzinfo=zone)
        opens = max(opening.astimezone(UTC), opening.replace(fold=1).astimezone(UTC))
        end_day = day + timedelta(days=1) if self.crosses_midnight else day
        closing = datetime.combine(end_day, self.end, tzinfo=zone)
        if _skipped(closing):
            closing = closing.replace(fold=1)
        return opens, closing.astimezone(UTC)

    def occurrences(
        self, zone: ZoneInfo, since: datetime, until: datetime
    ) -> list[tuple[datetime, datetime]]:
        """Every occurrence that ends after `since` and opens before `until`, in order."""
        first_day = since.astimezone(zone).date() - timedelta(days=1)
        last_day = until.astimezone(zone).date() + timedelta(days=1)
        found: list[tuple[datetime, datetime]] = []
        day = first_day
        while day <= last_day:
            opens, closes = self.occurrence_on(day, zone)
            if closes > since and opens < until and closes > opens:
                found.append((opens, closes))
            day += timedelta(days=1)
        return found


def _skipped(local: datetime) -> bool:
    """True when a spring-forward change means the wall clock never shows `local`."""
    round_trip = local.astimezone(UTC).astimezone(local.tzinfo)
    return round_trip.replace(tzinfo=None) != local.replace(tzinfo=None)

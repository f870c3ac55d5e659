"""The monthly release calendar: Patch Tuesday, release kinds, the 30-day deadline.

Cycles run from 2000-01 to 2999-12 (`patching.defaults.FIRST_YEAR`/`LAST_YEAR`) and
a release time must fall in those years too; anything else is a `CalendarError`.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from patching.defaults import FIRST_YEAR, LAST_YEAR, PLANNED_BASELINE_MONTHS
from patching.errors import BadInput
from patching.models import Cycle, Release, ReleaseKind
from patching.timefmt import TimeFormatError, check_in_range

RELEASE_ZONE = ZoneInfo("America/Los_Angeles")
RELEASE_TIME = time(10, 0)
DEADLINE = timedelta(days=30)

_CYCLE_ID = re.compile(r"(\d{4})-(\d{2})", re.ASCII)


class CalendarError(BadInput):
    """A cycle id or release time the calendar cannot hold."""


def parse_cycle_id(cycle_id: str) -> tuple[int, int]:
    """'2026-12' -> (2026, 12); anything else is refused with what was expected."""
    match = _CYCLE_ID.fullmatch(cycle_id)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise CalendarError(f"cycle {cycle_id!r} is not YYYY-MM")
    year = int(match.group(1))
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise CalendarError(
            f"cycle {cycle_id!r} is outside {FIRST_YEAR}-01 to {LAST_YEAR}-12 (YYYY-MM)"
        )
    return year, int(match.group(2))


def cycle_id_of(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


def patch_tuesday(year: int, month: int) -> datetime:
    """Second Tuesday of the month, 10:00 US Pacific (PST or PDT), as UTC."""
    first = date(year, month, 1)
    first_tuesday = first + timedelta(days=(1 - first.weekday()) % 7)
    second_tuesday = first_tuesday + timedelta(days=7)
    local = datetime.combine(second_tuesday, RELEASE_TIME, tzinfo=RELEASE_ZONE)
    return local.astimezone(UTC)


def next_patch_tuesday(released_at: datetime) -> datetime:
    """The release of the month after `released_at`'s."""
    months = released_at.year * 12 + released_at.month  # the next month, counted from 0
    return patch_tuesday(months // 12, months % 12 + 1)


def scheduled_kind(
    month: int, baseline_months: Collection[int] = PLANNED_BASELINE_MONTHS
) -> ReleaseKind:
    """Planned baselines in the configured months; hotpatch months between."""
    return ReleaseKind.PLANNED_BASELINE if month in baseline_months else ReleaseKind.HOTPATCH


def make_cycle(
    cycle_id: str,
    *,
    kind: ReleaseKind | None = None,
    released_at: datetime | None = None,
    baseline_months: Collection[int] = PLANNED_BASELINE_MONTHS,
    release_id: str | None = None,
) -> Cycle:
    """The cycle for a month: the calendar decides what the caller leaves out."""
    year, month = parse_cycle_id(cycle_id)
    when = released_at if released_at is not None else patch_tuesday(year, month)
    if when.tzinfo is None:
        raise CalendarError("released_at must carry a time zone")
    try:
        when = check_in_range(when, "released_at")
    except TimeFormatError as error:
        raise CalendarError(str(error)) from error
    release = Release(
        kind=kind if kind is not None else scheduled_kind(month, baseline_months),
        released_at=when,
        release_id=release_id,
    )
    return Cycle(id=cycle_id, release=release, deadline=when + DEADLINE)


def supersedes(incoming: Release, current: Release) -> bool:
    """An unplanned baseline replaces the month's hotpatch; nothing else replaces a release."""
    return (
        incoming.kind is ReleaseKind.UNPLANNED_BASELINE
        and current.kind is ReleaseKind.HOTPATCH
        and cycle_id_of(incoming.released_at) == cycle_id_of(current.released_at)
    )

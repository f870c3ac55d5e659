"""The app's one time format: ISO 8601 UTC with a trailing Z, to the second.

Two ranges, both in UTC years. A cycle starts (its release, the moment a plan starts
from) in the years the calendar plans for, `FIRST_YEAR` to `LAST_YEAR` (2000 to 2999):
`check_in_range`. A time the app reads back (a plan file's slots, a flag before it is
checked against the calendar) lies in `FIRST_YEAR` to `LAST_READABLE_YEAR`, so a plan
that runs late past 2999 still reads back and no date arithmetic overflows: `parse_time`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from patching.defaults import FIRST_YEAR, LAST_YEAR
from patching.errors import BadInput

EXAMPLE = "2026-12-08T18:00:00Z"
# One year short of datetime's end, so a day's arithmetic on any time read stays in it.
LAST_READABLE_YEAR = 9998

# ISO 8601 as the contracts write it: date, 'T', time to the minute or finer, a zone.
_ISO_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?", re.ASCII
)


class TimeFormatError(BadInput):
    """Text that is not an accepted time, or a time outside the years the app plans for."""


def format_time(moment: datetime) -> str:
    """ISO 8601 UTC with a trailing Z, to the second (the year always has four digits)."""
    utc = moment.astimezone(UTC)
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}"
        f"T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}Z"
    )


def format_precise_time(moment: datetime) -> str:
    """ISO 8601 UTC to the microsecond, for stored records whose order must survive a round
    trip (the contracts' files keep `format_time`'s seconds)."""
    return moment.astimezone(UTC).isoformat()


def parse_precise_time(text: str) -> datetime:
    """What `format_precise_time` wrote, as an aware UTC time."""
    return datetime.fromisoformat(text).astimezone(UTC)


def parse_time(text: str) -> datetime:
    """An ISO 8601 time with a zone (Z or an offset), as UTC; naive or out-of-range times are
    refused with what was expected."""
    expected = f"{text!r} is not an ISO 8601 time with a zone; expected e.g. {EXAMPLE}"
    if not _ISO_TIME.fullmatch(text):
        raise TimeFormatError(expected)
    try:
        moment = datetime.fromisoformat(
            text.removesuffix("Z") + ("+00:00" if text[-1] == "Z" else "")
        )
    except ValueError as error:  # digits in the right places, but no such day or time
        raise TimeFormatError(expected) from error
    if moment.tzinfo is None:
        raise TimeFormatError(f"{text!r} has no time zone; expected ISO 8601 UTC such as {EXAMPLE}")
    return _in_years(moment, LAST_READABLE_YEAR, repr(text), "a time may fall in")


def check_in_range(moment: datetime, field: str | None = None) -> datetime:
    """`moment` in UTC when its UTC year is one the calendar plans for; else TimeFormatError
    naming the field (when given), the value and the range."""
    shown = moment.isoformat()
    return _in_years(
        moment, LAST_YEAR, f"{field}: {shown}" if field else shown, "the calendar plans for"
    )


def _in_years(moment: datetime, last: int, shown: str, whose: str) -> datetime:
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:  # an offset that moves it past year 1 or 9999
        utc = None
    if utc is None or not FIRST_YEAR <= utc.year <= last:
        raise TimeFormatError(f"{shown} is outside the years {FIRST_YEAR} to {last} (UTC) {whose}")
    return utc

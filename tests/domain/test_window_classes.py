"""Window classes: epoch-minute conversions and the first occurrence a slot fits in."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patching.windowclass import WindowClass, from_minute, minute_ceil, minute_floor
from patching.windows import OffPeakWindow


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def minute_of(*parts: int) -> int:
    return minute_floor(utc(*parts))


def test_minute_conversions_of_whole_minutes_agree():
    moment = utc(2026, 12, 8, 18)
    assert minute_floor(moment) == minute_ceil(moment) == int(moment.timestamp()) // 60
    assert from_minute(minute_floor(moment)) == moment
    assert minute_floor(utc(1970, 1, 1)) == 0


@pytest.mark.parametrize(
    "offset", [timedelta(microseconds=1), timedelta(seconds=30), timedelta(seconds=59)]
)
def test_floor_rounds_down_and_ceil_rounds_up(offset):
    base = utc(2026, 12, 8, 18)
    assert minute_floor(base + offset) == minute_floor(base)
    assert minute_ceil(base + offset) == minute_floor(base) + 1


def test_rounding_before_the_epoch():
    moment = utc(1969, 12, 31, 23, 59, 30)
    assert minute_floor(moment) == -1
    assert minute_ceil(moment) == 0


def test_minutes_of_other_zones_are_the_same_instant():
    local = datetime(2026, 12, 9, 3, 30, tzinfo=ZoneInfo("Asia/Kathmandu"))
    assert minute_floor(local) == minute_floor(utc(2026, 12, 8, 21, 45))


@given(
    st.datetimes(
        min_value=datetime(1960, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    )
)
def test_floor_and_ceil_bracket_every_instant(moment):
    low, high = minute_floor(moment), minute_ceil(moment)
    assert from_minute(low) <= moment <= from_minute(high)
    assert high - low == (0 if moment.second == moment.microsecond == 0 else 1)


def night_class(zone: str = "UTC", since: datetime | None = None) -> WindowClass:
    return WindowClass(
        ZoneInfo(zone), OffPeakWindow.parse("22:00-06:00"), since or utc(2026, 1, 10), 90
    )


def test_occurrences_start_with_the_night_open_at_since():
    windows = night_class()
    assert windows.occurrence(0) == (minute_of(2026, 1, 9, 22), minute_of(2026, 1, 10, 6))
    assert windows.occurrence(1) == (minute_of(2026, 1, 10, 22), minute_of(2026, 1, 11, 6))
    assert windows.occurrence(40)[0] == minute_of(2026, 2, 18, 22)


def test_occurrences_are_in_the_class_zone():
    windows = WindowClass(
        ZoneInfo("Asia/Kolkata"), OffPeakWindow.parse("22:00-06:00"), utc(2026, 6, 1), 90
    )
    assert windows.occurrence(1) == (minute_of(2026, 6, 1, 16, 30), minute_of(2026, 6, 2, 0, 30))


def test_far_occurrences_are_produced_on_demand():
    windows = night_class()
    opens, closes = windows.occurrence(82)
    assert opens == minute_of(2026, 4, 1, 22)
    assert closes - opens == 480


def test_the_short_spring_forward_night_is_an_hour_shorter():
    # 22:00-06:00 in Los Angeles: 8 h a night, but 7 h on the night of 2026-03-07
    windows = night_class("America/Los_Angeles", since=utc(2026, 3, 7, 12))
    lengths = [closes - opens for opens, closes in (windows.occurrence(i) for i in range(4))]
    assert lengths == [8 * 60, 7 * 60, 8 * 60, 8 * 60]

"""Off-peak windows: parsing, and their occurrences in UTC across DST and odd offsets."""

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patching.defaults import DEFAULT_WINDOW
from patching.errors import BadInput
from patching.windows import OffPeakWindow

LOS_ANGELES = ZoneInfo("America/Los_Angeles")
LONDON = ZoneInfo("Europe/London")
KOLKATA = ZoneInfo("Asia/Kolkata")
KATHMANDU = ZoneInfo("Asia/Kathmandu")
CHATHAM = ZoneInfo("Pacific/Chatham")
UTC_ZONE = ZoneInfo("UTC")
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def wall_time_inside(window: OffPeakWindow, moment: datetime, zone: ZoneInfo) -> bool:
    local = moment.astimezone(zone).time().replace(second=0, microsecond=0)
    if window.crosses_midnight:
        return local >= window.start or local < window.end
    return window.start <= local < window.end


def minutes_outside(window: OffPeakWindow, opens: datetime, closes: datetime, zone: ZoneInfo):
    moment, outside = opens, []
    while moment < closes:
        if not wall_time_inside(window, moment, zone):
            outside.append(moment.astimezone(zone).isoformat())
        moment += MINUTE
    return outside


# -- parsing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "start", "end", "crosses", "minutes"),
    [
        ("22:00-06:00", time(22), time(6), True, 480),
        ("01:00-05:00", time(1), time(5), False, 240),
        ("00:30-06:30", time(0, 30), time(6, 30), False, 360),
        ("23:59-00:00", time(23, 59), time(0), True, 1),
        ("00:00-23:59", time(0), time(23, 59), False, 1439),
        ("06:00-05:59", time(6), time(5, 59), True, 1439),
        (" 20:15-04:45 ", time(20, 15), time(4, 45), True, 510),
    ],
)
def test_parse_good_windows(text, start, end, crosses, minutes):
    window = OffPeakWindow.parse(text)
    assert (window.start, window.end) == (start, end)
    assert window.crosses_midnight is crosses
    assert window.nominal_minutes == minutes
    assert OffPeakWindow.parse(str(window)) == window
    assert str(window) == text.strip()


def test_default_window_is_ten_at_night_to_six_in_the_morning():
    window = DEFAULT_WINDOW
    assert window == OffPeakWindow(time(22), time(6))
    assert window.nominal_minutes == 8 * 60


@pytest.mark.parametrize(
    "text",
    [
        "",
        "22:00",
        "22:00-",
        "24:00-06:00",
        "22:00-24:00",
        "22:60-06:00",
        "22:00-6:00",
        "2200-0600",
        "22:00 - 06:00",
        "22.00-06.00",
        "10pm-6am",
        "22:00-06:00-07:00",
        "22:00:00-06:00:00",
        "22:00-06:00\x00",
        "22:00-\uff10\uff16:00",  # fullwidth digits
    ],
)
def test_parse_refuses_bad_formats_naming_the_expected_form(text):
    with pytest.raises(BadInput, match=r"HH:MM-HH:MM"):
        OffPeakWindow.parse(text)


@pytest.mark.parametrize("text", ["06:00-06:00", "00:00-00:00", "23:30-23:30"])
def test_parse_refuses_equal_start_and_end(text):
    with pytest.raises(BadInput, match="same time"):
        OffPeakWindow.parse(text)


# -- single occurrences ----------------------------------------------------------------------


def test_window_across_midnight_opens_on_the_day_and_closes_the_next():
    window = OffPeakWindow.parse("22:00-06:00")
    assert window.occurrence_on(date(2026, 1, 15), LONDON) == (
        utc(2026, 1, 15, 22),
        utc(2026, 1, 16, 6),
    )
    assert window.occurrence_on(date(2026, 7, 15), LONDON) == (
        utc(2026, 7, 15, 21),
        utc(2026, 7, 16, 5),
    )
    assert window.occurrence_on(date(2026, 1, 15), LOS_ANGELES) == (
        utc(2026, 1, 16, 6),
        utc(2026, 1, 16, 14),
    )


def test_window_within_one_day_opens_and_closes_on_the_same_day():
    window = OffPeakWindow.parse("01:00-05:00")
    assert window.occurrence_on(date(2026, 7, 15), LOS_ANGELES) == (
        utc(2026, 7, 15, 8),
        utc(2026, 7, 15, 12),
    )


@pytest.mark.parametrize(
    ("zone", "day", "opens", "closes", "hours"),
    [
        # spring forward: the night loses an hour
        (LOS_ANGELES, date(2026, 3, 7), utc(2026, 3, 8, 6), utc(2026, 3, 8, 13), 7),
        (LONDON, date(2026, 3, 28), utc(2026, 3, 28, 22), utc(2026, 3, 29, 5), 7),
        # fall back: the night gains an hour
        (LOS_ANGELES, date(2026, 10, 31), utc(2026, 11, 1, 5), utc(2026, 11, 1, 14), 9),
        (LONDON, date(2026, 10, 24), utc(2026, 10, 24, 21), utc(2026, 10, 25, 6), 9),
    ],
)
def test_dst_nights_are_seven_or_nine_hours(zone, day, opens, closes, hours):
    window = OffPeakWindow.parse("22:00-06:00")
    occurrence = window.occurrence_on(day, zone)
    assert occurrence == (opens, closes)
    assert occurrence[1] - occurrence[0] == timedelta(hours=hours)
    assert minutes_outside(window, *occurrence, zone) == []


@pytest.mark.parametrize(
    ("zone", "day", "text", "gap_starts"),
    [
        # LA skips 02:00-03:00 on 2026-03-08 (10:00Z); London skips 01:00-02:00 on 2026-03-29 (01:00Z)
        (LOS_ANGELES, date(2026, 3, 7), "22:00-02:30", utc(2026, 3, 8, 10)),
        (LOS_ANGELES, date(2026, 3, 8), "00:00-02:00", utc(2026, 3, 8, 10)),
        (LONDON, date(2026, 3, 28), "23:00-01:30", utc(2026, 3, 29, 1)),
        (LONDON, date(2026, 3, 29), "00:15-01:45", utc(2026, 3, 29, 1)),
    ],
)
def test_window_ending_in_the_skipped_hour_is_never_wider_than_the_wall_clock(
    zone, day, text, gap_starts
):
    window = OffPeakWindow.parse(text)
    opens, closes = window.occurrence_on(day, zone)
    assert opens < closes <= gap_starts
    assert closes - opens <= gap_starts - opens
    assert minutes_outside(window, opens, closes, zone) == []


@pytest.mark.parametrize(
    ("zone", "day", "text", "gap_ends"),
    [
        (LOS_ANGELES, date(2026, 3, 8), "02:30-06:00", utc(2026, 3, 8, 10)),
        (LONDON, date(2026, 3, 29), "01:30-05:00", utc(2026, 3, 29, 1)),
    ],
)
def test_window_opening_in_the_skipped_hour_opens_after_the_gap(zone, day, text, gap_ends):
    window = OffPeakWindow.parse(text)
    opens, closes = window.occurrence_on(day, zone)
    assert gap_ends <= opens < closes
    assert minutes_outside(window, opens, closes, zone) == []


@pytest.mark.parametrize(
    ("zone", "day", "text", "opens", "closes"),
    [
        # 01:00-02:00 happens twice on these nights; the window must not open on the first
        # 01:30, or the clock reads 01:00-01:29 (outside the window) half an hour later
        (
            LOS_ANGELES,
            date(2026, 11, 1),
            "01:30-05:00",
            utc(2026, 11, 1, 9, 30),
            utc(2026, 11, 1, 13),
        ),
        (LONDON, date(2026, 10, 25), "01:30-05:00", utc(2026, 10, 25, 1, 30), utc(2026, 10, 25, 5)),
    ],
)
def test_window_opening_in_the_repeated_hour_is_never_wider_than_the_wall_clock(
    zone, day, text, opens, closes
):
    window = OffPeakWindow.parse(text)
    occurrence = window.occurrence_on(day, zone)
    assert minutes_outside(window, *occurrence, zone) == []
    assert occurrence == (opens, closes)
    assert occurrence[1] - occurrence[0] == timedelta(minutes=window.nominal_minutes)


def test_window_closing_in_the_repeated_hour_closes_at_its_first_instance():
    window = OffPeakWindow.parse("22:00-01:30")
    opens, closes = window.occurrence_on(date(2026, 10, 31), LOS_ANGELES)
    assert (opens, closes) == (utc(2026, 11, 1, 5), utc(2026, 11, 1, 8, 30))
    assert minutes_outside(window, opens, closes, LOS_ANGELES) == []


@pytest.mark.parametrize(
    ("zone", "day", "opens", "closes"),
    [
        (KOLKATA, date(2026, 6, 1), utc(2026, 6, 1, 16, 30), utc(2026, 6, 2, 0, 30)),  # +5:30
        (KATHMANDU, date(2026, 6, 1), utc(2026, 6, 1, 16, 15), utc(2026, 6, 2, 0, 15)),  # +5:45
        (CHATHAM, date(2026, 7, 1), utc(2026, 7, 1, 9, 15), utc(2026, 7, 1, 17, 15)),  # +12:45
        (CHATHAM, date(2026, 1, 15), utc(2026, 1, 15, 8, 15), utc(2026, 1, 15, 16, 15)),  # +13:45
    ],
)
def test_half_hour_and_three_quarter_hour_offsets(zone, day, opens, closes):
    window = OffPeakWindow.parse("22:00-06:00")
    assert window.occurrence_on(day, zone) == (opens, closes)


# -- occurrences over a range ----------------------------------------------------------------


def assert_ordered_and_disjoint(found):
    assert found
    for opens, closes in found:
        assert opens < closes
        assert opens.utcoffset() == timedelta(0)
    for (_, first_closes), (second_opens, _) in pairwise(found):
        assert first_closes <= second_opens


def test_occurrences_cover_a_week_in_a_zone_without_dst():
    window = OffPeakWindow.parse("22:00-06:00")
    since, until = utc(2026, 6, 1), utc(2026, 6, 8)
    found = window.occurrences(KOLKATA, since, until)
    assert_ordered_and_disjoint(found)
    assert all(closes > since and opens < until for opens, closes in found)
    # the night open at `since` (opened 2026-05-31 22:00 IST) is included, the last one
    # opens 2026-06-07 22:00 IST = 16:30Z, before `until`
    assert found[0] == (utc(2026, 5, 31, 16, 30), utc(2026, 6, 1, 0, 30))
    assert found[-1] == (utc(2026, 6, 7, 16, 30), utc(2026, 6, 8, 0, 30))
    assert len(found) == 8
    # every minute of the range whose wall clock is inside the window is covered
    moment = since
    while moment < until:
        covered = any(opens <= moment < closes for opens, closes in found)
        assert covered == wall_time_inside(window, moment, KOLKATA), moment
        moment += 15 * MINUTE


def test_occurrences_exclude_windows_that_end_at_since_or_open_at_until():
    window = OffPeakWindow.parse("01:00-05:00")
    found = window.occurrences(UTC_ZONE, utc(2026, 6, 1, 5), utc(2026, 6, 3, 1))
    assert found == [(utc(2026, 6, 2, 1), utc(2026, 6, 2, 5))]


def test_occurrences_across_both_dst_changes_in_london():
    window = OffPeakWindow.parse("22:00-06:00")
    spring = window.occurrences(LONDON, utc(2026, 3, 27, 12), utc(2026, 3, 30, 12))
    assert_ordered_and_disjoint(spring)
    assert [closes - opens for opens, closes in spring] == [8 * HOUR, 7 * HOUR, 8 * HOUR]
    autumn = window.occurrences(LONDON, utc(2026, 10, 23, 12), utc(2026, 10, 26, 12))
    assert_ordered_and_disjoint(autumn)
    assert [closes - opens for opens, closes in autumn] == [8 * HOUR, 9 * HOUR, 8 * HOUR]


def test_occurrences_of_a_short_range_inside_one_window():
    window = OffPeakWindow.parse("22:00-06:00")
    since = utc(2026, 1, 16, 8)  # midnight in Los Angeles
    found = window.occurrences(LOS_ANGELES, since, since + HOUR)
    assert found == [(utc(2026, 1, 16, 6), utc(2026, 1, 16, 14))]


# -- the wall-clock property ------------------------------------------------------------------

PROPERTY_ZONES = [
    "UTC",
    "America/Los_Angeles",
    "Europe/London",
    "Europe/Dublin",  # negative DST in tzdata
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "Australia/Lord_Howe",  # half-hour DST
    "America/St_Johns",
    "America/Santiago",  # changes at midnight
    "America/Havana",
    "Australia/Sydney",
    "Africa/Casablanca",
]


def _transitions(name: str) -> list[tuple[date, list[time]]]:
    """Each clock change of 2025-2027: its local date and the wall times around it."""
    zone = ZoneInfo(name)
    found = []
    moment, step = utc(2025, 1, 1), timedelta(hours=6)
    while moment < utc(2028, 1, 1):
        later = moment + step
        if moment.astimezone(zone).utcoffset() != later.astimezone(zone).utcoffset():
            low, high = moment, later
            while high - low > MINUTE:
                middle = low + (high - low) / 2
                if middle.astimezone(zone).utcoffset() == low.astimezone(zone).utcoffset():
                    low = middle
                else:
                    high = middle
            before, after = (high - MINUTE).astimezone(zone), high.astimezone(zone)
            near = {
                (local + timedelta(minutes=delta)).time().replace(second=0, microsecond=0)
                for local in (before + MINUTE, after)
                for delta in range(-75, 90, 15)
            }
            found.append((after.date(), sorted(near)))
        moment = later
    return found


TRANSITIONS = {name: _transitions(name) for name in PROPERTY_ZONES}
quarter_hours = st.builds(
    lambda q: time(q // 4, (q % 4) * 15), st.integers(min_value=0, max_value=24 * 4 - 1)
)
any_minute = st.builds(lambda m: time(m // 60, m % 60), st.integers(min_value=0, max_value=1439))
times = st.one_of(quarter_hours, any_minute)


@st.composite
def zone_day_window(draw):
    """Mostly around a clock change, with window ends near the change's wall times."""
    name = draw(st.sampled_from(PROPERTY_ZONES))
    changes = TRANSITIONS[name]
    if changes and draw(st.integers(0, 3)) > 0:
        day, near = draw(st.sampled_from(changes))
        day += timedelta(days=draw(st.integers(-1, 0)))
        start = draw(st.one_of(st.sampled_from(near), times))
        end = draw(st.one_of(st.sampled_from(near), times))
    else:
        day = draw(st.dates(date(2020, 1, 1), date(2040, 12, 31)))
        start, end = draw(times), draw(times)
    return ZoneInfo(name), day, start, end


def test_the_property_sees_clock_changes_in_every_zone_that_has_them():
    assert len(TRANSITIONS["America/Los_Angeles"]) == 6
    assert len(TRANSITIONS["Pacific/Chatham"]) == 6
    assert TRANSITIONS["UTC"] == TRANSITIONS["Asia/Kolkata"] == []
    assert date(2026, 11, 1) in [day for day, _ in TRANSITIONS["America/Los_Angeles"]]
    assert time(1, 30) in dict(TRANSITIONS["America/Los_Angeles"])[date(2026, 11, 1)]


@settings(max_examples=150, deadline=None)
@given(zone_day_window())
def test_every_minute_of_an_occurrence_is_inside_the_window_on_the_wall_clock(case):
    zone, day, start, end = case
    if start == end:
        return
    window = OffPeakWindow(start, end)
    since = datetime.combine(day, time(0), tzinfo=UTC)
    found = window.occurrences(zone, since, since + timedelta(days=2))
    assert_ordered_and_disjoint(found)
    for opens, closes in found:
        assert minutes_outside(window, opens, closes, zone) == []
        # at most one clock change per night: never more than an hour beyond nominal
        assert closes - opens <= timedelta(minutes=window.nominal_minutes) + HOUR

"""Dates at the calendar's ends: refused with the value and the range, never a traceback,
and the planner finishes on every time it accepts."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patching.calendar import CalendarError, make_cycle, parse_cycle_id
from patching.defaults import FIRST_YEAR, LAST_YEAR
from patching.errors import BadInput
from patching.fleet import parse_fleet
from patching.planfile import plan_from_json, plan_to_json
from patching.planner import PlanningPolicy, plan_cycle
from patching.replan import replan
from patching.timefmt import LAST_READABLE_YEAR, TimeFormatError, format_time, parse_time

EXAMPLE = Path(__file__).parent / "data" / "fleet-small.json"
PLUS_ONE = timezone(timedelta(hours=1))


@pytest.mark.parametrize("cycle_id", ["9999-12", "0001-01", "0999-12", "1999-12", "3000-01"])
def test_cycles_outside_the_calendar_are_refused_with_the_range(cycle_id):
    with pytest.raises(CalendarError) as refused:
        make_cycle(cycle_id)
    assert cycle_id in str(refused.value)
    assert f"{FIRST_YEAR}-01 to {LAST_YEAR}-12" in str(refused.value)


@pytest.mark.parametrize("cycle_id", [f"{FIRST_YEAR}-01", f"{LAST_YEAR}-12"])
def test_the_calendars_first_and_last_cycles_are_planned(cycle_id):
    cycle = make_cycle(cycle_id)
    assert parse_cycle_id(cycle_id) == (int(cycle_id[:4]), int(cycle_id[5:]))
    assert format_time(cycle.deadline)[:4] == str(int(cycle_id[:4]) + (cycle_id[5:] == "12"))


@pytest.mark.parametrize(
    "released_at",
    [
        datetime(1, 1, 1, tzinfo=PLUS_ONE),
        datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-1))),
        datetime(2000, 1, 1, 0, 30, tzinfo=PLUS_ONE),  # 1999 in UTC
        datetime(3000, 1, 1, tzinfo=UTC),
    ],
)
def test_release_times_outside_the_calendar_are_refused(released_at):
    with pytest.raises(CalendarError, match=f"released_at: .* {FIRST_YEAR} to {LAST_YEAR}"):
        make_cycle("2026-12", released_at=released_at)


@pytest.mark.parametrize(
    "text",
    [
        "9999-12-25T00:00:00Z",
        "9999-12-31T23:59:59-01:00",
        "0001-01-01T00:00:00+01:00",
        "0999-06-01T00:00:00Z",
        "1999-12-31T23:59:59Z",
    ],
)
def test_times_outside_the_readable_years_are_refused_naming_value_and_range(text):
    with pytest.raises(TimeFormatError) as refused:
        parse_time(text)
    assert repr(text) in str(refused.value)
    assert f"{FIRST_YEAR} to {LAST_READABLE_YEAR}" in str(refused.value)


@pytest.mark.parametrize("text", ["2026-12-08T18:00:00Z\n", "2026-12-08T18:00:00\x00Z", ""])
def test_times_with_stray_characters_are_refused(text):
    with pytest.raises(BadInput, match="ISO 8601"):
        parse_time(text)


def test_format_time_pads_every_field_to_the_contracts_width():
    assert format_time(datetime(2000, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2000-01-02T03:04:05Z"
    assert format_time(datetime(999, 1, 1, tzinfo=UTC)) == "0999-01-01T00:00:00Z"


@given(
    st.datetimes(
        min_value=datetime(FIRST_YEAR, 1, 1),
        max_value=datetime(LAST_READABLE_YEAR, 12, 31),
        timezones=st.just(UTC),
    )
)
def test_every_readable_time_round_trips(moment):
    assert parse_time(format_time(moment)) == moment.replace(microsecond=0)


def _fleet():
    return parse_fleet(json.loads(EXAMPLE.read_text(encoding="utf-8")))


@pytest.mark.parametrize(
    ("cycle_id", "now"),
    [
        (f"{LAST_YEAR}-12", None),
        (f"{LAST_YEAR}-12", datetime(LAST_YEAR, 12, 31, 23, 59, tzinfo=UTC)),
        (f"{FIRST_YEAR}-01", datetime(LAST_YEAR, 12, 31, 23, 59, tzinfo=UTC)),  # centuries late
        ("2026-12", datetime(2027, 6, 1, tzinfo=UTC)),  # months after the deadline
    ],
)
def test_the_planner_finishes_at_the_calendars_ends_and_its_plan_reads_back(cycle_id, now):
    started = time.monotonic()
    plan = plan_cycle(_fleet(), make_cycle(cycle_id), now=now)
    assert time.monotonic() - started < 20
    assert plan.assignments
    assert all(a.start >= (now or plan.cycle.release.released_at) for a in plan.assignments)
    assert plan_from_json(json.loads(json.dumps(plan_to_json(plan)))) == plan


@pytest.mark.parametrize(
    "now",
    [datetime(3000, 1, 1, tzinfo=UTC), datetime(1999, 12, 31, tzinfo=UTC)],
)
def test_planning_or_replanning_from_outside_the_calendar_is_refused(now):
    fleet = _fleet()
    cycle = make_cycle("2026-12")
    with pytest.raises(BadInput, match=f"now: .* {FIRST_YEAR} to {LAST_YEAR}"):
        plan_cycle(fleet, cycle, now=now)
    plan = plan_cycle(fleet, cycle)
    with pytest.raises(BadInput, match=f"now: .* {FIRST_YEAR} to {LAST_YEAR}"):
        replan(plan, fleet, now=now, missed=[])


@settings(max_examples=25, deadline=None)
@given(
    st.integers(FIRST_YEAR, LAST_YEAR),
    st.integers(1, 12),
    st.integers(0, 400 * 24 * 60),
)
def test_the_planner_finishes_for_any_cycle_and_any_later_start(year, month, minutes_late):
    cycle = make_cycle(f"{year:04d}-{month:02d}")
    now = min(
        cycle.release.released_at + timedelta(minutes=minutes_late),
        datetime(LAST_YEAR, 12, 31, 23, 59, tzinfo=UTC),
    )
    plan = plan_cycle(_fleet(), cycle, now=now, policy=PlanningPolicy(health_gate_minutes=1))
    assert plan.assignments

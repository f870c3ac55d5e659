"""The monthly release calendar (docs/DOMAIN.md sections 1 and 3): Patch Tuesday, kinds, deadline."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patching.calendar import (
    cycle_id_of,
    make_cycle,
    parse_cycle_id,
    patch_tuesday,
    scheduled_kind,
    supersedes,
)
from patching.models import Release, ReleaseKind

LOS_ANGELES = ZoneInfo("America/Los_Angeles")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("year", "month", "expected"),
    [
        # month starts on a Tuesday: the second Tuesday is the 8th
        (2026, 9, utc(2026, 9, 8, 17)),  # PDT
        (2026, 12, utc(2026, 12, 8, 18)),  # PST
        # month starts on a Wednesday: the first Tuesday is the 7th, the second the 14th
        (2026, 4, utc(2026, 4, 14, 17)),  # PDT
        (2025, 1, utc(2025, 1, 14, 18)),  # PST
        (2025, 10, utc(2025, 10, 14, 17)),  # PDT
        # March: DST starts on the second Sunday, before or after Patch Tuesday
        (2026, 3, utc(2026, 3, 10, 17)),  # DST began 2026-03-08
        (2027, 3, utc(2027, 3, 9, 18)),  # DST begins 2027-03-14, still PST
        # November: DST ends on the first Sunday, always before Patch Tuesday
        (2026, 11, utc(2026, 11, 10, 18)),
        (2025, 11, utc(2025, 11, 11, 18)),
    ],
)
def test_patch_tuesday_is_the_second_tuesday_at_ten_pacific(year, month, expected):
    released = patch_tuesday(year, month)
    assert released == expected
    assert released.utcoffset() == timedelta(0)
    local = released.astimezone(LOS_ANGELES)
    assert (local.hour, local.minute) == (10, 0)


@given(st.integers(2020, 2040), st.integers(1, 12))
def test_patch_tuesday_property_over_two_decades(year, month):
    local = patch_tuesday(year, month).astimezone(LOS_ANGELES)
    assert (local.year, local.month) == (year, month)
    assert local.weekday() == 1  # Tuesday
    assert 8 <= local.day <= 14
    assert (local.hour, local.minute, local.second) == (10, 0, 0)


@pytest.mark.parametrize("month", [1, 4, 7, 10])
def test_planned_baselines_in_january_april_july_october(month):
    assert scheduled_kind(month) is ReleaseKind.PLANNED_BASELINE
    assert make_cycle(f"2026-{month:02d}").release.kind is ReleaseKind.PLANNED_BASELINE


@pytest.mark.parametrize("month", [2, 3, 5, 6, 8, 9, 11, 12])
def test_months_between_baselines_are_hotpatch_months(month):
    assert scheduled_kind(month) is ReleaseKind.HOTPATCH
    assert make_cycle(f"2026-{month:02d}").release.kind is ReleaseKind.HOTPATCH


def test_baseline_months_are_configurable():
    months = (2, 5, 8, 11)
    assert scheduled_kind(2, months) is ReleaseKind.PLANNED_BASELINE
    assert scheduled_kind(1, months) is ReleaseKind.HOTPATCH
    assert (
        make_cycle("2026-05", baseline_months=months).release.kind is ReleaseKind.PLANNED_BASELINE
    )
    assert make_cycle("2026-04", baseline_months=months).release.kind is ReleaseKind.HOTPATCH


@pytest.mark.parametrize("kind", list(ReleaseKind))
@pytest.mark.parametrize("cycle_id", ["2026-01", "2026-02"])
def test_an_explicit_kind_wins_over_the_calendar(kind, cycle_id):
    assert make_cycle(cycle_id, kind=kind).release.kind is kind


def test_default_cycle_is_released_on_patch_tuesday_with_a_thirty_day_deadline():
    cycle = make_cycle("2026-12", release_id="2026-12-B")
    assert cycle.id == "2026-12"
    assert cycle.release.released_at == utc(2026, 12, 8, 18)
    assert cycle.release.release_id == "2026-12-B"
    assert cycle.deadline == utc(2027, 1, 7, 18)


def test_explicit_release_time_is_normalised_to_utc_and_sets_the_deadline():
    local = datetime(2026, 12, 9, 9, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    cycle = make_cycle("2026-12", released_at=local)
    assert cycle.release.released_at == utc(2026, 12, 9, 8, 30)
    assert cycle.release.released_at.tzinfo is UTC
    assert cycle.deadline == utc(2027, 1, 8, 8, 30)
    assert cycle.deadline - cycle.release.released_at == timedelta(days=30)


def test_naive_release_time_is_refused():
    with pytest.raises(ValueError, match="time zone"):
        make_cycle("2026-12", released_at=datetime(2026, 12, 9, 9, 30))


@pytest.mark.parametrize(
    "bad",
    [
        "2026-13",
        "2026-00",
        "2026-1",
        "26-12",
        "2026/12",
        "2026-12-08",
        "",
        "december",
        " 2026-12",
        "2026-12\n",
        "\u0662\u0660\u0662\u0666-12",
    ],
)
def test_bad_cycle_ids_are_refused_naming_the_expected_form(bad):
    with pytest.raises(ValueError, match="YYYY-MM"):
        parse_cycle_id(bad)
    with pytest.raises(ValueError, match="YYYY-MM"):
        make_cycle(bad)


def test_cycle_id_round_trips():
    assert parse_cycle_id("2026-12") == (2026, 12)
    assert parse_cycle_id("2030-01") == (2030, 1)
    assert cycle_id_of(utc(2026, 3, 1)) == "2026-03"


def release(kind: ReleaseKind, *parts: int) -> Release:
    return Release(kind=kind, released_at=utc(*parts))


def test_unplanned_baseline_supersedes_the_same_months_hotpatch():
    hotpatch = release(ReleaseKind.HOTPATCH, 2026, 11, 10, 18)
    zero_day = release(ReleaseKind.UNPLANNED_BASELINE, 2026, 11, 20, 3)
    assert supersedes(zero_day, hotpatch)


@pytest.mark.parametrize(
    ("incoming", "current"),
    [
        # another month's hotpatch
        (
            release(ReleaseKind.UNPLANNED_BASELINE, 2026, 12, 2),
            release(ReleaseKind.HOTPATCH, 2026, 11, 10, 18),
        ),
        # a planned baseline is not replaced
        (
            release(ReleaseKind.UNPLANNED_BASELINE, 2026, 10, 20),
            release(ReleaseKind.PLANNED_BASELINE, 2026, 10, 13, 17),
        ),
        # nor an unplanned baseline by another
        (
            release(ReleaseKind.UNPLANNED_BASELINE, 2026, 11, 25),
            release(ReleaseKind.UNPLANNED_BASELINE, 2026, 11, 20),
        ),
        # only an unplanned baseline replaces anything
        (
            release(ReleaseKind.HOTPATCH, 2026, 11, 20),
            release(ReleaseKind.HOTPATCH, 2026, 11, 10, 18),
        ),
        (
            release(ReleaseKind.PLANNED_BASELINE, 2026, 11, 20),
            release(ReleaseKind.HOTPATCH, 2026, 11, 10, 18),
        ),
        # a hotpatch never replaces the baseline
        (
            release(ReleaseKind.HOTPATCH, 2026, 11, 20),
            release(ReleaseKind.UNPLANNED_BASELINE, 2026, 11, 10, 18),
        ),
    ],
)
def test_nothing_else_supersedes(incoming, current):
    assert not supersedes(incoming, current)


def test_baseline_kinds():
    assert not ReleaseKind.HOTPATCH.is_baseline
    assert ReleaseKind.PLANNED_BASELINE.is_baseline
    assert ReleaseKind.UNPLANNED_BASELINE.is_baseline

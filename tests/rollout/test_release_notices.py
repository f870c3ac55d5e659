"""Release events that open cycles, their orchestration ids, and the calendar's fallback."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patching.calendar import patch_tuesday
from patching.models import Classification, Release, ReleaseKind
from patching.releases import (
    CycleOpening,
    ReleaseError,
    ReleaseNotice,
    cycle_opening,
    parse_release,
    scheduled_release_due,
)
from patching.timefmt import format_time

DATA = {
    "releaseId": "2026-12-B",
    "kind": "hotpatch",
    "releasedAt": "2026-12-08T18:00:00Z",
    "kbNumbers": ["5048654"],
    "classifications": ["Security"],
}
SAFE_INSTANCE_ID = re.compile(r"cycle-\d{4}-\d{2}(-baseline)?")

times = st.datetimes(datetime(2000, 1, 1), datetime(2999, 12, 31, 23), timezones=st.just(UTC))
kinds = st.sampled_from(list(ReleaseKind))


def test_the_contract_example_parses():
    assert parse_release(DATA) == ReleaseNotice(
        "2026-12-B",
        ReleaseKind.HOTPATCH,
        datetime(2026, 12, 8, 18, tzinfo=UTC),
        ("5048654",),
        (Classification.SECURITY,),
    )
    assert parse_release(DATA).cycle_id == "2026-12"
    assert parse_release({**DATA, "extra": 1}) == parse_release(DATA)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"releaseId": ""}, "releaseId is ''; expected a non-empty string"),
        ({"releaseId": "a b"}, "releaseId 'a b': expected 1 to 64 letters"),
        ({"kind": "monthly"}, "kind 'monthly': expected one of hotpatch, plannedBaseline"),
        ({"kind": None}, "kind is None; expected a non-empty string"),
        ({"releasedAt": "2026-12-08"}, "releasedAt: '2026-12-08' is not an ISO 8601 time"),
        ({"releasedAt": "3100-01-01T00:00:00Z"}, "releasedAt: .*outside the years 2000 to 2999"),
        ({"kbNumbers": "5048654"}, "kbNumbers is '5048654'; expected a list of strings"),
        ({"kbNumbers": ["KB50"]}, "kbNumbers: 'KB50' is not a KB number"),
        ({"classifications": [1]}, r"classifications is \[1\]; expected a list of strings"),
        ({"classifications": ["Zero-day"]}, "classifications: 'Zero-day' is not one of Critical"),
    ],
)
def test_bad_fields_are_refused_by_name(change, message):
    with pytest.raises(ReleaseError, match=message):
        parse_release({**DATA, **change})


def test_missing_fields_and_non_objects_are_refused():
    for name in DATA:
        with pytest.raises(ReleaseError, match=f"^{name} is None"):
            parse_release({k: v for k, v in DATA.items() if k != name})
    with pytest.raises(ReleaseError, match="release data is list; expected a JSON object"):
        parse_release([DATA])


@given(times, kinds)
def test_a_valid_event_round_trips_to_its_cycle(moment, kind):
    notice = parse_release({**DATA, "releasedAt": format_time(moment), "kind": kind.value})
    assert notice.release == Release(kind, moment.replace(microsecond=0), "2026-12-B")
    assert notice.cycle_id == f"{moment.year:04d}-{moment.month:02d}"


@given(times, kinds, st.one_of(st.none(), st.tuples(times, kinds)))
def test_instance_ids_are_one_per_month_and_a_replacement_stops_the_hotpatch(moment, kind, opened):
    incoming = Release(kind, moment, "r")
    first = None if opened is None else Release(opened[1], opened[0], "o")
    opening = cycle_opening(incoming, first)
    assert SAFE_INSTANCE_ID.fullmatch(opening.instance_id)
    assert opening.instance_id.startswith(f"cycle-{opening.cycle_id}")
    replacing = (
        first is not None
        and kind is ReleaseKind.UNPLANNED_BASELINE
        and first.kind is ReleaseKind.HOTPATCH
        and (first.released_at.year, first.released_at.month) == (moment.year, moment.month)
    )
    assert (opening.replaces is not None) == replacing
    # A repeated delivery, told the same opener, starts the same orchestration.
    assert cycle_opening(Release(kind, moment, "r-again"), first) == opening


def test_exact_openings():
    hotpatch = Release(ReleaseKind.HOTPATCH, datetime(2026, 12, 8, 18, tzinfo=UTC), "2026-12-B")
    zero_day = Release(ReleaseKind.UNPLANNED_BASELINE, datetime(2026, 12, 17, tzinfo=UTC), "oob")
    assert cycle_opening(hotpatch, None) == CycleOpening("2026-12", "cycle-2026-12")
    assert cycle_opening(hotpatch, hotpatch) == CycleOpening("2026-12", "cycle-2026-12")
    assert cycle_opening(zero_day, hotpatch) == CycleOpening(
        "2026-12", "cycle-2026-12-baseline", replaces="cycle-2026-12"
    )
    assert cycle_opening(zero_day, None) == CycleOpening("2026-12", "cycle-2026-12")


def test_the_calendar_opens_the_month_at_patch_tuesday_10_pacific_when_no_event_did():
    tuesday = patch_tuesday(2026, 12)
    assert tuesday == datetime(2026, 12, 8, 18, tzinfo=UTC)
    assert scheduled_release_due(tuesday - timedelta(seconds=1), opened_cycles=()) is None
    assert scheduled_release_due(tuesday, opened_cycles={"2026-11"}) == Release(
        ReleaseKind.HOTPATCH, tuesday
    )
    assert scheduled_release_due(tuesday + timedelta(days=3), opened_cycles={"2026-12"}) is None
    january = patch_tuesday(2027, 1)
    assert scheduled_release_due(january, opened_cycles=()) == Release(
        ReleaseKind.PLANNED_BASELINE, january
    )


@given(times, st.sets(st.sampled_from(["2026-12", "2027-01", "2030-06"])))
def test_the_calendar_opens_only_an_unopened_month_after_its_patch_tuesday(now, opened):
    release = scheduled_release_due(now, opened_cycles=opened)
    tuesday = patch_tuesday(now.year, now.month)
    cycle = f"{now.year:04d}-{now.month:02d}"
    assert (release is not None) == (now >= tuesday and cycle not in opened)
    if release is not None:
        assert release.released_at == tuesday

"""The plan file (docs/CONTRACTS.md section 3): JSON round trip, times in UTC with a Z."""

import json
import re
import shutil
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patching.calendar import make_cycle
from patching.fleet import parse_fleet
from patching.models import (
    Assignment,
    Classification,
    Phase,
    Plan,
    RebootSetting,
    ReleaseKind,
    Skip,
)
from patching.planfile import format_time, parse_time, plan_from_json, plan_to_json
from patching.planner import plan_cycle

EXAMPLE = Path(__file__).parent / "data" / "fleet-small.json"
UTC_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def every_time(document: dict) -> list[str]:
    times = [document["release"]["releasedAt"], document["deadline"]]
    for item in document["phases"] + document["assignments"]:
        times += [item["start"], item["end"]]
    return times


@pytest.fixture(scope="module")
def planned(tmp_path_factory) -> Plan:
    copied = tmp_path_factory.mktemp("fleet") / "fleet.json"
    shutil.copyfile(EXAMPLE, copied)
    fleet = parse_fleet(json.loads(copied.read_text(encoding="utf-8")))
    return plan_cycle(fleet, make_cycle("2026-12"))


def test_round_trip_of_a_planned_cycle_is_identical(planned):
    first = plan_to_json(planned)
    text = json.dumps(first)
    again = plan_to_json(plan_from_json(json.loads(text)))
    assert again == first
    assert json.dumps(again) == text
    assert plan_from_json(first) == planned


def test_plan_json_has_the_contract_shape(planned):
    document = plan_to_json(planned)
    assert document["version"] == 1
    assert document["cycle"] == "2026-12"
    assert document["release"] == {"kind": "hotpatch", "releasedAt": "2026-12-08T18:00:00Z"}
    assert document["deadline"] == "2027-01-07T18:00:00Z"
    times = every_time(document)
    assert len(times) == 2 + 2 * (len(document["phases"]) + len(document["assignments"]))
    assert all(UTC_Z.match(t) for t in times), [t for t in times if not UTC_Z.match(t)]
    assignment = document["assignments"][0]
    assert set(assignment) == {
        "vm",
        "phase",
        "start",
        "end",
        "rebootSetting",
        "excludeKbsRequiringReboot",
        "classifications",
    }
    assert assignment["classifications"] == ["Critical", "Security"]
    assert isinstance(document["makespanHours"], float | int)
    assert isinstance(document["lowerBoundHours"], float | int)


def handmade_plan() -> Plan:
    tokyo = timezone(timedelta(hours=9))
    cycle = make_cycle(
        "2026-11",
        kind=ReleaseKind.UNPLANNED_BASELINE,
        released_at=datetime(2026, 11, 20, 12, 0, tzinfo=tokyo),
        release_id="2026-11-OOB",
    )
    return Plan(
        cycle=cycle,
        phases=(
            Phase(0, ("westus",), utc(2026, 11, 20, 3), utc(2026, 11, 21, 3)),
            Phase(1, ("eastus", "northeurope"), utc(2026, 11, 21, 4), utc(2026, 11, 22)),
            Phase(2, ("westus",), utc(2026, 11, 23), utc(2026, 11, 24), retry=True),
        ),
        assignments=(
            Assignment(
                vm="/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/a",
                phase=0,
                start=datetime(2026, 11, 20, 23, 0, tzinfo=tokyo),
                end=utc(2026, 11, 20, 15, 30),
                reboot_setting=RebootSetting.IF_REQUIRED,
                exclude_kbs_requiring_reboot=False,
            ),
            Assignment(
                vm="/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/b",
                phase=1,
                start=utc(2026, 11, 21, 5),
                end=utc(2026, 11, 21, 6, 30),
                reboot_setting=RebootSetting.NEVER,
                exclude_kbs_requiring_reboot=True,
                classifications=(Classification.SECURITY,),
            ),
        ),
        skipped=(Skip("/subscriptions/s/.../c", "patchMode is Manual, not AutomaticByPlatform"),),
        makespan_hours=27.5,
        lower_bound_hours=24.0,
    )


def test_round_trip_keeps_release_id_retry_phases_and_offsets_normalised_to_utc():
    document = plan_to_json(handmade_plan())
    assert document["release"] == {
        "kind": "unplannedBaseline",
        "releasedAt": "2026-11-20T03:00:00Z",
        "releaseId": "2026-11-OOB",
    }
    assert document["deadline"] == "2026-12-20T03:00:00Z"
    assert "retry" not in document["phases"][0]
    assert document["phases"][2]["retry"] is True
    assert document["assignments"][0]["start"] == "2026-11-20T14:00:00Z"
    assert document["assignments"][1]["rebootSetting"] == "Never"
    assert document["assignments"][1]["classifications"] == ["Security"]
    assert all(UTC_Z.match(t) for t in every_time(document))
    back = plan_from_json(json.loads(json.dumps(document)))
    assert plan_to_json(back) == document
    assert back.phases[2].retry and not back.phases[0].retry
    assert back.assignments[0].start == utc(2026, 11, 20, 14)


@pytest.mark.parametrize("version", [None, 0, 2, "1"])
def test_other_plan_versions_are_refused(version):
    document = plan_to_json(handmade_plan())
    document["version"] = version
    with pytest.raises(ValueError, match="version"):
        plan_from_json(document)


def test_format_time_is_utc_to_the_second_with_a_z():
    assert format_time(datetime(2026, 12, 8, 10, 0, 59, 999999, tzinfo=UTC)) == (
        "2026-12-08T10:00:59Z"
    )
    plus_five_45 = timezone(timedelta(hours=5, minutes=45))
    assert format_time(datetime(2026, 12, 9, 0, 0, tzinfo=plus_five_45)) == "2026-12-08T18:15:00Z"


def test_parse_time_accepts_z_and_offsets_and_refuses_naive_times():
    assert parse_time("2026-12-08T18:00:00Z") == utc(2026, 12, 8, 18)
    assert parse_time("2026-12-08T19:00:00+01:00") == utc(2026, 12, 8, 18)
    assert parse_time("2026-12-08T18:00:00Z").tzinfo is UTC
    with pytest.raises(ValueError, match="no time zone"):
        parse_time("2026-12-08T18:00:00")
    with pytest.raises(ValueError):
        parse_time("Patch Tuesday")


@given(
    st.datetimes(
        # a day in, so that every offset below keeps it in the years a time may fall in
        min_value=datetime(2000, 1, 2),
        max_value=datetime(2100, 1, 1),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=-8)), timezone(timedelta(hours=5, minutes=30))]
        ),
    )
)
def test_time_round_trip_to_the_second(moment):
    text = format_time(moment)
    assert UTC_Z.match(text)
    assert parse_time(text) == moment.replace(microsecond=0)
    assert format_time(parse_time(text)) == text

"""How good the plans are, not only how valid: the goals of the planner issue on typical
fleets, and schedules that are optimal where the optimum is plain to see."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from contract_checks import check_plan

from patchctl.fleetgen import generate_fleet
from patching.calendar import make_cycle
from patching.fleet import parse_fleet
from patching.planfile import plan_to_json
from patching.planner import plan_cycle

SUB = "00000001-0000-4000-8000-000000000001"


@pytest.mark.parametrize(("vms", "seed"), [(300, 1), (1000, 2), (2000, 4)])
def test_typical_fleets_are_patched_within_a_week_and_near_the_bound(vms: int, seed: int) -> None:
    document = generate_fleet(vms, seed=seed)
    plan = plan_cycle(parse_fleet(document), make_cycle("2026-12"))
    check_plan(document, plan_to_json(plan), slot_knobs=(90, 30))
    assert plan.makespan_hours <= 7 * 24
    assert plan.makespan_hours <= 1.25 * plan.lower_bound_hours


def _vm(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/{name}",
        "location": "eastus",
        "osType": "Linux",
        "patchMode": "AutomaticByPlatform",
        "tags": {"timeZone": "UTC", "patchWindow": "00:00-12:00"},
        **extra,
    }


def _plan(vms: list[dict[str, Any]]) -> dict[str, Any]:
    document = {"version": 1, "vms": vms}
    plan = plan_to_json(plan_cycle(parse_fleet(document), make_cycle("2026-12")))
    check_plan(document, plan, slot_knobs=(90, 30))
    return plan


def _rounds(plan: dict[str, Any]) -> int:
    return len({a["start"] for a in plan["assignments"]})


def test_a_set_takes_exactly_its_update_domain_rounds() -> None:
    # 15 VMs (cap 3) over 3 domains of 5: ceil(5/3) = 2 rounds each, 6 rounds in all;
    # 15 VMs in one subscription also allow 3 at once, so nothing else slows it down.
    set_id = (
        f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/availabilitySets/web"
    )
    vms = [_vm(f"web{i}", availabilitySet=set_id, updateDomain=i % 3) for i in range(15)]
    plan = _plan(vms)
    assert _rounds(plan) == 6
    assert plan["makespanHours"] == plan["lowerBoundHours"]


def test_zones_take_turns_and_fill_each_round() -> None:
    # 30 zonal VMs, 10 per zone, one subscription (cap 6): each zone needs 2 rounds,
    # zones never overlap, so 6 rounds; no round may mix zones.
    plan = _plan([_vm(f"z{i}", zone=str(1 + i % 3)) for i in range(30)])
    assert _rounds(plan) == 6
    assert plan["makespanHours"] == plan["lowerBoundHours"]


def test_standalone_vms_fill_the_capacity_that_sets_and_zones_leave() -> None:
    set_id = (
        f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/availabilitySets/db"
    )
    vms = [_vm(f"db{i}", availabilitySet=set_id, updateDomain=i) for i in range(4)]
    vms += [_vm(f"app{i}") for i in range(16)]
    # 20 VMs in the subscription: 4 at once. The set needs 4 rounds of one VM; the 16
    # others fit in the 3 free places of those rounds plus one more round.
    plan = _plan(vms)
    assert _rounds(plan) == 5
    assert plan["makespanHours"] == plan["lowerBoundHours"]


def test_a_window_shorter_than_the_slot_gets_a_slot_as_long_as_the_window() -> None:
    plan = _plan([_vm("tight", tags={"timeZone": "UTC", "patchWindow": "01:00-01:45"})])
    [slot] = plan["assignments"]
    assert plan["skipped"] == []
    assert (slot["start"][11:], slot["end"][11:]) == ("01:00:00Z", "01:45:00Z")


def test_a_window_too_short_for_an_install_skips_only_that_vm() -> None:
    plan = _plan(
        [
            _vm("tiny", tags={"timeZone": "UTC", "patchWindow": "01:00-01:25"}),
            _vm("roomy"),
        ]
    )
    assert [a["vm"].rsplit("/", 1)[-1] for a in plan["assignments"]] == ["roomy"]
    assert [s["reason"] for s in plan["skipped"]] == [
        "off-peak window 01:00-01:25 is 25 minutes; an install needs at least 30"
    ]


def test_hotpatch_vms_in_a_hotpatch_month_take_half_hour_rounds() -> None:
    # The set of 15 (cap 3) needs its 6 rounds, as above, but each round is the hotpatch slot.
    set_id = (
        f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/availabilitySets/hot"
    )
    vms = [
        _vm(f"hot{i}", osType="Windows", enableHotpatching=True, availabilitySet=set_id,
            updateDomain=i % 3)
        for i in range(15)
    ]  # fmt: skip
    plan = _plan(vms)
    assert _rounds(plan) == 6
    assert plan["makespanHours"] == plan["lowerBoundHours"]
    assert _busy_minutes(plan) == 6 * 30


def test_learned_durations_size_each_slot_and_the_bound_follows() -> None:
    # One subscription of 5 (one at a time): installs of 40 and 100 minutes get 50 and 125.
    vms = [_vm(f"quick{i}", expectedInstallMinutes=40) for i in range(3)]
    vms += [_vm(f"slow{i}", expectedInstallMinutes=100) for i in range(2)]
    plan = _plan(vms)
    assert plan["makespanHours"] == plan["lowerBoundHours"]
    assert _busy_minutes(plan) == 3 * 50 + 2 * 125


def _busy_minutes(plan: dict[str, Any]) -> int:
    """From the first slot's start to the last one's end (the window opens after the release)."""
    first = min(datetime.fromisoformat(a["start"]) for a in plan["assignments"])
    last = max(datetime.fromisoformat(a["end"]) for a in plan["assignments"])
    return (last - first) // timedelta(minutes=1)

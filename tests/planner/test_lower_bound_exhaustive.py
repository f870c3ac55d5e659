"""The lower bound is a true bound: no valid plan of a tiny fleet is shorter.

For tiny fleets this searches every plan the rules allow: every canary (a
region with fewest VMs), every ordered split of the other regions into phases
that keeps pairs apart, and every left-justified schedule inside each phase (a
slot starts at its phase's start, at one of its own windows' openings, or at
the end of another slot: any valid plan can be shifted left until it does).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from contract_checks import _region_table, in_window, planned_slot_minutes, vm_zone
from fleet_strategies import cycles
from hypothesis import given, settings
from hypothesis import strategies as st

from patching.calendar import make_cycle
from patching.fleet import parse_fleet
from patching.models import ReleaseKind
from patching.planner import PlanningPolicy, plan_cycle

GATE = timedelta(minutes=30)
HORIZON = timedelta(days=5)

TINY_WINDOWS = (None, "01:00-04:00", "22:00-01:30", "03:30-05:00")
TINY_ZONES = (None, "Pacific Standard Time", "India Standard Time", "Nepal Standard Time")
REGIONS = ("eastus", "westus", "northeurope", "swedencentral")
# Install histories whose slots are 30, 65 and 125 minutes (cut to 90 by the shortest window).
TINY_EXPECTED = (None, None, 15, 50, 100)


@st.composite
def tiny_fleets(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(1, 4))
    sets = [
        "/subscriptions/00000001-0000-4000-8000-000000000001/resourceGroups/rg/providers/Microsoft.Compute/availabilitySets/as1"
    ]
    vms = []
    for number in range(count):
        subscription = draw(
            st.sampled_from(
                ["00000001-0000-4000-8000-000000000001", "00000002-0000-4000-8000-000000000002"]
            )
        )
        vm: dict[str, Any] = {
            "id": f"/subscriptions/{subscription}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/v{number}",
            "location": draw(st.sampled_from(REGIONS)),
            "osType": "Windows",
            "patchMode": "AutomaticByPlatform",
        }
        zone = draw(st.sampled_from(TINY_ZONES))
        if zone:
            vm["timeZone"] = zone
        window = draw(st.sampled_from(TINY_WINDOWS))
        if window:
            vm["tags"] = {"patchWindow": window}
        if draw(st.booleans()):
            vm["enableHotpatching"] = True
        expected = draw(st.sampled_from(TINY_EXPECTED))
        if expected is not None:
            vm["expectedInstallMinutes"] = expected
        grouping = draw(st.sampled_from(["none", "zone", "set"]))
        if grouping == "zone":
            vm["zone"] = draw(st.sampled_from(["1", "2"]))
        elif grouping == "set" and subscription.startswith("00000001"):
            vm["availabilitySet"] = sets[0]
            vm["updateDomain"] = draw(st.integers(0, 1))
        vms.append(vm)
    # A set lives in one region: move every member to the first member's region.
    members = [vm for vm in vms if "availabilitySet" in vm]
    for vm in members:
        vm["location"] = members[0]["location"]
    return {"version": 1, "vms": vms}


def _openings(vm: dict[str, Any], zone: Any, since: datetime) -> list[datetime]:
    window = vm.get("tags", {}).get("patchWindow", "22:00-06:00")
    hour, minute = int(window[:2]), int(window[3:5])
    first = since.astimezone(zone).date() - timedelta(days=1)
    found = []
    for offset in range(8):
        local = datetime(first.year, first.month, first.day, hour, minute, tzinfo=zone) + timedelta(
            days=offset
        )
        local = datetime(local.year, local.month, local.day, hour, minute, tzinfo=zone)
        moment = local.astimezone(UTC)
        if since <= moment <= since + HORIZON:
            found.append(moment)
    return found


def _compatible(a: dict[str, Any], b: dict[str, Any], a_region: str, b_region: str) -> bool:
    """May these two VMs' slots overlap? (Caps are 1 for every group a tiny fleet can form.)"""
    if a_region != b_region:
        return True
    if a.get("availabilitySet") and a.get("availabilitySet") == b.get("availabilitySet"):
        return False
    if a.get("zone") and b.get("zone") and a["zone"] != b["zone"]:
        return False
    return a["id"].split("/")[2] != b["id"].split("/")[2]


def _window(vm: dict[str, Any]) -> str:
    return str(vm.get("tags", {}).get("patchWindow", "22:00-06:00"))


def _best_phase_end(
    vms: list[dict[str, Any]], table: Any, start: datetime, hotpatch_month: bool
) -> datetime:
    zones = [vm_zone(vm, table) for vm in vms]
    regions = [vm["location"] for vm in vms]
    lengths = [
        timedelta(
            minutes=planned_slot_minutes(
                vm, _window(vm), hotpatch_month=hotpatch_month, install=90, hotpatch=30
            )
        )
        for vm in vms
    ]
    best = [start + HORIZON * 3]

    def place(placed: list[tuple[int, datetime]], floor: datetime) -> None:
        if len(placed) == len(vms):
            best[0] = min(best[0], max(s + lengths[i] for i, s in placed))
            return
        done = {index for index, _ in placed}
        for index in range(len(vms)):
            if index in done:
                continue
            vm = vms[index]
            slot = lengths[index]
            candidates = {
                start,
                *_openings(vm, zones[index], start),
                *(s + lengths[other] for other, s in placed),
            }
            for moment in sorted(c for c in candidates if c >= floor):
                if moment + slot >= best[0]:
                    break
                if not in_window(vm, _window(vm), zones[index], moment, moment + slot):
                    continue
                clash = any(
                    moment < s + lengths[other]
                    and s < moment + slot
                    and not _compatible(vm, vms[other], regions[index], regions[other])
                    for other, s in placed
                )
                if not clash:
                    place([*placed, (index, moment)], moment)

    place([], start)
    return best[0]


def _layouts(regions: list[str], sizes: dict[str, int], table: Any) -> list[list[list[str]]]:
    if len(regions) == 1:
        return [[regions]]
    smallest = min(sizes.values())
    layouts = []
    for canary in (r for r in regions if sizes[r] == smallest):
        rest = [r for r in regions if r != canary]
        for labels in itertools.product(range(len(rest)), repeat=len(rest)):
            phases = [
                [r for r, label in zip(rest, labels, strict=True) if label == k]
                for k in range(len(rest))
            ]
            phases = [p for p in phases if p]
            if any(table[a][0] == b for p in phases for a in p for b in p):
                continue
            layouts.append([[canary], *phases])
    return layouts


def exhaustive_makespan(
    document: dict[str, Any], released: datetime, *, hotpatch_month: bool
) -> float:
    table = _region_table(document)
    by_region: dict[str, list[dict[str, Any]]] = {}
    for vm in document["vms"]:
        by_region.setdefault(vm["location"], []).append(vm)
    sizes = {r: len(v) for r, v in by_region.items()}
    best = None
    for layout in _layouts(sorted(by_region), sizes, table):
        end = released
        for index, phase in enumerate(layout):
            opens = released if index == 0 else end + GATE
            end = max(_best_phase_end(by_region[r], table, opens, hotpatch_month) for r in phase)
        best = end if best is None else min(best, end)
    assert best is not None
    # Rounded as the plan file rounds its hours (rounding keeps the order).
    return round((best - released).total_seconds() / 3600, 2)


@settings(max_examples=150, deadline=None)
@given(tiny_fleets(), cycles)
def test_no_valid_plan_beats_the_lower_bound(document: dict[str, Any], cycle_id: str) -> None:
    cycle = make_cycle(cycle_id)
    plan = plan_cycle(parse_fleet(document), cycle, policy=PlanningPolicy())
    optimum = exhaustive_makespan(
        document,
        cycle.release.released_at,
        hotpatch_month=cycle.release.kind is ReleaseKind.HOTPATCH,
    )
    assert plan.lower_bound_hours <= optimum + 1e-6
    # The search is complete: it never misses a plan as short as the planner's own.
    assert optimum <= plan.makespan_hours + 1e-6

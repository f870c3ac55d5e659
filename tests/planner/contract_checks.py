"""An independent reading of docs/CONTRACTS.md section 3: checks a plan file against its fleet file.

Written from the contract, not from the planner: windows are checked minute by
minute in the VM's local wall-clock time, concurrency by pairwise overlap.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tzlocal.windows_tz import win_tz

from patching.regions import BUILTIN_REGIONS


def _t(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _minutes(hhmm: str) -> int:
    return int(hhmm[:2]) * 60 + int(hhmm[3:])


# Azure's limits on maximumDuration (section 3: a window under the shortest is a skip).
SHORTEST_SLOT, LONGEST_SLOT = 30, 235


def window_minutes(window: str) -> int:
    span = _minutes(window[6:]) - _minutes(window[:5])
    return span if span > 0 else span + 24 * 60


def planned_slot_minutes(
    vm: dict[str, Any], window: str, *, hotpatch_month: bool, install: int, hotpatch: int
) -> int:
    """docs/PLANNER.md section 1: the slot an enrolled VM's install gets."""
    expected = vm.get("expectedInstallMinutes")
    if expected is not None:
        wanted = 5 * math.ceil(max(expected + 10, expected * 1.25) / 5)
    elif hotpatch_month and vm.get("enableHotpatching", False) and vm["osType"] == "Windows":
        wanted = hotpatch
    else:
        wanted = install
    return min(max(wanted, SHORTEST_SLOT), LONGEST_SLOT, window_minutes(window))


def _region_table(fleet: dict[str, Any]) -> dict[str, tuple[str | None, str]]:
    table = {name: (info.paired_region, info.time_zone) for name, info in BUILTIN_REGIONS.items()}
    for entry in fleet.get("regions", []):
        name = entry["name"].replace(" ", "").lower()
        pair = entry.get("pairedRegion")
        zone = entry.get("timeZone") or table.get(name, (None, "UTC"))[1]
        table[name] = (pair.replace(" ", "").lower() if pair else None, zone)
    return table


def vm_zone(vm: dict[str, Any], table: dict[str, tuple[str | None, str]]) -> ZoneInfo:
    if vm.get("timeZone"):
        return ZoneInfo(win_tz[vm["timeZone"]])
    if vm.get("tags", {}).get("timeZone"):
        return ZoneInfo(vm["tags"]["timeZone"])
    region = vm["location"].replace(" ", "").lower()
    return ZoneInfo(table[region][1]) if region in table else ZoneInfo("UTC")


def in_window(
    vm: dict[str, Any], window: str, zone: ZoneInfo, start: datetime, end: datetime
) -> bool:
    opens, closes = _minutes(window[:5]), _minutes(window[6:])
    moment = start
    while moment < end:
        local = moment.astimezone(zone)
        tod = local.hour * 60 + local.minute
        inside = opens <= tod < closes if opens < closes else (tod >= opens or tod < closes)
        if not inside:
            return False
        moment += timedelta(minutes=1)
    return True


def _overlap(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def check_plan(
    fleet: dict[str, Any],
    plan: dict[str, Any],
    *,
    default_window: str = "22:00-06:00",
    expect_deadline: bool = True,
    slot_knobs: tuple[int, int] | None = None,
) -> None:
    """Raise AssertionError naming the first broken rule.

    `slot_knobs`, the (install, hotpatch) slot minutes the plan was made with: when given,
    every slot's length (its maximumDuration) must be the one docs/PLANNER.md says.
    """
    table = _region_table(fleet)
    vms = {vm["id"].lower(): vm for vm in fleet["vms"]}
    assigned = {a["vm"].lower(): a for a in plan["assignments"]}
    skipped = {s["vm"].lower(): s for s in plan["skipped"]}
    assert len(assigned) == len(plan["assignments"]), "a VM is assigned twice"
    assert len(skipped) == len(plan["skipped"]), "a VM is skipped twice"
    assert not assigned.keys() & skipped.keys(), "a VM is both assigned and skipped"
    assert assigned.keys() | skipped.keys() == vms.keys(), "not every VM appears exactly once"
    for key, skip in skipped.items():
        assert skip["reason"], f"{key} skipped without a reason"
        if vms[key]["patchMode"] == "AutomaticByPlatform":
            window = vms[key].get("tags", {}).get("patchWindow", default_window)
            minutes = window_minutes(window)
            assert minutes < SHORTEST_SLOT, f"{key} is enrolled, not skipped"
            assert f"{window} is {minutes} minutes" in skip["reason"], (
                f"{key} is skipped for its short window without saying so"
            )
    for key in assigned:
        assert vms[key]["patchMode"] == "AutomaticByPlatform", f"{key} is not enrolled"

    release = _t(plan["release"]["releasedAt"])
    deadline = _t(plan["deadline"])
    assert deadline == release + timedelta(days=30)
    kind = plan["release"]["kind"]
    slots = {key: (_t(a["start"]), _t(a["end"])) for key, a in assigned.items()}

    for key, a in assigned.items():
        vm = vms[key]
        start, end = slots[key]
        assert start < end, f"{key}: empty slot"
        assert start >= release, f"{key}: slot before the release"
        window = vm.get("tags", {}).get("patchWindow", default_window)
        assert in_window(vm, window, vm_zone(vm, table), start, end), (
            f"rule 1: {key} outside {window}"
        )
        if expect_deadline:
            assert end <= deadline, f"rule 2: {key} ends after the deadline"
        hotpatch = (
            kind == "hotpatch" and vm.get("enableHotpatching", False) and vm["osType"] == "Windows"
        )
        assert a["rebootSetting"] == ("Never" if hotpatch else "IfRequired"), f"rule 7: {key}"
        if slot_knobs is not None:
            length = (end - start) // timedelta(minutes=1)
            assert SHORTEST_SLOT <= length <= LONGEST_SLOT, f"maximumDuration: {key} {length} min"
            install, hotpatch_slot = slot_knobs
            wanted = planned_slot_minutes(
                vm,
                window,
                hotpatch_month=kind == "hotpatch",
                install=install,
                hotpatch=hotpatch_slot,
            )
            assert length == wanted, f"slot rule: {key} has {length} min, not {wanted}"
        assert a["excludeKbsRequiringReboot"] is hotpatch, f"rule 7: {key}"
        assert sorted(a["classifications"]) == ["Critical", "Security"], f"rule 7: {key}"

    by_set: dict[str, list[str]] = defaultdict(list)
    by_region_zone: dict[str, list[str]] = defaultdict(list)
    by_sub_region: dict[tuple[str, str], list[str]] = defaultdict(list)
    for key in assigned:
        vm = vms[key]
        region = vm["location"].replace(" ", "").lower()
        if vm.get("availabilitySet"):
            by_set[vm["availabilitySet"].lower()].append(key)
        if vm.get("zone"):
            by_region_zone[region].append(key)
        by_sub_region[(key.split("/")[2], region)].append(key)

    set_sizes: dict[str, int] = defaultdict(int)
    for vm in fleet["vms"]:
        if vm.get("availabilitySet"):
            set_sizes[vm["availabilitySet"].lower()] += 1
    for set_key, members in by_set.items():
        size = set_sizes[set_key]  # every VM of the set, enrolled or not
        cap = 1 if size < 10 else max(1, size // 5)
        for key in members:
            concurrent = [o for o in members if _overlap(slots[key], slots[o])]
            domains = {vms[o]["updateDomain"] for o in concurrent}
            assert len(domains) == 1, f"rule 3: {key} overlaps another update domain"
            _assert_cap(concurrent, slots, cap, f"rule 3: set of {size} around {key}")
    for members in by_region_zone.values():
        for key in members:
            zones = {vms[o]["zone"] for o in members if _overlap(slots[key], slots[o])}
            assert len(zones) == 1, f"rule 4: {key} overlaps another zone"
    for members in by_sub_region.values():
        cap = max(1, len(members) // 5)
        for key in members:
            concurrent = [o for o in members if _overlap(slots[key], slots[o])]
            _assert_cap(concurrent, slots, cap, f"rule 5: around {key}")

    _check_phases(plan, vms, slots, table)
    last = max((end for _, end in slots.values()), default=release)
    makespan = round((last - release).total_seconds() / 3600, 2) if slots else 0.0
    assert abs(plan["makespanHours"] - makespan) < 0.011, "makespanHours is not release to last end"
    assert plan["lowerBoundHours"] <= plan["makespanHours"] + 1e-9, "lower bound above makespan"


def _assert_cap(
    members: list[str], slots: dict[str, tuple[datetime, datetime]], cap: int, what: str
) -> None:
    """At most `cap` of the intervals are running at any instant (sweep over starts)."""
    for key in members:
        at = slots[key][0]
        running = sum(1 for o in members if slots[o][0] <= at < slots[o][1])
        assert running <= cap, f"{what}: {running} at once, cap {cap}"


def _check_phases(
    plan: dict[str, Any],
    vms: dict[str, dict[str, Any]],
    slots: dict[str, tuple[datetime, datetime]],
    table: dict[str, tuple[str | None, str]],
) -> None:
    phases = plan["phases"]
    assert [p["index"] for p in phases] == list(range(len(phases))), "phase indices"
    normal = [p for p in phases if not p.get("retry")]
    assert phases[: len(normal)] == normal, "retry phases come last"
    region_phase: dict[str, int] = {}
    for phase in normal:
        for region in phase["regions"]:
            assert region not in region_phase, f"rule 6: {region} in two phases"
            region_phase[region] = phase["index"]
    for phase in phases:
        for a in phase["regions"]:
            pair = table.get(a, (None, ""))[0]
            assert pair not in phase["regions"], f"rule 6: {a} and its pair {pair} share a phase"
    for before, after in itertools.pairwise(phases):
        assert _t(after["start"]) > _t(before["end"]), "rule 6: a phase starts before the last ends"
    for key, a in ((k, a) for k, a in ((a["vm"].lower(), a) for a in plan["assignments"])):
        phase = phases[a["phase"]]
        region = vms[key]["location"].replace(" ", "").lower()
        assert region in phase["regions"], f"{key} is not in its phase's regions"
        if not phase.get("retry"):
            assert region_phase[region] == a["phase"]
        start, end = slots[key]
        assert _t(phase["start"]) <= start and end <= _t(phase["end"]), f"{key} outside its phase"
    if len(normal) > 1:
        assert len(normal[0]["regions"]) == 1, "the canary phase holds one region"
        enrolled: dict[str, int] = defaultdict(int)
        for key in slots:
            enrolled[vms[key]["location"].replace(" ", "").lower()] += 1
        canary = normal[0]["regions"][0]
        assert enrolled[canary] == min(enrolled.values()), "the canary is a smallest region"

"""The contract checker itself catches each kind of broken plan (so the properties can fail)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from contract_checks import check_plan

from patching.calendar import make_cycle
from patching.fleet import parse_fleet
from patching.planfile import plan_to_json
from patching.planner import plan_cycle

SUB = "00000001-0000-4000-8000-000000000001"
SET = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/availabilitySets/as"


def _vm(name: str, region: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/{name}",
        "location": region,
        "osType": "Windows",
        "patchMode": "AutomaticByPlatform",
        **extra,
    }


FLEET: dict[str, Any] = {
    "version": 1,
    "vms": [
        _vm("canary", "swedencentral"),
        _vm("s0", "eastus", availabilitySet=SET, updateDomain=0),
        _vm("s1", "eastus", availabilitySet=SET, updateDomain=1),
        _vm("z1", "eastus", zone="1"),
        _vm("z2", "eastus", zone="2"),
        _vm("w1", "westus", enableHotpatching=True),
        _vm("w2", "westus"),
        _vm("manual", "westus", patchMode="Manual"),
        _vm("short", "westus", tags={"patchWindow": "02:00-02:20"}),
    ],
}


def _plan() -> dict[str, Any]:
    return plan_to_json(plan_cycle(parse_fleet(FLEET), make_cycle("2026-12")))


def _slot(plan: dict[str, Any], name: str) -> dict[str, Any]:
    return next(a for a in plan["assignments"] if a["vm"].endswith(f"/{name}"))


def _same_time(first: str, second: str) -> Callable[[dict[str, Any]], None]:
    """Move the second VM's slot, as long as it was, to start with the first's."""

    def mutate(plan: dict[str, Any]) -> None:
        moved = _slot(plan, second)
        length = datetime.fromisoformat(moved["end"]) - datetime.fromisoformat(moved["start"])
        moved["start"] = _slot(plan, first)["start"]
        moved["end"] = _text(datetime.fromisoformat(moved["start"]) + length)

    return mutate


def _text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _set(name: str, field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(plan: dict[str, Any]) -> None:
        _slot(plan, name)[field] = value

    return mutate


def _drop_skipped(plan: dict[str, Any]) -> None:
    plan["skipped"].clear()


def _skip_enrolled(plan: dict[str, Any]) -> None:
    slot = _slot(plan, "w2")
    plan["assignments"].remove(slot)
    plan["skipped"].append({"vm": slot["vm"], "reason": "busy"})


def _lasting(name: str, minutes: int) -> Callable[[dict[str, Any]], None]:
    def mutate(plan: dict[str, Any]) -> None:
        slot = _slot(plan, name)
        slot["end"] = _text(datetime.fromisoformat(slot["start"]) + timedelta(minutes=minutes))

    return mutate


def _merge_pair_phases(plan: dict[str, Any]) -> None:
    plan["phases"][1]["regions"] = sorted({*plan["phases"][1]["regions"], "westus", "eastus"})


def _midday(plan: dict[str, Any]) -> None:
    slot = _slot(plan, "w2")
    slot["start"] = slot["start"][:11] + "20:00:00Z"
    slot["end"] = slot["end"][:11] + "21:30:00Z"


MUTATIONS = {
    "rule 1": _midday,
    "rule 3": _same_time("s0", "s1"),
    "rule 4": _same_time("z1", "z2"),
    "rule 5": _same_time("w1", "w2"),
    "rule 6": _merge_pair_phases,
    "rule 7": _set("w1", "rebootSetting", "IfRequired"),
    "exactly once": _drop_skipped,
    "enrolled, not skipped": _skip_enrolled,
    "slot rule": _lasting("w2", 60),
    "maximumDuration": _lasting("w1", 20),
}


def test_the_untouched_plan_passes() -> None:
    check_plan(FLEET, _plan(), slot_knobs=(90, 30))


@pytest.mark.parametrize("rule", sorted(MUTATIONS))
def test_each_broken_rule_is_caught(rule: str) -> None:
    plan = copy.deepcopy(_plan())
    MUTATIONS[rule](plan)
    with pytest.raises(AssertionError, match=rule):
        check_plan(FLEET, plan, slot_knobs=(90, 30))

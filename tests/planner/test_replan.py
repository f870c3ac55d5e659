"""Re-planning: missed VMs get later slots under the same rules; what ran does not move."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from contract_checks import check_plan
from fleet_strategies import cycles, fleets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patching.calendar import make_cycle
from patching.fleet import parse_fleet
from patching.planfile import plan_to_json
from patching.planner import plan_cycle
from patching.replan import ReplanError, replan


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets(max_vms=60), cycles, st.data())
def test_missed_vms_get_later_slots_and_nothing_that_ran_moves(
    document: dict[str, Any], cycle_id: str, data: st.DataObject
) -> None:
    fleet = parse_fleet(document)
    plan = plan_cycle(fleet, make_cycle(cycle_id))
    if not plan.assignments:
        return
    pivot = data.draw(st.sampled_from(plan.assignments))
    # From within a slot to days after the plan's end.
    now = pivot.start + timedelta(minutes=data.draw(st.integers(0, 5 * 24 * 60)))
    reached = [a for a in plan.assignments if a.start < now]
    missed = (
        data.draw(st.lists(st.sampled_from(reached), unique=True, max_size=8)) if reached else []
    )
    missed_keys = {a.vm.lower() for a in missed}

    result = plan_to_json(replan(plan, fleet, now=now, missed=[a.vm for a in missed]))

    check_plan(document, result, expect_deadline=False, slot_knobs=(90, 30))
    after = {a["vm"].lower(): a for a in result["assignments"]}
    before = {a["vm"].lower(): a for a in plan_to_json_assignments(plan)}
    for key, old in before.items():
        if key in missed_keys:
            assert after[key]["start"] >= now.strftime("%Y-%m-%dT%H:%M:%SZ")
        elif old["start"] < now.strftime("%Y-%m-%dT%H:%M:%SZ"):
            assert after[key] == old, f"{key} already ran and must not move"
        else:
            assert after[key]["start"] >= now.strftime("%Y-%m-%dT%H:%M:%SZ")


def plan_to_json_assignments(plan: Any) -> list[dict[str, Any]]:
    return list(plan_to_json(plan)["assignments"])


def _small_fleet() -> dict[str, Any]:
    sub = "00000001-0000-4000-8000-000000000001"

    def vm(name: str, region: str) -> dict[str, Any]:
        return {
            "id": f"/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/{name}",
            "location": region,
            "osType": "Linux",
            "patchMode": "AutomaticByPlatform",
        }

    return {
        "version": 1,
        "vms": [vm("canary", "swedencentral")]
        + [vm(f"east{i}", "eastus") for i in range(3)]
        + [vm(f"west{i}", "westus") for i in range(3)],
    }


def test_a_vm_missed_in_a_finished_phase_goes_to_a_retry_phase_at_the_end() -> None:
    document = _small_fleet()
    fleet = parse_fleet(document)
    plan = plan_cycle(fleet, make_cycle("2026-12"))
    canary = next(a for a in plan.assignments if a.phase == 0)
    last_phase = plan.phases[-1]
    now = min(a.start for a in plan.assignments if a.phase == 1) + timedelta(minutes=1)

    result = plan_to_json(replan(plan, fleet, now=now, missed=[canary.vm]))

    check_plan(document, result, expect_deadline=False, slot_knobs=(90, 30))
    retry = result["phases"][-1]
    assert retry["retry"] is True and retry["regions"] == ["swedencentral"]
    moved = next(a for a in result["assignments"] if a["vm"] == canary.vm)
    assert moved["phase"] == retry["index"]
    assert moved["start"] > last_phase.end.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_vm_missed_in_the_phase_in_progress_stays_in_it_and_later_phases_follow() -> None:
    document = _small_fleet()
    fleet = parse_fleet(document)
    plan = plan_cycle(fleet, make_cycle("2026-12"))
    first_of_phase_1 = min((a for a in plan.assignments if a.phase == 1), key=lambda a: a.start)
    now = first_of_phase_1.end

    result = plan_to_json(replan(plan, fleet, now=now, missed=[first_of_phase_1.vm]))

    check_plan(document, result, expect_deadline=False, slot_knobs=(90, 30))
    moved = next(a for a in result["assignments"] if a["vm"] == first_of_phase_1.vm)
    assert moved["phase"] == 1
    assert not any(p.get("retry") for p in result["phases"])
    assert result["makespanHours"] >= plan.makespan_hours


def test_a_vm_that_has_not_reached_its_slot_cannot_have_missed_it() -> None:
    fleet = parse_fleet(_small_fleet())
    plan = plan_cycle(fleet, make_cycle("2026-12"))
    latest = max(plan.assignments, key=lambda a: a.start)
    with pytest.raises(ReplanError, match="has not reached its slot"):
        replan(plan, fleet, now=latest.start - timedelta(minutes=1), missed=[latest.vm])

"""Every rule of docs/CONTRACTS.md section 3, on random fleets."""

from __future__ import annotations

from typing import Any

from contract_checks import check_plan
from fleet_strategies import cycles, fleets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patching.calendar import make_cycle
from patching.fleet import parse_fleet
from patching.models import ReleaseKind
from patching.planfile import plan_to_json
from patching.planner import plan_cycle

kinds = st.sampled_from([None, *ReleaseKind])
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _plan(document: dict[str, Any], cycle_id: str, kind: ReleaseKind | None) -> dict[str, Any]:
    return plan_to_json(plan_cycle(parse_fleet(document), make_cycle(cycle_id, kind=kind)))


@SETTINGS
@given(fleets(), cycles, kinds)
def test_every_rule_holds_for_any_fleet(
    document: dict[str, Any], cycle_id: str, kind: ReleaseKind | None
) -> None:
    check_plan(
        document, _plan(document, cycle_id, kind), expect_deadline=False, slot_knobs=(90, 30)
    )


@SETTINGS
@given(fleets(generous=True, max_vms=60), cycles, kinds)
def test_fleets_with_room_finish_before_the_deadline(
    document: dict[str, Any], cycle_id: str, kind: ReleaseKind | None
) -> None:
    check_plan(document, _plan(document, cycle_id, kind), expect_deadline=True, slot_knobs=(90, 30))


@settings(max_examples=25, deadline=None)
@given(fleets(max_vms=40), cycles)
def test_planning_is_deterministic(document: dict[str, Any], cycle_id: str) -> None:
    assert _plan(document, cycle_id, None) == _plan(document, cycle_id, None)

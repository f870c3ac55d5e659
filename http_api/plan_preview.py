"""GET /plan: the plan a cycle would get from the current inventory, by the cycle's own
planner (`activities.rollout`): the same targets (with their learned install durations),
the same region pairs from ARM, the same policy, planned from now."""

from __future__ import annotations

from typing import Any

from activities.deps import Deps
from activities.rollout import fleet_of, planned_cycle, planning_policy, planning_targets
from http_api.current_cycle import BASELINE_SUFFIX
from http_api.errors import Upstream, not_found, upstream
from patching.calendar import make_cycle
from patching.models import Cycle
from patching.planfile import plan_to_json
from patching.planner import plan_cycle
from patching.timefmt import format_time


def preview_plan(current: Deps, cycle_id: str) -> dict[str, Any]:
    """The plan file (docs/CONTRACTS.md section 3) of `cycle_id` for the current inventory.
    The release is the cycle's record when it opened, else the calendar's (a month's
    replacing baseline exists only once opened: 404 before)."""
    cycle = _release_cycle(current, cycle_id)
    with upstream(Upstream.STORAGE):
        targets = planning_targets(current, cycle.release.kind)
    pairs: dict[str, str] = {}
    with upstream(Upstream.ARM):
        for subscription in current.settings.subscriptions:
            pairs.update(sorted(current.compute.region_pairs(subscription).items()))
    plan = plan_cycle(
        fleet_of(targets, pairs),
        cycle,
        now=current.clock.now(),
        policy=planning_policy(current.settings),
    )
    return plan_to_json(plan)


def _release_cycle(current: Deps, cycle_id: str) -> Cycle:
    with upstream(Upstream.STORAGE):
        record = current.store.cycle(cycle_id)
    if record is not None:
        return planned_cycle(
            {
                "kind": record.release_kind,
                "releasedAt": format_time(record.released_at),
                "releaseId": record.release_id,
            },
            current.settings,
        )
    if cycle_id.endswith(BASELINE_SUFFIX):
        raise not_found(f"cycle {cycle_id}: no unplanned baseline replaced that month's cycle")
    return make_cycle(cycle_id, baseline_months=current.settings.planned_baseline_months)

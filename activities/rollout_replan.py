"""Re-planning a cycle in progress: VMs that missed their slot get later ones
(`patching.replan`), saved as a new round of plan groups."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import azure.durable_functions as df

from activities.deps import deps
from activities.rollout import (
    fleet_of,
    phase_payloads,
    planned_cycle,
    planning_policy,
    planning_targets,
)
from activities.rollout_slots import recorded_outcome
from activities.store_reads import recorded_views
from azure_io.rollout_records import PlanGroupRows
from azure_io.telemetry import activity_logging, app_logger
from orchestrators.rollout_payloads import retry_group_id, retry_round_of
from patching.fanout import group_assignments
from patching.models import Assignment, Phase, Plan, ReleaseKind
from patching.outcomes import install_failed, is_miss
from patching.replan import replan
from patching.resource_ids import VmId
from patching.timefmt import parse_time

bp = df.Blueprint()
log = app_logger(__name__)


@bp.activity_trigger(input_name="payload")  # type: ignore[untyped-decorator]
@activity_logging
def rollout_replan(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """`{"cycle", "kind", "releasedAt", "releaseId", "round", "phases", "resumed"}` (the
    current plan's phases): re-plans (`patching.replan`) and saves the slots that moved as
    the round's groups; returns the new plan's phases, each with the round's group ids.
    The VMs that missed their slot get later ones; after a resume, only those whose slot
    passed without an install (a failed install waits for the retries after the last
    phase). Nothing comes back when no VM missed."""
    current = deps()
    now = current.clock.now()
    cycle_id, retry_round = payload["cycle"], payload["round"]
    store = current.store
    latest: dict[str, Assignment] = {}
    # The groups of earlier rounds only: run again, the activity plans the same round anew.
    earlier = (g for g in store.plan_groups(cycle_id) if retry_round_of(g.group_id) < retry_round)
    for summary in earlier:
        for slot in store.plan_group(cycle_id, summary.group_id):
            key = slot.assignment.vm.lower()
            if key not in latest or slot.assignment.start > latest[key].start:
                latest[key] = slot.assignment
    resumed = bool(payload["resumed"])
    passed = [a.vm for a in latest.values() if a.start < now]
    views = recorded_views(store, passed)
    outcomes = [recorded_outcome(vm, views.get(VmId.parse(vm).key), cycle_id) for vm in passed]
    missed = [o.vm for o in outcomes if is_miss(o) and not (resumed and install_failed(o))]
    if not missed:
        log.info("re-plan: no VM missed its slot")
        return []
    phases = tuple(
        Phase(
            p["index"],
            tuple(p["regions"]),
            parse_time(p["start"]),
            parse_time(p["end"]),
            p["retry"],
        )
        for p in payload["phases"]
    )
    plan = Plan(
        cycle=planned_cycle(payload, current.settings),
        phases=phases,
        assignments=tuple(latest.values()),
        skipped=(),
        makespan_hours=0.0,
        lower_bound_hours=0.0,
    )
    targets = planning_targets(current, ReleaseKind(payload["kind"]))
    policy = planning_policy(current.settings)
    fleet = fleet_of(targets, payload.get("regionPairs", {}))
    new = replan(plan, fleet, now=now, missed=missed, policy=policy)
    moved = tuple(a for a in new.assignments if latest.get(a.vm.lower()) != a)
    groups = group_assignments(replace(new, assignments=moved), targets)
    rows = [
        PlanGroupRows(retry_group_id(retry_round, g.id), g.phase, g.assignments, retry=not resumed)
        for g in groups
    ]
    store.save_plan_groups(cycle_id, rows, recorded_at=now)
    for vm in missed:
        log.info("re-planned after a missed slot", extra={"vm": vm})
    return phase_payloads(new, [(row.group_id, row.phase) for row in rows])

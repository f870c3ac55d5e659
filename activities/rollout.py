"""The cycle's activities around the installs: its PatchCycles record, discovery, the plan
(saved by fan-out group), a group's slot batches, and the health gate after a phase.

Each reads its dependencies from `deps()` and "now" from its clock, writes idempotent
upserts (an activity may run twice) and returns a small JSON answer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

import azure.durable_functions as df

from activities.deps import Deps, deps
from activities.rollout_slots import batch_times, recorded_outcome
from activities.store_reads import recorded_views
from azure_io.rollout_records import PlanGroupRows
from azure_io.settings import Settings
from azure_io.table_rows import ComplianceRecord, CycleRecord
from azure_io.telemetry import activity_logging, app_logger
from orchestrators.rollout_payloads import SUPERSEDED
from patching.calendar import cycle_id_of, make_cycle
from patching.fanout import group_assignments
from patching.fleet import Fleet
from patching.gate import phase_verdict
from patching.install_history import expected_install_minutes, install_kind
from patching.models import Cycle, Plan, ReleaseKind, VmTarget
from patching.outcomes import VmState
from patching.planner import PlanningPolicy, plan_cycle
from patching.policy import is_hotpatch_enabled
from patching.regions import BUILTIN_REGIONS, RegionInfo, merge_regions
from patching.resource_ids import VmId
from patching.timefmt import format_time, parse_time

bp = df.Blueprint()
log = app_logger(__name__)


def planned_cycle(release: dict[str, Any], settings: Settings) -> Cycle:
    """The domain's cycle for a `{"kind", "releasedAt", "releaseId"}` payload."""
    released_at = parse_time(release["releasedAt"])
    return make_cycle(
        cycle_id_of(released_at),
        kind=ReleaseKind(release["kind"]),
        released_at=released_at,
        baseline_months=settings.planned_baseline_months,
        release_id=release.get("releaseId"),
    )


def planning_policy(settings: Settings) -> PlanningPolicy:
    return PlanningPolicy(
        slot_minutes=settings.install_slot_minutes,
        hotpatch_slot_minutes=settings.hotpatch_slot_minutes,
        default_window=settings.off_peak_window,
        health_gate_minutes=settings.health_gate_minutes,
    )


@bp.activity_trigger(input_name="payload")  # type: ignore[untyped-decorator]
@activity_logging
def rollout_save_cycle(payload: dict[str, Any]) -> str:
    """`{"cycle", "kind", "releasedAt", "releaseId", "state", "haltReason"?, "summary"}`;
    returns the cycle's state, which stays `superseded` once a baseline replaced it."""
    current = deps()
    held = current.store.cycle(payload["cycle"])
    if held is not None and held.state == SUPERSEDED:
        return SUPERSEDED
    cycle = planned_cycle(payload, current.settings)
    current.store.save_cycle(
        CycleRecord(
            cycle_id=payload["cycle"],
            release_kind=cycle.release.kind.value,
            released_at=cycle.release.released_at,
            deadline=cycle.deadline,
            state=payload["state"],
            recorded_at=current.clock.now(),
            release_id=cycle.release.release_id,
            halt_reason=payload.get("haltReason"),
            plan_summary=payload.get("summary"),
        )
    )
    log.info("cycle %s", payload["state"], extra={"haltReason": payload.get("haltReason")})
    return str(payload["state"])


@bp.activity_trigger(input_name="payload")  # type: ignore[untyped-decorator]
@activity_logging
def rollout_supersede(payload: dict[str, Any]) -> bool:
    """`{"cycle", "by"}`: marks the replaced cycle superseded; False if it has no record."""
    current = deps()
    held = current.store.cycle(payload["cycle"])
    if held is None:
        return False
    reason = f"superseded by the unplanned baseline cycle {payload['by']}"
    current.store.save_cycle(
        replace(held, state=SUPERSEDED, halt_reason=reason, recorded_at=current.clock.now())
    )
    log.warning("cycle %s", reason)
    return True


@bp.activity_trigger(input_name="payload")  # type: ignore[untyped-decorator]
@activity_logging
def rollout_subscriptions(payload: None) -> list[str]:
    """The subscriptions the app manages (its settings)."""
    return list(deps().settings.subscriptions)


@bp.activity_trigger(input_name="payload")  # type: ignore[untyped-decorator]
@activity_logging
def rollout_discover(payload: dict[str, Any]) -> dict[str, Any]:
    """`{"subscription"}`: its VMs replace the subscription's inventory; returns their count
    and the geo-pairs ARM gives for the subscription's regions (`regionPairs`)."""
    current = deps()
    subscription = payload["subscription"]
    targets = current.compute.discover(subscription)
    pairs = current.compute.region_pairs(subscription)
    current.store.save_inventory(subscription, targets, discovered_at=current.clock.now())
    log.info("discovered %d VMs", len(targets))
    return {"subscription": subscription, "vms": len(targets), "regionPairs": pairs}


@bp.activity_trigger(input_name="payload")  # type: ignore[untyped-decorator]
@activity_logging
def rollout_plan(payload: dict[str, Any]) -> dict[str, Any]:
    """`{"cycle", "kind", "releasedAt", "releaseId"}`: plans the inventory, saves the plan
    by group (replacing any earlier one) and the skipped VMs' compliance; returns the
    phases with their group ids."""
    current = deps()
    now = current.clock.now()
    cycle_id = payload["cycle"]
    targets = planning_targets(current, ReleaseKind(payload["kind"]))
    plan = plan_cycle(
        fleet_of(targets, payload.get("regionPairs", {})),
        planned_cycle(payload, current.settings),
        now=now,
        policy=planning_policy(current.settings),
    )
    groups = group_assignments(plan, targets)
    current.store.delete_plan(cycle_id)
    current.store.save_plan_groups(
        cycle_id,
        [PlanGroupRows(group.id, group.phase, group.assignments) for group in groups],
        recorded_at=now,
    )
    by_key = {vm.key: vm for vm in targets}
    current.store.record_compliance(
        ComplianceRecord(
            vm_id=skip.vm,
            state=VmState.SKIPPED.value,
            reason=skip.reason,
            enrolled=False,
            hotpatch=is_hotpatch_enabled(by_key[skip.vm.lower()]),
            recorded_at=now,
            cycle=cycle_id,
        )
        for skip in plan.skipped
    )
    for skip in plan.skipped:
        log.info("skipped by the plan: %s", skip.reason, extra={"vm": skip.vm})
    log.info(
        "planned %d VMs in %d phases, %d skipped",
        len(plan.assignments),
        len(plan.phases),
        len(plan.skipped),
    )
    return {
        "assigned": len(plan.assignments),
        "skipped": len(plan.skipped),
        "phases": phase_payloads(plan, [(group.id, group.phase) for group in groups]),
    }


def planning_targets(current: Deps, kind: ReleaseKind) -> tuple[VmTarget, ...]:
    """The last discovery of the managed subscriptions, each VM with the install duration its
    recent installs of this kind of month lead the planner to expect (docs/PLANNER.md 1)."""
    targets: list[VmTarget] = []
    for subscription in current.settings.subscriptions:
        views = current.store.vm_views(subscription)
        for vm in current.store.inventory(subscription):
            view = views.get(VmId.parse(vm.id).key)
            expected = (
                None
                if view is None
                else expected_install_minutes(view.recent_installs, install_kind(vm, kind))
            )
            targets.append(
                vm if expected is None else replace(vm, expected_install_minutes=expected)
            )
    return tuple(targets)


def fleet_of(targets: tuple[VmTarget, ...], region_pairs: Mapping[str, str]) -> Fleet:
    """The discovered VMs as the planner's fleet; the regions are the built-in table with
    the pairs ARM gave laid over it (a region ARM names but the table lacks keeps UTC)."""
    overrides = (
        RegionInfo(
            region,
            pair,
            BUILTIN_REGIONS[region].time_zone if region in BUILTIN_REGIONS else "UTC",
        )
        for region, pair in sorted(region_pairs.items())
    )
    return Fleet(
        vms=targets, regions=merge_regions(overrides), subscription_names=MappingProxyType({})
    )


def phase_payloads(plan: Plan, groups: list[tuple[str, int]]) -> list[dict[str, Any]]:
    return [
        {
            "index": phase.index,
            "start": format_time(phase.start),
            "end": format_time(phase.end),
            "regions": list(phase.regions),
            "retry": phase.retry,
            "groups": [group for group, index in groups if index == phase.index],
        }
        for phase in plan.phases
    ]


@bp.activity_trigger(input_name="payload")  # type: ignore[untyped-decorator]
@activity_logging
def rollout_group_batches(payload: dict[str, Any]) -> list[dict[str, str]]:
    """`{"cycle", "group"}`: the group's slot batches as `{"start", "end"}`, in order."""
    slots = deps().store.plan_group(payload["cycle"], payload["group"])
    return [
        {"start": format_time(start), "end": format_time(end)} for start, end in batch_times(slots)
    ]


@bp.activity_trigger(input_name="payload")  # type: ignore[untyped-decorator]
@activity_logging
def rollout_phase_verdict(payload: dict[str, Any]) -> dict[str, Any]:
    """`{"cycle", "phase", "groups"}`: the health gate over the recorded outcomes of the
    VMs of the phase's groups."""
    current = deps()
    cycle_id = payload["cycle"]
    store = current.store
    vms = [
        slot.assignment.vm
        for group in payload["groups"]
        for slot in store.plan_group(cycle_id, group)
    ]
    views = recorded_views(store, vms)
    outcomes = [recorded_outcome(vm, views.get(VmId.parse(vm).key), cycle_id) for vm in vms]
    verdict = phase_verdict(outcomes, budget_percent=current.settings.error_budget_percent)
    log.log(
        logging.WARNING if verdict.halt else logging.INFO,
        "phase verdict: %s (%d failed, %d unhealthy of %d, %d allowed)",
        "halt" if verdict.halt else "go on",
        verdict.failed,
        verdict.unhealthy,
        len(vms),
        verdict.allowed,
    )
    return {
        "halt": verdict.halt,
        "reason": verdict.reason,
        "failed": verdict.failed,
        "unhealthy": verdict.unhealthy,
        "allowed": verdict.allowed,
        "vms": len(vms),
    }

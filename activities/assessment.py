"""The activities of an assessment round: scope, discovery, selection, start and check.

Each returns at once: assessments are started and handed back to the orchestrator,
which checks them later on durable timers. A throttled call stops the batch and says
how long to wait; the orchestrator waits with a durable timer and calls again with
what is left. Every write is an upsert, so an activity run twice changes nothing more.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import azure.durable_functions as df

from activities.deps import Deps, deps
from activities.polling import CheckRound, check_round
from activities.store_reads import inventoried, recorded_views
from azure_io.compute_outcomes import (
    ArmThrottledError,
    OperationFailed,
    OperationKind,
    Started,
    Throttled,
    VmNotRunning,
)
from azure_io.patch_results import AssessmentResult, OperationError
from azure_io.patch_views import VmView
from azure_io.rollout_records import OperationInFlight
from azure_io.table_rows import ComplianceRecord
from azure_io.telemetry import activity_logging, app_logger
from orchestrators.assessment_payloads import Scope, parse_scope
from patching.assessment import Wave, due_for_assessment, pace_operations
from patching.models import PatchMode, VmTarget
from patching.outcomes import VmState
from patching.resource_ids import VmId
from patching.timefmt import format_time

bp = df.Blueprint()
log = app_logger(__name__)

INVENTORY_MAX_AGE = timedelta(days=1)
# Assessments leave this many operations a minute of each subscription and region to
# the installs of a cycle running at the same time.
RESERVED_FOR_INSTALLS = 50
# An operation row older than this is a leftover of an earlier round, not a running one.
STALE_OPERATION = timedelta(hours=2)
SKIPPED = "Skipped"
_ASSESSED = {"succeeded", "completedwithwarnings"}


@bp.activity_trigger(input_name="payload")  # type: ignore[untyped-decorator]
@activity_logging
def assessment_scope(payload: dict[str, Any]) -> dict[str, Any]:
    """Checks the scope and names the subscriptions whose inventory is over a day old."""
    current = deps()
    scope = parse_scope(payload.get("scope"), current.settings.subscriptions)
    now = current.clock.now()
    refresh = []
    for subscription in _subscriptions_of(current, scope):
        discovered = current.store.inventory_age(subscription)
        if discovered is None or now - discovered >= INVENTORY_MAX_AGE:
            refresh.append(subscription)
    return {"refresh": refresh}


@bp.activity_trigger(input_name="subscription")  # type: ignore[untyped-decorator]
@activity_logging
def discover_subscription(subscription: str) -> dict[str, Any]:
    """Discovers a subscription's VMs into the inventory; a 429 comes back as `retryAfter`."""
    current = deps()
    try:
        targets = current.compute.discover(subscription)
    except ArmThrottledError as throttled:
        return {"retryAfter": throttled.retry_after_seconds}
    current.store.save_inventory(subscription, targets, discovered_at=current.clock.now())
    log.info("discovered %d VMs", len(targets))
    return {"vms": len(targets)}


@bp.activity_trigger(input_name="payload")  # type: ignore[untyped-decorator]
@activity_logging
def select_assessment_waves(payload: dict[str, Any]) -> dict[str, Any]:
    """The waves of VMs due, paced under the operations limit, saved for the round; the VMs
    due but off are recorded as skipped with their power state. `nextDue`: when a round
    next has work (the first VM or inventory to fall due), or null when this one has."""
    current = deps()
    scope = parse_scope(payload.get("scope"), current.settings.subscriptions)
    now = current.clock.now()
    targets: list[VmTarget] = []
    views: dict[str, VmView] = {}
    for subscription in _subscriptions_of(current, scope):
        covered = [
            vm
            for vm in current.store.inventory(subscription)
            if scope is None or scope.covers(vm.vm_id)
        ]
        recorded = current.store.vm_views(subscription)
        targets += covered
        views.update((vm.key, recorded[vm.key]) for vm in covered if vm.key in recorded)
    # An on-demand assessment is asked for now, whatever the VMs' last one; a skip or a
    # failure is no assessment, so such a VM stays due.
    last_assessed = {
        key: view.latest_assessment.started_at
        for key, view in views.items()
        if scope is None
        and view.latest_assessment is not None
        and view.latest_assessment.started_at is not None
        and view.latest_assessment.status.lower() in _ASSESSED
    }
    interval = timedelta(hours=current.settings.assessment_interval_hours)
    due = due_for_assessment(targets, last_assessed, now=now, interval=interval)
    newly_off = [
        skip
        for skip in due.skipped_off
        if not _already_skipped(views.get(VmId.parse(skip.vm).key), skip.reason)
    ]
    _record_skips(current, ((skip.vm, "VMNotRunning", skip.reason) for skip in newly_off), now)
    waves = pace_operations(due.due, now=now, reserved=RESERVED_FOR_INSTALLS)
    current.store.save_assessment_waves(payload["round"], waves, recorded_at=now)
    next_due = None if waves else _next_due(current, scope, due.next_due)
    log.info("%d VMs due in %d waves, %d off", len(due.due), len(waves), len(due.skipped_off))
    return {
        "waves": [{"index": index, "start": format_time(w.start)} for index, w in enumerate(waves)],
        "due": len(due.due),
        "skippedOff": len(due.skipped_off),
        "nextDue": format_time(next_due) if next_due is not None else None,
    }


def _next_due(current: Deps, scope: Scope | None, vm_due: datetime | None) -> datetime | None:
    """The earlier of the next VM due and the next inventory to refresh (a VM seen off is
    assessed once a discovery sees it running, so the refresh is when that can happen)."""
    moments = [vm_due] if vm_due is not None else []
    for subscription in _subscriptions_of(current, scope):
        discovered = current.store.inventory_age(subscription)
        moments.append(
            current.clock.now() if discovered is None else discovered + INVENTORY_MAX_AGE
        )
    return min(moments, default=None)


@bp.activity_trigger(input_name="payload")  # type: ignore[untyped-decorator]
@activity_logging
def start_assessments(payload: dict[str, Any]) -> dict[str, Any]:
    """Starts an assessment on each VM of the round's wave from position `from` on that has
    none running; stops at a 429 with `retryAfter` and `next`, the position to go on from."""
    current = deps()
    vms = list(_wave(current, payload).vms)
    first: int = payload["from"]
    now = current.clock.now()
    running = {
        VmId.parse(op.started.vm_id).key
        for op in current.store.operations(OperationKind.ASSESSMENT, vm_ids=vms[first:])
        if now - op.started_at < STALE_OPERATION
    }
    started: list[OperationInFlight] = []
    off: list[tuple[str, str, str]] = []
    failed: list[AssessmentResult] = []
    following = len(vms)
    retry_after: float | None = None
    already_running = 0
    for index in range(first, len(vms)):
        vm = vms[index]
        if VmId.parse(vm).key in running:
            already_running += 1  # started by an earlier run of this very call
            continue
        outcome = current.compute.start_assessment(vm)
        if isinstance(outcome, Throttled):
            following, retry_after = index, outcome.retry_after_seconds
            break
        if isinstance(outcome, Started):
            started.append(OperationInFlight(outcome, started_at=now))
        elif isinstance(outcome, VmNotRunning):
            off.append((vm, "VMNotRunning", outcome.message))
        else:
            failed.append(_not_assessed(vm, outcome.code, outcome.message, now))
    current.store.save_operations(started)
    _record_skips(current, off, now)
    current.store.record_assessments(failed, recorded_at=now)
    log.info("started %d assessments, %d refused", len(started), len(off) + len(failed))
    return {
        "started": len(started) + already_running,
        "refused": len(off) + len(failed),
        "next": following,
        "total": len(vms),
        "retryAfter": retry_after,
    }


@bp.activity_trigger(input_name="payload")  # type: ignore[untyped-decorator]
@activity_logging
def check_assessments(payload: dict[str, Any]) -> dict[str, Any]:
    """One status request per assessment in flight on the VMs of the round's wave; records
    and finishes those that ended. Returns how many still run; with `giveUp`, records
    those as timed out.
    """
    current = deps()
    now = current.clock.now()
    vms = _wave(current, payload).vms
    in_flight = current.store.operations(OperationKind.ASSESSMENT, vm_ids=vms)
    checked: CheckRound[AssessmentResult | OperationFailed] = check_round(
        in_flight, current.compute.check_assessment
    )
    results = [
        _not_assessed(operation.started.vm_id, outcome.code, outcome.message, now)
        if isinstance(outcome, OperationFailed)
        else outcome
        for operation, outcome in checked.ended
    ]
    ended = [operation for operation, _ in checked.ended]
    still_running = [operation.started.vm_id for operation in checked.running]
    retry_after = checked.retry_after
    if payload.get("giveUp") and retry_after is None:
        for operation in in_flight:
            if operation.started.vm_id in still_running:
                results.append(
                    _not_assessed(
                        operation.started.vm_id,
                        "AssessmentTimedOut",
                        "the assessment did not end in time; it is tried again next round",
                        now,
                    )
                )
                ended.append(operation)
        still_running = []
    current.store.record_assessments(results, recorded_at=now)
    current.store.record_compliance(_assessment_compliance(current, results, now))
    current.store.finish_operations(operation.key for operation in ended)
    for result in results:
        log.info("assessment %s", result.status, extra={"vm": result.vm_id})
    return {"running": len(still_running), "retryAfter": retry_after}


def _assessment_compliance(
    current: Deps, results: list[AssessmentResult], now: datetime
) -> list[ComplianceRecord]:
    """Compliance from the assessments of VMs no cycle has judged: a cycle's verdict
    (with its cycle) stands until the next cycle; an assessment only fills the gap."""
    assessed = [r for r in results if r.status.lower() in _ASSESSED]
    vm_ids = [r.vm_id for r in assessed]
    targets, views = inventoried(current.store, vm_ids), recorded_views(current.store, vm_ids)
    records = []
    for result in assessed:
        key = VmId.parse(result.vm_id).key
        view, target = views.get(key), targets.get(key)
        if target is None or (view and view.compliance and view.compliance.cycle):
            continue
        missing = result.critical_and_security_patch_count
        records.append(
            ComplianceRecord(
                vm_id=result.vm_id,
                state=VmState.PENDING.value if missing else VmState.COMPLIANT.value,
                reason=f"assessment: {missing} critical or security patches missing",
                enrolled=target.patch_mode is PatchMode.AUTOMATIC_BY_PLATFORM,
                hotpatch=target.enable_hotpatching,
                recorded_at=now,
            )
        )
    return records


def _wave(current: Deps, payload: dict[str, Any]) -> Wave:
    wave = current.store.assessment_wave(payload["round"], payload["index"])
    if wave is None:
        raise LookupError(f"assessment round {payload['round']} has no wave {payload['index']}")
    return wave


def _subscriptions_of(current: Deps, scope: Scope | None) -> list[str]:
    if scope is None:
        return list(current.settings.subscriptions)
    return sorted(scope.touched_subscriptions)


def _already_skipped(view: VmView | None, reason: str) -> bool:
    """Whether the VM's latest assessment already records this very skip (no hourly rows)."""
    latest = view.latest_assessment if view is not None else None
    return (
        latest is not None
        and latest.status == SKIPPED
        and latest.error is not None
        and latest.error.message == reason
    )


def _not_assessed(vm: str, code: str, message: str, now: datetime) -> AssessmentResult:
    return AssessmentResult(
        vm_id=vm,
        status="Failed",
        started_at=now,
        reboot_pending=False,
        critical_and_security_patch_count=0,
        other_patch_count=0,
        error=OperationError(code, message),
    )


def _record_skips(current: Deps, skips: Iterable[tuple[str, str, str]], now: datetime) -> None:
    current.store.record_assessments(
        (
            AssessmentResult(
                vm_id=vm,
                status=SKIPPED,
                started_at=now,
                reboot_pending=False,
                critical_and_security_patch_count=0,
                other_patch_count=0,
                error=OperationError(code, message),
            )
            for vm, code, message in skips
        ),
        recorded_at=now,
    )

"""A slot batch's installs: start them, check them once, then judge and record each.

None of these waits: an install is started and its status URL saved at once, a
check is one status request, and a 429 goes back to the orchestrator with its Retry-After.
Starting is idempotent per VM and slot: an operation already saved for the VM in this
cycle's slot is never started again, so a redelivered activity installs nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import azure.durable_functions as df

from activities.deps import Deps, deps
from activities.polling import CheckRound, check_round
from activities.rollout_slots import (
    batch_assignments,
    finished_outcome,
    install_request,
    timed_install,
)
from activities.store_reads import inventoried, recorded_views
from azure_io import telemetry
from azure_io.compute_outcomes import (
    HealthVerdict,
    OperationFailed,
    OperationKind,
    Started,
    Throttled,
    VmNotRunning,
)
from azure_io.patch_results import InstallResult, failed_install
from azure_io.rollout_records import OperationInFlight, OperationKey
from azure_io.table_rows import ComplianceRecord
from azure_io.telemetry import activity_logging, app_logger
from orchestrators.rollout_payloads import SUPERSEDED
from patching.install_history import PastInstall, install_kind, with_install
from patching.models import Assignment, PowerState, ReleaseKind, VmTarget
from patching.outcomes import Attempt, InstallOutcome, VmState, vm_state
from patching.policy import is_hotpatch_enabled
from patching.resource_ids import VmId

bp = df.Blueprint()
log = app_logger(__name__)

_INSTALL = OperationKind.INSTALL


@bp.activity_trigger(input_name="payload")  # type: ignore[untyped-decorator]
@activity_logging
def rollout_start_installs(payload: dict[str, Any]) -> dict[str, Any]:
    """`{"cycle", "kind", "group", "batch", "vms": [ids] | null, "last"}`: starts the batch's
    installs (or only `vms`'); returns the VMs ARM throttled and the longest Retry-After.
    With `last`, throttled VMs are recorded as missing their slot instead. A superseded
    cycle starts nothing."""
    current = deps()
    cycle_id = payload["cycle"]
    now = current.clock.now()
    held = current.store.cycle(cycle_id)
    if held is not None and held.state == SUPERSEDED:
        return {"refused": [], "retryAfterSeconds": 0.0}
    assignments = batch_assignments(current.store, cycle_id, payload["group"], payload["batch"])
    if payload["vms"] is not None:
        wanted = {vm.lower() for vm in payload["vms"]}
        assignments = [a for a in assignments if a.vm.lower() in wanted]
    targets = inventoried(current.store, (a.vm for a in assignments))
    in_flight = {
        op.started.vm_id.lower(): op
        for op in current.store.operations(_INSTALL, vm_ids=[a.vm for a in assignments])
    }
    starts = _Starts()
    for assignment in assignments:
        saved = in_flight.get(assignment.vm.lower())
        if saved is not None and saved.cycle == cycle_id and saved.slot_end == assignment.end:
            continue
        target = targets.get(assignment.vm.lower())
        if target is None:
            starts.not_started.append(
                failed_install(assignment.vm, "NotDiscovered", "not in the inventory")
            )
        elif now >= assignment.end:
            starts.missed.append(
                InstallOutcome(target.id, Attempt.CONFLICT, detail="the slot ended")
            )
        else:
            _start(current, starts, cycle_id, target, assignment, now)
    if payload["last"]:
        starts.missed += [
            InstallOutcome(vm, Attempt.CONFLICT, detail="ARM kept throttling the install")
            for vm in starts.refused
        ]
        starts.refused = []
    current.store.record_installs(starts.not_started, cycle=cycle_id, recorded_at=now)
    _record_refusals(current, payload, targets, starts.missed, now)
    for missed in starts.missed:
        log.warning("install not started: %s", missed.detail, extra={"vm": missed.vm})
    for result in starts.not_started:
        telemetry.install_not_started(result.vm_id, result.error.code if result.error else "")
    log.info(
        "batch %s: %d VMs throttled, %d missed their slot",
        payload["batch"],
        len(starts.refused),
        len(starts.missed),
    )
    return {"refused": starts.refused, "retryAfterSeconds": starts.retry_after}


@dataclass
class _Starts:
    """What a batch's starts came to, besides the operations saved."""

    refused: list[str] = field(default_factory=list)
    retry_after: float = 0.0
    missed: list[InstallOutcome] = field(default_factory=list)
    not_started: list[InstallResult] = field(default_factory=list)

    def throttled(self, vm: str, answer: Throttled) -> None:
        self.refused.append(vm)
        self.retry_after = max(self.retry_after, answer.retry_after_seconds)


def _start(
    current: Deps,
    starts: _Starts,
    cycle_id: str,
    target: VmTarget,
    assignment: Assignment,
    now: datetime,
) -> None:
    """Starts the VM's install if it is running, saving the operation at once (a rerun of
    the activity finds it and starts nothing)."""
    health = current.compute.check_health(target.id)
    if isinstance(health, Throttled):
        starts.throttled(target.id, health)
        return
    if health.power_state is not PowerState.RUNNING:
        starts.missed.append(InstallOutcome(target.id, Attempt.VM_OFF, detail=health.reason))
        return
    outcome = current.compute.start_install(target.id, install_request(target, assignment, now))
    if isinstance(outcome, Started):
        current.store.save_operations(
            [OperationInFlight(outcome, now, cycle=cycle_id, slot_end=assignment.end)]
        )
        log.info("install started", extra={"vm": target.id})
        telemetry.installs_started(target.id)
    elif isinstance(outcome, Throttled):
        starts.throttled(target.id, outcome)
    else:
        attempt = Attempt.CONFLICT if isinstance(outcome, VmNotRunning) else Attempt.NOT_STARTED
        detail = f"{outcome.code}: {outcome.message}"
        starts.missed.append(InstallOutcome(target.id, attempt, detail=detail))
        if attempt is Attempt.NOT_STARTED:
            starts.not_started.append(failed_install(target.id, outcome.code, outcome.message))


@bp.activity_trigger(input_name="payload")  # type: ignore[untyped-decorator]
@activity_logging
def rollout_check_installs(payload: dict[str, Any]) -> dict[str, list[str]]:
    """`{"cycle", "group", "batch", "vms": [ids] | null}`: one look at each install the batch
    started (or only `vms`'); records the finished ones' results."""
    current = deps()
    cycle_id = payload["cycle"]
    vms = payload["vms"]
    if vms is None:
        vms = [
            a.vm
            for a in batch_assignments(current.store, cycle_id, payload["group"], payload["batch"])
        ]
    in_flight = [
        op for op in current.store.operations(_INSTALL, vm_ids=vms) if op.cycle == cycle_id
    ]
    checked: CheckRound[InstallResult | OperationFailed] = check_round(
        in_flight, current.compute.check_install
    )
    results = [
        failed_install(operation.started.vm_id, outcome.code, outcome.message)
        if isinstance(outcome, OperationFailed)
        else replace(outcome, maximum_duration_minutes=_slot_minutes(operation))
        for operation, outcome in checked.ended
    ]
    current.store.record_installs(results, cycle=cycle_id, recorded_at=current.clock.now())
    for result in results:
        log.info("install finished: %s", result.status, extra={"vm": result.vm_id})
        telemetry.install_finished(result.vm_id, result.status)
    # A 429 ends the round: the operations it left unchecked are looked at with the others
    # still running, after the group's next durable timer.
    return {
        "finished": [operation.started.vm_id for operation, _ in checked.ended],
        "running": [operation.started.vm_id for operation in checked.running],
    }


def _slot_minutes(operation: OperationInFlight) -> int | None:
    """The maximumDuration the install was started with (`install_request`'s whole minutes)."""
    if operation.slot_end is None:
        return None
    return (operation.slot_end - operation.started_at) // timedelta(minutes=1)


@bp.activity_trigger(input_name="payload")  # type: ignore[untyped-decorator]
@activity_logging
def rollout_record_installs(payload: dict[str, Any]) -> dict[str, int]:
    """`{"cycle", "kind", "vms": finished ids, "unfinished": ids}`: checks the health of each
    finished VM, records its compliance and forgets its operation; an unfinished install
    stays in flight and its VM pending."""
    current = deps()
    cycle_id = payload["cycle"]
    kind = ReleaseKind(payload["kind"])
    now = current.clock.now()
    targets = inventoried(current.store, [*payload["vms"], *payload["unfinished"]])
    views = recorded_views(current.store, payload["vms"])
    records: list[ComplianceRecord] = []
    learned: dict[str, tuple[PastInstall, ...]] = {}
    for vm in payload["vms"]:
        view = views.get(VmId.parse(vm).key)
        target = targets.get(vm.lower())
        if target is None or view is None or view.latest_install is None:
            continue
        health = current.compute.check_health(vm)
        unhealthy = isinstance(health, HealthVerdict) and not health.healthy
        detail = health.reason if isinstance(health, HealthVerdict) else "health unknown (429)"
        outcome = finished_outcome(view.latest_install, unhealthy=unhealthy, detail=detail)
        records.append(_compliance(target, kind, outcome, cycle_id, now))
        timed = timed_install(view.latest_install, outcome, install_kind(target, kind))
        if timed is not None:
            learned[target.id] = with_install(view.recent_installs, timed)
    for vm in payload["unfinished"]:
        target = targets.get(vm.lower())
        if target is not None:
            state = VmState.PENDING.value
            reason = "the install was still running after its last check"
            records.append(_record(target, state, reason, cycle_id, now))
    current.store.record_compliance(records)
    for record in records:
        log.info("compliance %s: %s", record.state, record.reason, extra={"vm": record.vm_id})
        telemetry.compliance_recorded(record.vm_id, record.state)
    current.store.record_recent_installs(learned, recorded_at=now)
    current.store.finish_operations(OperationKey(vm, _INSTALL) for vm in payload["vms"])
    return {"recorded": len(records)}


def _record_refusals(
    current: Deps,
    payload: dict[str, Any],
    targets: dict[str, VmTarget],
    missed: list[InstallOutcome],
    now: datetime,
) -> None:
    """Each slot that did not start as its VM's compliance."""
    cycle_id = payload["cycle"]
    kind = ReleaseKind(payload["kind"])
    records = [
        _compliance(targets[o.vm.lower()], kind, o, cycle_id, now)
        for o in missed
        if o.vm.lower() in targets
    ]
    current.store.record_compliance(records)
    for record in records:
        telemetry.compliance_recorded(record.vm_id, record.state)


def _compliance(
    target: VmTarget, kind: ReleaseKind, outcome: InstallOutcome, cycle_id: str, now: datetime
) -> ComplianceRecord:
    report = vm_state(target, kind, outcome)
    return _record(target, report.state.value, report.reason, cycle_id, now)


def _record(
    target: VmTarget, state: str, reason: str, cycle_id: str, now: datetime
) -> ComplianceRecord:
    return ComplianceRecord(
        vm_id=target.id,
        state=state,
        reason=reason,
        enrolled=True,
        hotpatch=is_hotpatch_enabled(target),
        recorded_at=now,
        cycle=cycle_id,
    )

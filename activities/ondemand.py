"""The activities of an on-demand install: check the request, start installs, check them.

The request is checked whole (every field, every VM known to the inventory) before the
first install starts, so a bad request starts nothing. Installs are recorded like a
cycle's, in cycle column `ondemand`.
"""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from activities.deps import Deps, deps
from activities.polling import CheckRound, check_round
from activities.store_reads import inventoried
from azure_io.compute_outcomes import OperationFailed, OperationKind, Started, Throttled
from azure_io.patch_results import InstallRequest, InstallResult, failed_install
from azure_io.rollout_records import OperationInFlight
from azure_io.telemetry import activity_logging, app_logger
from orchestrators.assessment_payloads import (
    ONDEMAND_CYCLE,
    OnDemandInstall,
    RequestError,
    parse_ondemand_install,
)
from patching.models import VmTarget
from patching.resource_ids import VmId

bp = df.Blueprint()
log = app_logger(__name__)


@bp.activity_trigger(input_name="body")  # type: ignore[untyped-decorator]
@activity_logging
def validate_ondemand_install(body: dict[str, Any]) -> dict[str, Any]:
    """The request checked, or RequestError naming the field; VMs must be discovered."""
    current = deps()
    request = parse_ondemand_install(body, current.settings.subscriptions)
    _targets(current, request)
    return {"vms": len(request.vms)}


@bp.activity_trigger(input_name="payload")  # type: ignore[untyped-decorator]
@activity_logging
def start_ondemand_installs(payload: dict[str, Any]) -> dict[str, Any]:
    """Starts the request's install on each VM without one running; stops at a 429 and
    returns the VMs not started yet as `pending`, with `retryAfter`."""
    current = deps()
    request = parse_ondemand_install(payload["request"], current.settings.subscriptions)
    targets = _targets(current, request)
    now = current.clock.now()
    running = {
        VmId.parse(op.started.vm_id).key
        for op in current.store.operations(OperationKind.INSTALL, vm_ids=request.vms)
    }
    started: list[OperationInFlight] = []
    refused: list[InstallResult] = []
    pending: list[str] = []
    retry_after: float | None = None
    already_running = 0
    for index, vm in enumerate(request.vms):
        if VmId.parse(vm).key in running:
            already_running += 1  # started by an earlier run of this very call
            continue
        outcome = current.compute.start_install(vm, _install_request(request, targets[vm]))
        if isinstance(outcome, Throttled):
            pending, retry_after = list(request.vms[index:]), outcome.retry_after_seconds
            break
        if isinstance(outcome, Started):
            started.append(
                OperationInFlight(
                    outcome,
                    started_at=now,
                    cycle=ONDEMAND_CYCLE,
                    slot_end=now + request.maximum_duration,
                )
            )
        else:
            refused.append(failed_install(vm, outcome.code, outcome.message, started_at=now))
    current.store.save_operations(started)
    current.store.record_installs(refused, cycle=ONDEMAND_CYCLE, recorded_at=now)
    for operation in started:
        log.info("install started", extra={"cycle": ONDEMAND_CYCLE, "vm": operation.started.vm_id})
    return {
        "started": len(started) + already_running,
        "refused": len(refused),
        "pending": pending,
        "retryAfter": retry_after,
    }


@bp.activity_trigger(input_name="payload")  # type: ignore[untyped-decorator]
@activity_logging
def check_ondemand_installs(payload: dict[str, Any]) -> dict[str, Any]:
    """One status request per install in flight on `vms`; records and finishes those that
    ended. With `giveUp`, those still running are recorded as timed out."""
    current = deps()
    now = current.clock.now()
    in_flight = [
        op
        for op in current.store.operations(OperationKind.INSTALL, vm_ids=payload["vms"])
        if op.cycle == ONDEMAND_CYCLE
    ]
    checked: CheckRound[InstallResult | OperationFailed] = check_round(
        in_flight, current.compute.check_install
    )
    results = [
        outcome
        if isinstance(outcome, InstallResult)
        else failed_install(operation.started.vm_id, outcome.code, outcome.message, started_at=now)
        for operation, outcome in checked.ended
    ]
    ended = [operation for operation, _ in checked.ended]
    running = [operation.started.vm_id for operation in checked.running]
    retry_after = checked.retry_after
    if payload.get("giveUp") and retry_after is None:
        timed_out = [op for op in in_flight if op.started.vm_id in set(running)]
        results.extend(
            failed_install(
                op.started.vm_id,
                "InstallTimedOut",
                "the install did not end in time",
                started_at=now,
            )
            for op in timed_out
        )
        ended.extend(timed_out)
        running = []
    current.store.record_installs(results, cycle=ONDEMAND_CYCLE, recorded_at=now)
    current.store.finish_operations(operation.key for operation in ended)
    for result in results:
        extra = {"cycle": ONDEMAND_CYCLE, "vm": result.vm_id}
        log.info("install finished: %s", result.status, extra=extra)
    return {"running": running, "retryAfter": retry_after}


def _targets(current: Deps, request: OnDemandInstall) -> dict[str, VmTarget]:
    """The inventory's VM of each requested id; RequestError for one never discovered."""
    known = inventoried(current.store, request.vms)
    targets: dict[str, VmTarget] = {}
    for index, vm in enumerate(request.vms):
        target = known.get(VmId.parse(vm).key)
        if target is None:
            raise RequestError(f"vms[{index}] {vm!r}: no such VM in the discovered inventory")
        targets[vm] = target
    return targets


def _install_request(request: OnDemandInstall, target: VmTarget) -> InstallRequest:
    return InstallRequest(
        os_type=target.os_type,
        maximum_duration=request.maximum_duration,
        reboot_setting=request.reboot_setting,
        classifications=request.classifications,
        kb_numbers_to_include=request.kb_numbers_to_include,
        kb_numbers_to_exclude=request.kb_numbers_to_exclude,
    )

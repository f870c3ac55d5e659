"""What the rollout's activities share: a group's slots batched as the orchestrator runs
them, the install a slot asks for, and a VM's outcome read back from its records."""

from __future__ import annotations

from datetime import datetime, timedelta

from azure_io.patch_results import InstallRequest, InstallResult
from azure_io.patch_views import VmView
from azure_io.ports import PatchStore
from azure_io.rollout_records import PlannedSlot
from patching.fanout import RolloutGroup, SlotBatch, slot_batches
from patching.install_history import InstallKind, PastInstall, past_install
from patching.models import Assignment, VmTarget
from patching.outcomes import Attempt, InstallOutcome, VmState, install_failed
from patching.policy import MissingPatch
from patching.resource_ids import VmId

_CYCLE_CLASSES = frozenset({"critical", "security"})
# The reason an install excludes a patch it was asked for (excludeKbsRequiringReboot).
_EXCLUDED_FOR_REBOOT = "CanRequestReboot"
# ARM's install statuses of an install that ran to its end.
_COMPLETED = frozenset({"Succeeded", "CompletedWithWarnings"})


def batches(slots: tuple[PlannedSlot, ...]) -> tuple[SlotBatch, ...]:
    """The group's slots batched by start; batching looks at the slots alone, so the group
    is rebuilt from them without its region."""
    if not slots:
        return ()
    subscription = VmId.parse(slots[0].assignment.vm).subscription_id
    group = RolloutGroup(
        slots[0].group_id,
        slots[0].assignment.phase,
        subscription,
        "",
        tuple(slot.assignment for slot in slots),
    )
    return slot_batches(group)


def batch_times(slots: tuple[PlannedSlot, ...]) -> list[tuple[datetime, datetime]]:
    return [(batch.start, max(batch.ends)) for batch in batches(slots)]


def batch_assignments(
    store: PatchStore, cycle_id: str, group_id: str, index: int
) -> list[Assignment]:
    """The assignments of the group's batch `index` (IndexError for one it does not have)."""
    slots = store.plan_group(cycle_id, group_id)
    members = {vm.lower() for vm in batches(slots)[index].vms}
    return [slot.assignment for slot in slots if slot.assignment.vm.lower() in members]


def install_request(target: VmTarget, assignment: Assignment, now: datetime) -> InstallRequest:
    """The plan's install; started late (after a 429), it gets only what is left of the slot."""
    left = assignment.end - max(now, assignment.start)
    return InstallRequest(
        os_type=target.os_type,
        maximum_duration=timedelta(minutes=left // timedelta(minutes=1)),
        reboot_setting=assignment.reboot_setting,
        classifications=assignment.classifications,
        exclude_kbs_requiring_reboot=assignment.exclude_kbs_requiring_reboot,
    )


def finished_outcome(result: InstallResult, *, unhealthy: bool, detail: str) -> InstallOutcome:
    """The slot's outcome from ARM's install result and the health check after it."""
    cycle_patches = [
        patch
        for patch in result.patches
        if {c.lower() for c in patch.classifications} & _CYCLE_CLASSES
    ]
    excluded = tuple(
        MissingPatch(patch.kb_id or patch.name or "", patch.classifications, _EXCLUDED_FOR_REBOOT)
        for patch in cycle_patches
        if (patch.installation_state or "").lower() == "excluded"
    )
    pending = any((p.installation_state or "").lower() == "pending" for p in cycle_patches)
    error = f"{result.error.code}: {result.error.message}" if result.error else ""
    return InstallOutcome(
        vm=result.vm_id,
        attempt=Attempt.FINISHED,
        status=result.status,
        maintenance_window_exceeded=result.maintenance_window_exceeded,
        installed=result.installed_patch_count,
        failed=result.failed_patch_count,
        pending=result.pending_patch_count,
        critical_or_security_pending=pending,
        excluded=excluded,
        reboot_status=result.reboot_status,
        unhealthy=unhealthy,
        detail=error or detail,
    )


def timed_install(
    result: InstallResult, outcome: InstallOutcome, kind: InstallKind
) -> PastInstall | None:
    """The install as one of its VM's recent installs, or None when its length says nothing
    of the next one: no start or end known, or it failed other than by running out of window."""
    if result.started_at is None or result.ended_at is None:
        return None
    ran_out = outcome.maintenance_window_exceeded
    if not ran_out and result.status not in _COMPLETED:
        return None
    return past_install(
        kind,
        result.started_at,
        max(result.ended_at, result.started_at),
        ran_out=ran_out and outcome.critical_or_security_pending,
        slot_minutes=result.maximum_duration_minutes,
    )


def recorded_outcome(vm_id: str, view: VmView | None, cycle_id: str) -> InstallOutcome:
    """The VM's outcome in the cycle as its records hold it, for the health gate. No install
    recorded for the cycle means the slot was refused (VM off, busy or throttled): a miss,
    not a bad patch. A VM judged failed after an install that did not fail was unhealthy."""
    if view is None or view.latest_install is None or view.install_cycle != cycle_id:
        return InstallOutcome(vm_id, Attempt.VM_OFF)
    install = finished_outcome(view.latest_install, unhealthy=False, detail="")
    judged = view.compliance
    if judged is None or judged.cycle != cycle_id or judged.state != VmState.FAILED.value:
        return install
    if install_failed(install):
        return install
    return finished_outcome(view.latest_install, unhealthy=True, detail=judged.reason)

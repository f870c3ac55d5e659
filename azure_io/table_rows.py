"""Keys and columns of the app's tables (CONTRACTS.md section 7).

Keys are deterministic functions of what a row records, so a replayed or redelivered
write lands on the same row. History RowKeys end in inverted .NET ticks: Table Storage
sorts RowKeys ascending, so the newest event of a VM comes first.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from azure_io.patch_results import (
    AssessmentResult,
    AvailablePatch,
    InstalledPatch,
    InstallResult,
    OperationError,
)
from patching.resource_ids import VmId

VM_STATE_TABLE = "VmPatchState"
ASSESSMENTS_TABLE = "PatchAssessments"
INSTALLATIONS_TABLE = "PatchInstallations"
CYCLES_TABLE = "PatchCycles"
ALL_TABLES = (VM_STATE_TABLE, ASSESSMENTS_TABLE, INSTALLATIONS_TABLE, CYCLES_TABLE)
CYCLES_PARTITION = "cycle"
ASSESSMENT_TIME_COLUMN = "assessmentAt"
INSTALL_TIME_COLUMN = "installAt"

_DOTNET_EPOCH = datetime(1, 1, 1, tzinfo=UTC)
_DOTNET_MAX_TICKS = 3_155_378_975_999_999_999  # DateTime.MaxValue.Ticks
_TICKS_DIGITS = 19
# A string property holds at most 64 KiB (32K UTF-16 characters); stay well under it.
_MAX_PATCHES_JSON_CHARS = 30_000

Entity = dict[str, Any]
_Result = TypeVar("_Result", AssessmentResult, InstallResult)


def vm_keys(vm_id: str) -> tuple[str, str]:
    """(PartitionKey, RowKey) of a VM's VmPatchState row."""
    ref = VmId.parse(vm_id)
    return ref.subscription_id.lower(), f"{ref.resource_group}~{ref.name}".lower()


def inverted_ticks(when: datetime) -> str:
    delta = when.astimezone(UTC) - _DOTNET_EPOCH
    ticks = (delta.days * 86_400 + delta.seconds) * 10_000_000 + delta.microseconds * 10
    return str(_DOTNET_MAX_TICKS - ticks).zfill(_TICKS_DIGITS)


def history_keys(vm_id: str, when: datetime) -> tuple[str, str]:
    partition, vm_key = vm_keys(vm_id)
    return partition, f"{vm_key}~{inverted_ticks(when)}"


def history_key_range(vm_id: str, *, since: datetime) -> tuple[str, str, str]:
    """(PartitionKey, lowest RowKey, highest RowKey) of a VM's history rows at or after since."""
    partition, vm_key = vm_keys(vm_id)
    prefix = f"{vm_key}~"
    return partition, prefix, prefix + inverted_ticks(since)


def utc(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ValueError(f"{when!r} has no time zone; the tables hold UTC times")
    return when.astimezone(UTC)


def assessment_columns(result: AssessmentResult, *, at: datetime) -> Entity:
    patches = [
        {
            "kbId": patch.kb_id,
            "name": patch.name,
            "classifications": list(patch.classifications),
            "rebootBehavior": patch.reboot_behavior,
            "publishedDate": _iso(patch.published_date),
        }
        for patch in result.available_patches
    ]
    patches_json, truncated = _capped_json(patches)
    return {
        ASSESSMENT_TIME_COLUMN: at,
        "assessmentStatus": result.status,
        "assessmentRebootPending": result.reboot_pending,
        "assessmentCriticalAndSecurityCount": result.critical_and_security_patch_count,
        "assessmentOtherCount": result.other_patch_count,
        "assessmentPatchesJson": patches_json,
        "assessmentPatchesTruncated": truncated,
        "assessmentActivityId": result.activity_id or "",
        **_error_columns("assessment", result.error),
    }


def assessment_from_columns(entity: Mapping[str, Any]) -> AssessmentResult | None:
    if "assessmentStatus" not in entity:
        return None
    patches = tuple(
        AvailablePatch(
            kb_id=item["kbId"],
            name=item["name"],
            classifications=tuple(item["classifications"]),
            reboot_behavior=item["rebootBehavior"],
            published_date=_from_iso(item["publishedDate"]),
        )
        for item in json.loads(entity["assessmentPatchesJson"])
    )
    return AssessmentResult(
        vm_id=entity["vmId"],
        status=entity["assessmentStatus"],
        started_at=utc(entity[ASSESSMENT_TIME_COLUMN]),
        reboot_pending=entity["assessmentRebootPending"],
        critical_and_security_patch_count=int(entity["assessmentCriticalAndSecurityCount"]),
        other_patch_count=int(entity["assessmentOtherCount"]),
        available_patches=patches,
        error=_error_from_columns("assessment", entity),
        activity_id=entity.get("assessmentActivityId") or None,
    )


def install_columns(result: InstallResult, *, at: datetime, cycle: str | None) -> Entity:
    patches = [
        {
            "kbId": patch.kb_id,
            "name": patch.name,
            "classifications": list(patch.classifications),
            "installationState": patch.installation_state,
        }
        for patch in result.patches
    ]
    patches_json, truncated = _capped_json(patches)
    return {
        INSTALL_TIME_COLUMN: at,
        "installCycle": cycle or "",
        "installStatus": result.status,
        "installRebootStatus": result.reboot_status or "",
        "installMaintenanceWindowExceeded": result.maintenance_window_exceeded,
        "installInstalledCount": result.installed_patch_count,
        "installFailedCount": result.failed_patch_count,
        "installPendingCount": result.pending_patch_count,
        "installExcludedCount": result.excluded_patch_count,
        "installNotSelectedCount": result.not_selected_patch_count,
        "installPatchesJson": patches_json,
        "installPatchesTruncated": truncated,
        "installActivityId": result.activity_id or "",
        **_error_columns("install", result.error),
    }


def install_from_columns(entity: Mapping[str, Any]) -> InstallResult | None:
    if "installStatus" not in entity:
        return None
    patches = tuple(
        InstalledPatch(
            kb_id=item["kbId"],
            name=item["name"],
            classifications=tuple(item["classifications"]),
            installation_state=item["installationState"],
        )
        for item in json.loads(entity["installPatchesJson"])
    )
    return InstallResult(
        vm_id=entity["vmId"],
        status=entity["installStatus"],
        started_at=utc(entity[INSTALL_TIME_COLUMN]),
        reboot_status=entity["installRebootStatus"] or None,
        maintenance_window_exceeded=entity["installMaintenanceWindowExceeded"],
        installed_patch_count=int(entity["installInstalledCount"]),
        failed_patch_count=int(entity["installFailedCount"]),
        pending_patch_count=int(entity["installPendingCount"]),
        excluded_patch_count=int(entity["installExcludedCount"]),
        not_selected_patch_count=int(entity["installNotSelectedCount"]),
        patches=patches,
        error=_error_from_columns("install", entity),
        activity_id=entity.get("installActivityId") or None,
    )


@dataclass(frozen=True, slots=True)
class ComplianceRecord:
    """A VM's compliance as the rollout judged it (state: compliant, pending, failed...)."""

    vm_id: str
    state: str
    reason: str
    enrolled: bool
    hotpatch: bool
    recorded_at: datetime
    cycle: str | None = None


def compliance_columns(record: ComplianceRecord) -> Entity:
    return {
        "complianceState": record.state,
        "complianceReason": record.reason,
        "complianceCycle": record.cycle or "",
        "complianceAt": utc(record.recorded_at),
        "enrolled": record.enrolled,
        "hotpatch": record.hotpatch,
    }


def compliance_from_columns(entity: Mapping[str, Any]) -> ComplianceRecord | None:
    if "complianceState" not in entity:
        return None
    return ComplianceRecord(
        vm_id=entity["vmId"],
        state=entity["complianceState"],
        reason=entity["complianceReason"],
        enrolled=entity["enrolled"],
        hotpatch=entity["hotpatch"],
        recorded_at=utc(entity["complianceAt"]),
        cycle=entity["complianceCycle"] or None,
    )


def compliance_entity(record: ComplianceRecord) -> Entity:
    """The columns a compliance record merges into its VM's VmPatchState row, with keys."""
    partition, row = vm_keys(record.vm_id)
    return {
        "PartitionKey": partition,
        "RowKey": row,
        "vmId": record.vm_id,
        "recordedAt": utc(record.recorded_at),
        **compliance_columns(record),
    }


@dataclass(frozen=True, slots=True)
class ResultRows:
    """What recording a list of results writes.

    One history row per result, and for each VM the newest result's columns for its
    VmPatchState row, to be merged only when newer (by ``time_column``) than what the row
    holds, so a VM's latest state moves only forward in event time.
    """

    history_table: str
    time_column: str
    history: tuple[Entity, ...]
    latest: Mapping[tuple[str, str], Entity]


def assessment_rows(results: Iterable[AssessmentResult], *, recorded_at: datetime) -> ResultRows:
    return _result_rows(
        ASSESSMENTS_TABLE,
        ASSESSMENT_TIME_COLUMN,
        results,
        recorded_at,
        lambda result, at: assessment_columns(result, at=at),
    )


def install_rows(
    results: Iterable[InstallResult], *, cycle: str | None, recorded_at: datetime
) -> ResultRows:
    return _result_rows(
        INSTALLATIONS_TABLE,
        INSTALL_TIME_COLUMN,
        results,
        recorded_at,
        lambda result, at: install_columns(result, at=at, cycle=cycle),
    )


def _result_rows(
    table: str,
    time_column: str,
    results: Iterable[_Result],
    recorded_at: datetime,
    columns_of: Callable[[_Result, datetime], Entity],
) -> ResultRows:
    """The rows of ``results``, each dated by its start time.

    A result without one is dated by ``recorded_at``; callers pass a moment that a
    repeated delivery repeats too (the orchestrator's replay-safe clock), so the row's key
    (inverted ticks of the event time) is the same. Of several results of one VM, the
    newest is its latest (the last of equally new ones).
    """
    recorded_at = utc(recorded_at)
    history: list[Entity] = []
    latest: dict[tuple[str, str], Entity] = {}
    for result in results:
        at = utc(result.started_at or recorded_at)
        columns = {"vmId": result.vm_id, "recordedAt": recorded_at, **columns_of(result, at)}
        partition, row = history_keys(result.vm_id, at)
        history.append({"PartitionKey": partition, "RowKey": row, **columns})
        state = vm_keys(result.vm_id)
        if state not in latest or latest[state][time_column] <= at:
            latest[state] = {"PartitionKey": state[0], "RowKey": state[1], **columns}
    return ResultRows(table, time_column, tuple(history), latest)


@dataclass(frozen=True, slots=True)
class CycleRecord:
    """One PatchCycles row: the release a cycle patches, its plan summary and its state."""

    cycle_id: str
    release_kind: str
    released_at: datetime
    deadline: datetime
    state: str
    recorded_at: datetime
    release_id: str | None = None
    halt_reason: str | None = None
    plan_summary: Mapping[str, Any] | None = None


def cycle_entity(record: CycleRecord) -> Entity:
    return {
        "PartitionKey": CYCLES_PARTITION,
        "RowKey": record.cycle_id,
        "recordedAt": utc(record.recorded_at),
        "releaseKind": record.release_kind,
        "releasedAt": utc(record.released_at),
        "releaseId": record.release_id or "",
        "deadline": utc(record.deadline),
        "state": record.state,
        "haltReason": record.halt_reason or "",
        "planSummaryJson": json.dumps(dict(record.plan_summary or {}), sort_keys=True),
    }


def cycle_from_entity(entity: Mapping[str, Any]) -> CycleRecord:
    return CycleRecord(
        cycle_id=entity["RowKey"],
        release_kind=entity["releaseKind"],
        released_at=utc(entity["releasedAt"]),
        deadline=utc(entity["deadline"]),
        state=entity["state"],
        recorded_at=utc(entity["recordedAt"]),
        release_id=entity["releaseId"] or None,
        halt_reason=entity["haltReason"] or None,
        plan_summary=json.loads(entity["planSummaryJson"]),
    )


def _error_columns(prefix: str, error: OperationError | None) -> Entity:
    # Empty strings, not absent columns: a merge must clear an earlier error.
    return {
        f"{prefix}ErrorCode": error.code if error else "",
        f"{prefix}ErrorMessage": error.message if error else "",
    }


def _error_from_columns(prefix: str, entity: Mapping[str, Any]) -> OperationError | None:
    code = entity.get(f"{prefix}ErrorCode", "")
    message = entity.get(f"{prefix}ErrorMessage", "")
    return OperationError(code, message) if code or message else None


def _capped_json(items: list[dict[str, Any]]) -> tuple[str, bool]:
    text = json.dumps(items, sort_keys=True)
    if len(text) <= _MAX_PATCHES_JSON_CHARS:
        return text, False
    kept = list(items)
    while kept and len(text) > _MAX_PATCHES_JSON_CHARS:
        kept = kept[: len(kept) * 3 // 4]
        text = json.dumps(kept, sort_keys=True)
    return text, True


def _iso(when: datetime | None) -> str | None:
    return utc(when).isoformat() if when else None


def _from_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None

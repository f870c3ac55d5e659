"""Keys and columns of the app's tables (docs/CONTRACTS.md section 7).

Keys are deterministic functions of what a row records, so a replayed or redelivered
write lands on the same row. History RowKeys end in inverted .NET ticks: Table Storage
sorts RowKeys ascending, so the newest event of a VM comes first.

The plan, inventory and operations rows are always written whole (insert or replace), so
there a None value is an absent column; the other tables are merged into, so there None
is written as an empty string to clear what an earlier write left.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from azure_io.compute_outcomes import OperationKind, Started
from azure_io.patch_results import (
    AssessmentResult,
    AvailablePatch,
    InstalledPatch,
    InstallResult,
    OperationError,
)
from azure_io.rollout_records import (
    OperationInFlight,
    OperationKey,
    PlanGroupRows,
    PlannedSlot,
    checked_key_part,
)
from patching.install_history import InstallKind, PastInstall
from patching.models import (
    Assignment,
    Classification,
    OsType,
    PatchMode,
    PowerState,
    RebootSetting,
    VmTarget,
)
from patching.resource_ids import VmId
from patching.timefmt import format_precise_time, parse_precise_time

VM_STATE_TABLE = "VmPatchState"
ASSESSMENTS_TABLE = "PatchAssessments"
INSTALLATIONS_TABLE = "PatchInstallations"
CYCLES_TABLE = "PatchCycles"
PLAN_TABLE = "PatchPlan"
INVENTORY_TABLE = "PatchInventory"
OPERATIONS_TABLE = "PatchOperations"
ASSESSMENT_WAVES_TABLE = "PatchAssessmentWaves"
ALL_TABLES = (
    VM_STATE_TABLE,
    ASSESSMENTS_TABLE,
    INSTALLATIONS_TABLE,
    CYCLES_TABLE,
    PLAN_TABLE,
    INVENTORY_TABLE,
    OPERATIONS_TABLE,
    ASSESSMENT_WAVES_TABLE,
)
CYCLES_PARTITION = "cycle"
ASSESSMENT_TIME_COLUMN = "assessmentAt"
INSTALL_TIME_COLUMN = "installAt"
DISCOVERY_TIME_COLUMN = "discoveredAt"

_DOTNET_EPOCH = datetime(1, 1, 1, tzinfo=UTC)
_DOTNET_MAX_TICKS = 3_155_378_975_999_999_999  # DateTime.MaxValue.Ticks
_TICKS_DIGITS = 19
# A string property holds at most 64 KiB of UTF-16 (32K characters of the BMP).
MAX_STRING_PROPERTY_BYTES = 65_536
_MAX_PATCHES_JSON_CHARS = 30_000  # well under it, whatever the characters
_OPERATION_ROW_KINDS = {OperationKind.ASSESSMENT: "assessment", OperationKind.INSTALL: "install"}
_OPERATION_KINDS_BY_ROW = {word: kind for kind, word in _OPERATION_ROW_KINDS.items()}

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
        "installEndedAt": utc(result.ended_at) if result.ended_at else "",
        "installMaximumDurationMinutes": (
            "" if result.maximum_duration_minutes is None else result.maximum_duration_minutes
        ),
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
        ended_at=utc(ended) if (ended := entity.get("installEndedAt")) else None,
        maximum_duration_minutes=(
            None
            if (slot := entity.get("installMaximumDurationMinutes")) in (None, "")
            else int(slot)
        ),
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


RECENT_INSTALLS_COLUMN = "recentInstallsJson"


def recent_installs_entity(
    vm_id: str, installs: Iterable[PastInstall], *, recorded_at: datetime
) -> Entity:
    """The VM's recent installs as the column they take in its VmPatchState row, with keys."""
    partition, row = vm_keys(vm_id)
    items = [
        {
            "kind": install.kind.value,
            "startedAt": format_precise_time(install.started_at),
            "minutes": install.minutes,
            "ranOut": install.ran_out,
            "slotMinutes": install.slot_minutes,
        }
        for install in installs
    ]
    return {
        "PartitionKey": partition,
        "RowKey": row,
        "vmId": vm_id,
        "recordedAt": utc(recorded_at),
        RECENT_INSTALLS_COLUMN: json.dumps(items, separators=(",", ":")),
    }


def recent_installs_from_columns(entity: Mapping[str, Any]) -> tuple[PastInstall, ...]:
    return tuple(
        PastInstall(
            kind=InstallKind(item["kind"]),
            started_at=parse_precise_time(item["startedAt"]),
            minutes=int(item["minutes"]),
            ran_out=bool(item["ranOut"]),
            slot_minutes=None if item["slotMinutes"] is None else int(item["slotMinutes"]),
        )
        for item in json.loads(entity.get(RECENT_INSTALLS_COLUMN) or "[]")
    )


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


def plan_partition(cycle_id: str, group_id: str) -> str:
    """PartitionKey of a plan group: ``{cycle}~{groupId}``."""
    return f"{checked_key_part('cycle id', cycle_id)}~{checked_key_part('plan group id', group_id)}"


def plan_partition_range(cycle_id: str) -> tuple[str, str]:
    """(lowest PartitionKey, a key above every one) of a cycle's plan groups: group ids
    are made of characters that sort below ``~``."""
    prefix = f"{checked_key_part('cycle id', cycle_id)}~"
    return prefix, f"{prefix}~"


def plan_rows(
    cycle_id: str, groups: Iterable[PlanGroupRows], *, recorded_at: datetime
) -> list[Entity]:
    """The PatchPlan rows of a cycle's groups, a row per assignment; a group id given twice
    is refused (its rows would share a partition)."""
    recorded_at = utc(recorded_at)
    rows: list[Entity] = []
    seen: set[str] = set()
    for group in groups:
        partition = plan_partition(cycle_id, group.group_id)
        if partition in seen:
            raise ValueError(f"plan group {group.group_id!r} of cycle {cycle_id} is given twice")
        seen.add(partition)
        rows.extend(
            _plan_entity(partition, cycle_id, group, assignment, recorded_at)
            for assignment in group.assignments
        )
    return rows


def _plan_entity(
    partition: str,
    cycle_id: str,
    group: PlanGroupRows,
    assignment: Assignment,
    recorded_at: datetime,
) -> Entity:
    return {
        "PartitionKey": partition,
        "RowKey": vm_keys(assignment.vm)[1],
        "vmId": assignment.vm,
        "cycle": cycle_id,
        "phase": assignment.phase,
        "groupId": group.group_id,
        "slotStart": utc(assignment.start),
        "slotEnd": utc(assignment.end),
        "rebootSetting": assignment.reboot_setting.value,
        "excludeKbsRequiringReboot": assignment.exclude_kbs_requiring_reboot,
        "classifications": ",".join(item.value for item in assignment.classifications),
        "retry": group.retry,
        "recordedAt": recorded_at,
    }


def planned_slot_from_entity(entity: Mapping[str, Any]) -> PlannedSlot:
    assignment = Assignment(
        vm=entity["vmId"],
        phase=int(entity["phase"]),
        start=utc(entity["slotStart"]),
        end=utc(entity["slotEnd"]),
        reboot_setting=RebootSetting(entity["rebootSetting"]),
        exclude_kbs_requiring_reboot=entity["excludeKbsRequiringReboot"],
        classifications=tuple(
            Classification(item) for item in entity["classifications"].split(",") if item
        ),
    )
    return PlannedSlot(entity["groupId"], assignment, retry=entity["retry"])


def subscription_partition(subscription_id: str) -> str:
    return checked_key_part("subscription id", subscription_id).lower()


def inventory_rows(
    subscription_id: str, targets: Iterable[VmTarget], *, discovered_at: datetime
) -> dict[tuple[str, str], Entity]:
    """{keys: PatchInventory row} of a subscription's discovery; a VM of another
    subscription, or given twice, is refused."""
    partition = subscription_partition(subscription_id)
    discovered_at = utc(discovered_at)
    rows: dict[tuple[str, str], Entity] = {}
    for target in targets:
        if target.subscription_id != partition:
            raise ValueError(
                f"inventory of subscription {subscription_id}: {target.id} is of another one"
            )
        entity = inventory_entity(target, discovered_at=discovered_at)
        keys = (partition, entity["RowKey"])
        if keys in rows:
            raise ValueError(
                f"inventory of subscription {subscription_id}: {target.id} is given twice"
            )
        rows[keys] = entity
    return rows


def inventory_entity(target: VmTarget, *, discovered_at: datetime) -> Entity:
    partition, row = vm_keys(target.id)
    tags_json = json.dumps(dict(target.tags), sort_keys=True)
    optional = {
        "zone": target.zone,
        "availabilitySet": target.availability_set,
        "updateDomain": target.update_domain,
        "faultDomain": target.fault_domain,
        "imageSku": target.image_sku,
        "timeZone": target.time_zone,
    }
    return {
        "PartitionKey": partition,
        "RowKey": row,
        "vmId": target.id,
        "location": target.location,
        "osType": target.os_type.value,
        "patchMode": target.patch_mode.value,
        "enableHotpatching": target.enable_hotpatching,
        "powerState": target.power_state.value,
        "tagsJson": checked_string_property("tagsJson", tags_json, owner=target.id),
        DISCOVERY_TIME_COLUMN: utc(discovered_at),
        **{column: value for column, value in optional.items() if value is not None},
    }


def target_from_entity(entity: Mapping[str, Any]) -> VmTarget:
    return VmTarget(
        id=entity["vmId"],
        location=entity["location"],
        os_type=OsType(entity["osType"]),
        patch_mode=PatchMode(entity["patchMode"]),
        zone=entity.get("zone"),
        availability_set=entity.get("availabilitySet"),
        update_domain=entity.get("updateDomain"),
        fault_domain=entity.get("faultDomain"),
        enable_hotpatching=entity["enableHotpatching"],
        image_sku=entity.get("imageSku"),
        time_zone=entity.get("timeZone"),
        power_state=PowerState(entity["powerState"]),
        tags=json.loads(entity["tagsJson"]),
    )


def operation_row_kind(kind: OperationKind) -> str:
    """The word an operation's kind has in its RowKey and ``kind`` column."""
    return _OPERATION_ROW_KINDS[kind]


def operation_keys(key: OperationKey) -> tuple[str, str]:
    """(PartitionKey, RowKey) of a PatchOperations row: ``{resourceGroup}~{vmName}~{kind}``."""
    partition, row = vm_keys(key.vm_id)
    return partition, f"{row}~{operation_row_kind(key.kind)}"


def operation_entity(record: OperationInFlight) -> Entity:
    partition, row = operation_keys(record.key)
    started = record.started
    optional = {
        "cycle": record.cycle,
        "slotEnd": utc(record.slot_end) if record.slot_end is not None else None,
        "activityId": record.activity_id,
    }
    return {
        "PartitionKey": partition,
        "RowKey": row,
        "vmId": started.vm_id,
        "kind": operation_row_kind(started.kind),
        "statusUrl": checked_string_property(
            "statusUrl",
            started.status_url,
            owner=f"the {operation_row_kind(started.kind)} of {started.vm_id}",
        ),
        "startedAt": utc(record.started_at),
        **{column: value for column, value in optional.items() if value is not None},
    }


def operation_from_entity(entity: Mapping[str, Any]) -> OperationInFlight:
    slot_end = entity.get("slotEnd")
    return OperationInFlight(
        started=Started(
            entity["vmId"], _OPERATION_KINDS_BY_ROW[entity["kind"]], entity["statusUrl"]
        ),
        started_at=utc(entity["startedAt"]),
        cycle=entity.get("cycle"),
        slot_end=utc(slot_end) if slot_end is not None else None,
        activity_id=entity.get("activityId"),
    )


def checked_string_property(column: str, value: str, *, owner: str) -> str:
    """``value`` if Table Storage can hold it whole in one string property, else ValueError:
    a URL or document cut short would be worse than refused."""
    size = len(value.encode("utf-16-le", "surrogatepass"))
    if size > MAX_STRING_PROPERTY_BYTES:
        raise ValueError(
            f"{column} of {owner} is {size} bytes in UTF-16; a Table Storage string "
            f"property holds at most {MAX_STRING_PROPERTY_BYTES} (64 KiB)"
        )
    return value


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
    return format_precise_time(utc(when)) if when else None


def _from_iso(text: str | None) -> datetime | None:
    return parse_precise_time(text) if text else None

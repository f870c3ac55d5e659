"""The JSON the read routes answer: a VM's view, its history, compliance counts, a cycle.

Times are ISO 8601 UTC with a trailing `Z` (`patching.timefmt`), field names camelCase as
in the tables (docs/CONTRACTS.md section 7).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from azure_io.patch_results import AssessmentResult, InstallResult, OperationError
from azure_io.patch_views import HistoryEntry, VmView
from azure_io.table_rows import ComplianceRecord
from patching.timefmt import format_time


def vm_json(view: VmView) -> dict[str, Any]:
    return {
        "vmId": view.vm_id,
        "latestAssessment": assessment_json(view.latest_assessment),
        "latestInstall": install_json(view.latest_install),
        "installCycle": view.install_cycle,
        "compliance": compliance_json(view.compliance),
    }


def history_json(vm_id: str, days: int, entries: list[HistoryEntry]) -> dict[str, Any]:
    return {
        "vmId": vm_id,
        "days": days,
        "entries": [
            {
                "kind": entry.kind.value,
                "at": format_time(entry.at),
                "cycle": entry.cycle,
                "assessment": assessment_json(entry.assessment),
                "install": install_json(entry.install),
            }
            for entry in entries
        ],
    }


def compliance_counts_json(counts: dict[str, dict[str, int]]) -> dict[str, Any]:
    return {
        "subscriptions": {
            subscription: {
                "total": sum(states.values()),
                "states": dict(sorted(states.items())),
            }
            for subscription, states in sorted(counts.items())
        }
    }


def assessment_json(result: AssessmentResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    return {
        "status": result.status,
        "startedAt": _time(result.started_at),
        "rebootPending": result.reboot_pending,
        "criticalAndSecurityPatchCount": result.critical_and_security_patch_count,
        "otherPatchCount": result.other_patch_count,
        "availablePatches": [
            {
                "kbId": patch.kb_id,
                "name": patch.name,
                "classifications": list(patch.classifications),
                "rebootBehavior": patch.reboot_behavior,
                "publishedDate": _time(patch.published_date),
            }
            for patch in result.available_patches
        ],
        "error": _error(result.error),
        "activityId": result.activity_id,
    }


def install_json(result: InstallResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    return {
        "status": result.status,
        "startedAt": _time(result.started_at),
        "endedAt": _time(result.ended_at),
        "rebootStatus": result.reboot_status,
        "maintenanceWindowExceeded": result.maintenance_window_exceeded,
        "installedPatchCount": result.installed_patch_count,
        "failedPatchCount": result.failed_patch_count,
        "pendingPatchCount": result.pending_patch_count,
        "excludedPatchCount": result.excluded_patch_count,
        "notSelectedPatchCount": result.not_selected_patch_count,
        "maximumDurationMinutes": result.maximum_duration_minutes,
        "patches": [
            {
                "kbId": patch.kb_id,
                "name": patch.name,
                "classifications": list(patch.classifications),
                "installationState": patch.installation_state,
            }
            for patch in result.patches
        ],
        "error": _error(result.error),
        "activityId": result.activity_id,
    }


def compliance_json(record: ComplianceRecord | None) -> dict[str, Any] | None:
    if record is None:
        return None
    return {
        "state": record.state,
        "reason": record.reason,
        "enrolled": record.enrolled,
        "hotpatch": record.hotpatch,
        "cycle": record.cycle,
        "recordedAt": format_time(record.recorded_at),
    }


def _error(error: OperationError | None) -> dict[str, str] | None:
    return None if error is None else {"code": error.code, "message": error.message}


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else format_time(moment)

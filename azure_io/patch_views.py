"""What the patch stores answer (a VM's view, its history, compliance counts, the plan's
groups), built from table rows the same way by every store, so their answers cannot drift
apart.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from azure_io.patch_results import AssessmentResult, InstallResult
from azure_io.rollout_records import PlanGroupSummary, PlannedSlot
from azure_io.table_rows import (
    DISCOVERY_TIME_COLUMN,
    ComplianceRecord,
    assessment_from_columns,
    compliance_from_columns,
    install_from_columns,
    planned_slot_from_entity,
    recent_installs_from_columns,
    utc,
)
from patching.install_history import PastInstall
from patching.resource_ids import VmId

HISTORY_DAYS = 30
UNKNOWN_COMPLIANCE = "unknown"


class HistoryKind(StrEnum):
    ASSESSMENT = "assessment"
    INSTALL = "install"


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    kind: HistoryKind
    at: datetime
    assessment: AssessmentResult | None = None
    install: InstallResult | None = None
    cycle: str | None = None


@dataclass(frozen=True, slots=True)
class VmView:
    """What the app knows of one VM: latest assessment, last install, compliance."""

    vm_id: str
    latest_assessment: AssessmentResult | None
    latest_install: InstallResult | None
    install_cycle: str | None
    compliance: ComplianceRecord | None
    # Its last installs of each kind, oldest first: what its next slot is sized from.
    recent_installs: tuple[PastInstall, ...] = ()


def vm_view_from_entity(entity: Mapping[str, Any]) -> VmView:
    """The view of a VmPatchState row."""
    return VmView(
        vm_id=entity["vmId"],
        latest_assessment=assessment_from_columns(entity),
        latest_install=install_from_columns(entity),
        install_cycle=entity.get("installCycle") or None,
        compliance=compliance_from_columns(entity),
        recent_installs=recent_installs_from_columns(entity),
    )


def views_by_key(state_rows: Iterable[Mapping[str, Any]]) -> dict[str, VmView]:
    """The views of VmPatchState rows, by VM key (``VmId.key``)."""
    views = (vm_view_from_entity(row) for row in state_rows)
    return {VmId.parse(view.vm_id).key: view for view in views}


def history_since(now: datetime, days: int) -> datetime:
    """The start of a history of ``days`` (1-30) ending at ``now``."""
    if not 1 <= days <= HISTORY_DAYS:
        raise ValueError(f"days must be from 1 to {HISTORY_DAYS}, not {days}")
    return utc(now) - timedelta(days=days)


def history_from_rows(
    assessment_rows: Iterable[Mapping[str, Any]], install_rows: Iterable[Mapping[str, Any]]
) -> list[HistoryEntry]:
    """Entries of a VM's history rows (each table's rows in key order), newest first."""
    entries = [
        HistoryEntry(HistoryKind.ASSESSMENT, assessment.started_at, assessment=assessment)
        for row in assessment_rows
        if (assessment := assessment_from_columns(row)) and assessment.started_at
    ]
    entries += [
        HistoryEntry(
            HistoryKind.INSTALL,
            install.started_at,
            install=install,
            cycle=row.get("installCycle") or None,
        )
        for row in install_rows
        if (install := install_from_columns(row)) and install.started_at
    ]
    return sorted(entries, key=lambda entry: entry.at, reverse=True)


def count_compliance(state_rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """{subscription id: {compliance state: VM count}} of VmPatchState rows; VMs never
    judged count as unknown."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in state_rows:
        counts[row["PartitionKey"]][row.get("complianceState") or UNKNOWN_COMPLIANCE] += 1
    return {subscription: dict(states) for subscription, states in counts.items()}


def planned_slots(plan_rows: Iterable[Mapping[str, Any]]) -> tuple[PlannedSlot, ...]:
    """The slots of a plan group's rows, by slot start, then VM id (case-insensitively)."""
    slots = [planned_slot_from_entity(row) for row in plan_rows]
    return tuple(
        sorted(slots, key=lambda slot: (slot.assignment.start, VmId.parse(slot.assignment.vm).key))
    )


def plan_group_summaries(plan_rows: Iterable[Mapping[str, Any]]) -> tuple[PlanGroupSummary, ...]:
    """A summary per group of a cycle's plan rows, by phase, then first start, then id."""
    groups: dict[str, PlanGroupSummary] = {}
    for row in plan_rows:
        start, end = utc(row["slotStart"]), utc(row["slotEnd"])
        seen = groups.get(row["groupId"])
        groups[row["groupId"]] = PlanGroupSummary(
            group_id=row["groupId"],
            phase=int(row["phase"]),
            count=seen.count + 1 if seen else 1,
            first_start=min(seen.first_start, start) if seen else start,
            last_end=max(seen.last_end, end) if seen else end,
        )
    return tuple(
        sorted(groups.values(), key=lambda group: (group.phase, group.first_start, group.group_id))
    )


def oldest_discovery(inventory_rows: Iterable[Mapping[str, Any]]) -> datetime | None:
    """When a subscription's inventory rows were discovered (the oldest of them, so a
    snapshot only partly replaced counts as old), or None without rows."""
    return min((utc(row[DISCOVERY_TIME_COLUMN]) for row in inventory_rows), default=None)

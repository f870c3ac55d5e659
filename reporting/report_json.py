"""A report to and from report.json (docs/CONTRACTS.md section 4).

The contract's fields are always written, in its form. This project adds, each only when
the report has it: `deadline` (always), `haltedPhase` and `haltedAt`, `phases` (as in the
plan file), `slots` (each VM's planned slot), `runs` (what really ran), `history` (each
VM's last 30 days) and `deferred` (hotpatch months' reboot-needing patches left for the
next baseline). The compliance counts are derived from `vms`; a document whose counts
disagree with its rows is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from patching.calendar import DEADLINE
from patching.errors import BadInput
from patching.models import Cycle, Phase, RebootSetting, Release, ReleaseKind
from patching.outcomes import VmState
from patching.planfile import phase_to_json, release_to_json
from patching.timefmt import format_time, parse_time
from reporting.model import (
    ArmCounters,
    Attempt,
    ComplianceCounts,
    DeferredHotpatch,
    DurableCounters,
    Halt,
    HistoryEntry,
    HistoryKind,
    PlannedSlot,
    Report,
    ReportError,
    TableCounters,
    VmHistory,
    VmRow,
    VmRun,
)

COMPLIANCE_FIELDS = ("enrolled", "compliant", "pending", "failed", "skipped")

T = TypeVar("T")


def to_report_json(report: Report) -> dict[str, Any]:
    counts = report.compliance
    body: dict[str, Any] = {
        "cycle": report.cycle.id,
        "release": release_to_json(report.cycle.release),
        "halted": report.halted,
        "haltReason": report.halt.reason if report.halt else None,
        "compliance": {name: getattr(counts, name) for name in COMPLIANCE_FIELDS},
        "vms": [
            {
                "vm": row.vm,
                "state": row.state.value,
                "installedAt": _time_or_none(row.installed_at),
                "reason": row.reason,
            }
            for row in report.vms
        ],
        "durable": {
            "instances": report.durable.instances,
            "maxHistoryEvents": report.durable.max_history_events,
            "replayedEvents": report.durable.replayed_events,
        },
        "arm": {"requests": report.arm.requests, "throttled": report.arm.throttled},
        "deadline": format_time(report.cycle.deadline),
    }
    if report.halt and report.halt.phase is not None:
        body["haltedPhase"] = report.halt.phase
    if report.halt and report.halt.at is not None:
        body["haltedAt"] = format_time(report.halt.at)
    if report.phases:
        body["phases"] = [phase_to_json(phase) for phase in report.phases]
    if report.slots:
        body["slots"] = [_slot_json(slot) for slot in report.slots]
    if report.runs:
        body["runs"] = [
            {"vm": run.vm, "attempts": [_attempt_json(a) for a in run.attempts]}
            for run in report.runs
        ]
    if report.history:
        body["history"] = [
            {"vm": h.vm, "entries": [_history_json(e) for e in h.entries]} for h in report.history
        ]
    if report.deferred:
        body["deferred"] = [_deferred_json(d) for d in report.deferred]
    if report.tables is not None:
        body["tables"] = {"rowsWritten": report.tables.rows_written}
    if report.short_window_skips:
        body["compliance"]["shortWindowSkips"] = report.short_window_skips
    return body


def from_report_json(document: object) -> Report:
    """The report a report.json describes; ReportError naming the field when it is not one."""
    doc = _obj(document, "report")
    release = _obj(doc.get("release"), "release")
    released_at = _time(release, "releasedAt", "release")
    cycle = Cycle(
        id=_req(doc, "cycle", str, "report"),
        release=Release(
            kind=_enum(ReleaseKind, release, "kind", "release"),
            released_at=released_at,
            release_id=_opt(release, "releaseId", str, "release"),
        ),
        deadline=_time(doc, "deadline", "report") if "deadline" in doc else released_at + DEADLINE,
    )
    durable = _obj(doc.get("durable"), "durable")
    arm = _obj(doc.get("arm"), "arm")
    report = Report(
        cycle=cycle,
        halt=_halt(doc),
        vms=_each(doc, "vms", _vm_row, required=True),
        durable=DurableCounters(
            instances=_count(durable, "instances", "durable"),
            max_history_events=_count(durable, "maxHistoryEvents", "durable"),
            replayed_events=_count(durable, "replayedEvents", "durable"),
        ),
        arm=ArmCounters(
            requests=_count(arm, "requests", "arm"), throttled=_count(arm, "throttled", "arm")
        ),
        phases=_each(doc, "phases", _phase),
        slots=_each(doc, "slots", _slot),
        runs=_each(doc, "runs", _run),
        history=_each(doc, "history", _vm_history),
        deferred=_each(doc, "deferred", _deferred),
        tables=_tables(doc),
    )
    _check_counts(_obj(doc.get("compliance"), "compliance"), report.compliance)
    return report


def _tables(doc: dict[str, Any]) -> TableCounters | None:
    if "tables" not in doc:
        return None
    tables = _obj(doc["tables"], "tables")
    return TableCounters(rows_written=_count(tables, "rowsWritten", "tables"))


def _check_counts(written: dict[str, Any], derived: ComplianceCounts) -> None:
    for name in COMPLIANCE_FIELDS:
        value = _count(written, name, "compliance")
        if value != getattr(derived, name):
            raise ReportError(
                f"compliance.{name}: {value} disagrees with the {getattr(derived, name)} "
                "that vms' states give"
            )


def _halt(doc: dict[str, Any]) -> Halt | None:
    halted = _req(doc, "halted", bool, "report")
    reason = doc.get("haltReason")
    if not halted:
        if reason is not None:
            raise ReportError("haltReason: expected null when halted is false")
        return None
    if not isinstance(reason, str):
        raise ReportError(f"haltReason: expected a string when halted is true, got {reason!r}")
    return Halt(
        reason=reason,
        phase=_opt(doc, "haltedPhase", int, "report"),
        at=_time(doc, "haltedAt", "report") if doc.get("haltedAt") is not None else None,
    )


def _vm_row(item: dict[str, Any], where: str) -> VmRow:
    installed = item.get("installedAt")
    return VmRow(
        vm=_req(item, "vm", str, where),
        state=_enum(VmState, item, "state", where),
        installed_at=_time(item, "installedAt", where) if installed is not None else None,
        reason=_opt(item, "reason", str, where),
    )


def _phase(item: dict[str, Any], where: str) -> Phase:
    return Phase(
        index=_count(item, "index", where),
        regions=tuple(_strings(item, "regions", where)),
        start=_time(item, "start", where),
        end=_time(item, "end", where),
        retry=_opt(item, "retry", bool, where) or False,
    )


def _slot(item: dict[str, Any], where: str) -> PlannedSlot:
    return PlannedSlot(
        vm=_req(item, "vm", str, where),
        phase=_count(item, "phase", where),
        region=_req(item, "region", str, where),
        start=_time(item, "start", where),
        end=_time(item, "end", where),
        reboot_setting=_enum(RebootSetting, item, "rebootSetting", where),
    )


def _run(item: dict[str, Any], where: str) -> VmRun:
    return VmRun(
        vm=_req(item, "vm", str, where), attempts=_each(item, "attempts", _attempt, parent=where)
    )


def _attempt(item: dict[str, Any], where: str) -> Attempt:
    return Attempt(
        start=_time(item, "start", where),
        end=_time(item, "end", where) if item.get("end") is not None else None,
        status=_req(item, "status", str, where),
        rebooted=_req(item, "rebooted", bool, where),
        maintenance_window_exceeded=_req(item, "maintenanceWindowExceeded", bool, where),
        unhealthy=_req(item, "unhealthy", bool, where),
    )


def _vm_history(item: dict[str, Any], where: str) -> VmHistory:
    return VmHistory(
        vm=_req(item, "vm", str, where), entries=_each(item, "entries", _entry, parent=where)
    )


def _entry(item: dict[str, Any], where: str) -> HistoryEntry:
    counts = _obj(item.get("counts", {}), f"{where}.counts")
    return HistoryEntry(
        time=_time(item, "time", where),
        kind=_enum(HistoryKind, item, "kind", where),
        status=_req(item, "status", str, where),
        counts={name: _count(counts, name, f"{where}.counts") for name in counts},
        detail=_opt(item, "detail", str, where),
    )


def _deferred(item: dict[str, Any], where: str) -> DeferredHotpatch:
    return DeferredHotpatch(
        vm=_req(item, "vm", str, where),
        reboot_patches=_count(item, "rebootPatches", where),
        until_cycle=_opt(item, "untilCycle", str, where),
    )


def _slot_json(slot: PlannedSlot) -> dict[str, Any]:
    return {
        "vm": slot.vm,
        "phase": slot.phase,
        "region": slot.region,
        "start": format_time(slot.start),
        "end": format_time(slot.end),
        "rebootSetting": slot.reboot_setting.value,
    }


def _attempt_json(attempt: Attempt) -> dict[str, Any]:
    return {
        "start": format_time(attempt.start),
        "end": _time_or_none(attempt.end),
        "status": attempt.status,
        "rebooted": attempt.rebooted,
        "maintenanceWindowExceeded": attempt.maintenance_window_exceeded,
        "unhealthy": attempt.unhealthy,
    }


def _history_json(entry: HistoryEntry) -> dict[str, Any]:
    body: dict[str, Any] = {
        "time": format_time(entry.time),
        "kind": entry.kind.value,
        "status": entry.status,
        "counts": dict(entry.counts),
    }
    if entry.detail is not None:
        body["detail"] = entry.detail
    return body


def _deferred_json(deferred: DeferredHotpatch) -> dict[str, Any]:
    body: dict[str, Any] = {"vm": deferred.vm, "rebootPatches": deferred.reboot_patches}
    if deferred.until_cycle is not None:
        body["untilCycle"] = deferred.until_cycle
    return body


def _time_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else format_time(moment)


# Readers: each names the field it refuses and what it expected.


def _obj(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ReportError(f"{where}: expected a JSON object, got {type(value).__name__}")
    return value


def _req(item: dict[str, Any], key: str, kind: type[T], where: str) -> T:
    value = item.get(key)
    # bool is an int to Python; a count or an index must not be true or false.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ReportError(f"{where}.{key}: expected {kind.__name__}, got {value!r}")
    return value


def _opt(item: dict[str, Any], key: str, kind: type[T], where: str) -> T | None:
    return None if item.get(key) is None else _req(item, key, kind, where)


def _count(item: dict[str, Any], key: str, where: str) -> int:
    value = _req(item, key, int, where)
    if value < 0:
        raise ReportError(f"{where}.{key}: expected a count (0 or more), got {value}")
    return value


def _strings(item: dict[str, Any], key: str, where: str) -> list[str]:
    values = _req(item, key, list, where)
    if not all(isinstance(v, str) for v in values):
        raise ReportError(f"{where}.{key}: expected a list of strings")
    return values


def _time(item: dict[str, Any], key: str, where: str) -> datetime:
    text = _req(item, key, str, where)
    try:
        return parse_time(text)
    except ValueError as error:
        raise ReportError(f"{where}.{key}: {error}") from error


def _enum(kind: Callable[[str], T], item: dict[str, Any], key: str, where: str) -> T:
    text = _req(item, key, str, where)
    try:
        return kind(text)
    except ValueError as error:
        raise ReportError(f"{where}.{key}: {text!r} is not one expected ({error})") from error


def _each(
    doc: dict[str, Any],
    key: str,
    read: Callable[[dict[str, Any], str], T],
    *,
    parent: str = "report",
    required: bool = False,
) -> tuple[T, ...]:
    if key not in doc and not required:
        return ()
    items = _req(doc, key, list, parent)
    path = key if parent == "report" else f"{parent}.{key}"
    return tuple(_read_one(read, item, f"{path}[{i}]") for i, item in enumerate(items))


def _read_one(read: Callable[[dict[str, Any], str], T], item: object, where: str) -> T:
    try:
        return read(_obj(item, where), where)
    except ReportError:
        raise
    except BadInput as error:  # a value the model refuses, e.g. a VM id that is not one
        raise ReportError(f"{where}: {error}") from error

"""`GET /api/report`: the current cycle's report page, built from the app's tables alone.

`live_report` reads what the app recorded (the cycle's PatchCycles record, its plan
groups' slots, each VM's latest view, 30-day history and installs in flight) into the
same `reporting.model.Report` the rehearsal builds, and the route draws it with the one
renderer the rehearsal's report.html uses. The current cycle is the month's (its unplanned
baseline first, as the rehearsal's report picks it), else last month's; with none
recorded the page shows the calendar's cycle and each VM as last judged.

Reads are bounded whatever the fleet: a few queries per subscription, one per plan group,
and the history (one query per table and VM) of at most `HISTORY_VM_LIMIT` VMs, the
ones the page's tables show first; the others' runs are their last install.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import ParamSpec, TypeVar

import azure.durable_functions as df
import azure.functions as func

from azure_io.compute_outcomes import OperationKind
from azure_io.patch_results import InstallResult
from azure_io.patch_views import HISTORY_DAYS, HistoryEntry, HistoryKind, VmView
from azure_io.ports import PatchStore
from azure_io.rollout_records import OperationInFlight
from azure_io.settings import Settings
from azure_io.table_rows import ComplianceRecord, CycleRecord
from http_api.calls import app_deps, off_loop
from http_api.current_cycle import current_cycle_record, cycle_of
from http_api.errors import ApiError, ErrorCode, answered
from patching.calendar import parse_cycle_id
from patching.models import Assignment, Cycle, Phase, ReleaseKind, VmTarget
from patching.outcomes import VmState, vm_state
from patching.resource_ids import VmId
from patching.timefmt import parse_time
from reporting import model as rm
from reporting import render_html
from reporting.history_table import HISTORY_VM_LIMIT
from reporting.html import CONTENT_SECURITY_POLICY
from reporting.vm_table import STATE_ORDER

log = logging.getLogger(__name__)

bp = df.Blueprint()

HTML = "text/html"
HALTED = "halted"
# ARM's final install statuses of an install that ran as asked (`patching.outcomes`).
_COMPLETED = frozenset({"succeeded", "completedwithwarnings"})
_IN_PROGRESS = "inprogress"
_DEFERRED = "deferred to the next baseline: "
_UNHEALTHY = "unhealthy after the install"
_HALTED_PHASE = re.compile(r"phase (\d+):")
_DETAIL_CHARS = 200

_P = ParamSpec("_P")
_T = TypeVar("_T")


class StoreReadError(Exception):
    """The store failed while the report was read; its error is the cause."""


@bp.route(route="report", methods=["GET"])  # type: ignore[untyped-decorator]
@answered
async def get_report(req: func.HttpRequest) -> func.HttpResponse:
    """The report page (text/html); 503 with the error body when the tables fail."""
    current = await app_deps()
    now = current.clock.now()
    try:
        # Reading and drawing a large fleet takes a while: off the event loop.
        page = await off_loop(_page, current.store, current.settings, now)
    except StoreReadError as failed:
        # Logged without the error's text: an SDK error may carry a URL with a signature.
        log.warning("report: the store failed: %s", type(failed.__cause__).__name__)
        raise ApiError(
            503, ErrorCode.STORAGE_UNAVAILABLE, "table storage is unavailable; try again later"
        ) from failed
    return func.HttpResponse(
        page,
        status_code=200,
        mimetype=HTML,
        charset="utf-8",
        headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _page(store: PatchStore, settings: Settings, now: datetime) -> str:
    return render_html(live_report(store, settings, now))


def live_report(store: PatchStore, settings: Settings, now: datetime) -> rm.Report:
    """The current cycle's report from `store` as of `now`; StoreReadError when the store
    fails."""
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    now = now.astimezone(UTC)
    store_id, record = _read(current_cycle_record, store, now)
    cycle = cycle_of(record, settings, now)
    halt = _halt(record)
    fleet = _read(_fleet_reading, store, settings.subscriptions, store_id)
    rows = _rows(fleet, store_id, cycle, halt)
    shown = sorted(rows, key=lambda row: (STATE_ORDER[row.state], row.vm_id.key))
    histories = {
        row.vm_id.key: _read(store.history, row.vm, now=now, days=HISTORY_DAYS)
        for row in shown[:HISTORY_VM_LIMIT]
    }
    attempts = {
        row.vm_id.key: _attempts(row, fleet, histories, store_id, cycle.release.released_at)
        for row in rows
    }
    return rm.Report(
        cycle=cycle,
        halt=halt,
        vms=tuple(
            replace(row, installed_at=_installed_at(attempts[row.vm_id.key])) for row in rows
        ),
        # Counted by a rehearsal's engine and simulator; not known to the app's tables.
        durable=rm.DurableCounters(instances=0, max_history_events=0, replayed_events=0),
        arm=rm.ArmCounters(requests=0, throttled=0),
        phases=_phases(record),
        slots=_slots(fleet, {row.vm_id.key for row in rows}),
        runs=tuple(
            rm.VmRun(row.vm, attempts[row.vm_id.key]) for row in rows if attempts[row.vm_id.key]
        ),
        history=tuple(
            rm.VmHistory(row.vm, tuple(_history_entry(e) for e in histories[row.vm_id.key]))
            for row in rows
            if histories.get(row.vm_id.key)
        ),
        deferred=_deferred(rows, cycle, settings),
        snapshot=rm.Snapshot(taken_at=now, cycle_state=record.state if record else None),
    )


def _read(call: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    try:
        return call(*args, **kwargs)
    except Exception as error:
        raise StoreReadError(f"reading the report failed in {call.__name__}") from error


# The cycle.


def _halt(record: CycleRecord | None) -> rm.Halt | None:
    if record is None or record.state != HALTED:
        return None
    reason = record.halt_reason or "halted"
    named = _HALTED_PHASE.match(reason)
    # The cycle's record is saved as it halts: its time is the halt's.
    return rm.Halt(reason, int(named.group(1)) if named else None, record.recorded_at)


def _phases(record: CycleRecord | None) -> tuple[Phase, ...]:
    """The phases of the cycle's plan summary (the latest re-plan's), as the app saved them."""
    summary = record.plan_summary if record else None
    raw = summary.get("phases") if isinstance(summary, Mapping) else None
    phases: dict[int, Phase] = {}
    for item in raw if isinstance(raw, list) else ():
        try:
            phase = Phase(
                index=int(item["index"]),
                regions=tuple(str(region) for region in item["regions"]),
                start=parse_time(item["start"]),
                end=parse_time(item["end"]),
                retry=bool(item.get("retry", False)),
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            continue  # not what the cycle orchestrator writes: left out, not fatal
        phases[phase.index] = phase
    return tuple(phases[index] for index in sorted(phases))


# The fleet.


@dataclass(frozen=True, slots=True)
class _FleetReading:
    targets: dict[str, VmTarget]  # by VM key, the last discovery of the managed subscriptions
    views: dict[str, VmView]  # by VM key
    in_flight: dict[str, list[OperationInFlight]]  # by VM key: installs of this cycle
    slots: dict[str, Assignment]  # by VM key: its last slot in this cycle's plan


def _fleet_reading(
    store: PatchStore, subscriptions: Iterable[str], store_id: str | None
) -> _FleetReading:
    targets: dict[str, VmTarget] = {}
    views: dict[str, VmView] = {}
    in_flight: dict[str, list[OperationInFlight]] = {}
    for subscription in subscriptions:
        targets.update((target.key, target) for target in store.inventory(subscription))
        views.update(store.vm_views(subscription))
        if store_id is None:
            continue
        for operation in store.operations(OperationKind.INSTALL, subscription_id=subscription):
            if operation.cycle == store_id:
                key = VmId.parse(operation.started.vm_id).key
                in_flight.setdefault(key, []).append(operation)
    slots: dict[str, Assignment] = {}
    if store_id is not None:
        # A re-plan gives a VM that missed its slot a later one: its last one counts.
        for group in store.plan_groups(store_id):
            for slot in store.plan_group(store_id, group.group_id):
                key = VmId.parse(slot.assignment.vm).key
                if key not in slots or slots[key].start < slot.assignment.start:
                    slots[key] = slot.assignment
    return _FleetReading(targets, views, in_flight, slots)


def _rows(
    fleet: _FleetReading, store_id: str | None, cycle: Cycle, halt: rm.Halt | None
) -> list[rm.VmRow]:
    """A row per discovered VM, and per VM recorded but no longer discovered whose record
    speaks of this cycle; by key."""
    rows = []
    for key in sorted(set(fleet.targets) | set(fleet.views)):
        view = fleet.views.get(key)
        record = _this_cycles(view.compliance if view else None, store_id, cycle)
        target = fleet.targets.get(key)
        # An assessment that found patches missing leaves the verdict to the cycle (the
        # VM waits for its slot, or for the resume); with no cycle, it is the last word.
        verdict = None if store_id is not None and _assessed_missing(record) else record
        if verdict is not None:
            rows.append(_recorded_row(verdict, halt))
        elif target is not None:
            judged = vm_state(target, cycle.release.kind, None, halted=halt is not None)
            reason = judged.reason
            if record is not None and judged.state is not VmState.SKIPPED:
                reason = f"{reason}; {record.reason}"
            rows.append(rm.VmRow(target.id, judged.state, reason=reason))
        elif record is not None:
            rows.append(_recorded_row(record, halt))
    return rows


def _assessed_missing(record: ComplianceRecord | None) -> bool:
    """An assessment's verdict (no cycle's) that patches are missing: the VM is not
    compliant, and what the cycle does about it is the cycle's to say."""
    return record is not None and record.cycle is None and record.state != VmState.COMPLIANT.value


def _this_cycles(
    record: ComplianceRecord | None, store_id: str | None, cycle: Cycle
) -> ComplianceRecord | None:
    """The record if it judges the VM for this cycle: made by it, or by an assessment
    since its release (or, with no cycle recorded, whatever judged the VM last)."""
    if record is None or store_id is None:
        return record
    if record.cycle is None:
        return record if record.recorded_at >= cycle.release.released_at else None
    return record if record.cycle == store_id else None


def _recorded_row(record: ComplianceRecord, halt: rm.Halt | None) -> rm.VmRow:
    try:
        state = VmState(record.state)
        reason = record.reason
    except ValueError:
        state, reason = VmState.PENDING, f"recorded as {record.state!r}: {record.reason}"
    if state is VmState.HALTED and halt is None:
        state = VmState.PENDING  # resumed since: the VM waits for its slot again
    return rm.VmRow(record.vm_id, state, reason=reason or None)


def _slots(fleet: _FleetReading, keys: set[str]) -> tuple[rm.PlannedSlot, ...]:
    return tuple(
        rm.PlannedSlot(
            vm=slot.vm,
            phase=slot.phase,
            region=_region(fleet.targets.get(key)),
            start=slot.start,
            end=slot.end,
            reboot_setting=slot.reboot_setting,
        )
        for key, slot in sorted(fleet.slots.items())
        if key in keys
    )


def _region(target: VmTarget | None) -> str:
    return target.location if target is not None else "unknown region"


# What ran.


def _attempts(
    row: rm.VmRow,
    fleet: _FleetReading,
    histories: Mapping[str, list[HistoryEntry]],
    store_id: str | None,
    released_at: datetime,
) -> tuple[rm.Attempt, ...]:
    """The VM's installs of this cycle, oldest first: from its history when it was read,
    else its last install; then those still in flight."""
    if store_id is None:
        return ()
    key = row.vm_id.key
    if key in histories:
        results = [e.install for e in reversed(histories[key]) if e.install and e.cycle == store_id]
    else:
        view = fleet.views.get(key)
        last = view.latest_install if view and view.install_cycle == store_id else None
        results = [last] if last is not None else []
    unhealthy = row.state is VmState.FAILED and (row.reason or "").startswith(_UNHEALTHY)
    attempts = [
        _attempt(result, unhealthy=unhealthy and i == len(results) - 1)
        for i, result in enumerate(results)
        if result.started_at is not None and result.started_at >= released_at
    ]
    seen = {attempt.start for attempt in attempts}
    attempts += [
        rm.Attempt(op.started_at, None, "InProgress")
        for op in fleet.in_flight.get(key, [])
        if op.started_at not in seen
    ]
    return tuple(sorted(attempts, key=lambda attempt: attempt.start))


def _attempt(result: InstallResult, *, unhealthy: bool) -> rm.Attempt:
    assert result.started_at is not None
    running = result.status.lower() == _IN_PROGRESS
    return rm.Attempt(
        start=result.started_at,
        # A finished install whose end ARM did not give is drawn as a moment.
        end=None if running else (result.ended_at or result.started_at),
        status=result.status,
        rebooted=(result.reboot_status or "").lower() == "completed",
        maintenance_window_exceeded=result.maintenance_window_exceeded,
        unhealthy=unhealthy,
    )


def _installed_at(attempts: tuple[rm.Attempt, ...]) -> datetime | None:
    done = [a.end for a in attempts if a.status.lower() in _COMPLETED and not a.failed and a.end]
    return max(done, default=None)


def _history_entry(entry: HistoryEntry) -> rm.HistoryEntry:
    said: list[str] = []
    if entry.kind is HistoryKind.ASSESSMENT and entry.assessment is not None:
        found = entry.assessment
        status, error = found.status, found.error
        counts = {
            "critical and security": found.critical_and_security_patch_count,
            "other": found.other_patch_count,
        }
        if found.reboot_pending:
            said.append("reboot pending")
    elif entry.install is not None:
        done = entry.install
        status, error = done.status, done.error
        counts = {
            "installed": done.installed_patch_count,
            "failed": done.failed_patch_count,
            "pending": done.pending_patch_count,
        }
        if done.excluded_patch_count:
            counts["excluded"] = done.excluded_patch_count
        said.append(f"cycle {entry.cycle}" if entry.cycle else "on demand")
        if done.maintenance_window_exceeded:
            said.append("maintenance window exceeded")
    else:
        status, error, counts = "unknown", None, {}
    if error is not None:
        said.append(f"{error.code}: {error.message}"[:_DETAIL_CHARS])
    return rm.HistoryEntry(
        time=entry.at,
        kind=rm.HistoryKind(entry.kind.value),
        status=status,
        counts=counts,
        detail="; ".join(said) or None,
    )


# Hotpatch months.


def _deferred(
    rows: Iterable[rm.VmRow], cycle: Cycle, settings: Settings
) -> tuple[rm.DeferredHotpatch, ...]:
    """The compliant VMs whose reboot-needing patches wait for the next baseline, as their
    compliance reason says (`patching.policy.ComplianceVerdict.reason`)."""
    if cycle.release.kind is not ReleaseKind.HOTPATCH:
        return ()
    until = _next_baseline(cycle.id, settings.planned_baseline_months)
    cases = []
    for row in rows:
        reason = row.reason or ""
        if row.state is VmState.COMPLIANT and reason.startswith(_DEFERRED):
            kbs = [kb for kb in reason.removeprefix(_DEFERRED).split(", ") if kb.strip()]
            cases.append(rm.DeferredHotpatch(row.vm, len(kbs), until))
    return tuple(cases)


def _next_baseline(cycle_id: str, baseline_months: Iterable[int]) -> str | None:
    year, month = parse_cycle_id(cycle_id)
    months = set(baseline_months)
    for ahead in range(1, 13):
        count = year * 12 + month - 1 + ahead
        if count % 12 + 1 in months:
            return f"{count // 12:04d}-{count % 12 + 1:02d}"
    return None

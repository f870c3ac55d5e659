"""What a cycle's report shows: frozen values, derived counts, no I/O.

A report holds one row per VM of the fleet (enrolled or not); the compliance counts are
derived from those rows, so the numbers a page or a report.json shows always add up:
`enrolled = compliant + pending + failed`, and a VM the halt held back (`halted`) is also
`pending`, since it waits for the resume. `skipped` VMs are not enrolled.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from patching.errors import BadInput
from patching.models import Cycle, Phase, RebootSetting, Skip
from patching.outcomes import VmState
from patching.resource_ids import VmId
from patching.slots import short_window_skips


class ReportError(BadInput):
    """A report that contradicts itself, or a document that is not a report."""


class HistoryKind(StrEnum):
    ASSESSMENT = "assessment"
    INSTALL = "install"


# ARM's install statuses stay plain strings (ARM adds new ones); this one is a failure.
FAILED_STATUS = "Failed"


@dataclass(frozen=True, slots=True)
class Halt:
    reason: str
    phase: int | None = None
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class VmRow:
    vm: str
    state: VmState
    installed_at: datetime | None = None
    reason: str | None = None
    vm_id: VmId = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "vm_id", VmId.parse(self.vm))


@dataclass(frozen=True, slots=True)
class PlannedSlot:
    vm: str
    phase: int
    region: str
    start: datetime
    end: datetime
    reboot_setting: RebootSetting


@dataclass(frozen=True, slots=True)
class Attempt:
    """One install that really ran; `end` is None while it still runs."""

    start: datetime
    end: datetime | None
    status: str
    rebooted: bool = False
    maintenance_window_exceeded: bool = False
    unhealthy: bool = False

    @property
    def failed(self) -> bool:
        return self.status == FAILED_STATUS or self.unhealthy


@dataclass(frozen=True, slots=True)
class VmRun:
    vm: str
    attempts: tuple[Attempt, ...]


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    time: datetime
    kind: HistoryKind
    status: str
    counts: Mapping[str, int] = field(default_factory=dict)
    detail: str | None = None  # what else the row says: the install's cycle, an error code

    def __post_init__(self) -> None:
        object.__setattr__(self, "counts", MappingProxyType(dict(self.counts)))


@dataclass(frozen=True, slots=True)
class VmHistory:
    vm: str
    entries: tuple[HistoryEntry, ...]


@dataclass(frozen=True, slots=True)
class DeferredHotpatch:
    """A VM compliant for a hotpatch month whose reboot-needing patches wait for the next
    baseline (the install excluded them: `excludeKbsRequiringReboot`)."""

    vm: str
    reboot_patches: int
    until_cycle: str | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A report read from the app's tables at `taken_at` (`GET /api/report`) rather than
    made at the end of a rehearsal: its Durable and ARM counters are not known, and
    `cycle_state` is the cycle's PatchCycles state (None: no cycle recorded yet, the
    calendar's cycle is shown)."""

    taken_at: datetime
    cycle_state: str | None


@dataclass(frozen=True, slots=True)
class DurableCounters:
    instances: int
    max_history_events: int
    replayed_events: int


@dataclass(frozen=True, slots=True)
class ArmCounters:
    requests: int
    throttled: int


@dataclass(frozen=True, slots=True)
class TableCounters:
    rows_written: int  # rows the store wrote or deleted, as the store counted them


@dataclass(frozen=True, slots=True)
class ComplianceCounts:
    enrolled: int
    compliant: int
    pending: int
    failed: int
    skipped: int
    halted: int = 0  # part of `pending`, shown apart

    @classmethod
    def of(cls, states: Iterable[VmState]) -> ComplianceCounts:
        tally = Counter(states)
        pending = tally[VmState.PENDING] + tally[VmState.HALTED]
        return cls(
            enrolled=tally[VmState.COMPLIANT] + pending + tally[VmState.FAILED],
            compliant=tally[VmState.COMPLIANT],
            pending=pending,
            failed=tally[VmState.FAILED],
            skipped=tally[VmState.SKIPPED],
            halted=tally[VmState.HALTED],
        )

    @property
    def total(self) -> int:
        return self.enrolled + self.skipped


@dataclass(frozen=True, slots=True)
class Report:
    cycle: Cycle
    halt: Halt | None
    vms: tuple[VmRow, ...]
    durable: DurableCounters
    arm: ArmCounters
    phases: tuple[Phase, ...] = ()
    slots: tuple[PlannedSlot, ...] = ()
    runs: tuple[VmRun, ...] = ()
    history: tuple[VmHistory, ...] = ()
    deferred: tuple[DeferredHotpatch, ...] = ()
    tables: TableCounters | None = None
    snapshot: Snapshot | None = None

    def __post_init__(self) -> None:
        if self.halt is None and any(row.state is VmState.HALTED for row in self.vms):
            raise ReportError("vms: a VM is 'halted' but the cycle is not halted")
        known = {row.vm_id.key for row in self.vms}
        if len(known) != len(self.vms):
            raise ReportError("vms: a VM appears more than once")
        for name, vms in (
            ("slots", [s.vm for s in self.slots]),
            ("runs", [r.vm for r in self.runs]),
            ("history", [h.vm for h in self.history]),
            ("deferred", [d.vm for d in self.deferred]),
        ):
            keys = [VmId.parse(vm).key for vm in vms]
            stray = next((vm for vm, key in zip(vms, keys, strict=True) if key not in known), None)
            if stray is not None:
                raise ReportError(f"{name}: {stray!r} is not one of the report's vms")
            if len(set(keys)) != len(keys):
                raise ReportError(f"{name}: a VM appears more than once")

    @property
    def halted(self) -> bool:
        return self.halt is not None

    @property
    def compliance(self) -> ComplianceCounts:
        return ComplianceCounts.of(row.state for row in self.vms)

    @property
    def short_window_skips(self) -> int:
        """Enrolled VMs skipped because their off-peak window cannot hold an install."""
        return short_window_skips(
            Skip(row.vm, row.reason or "") for row in self.vms if row.state is VmState.SKIPPED
        )

    def days_to_full_compliance(self) -> float | None:
        """Days from the release to the last install that made an enrolled VM compliant;
        0.0 when every enrolled VM was compliant without one; None while any is not."""
        counts = self.compliance
        if not counts.enrolled or counts.compliant < counts.enrolled:
            return None
        installed = [
            row.installed_at
            for row in self.vms
            if row.state is VmState.COMPLIANT and row.installed_at is not None
        ]
        if not installed:
            return 0.0
        return (max(installed) - self.cycle.release.released_at).total_seconds() / 86400

    def compliance_by_subscription(self) -> dict[str, ComplianceCounts]:
        states: dict[str, list[VmState]] = {}
        for row in self.vms:
            # Subscription ids are GUIDs, which ARM compares without regard to case.
            states.setdefault(row.vm_id.subscription_id.lower(), []).append(row.state)
        return {sub: ComplianceCounts.of(states[sub]) for sub in sorted(states)}

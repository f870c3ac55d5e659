"""What the rollout keeps in Table Storage between activities, so orchestrations pass only
ids and small summaries: the month's plan by fan-out group, and the long-running
operations in flight. (The discovered fleet is kept as ``patching.models.VmTarget``.)

All frozen; every value is checked when it is made, so a bad record is refused before
anything is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from azure_io.compute_outcomes import OperationKind, Started
from patching.models import Assignment
from patching.resource_ids import VmId

# A plan group is one partition written in one transaction: at most 100 operations
# (``azure_io.table_batches.MAX_TRANSACTION_OPERATIONS``).
MAX_PLAN_GROUP_SIZE = 100
_KEY_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_KEY_PART_FORM = "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"


def checked_key_part(label: str, value: str) -> str:
    """``value`` if it may be part of a table key next to ``~`` separators, else ValueError."""
    if not isinstance(value, str) or _KEY_PART.fullmatch(value) is None:
        raise ValueError(f"{label} {value!r}: expected {_KEY_PART_FORM}")
    return value


@dataclass(frozen=True, slots=True)
class PlanGroupRows:
    """One fan-out group of a cycle's plan: at most 100 VMs of one phase and subscription
    (its rows share a partition, and a VM's RowKey leaves the subscription out)."""

    group_id: str
    phase: int
    assignments: tuple[Assignment, ...]
    retry: bool = False

    def __post_init__(self) -> None:
        checked_key_part("plan group id", self.group_id)
        where = f"plan group {self.group_id!r}"
        if not 1 <= len(self.assignments) <= MAX_PLAN_GROUP_SIZE:
            raise ValueError(
                f"{where} assignments: expected 1 to {MAX_PLAN_GROUP_SIZE}, "
                f"got {len(self.assignments)}"
            )
        subscriptions: set[str] = set()
        vms: set[str] = set()
        for assignment in self.assignments:
            vm = VmId.parse(assignment.vm)
            if assignment.phase != self.phase:
                raise ValueError(
                    f"{where} assignment of {assignment.vm}: phase {assignment.phase}, "
                    f"expected the group's phase {self.phase}"
                )
            if not assignment.start < assignment.end:
                raise ValueError(
                    f"{where} assignment of {assignment.vm}: the slot must end after it starts"
                )
            if vm.key in vms:
                raise ValueError(f"{where} assignments: {assignment.vm} appears twice")
            vms.add(vm.key)
            subscriptions.add(vm.subscription_id.lower())
        if len(subscriptions) > 1:
            raise ValueError(
                f"{where} assignments: expected VMs of one subscription, "
                f"got {sorted(subscriptions)}"
            )


@dataclass(frozen=True, slots=True)
class PlannedSlot:
    """A VM's slot as the plan table holds it: its assignment, group and retry flag."""

    group_id: str
    assignment: Assignment
    retry: bool = False


@dataclass(frozen=True, slots=True)
class PlanGroupSummary:
    """What an orchestration needs of a group to schedule it, without its VMs."""

    group_id: str
    phase: int
    count: int
    first_start: datetime
    last_end: datetime


@dataclass(frozen=True, slots=True)
class OperationKey:
    vm_id: str
    kind: OperationKind


@dataclass(frozen=True, slots=True)
class OperationInFlight:
    """A started assessment or install, kept until its result is recorded.

    ``cycle`` and ``slot_end`` concern installs only (an on-demand install has no cycle).
    """

    started: Started
    started_at: datetime
    cycle: str | None = None
    slot_end: datetime | None = None
    activity_id: str | None = None

    def __post_init__(self) -> None:
        VmId.parse(self.started.vm_id)
        if not self.started.status_url:
            raise ValueError(f"operation of {self.started.vm_id}: status URL is empty")
        if self.started.kind is OperationKind.ASSESSMENT and (
            self.cycle is not None or self.slot_end is not None
        ):
            raise ValueError(
                f"assessment of {self.started.vm_id}: cycle and slot_end concern installs only"
            )

    @property
    def key(self) -> OperationKey:
        return OperationKey(self.started.vm_id, self.started.kind)

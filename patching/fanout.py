"""The rollout's fan-out tree: a plan's assignments as groups, and a group's slots as batches.

A cycle orchestrator runs one sub-orchestrator per phase, and a phase one per group: the
VMs of one subscription and one region (the unit the compute limit counts), at most
`max_vms` of them (a table batch holds 100 operations), in slot order. Inside a group the
orchestrator wakes once per *batch*, the group's slots that start at the same minute.

Group ids: `p{phase}-r{lane}-g{n:02d}`. The lane is the index of the group's
(region, subscription) pair among the phase's pairs in sorted order; `n` counts the
lane's groups from 0 in slot order. Only lowercase letters, digits and dashes: safe as a
Durable instance-id suffix and as a Table Storage key. The ids are a function of the
plan alone (a re-plan gives new ones; the caller prefixes the cycle and the plan's
revision).

History arithmetic (what bounds a group orchestrator's history, whatever the fleet):
a group's instance writes `EVENTS_PER_GROUP` events of its own (ExecutionStarted, the
first OrchestratorStarted/OrchestratorCompleted pair, ExecutionCompleted) and, per batch,
a timer to the slot (TimerCreated, TimerFired), one activity starting the batch's installs,
one per poll round its timer and status-check activity, one health check and one
recording activity (each activity TaskScheduled, TaskCompleted): 8 + 4 x polls events,
and every one of those 4 + 2 x polls completions wakes the orchestrator once, adding an
OrchestratorStarted/OrchestratorCompleted pair. So `events_per_batch(polls) = 16 + 8 x polls`
and a group of B batches stays within `EVENTS_PER_GROUP + B x events_per_batch(polls)`;
`batches_within` is the most batches that keep it under the history limit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby

from patching.errors import BadInput
from patching.models import Assignment, Plan, VmTarget

HISTORY_EVENTS_LIMIT = 2_000
GROUP_VMS = 100
EVENTS_PER_GROUP = 4
# A slot of at most 4 hours (`SLOT_MINUTES_BOUNDS`) polled every 20 minutes.
POLLS_PER_BATCH = 12


class FanoutError(BadInput):
    """Assignments that cannot be grouped: a VM the targets do not know, or a bad cap."""


def events_per_batch(polls: int) -> int:
    return 16 + 8 * polls


def batches_within(polls: int = POLLS_PER_BATCH, limit: int = HISTORY_EVENTS_LIMIT) -> int:
    """The most batches a group may hold so that its history stays within `limit` events."""
    return (limit - EVENTS_PER_GROUP) // events_per_batch(polls)


def history_events(batches: int, polls: int = POLLS_PER_BATCH) -> int:
    """The most history events a group of `batches` batches writes."""
    return EVENTS_PER_GROUP + batches * events_per_batch(polls)


@dataclass(frozen=True, slots=True)
class SlotBatch:
    """The slots of a group that start together: one wake-up of its orchestrator."""

    start: datetime
    vms: tuple[str, ...]
    ends: tuple[datetime, ...]


@dataclass(frozen=True, slots=True)
class RolloutGroup:
    id: str
    phase: int
    subscription: str
    region: str
    assignments: tuple[Assignment, ...]

    @property
    def vms(self) -> tuple[str, ...]:
        return tuple(a.vm for a in self.assignments)


def group_assignments(
    plan: Plan,
    targets: Iterable[VmTarget],
    *,
    max_vms: int = GROUP_VMS,
    max_batches: int = batches_within(),
) -> tuple[RolloutGroup, ...]:
    """Every assignment of the plan in exactly one group, groups ordered by phase, first slot
    and id."""
    if max_vms < 1 or max_batches < 1:
        raise FanoutError(f"max_vms {max_vms} and max_batches {max_batches} must be at least 1")
    by_key = {vm.key: vm for vm in targets}
    lanes: dict[tuple[int, str, str], list[Assignment]] = defaultdict(list)
    for assignment in plan.assignments:
        vm = by_key.get(assignment.vm.lower())
        if vm is None:
            raise FanoutError(f"assignment {assignment.vm}: no such VM among the targets")
        lanes[(assignment.phase, vm.region, vm.subscription_id)].append(assignment)
    groups: list[RolloutGroup] = []
    lane_numbers: dict[int, int] = defaultdict(int)
    for phase, region, subscription in sorted(lanes):
        lane = lane_numbers[phase]
        lane_numbers[phase] += 1
        ordered = sorted(lanes[(phase, region, subscription)], key=_slot_order)
        for n, chunk in enumerate(_chunks(ordered, max_vms, max_batches)):
            groups.append(
                RolloutGroup(f"p{phase}-r{lane}-g{n:02d}", phase, subscription, region, chunk)
            )
    return tuple(sorted(groups, key=lambda g: (g.phase, g.assignments[0].start, g.id)))


def slot_batches(group: RolloutGroup) -> tuple[SlotBatch, ...]:
    """The group's assignments batched by identical slot start, in start order."""
    batches: list[SlotBatch] = []
    for start, members in groupby(sorted(group.assignments, key=_slot_order), _start):
        same = list(members)
        batches.append(SlotBatch(start, tuple(a.vm for a in same), tuple(a.end for a in same)))
    return tuple(batches)


def _start(assignment: Assignment) -> datetime:
    return assignment.start


def _slot_order(assignment: Assignment) -> tuple[datetime, str]:
    return assignment.start, assignment.vm.lower()


@dataclass(slots=True)
class _Chunk:
    """A group being filled: its assignments, its last batch's start, its latest slot end."""

    assignments: list[Assignment]
    last_start: datetime
    latest_end: datetime
    starts: int = 1

    def takes(self, assignment: Assignment, max_vms: int, max_batches: int) -> bool:
        if len(self.assignments) == max_vms:
            return False
        if assignment.start == self.last_start:
            return True
        return assignment.start >= self.latest_end and self.starts < max_batches

    def add(self, assignment: Assignment) -> None:
        if assignment.start != self.last_start:
            self.starts += 1
            self.last_start = assignment.start
        self.assignments.append(assignment)
        self.latest_end = max(self.latest_end, assignment.end)


def _chunks(
    ordered: Sequence[Assignment], max_vms: int, max_batches: int
) -> list[tuple[Assignment, ...]]:
    """First fit in slot order: an assignment joins the first group that has room and whose
    last batch it shares or whose every slot has ended by its start, else opens a group. A
    group's orchestrator runs its batches one after another, so batches that overlap in time
    go to different groups (which run side by side) and every batch starts on time."""
    chunks: list[_Chunk] = []
    for assignment in ordered:
        chunk = next((c for c in chunks if c.takes(assignment, max_vms, max_batches)), None)
        if chunk is None:
            chunks.append(_Chunk([assignment], assignment.start, assignment.end))
        else:
            chunk.add(assignment)
    return [tuple(chunk.assignments) for chunk in chunks]

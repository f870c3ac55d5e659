"""List scheduling of one region's installs under the availability rules.

Time is in whole epoch minutes. The scheduler advances from event to event (a
window opening, a slot ending) and at each event starts as many installs as the
rules allow, most constrained work first: the longest remaining chain of rounds
(an availability set's update domains, or the region's zones), then the rest. A region
is independent of every other region in its phase, so phases schedule region by
region.
"""

from __future__ import annotations

import heapq
import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from patching.errors import PatchingError
from patching.windowclass import WindowClass


class SchedulingFault(PatchingError, RuntimeError):
    """The scheduler reached a state the rules should make impossible (a bug, not bad input)."""


@dataclass(frozen=True, slots=True)
class Job:
    """One enrolled VM as the scheduler sees it."""

    index: int
    subscription: str
    zone: str | None
    set_key: str | None
    update_domain: int
    window_class: int


@dataclass(frozen=True, slots=True)
class FixedSlot:
    """A slot that stays where it is (already running when re-planning)."""

    job: Job
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Tactics:
    """Choices the rules leave open; a region that ends its phase is tried with each.

    `eager_joins`: a set's VM may join its running update domain late (fills the set's
    cap, but keeps the set busy longer). `set_wide`: an idle set picks the update domain
    to open from all its VMs that can start now, not only those of the lane at hand.
    `scarce_first` (set-wide): it opens the domain holding the VM with the shortest daily
    window, before the fullest one. `uniform_slots`: slots shorter than the region's most
    common length are scheduled as if they were that long (never longer than their window)
    and keep their own length in the plan: shortening a slot breaks no rule, so the schedule
    stays valid, and with the few long slots alone deciding the rounds the greedy choices
    are those it makes for a fleet of equal slots (short ones otherwise fill lanes and open
    update domains and zones early, so a night's last round can spill into the next night).
    `deadline_first`: among lanes of equal priority, the window that closes soonest first,
    then the shorter slot (a tight night packs only if the late windows go last).
    """

    eager_joins: bool = True
    set_wide: bool = False
    scarce_first: bool = False
    uniform_slots: bool = False
    deadline_first: bool = False


_CHOICES = (
    Tactics(),
    Tactics(eager_joins=False),
    Tactics(set_wide=True),
    Tactics(set_wide=True, scarce_first=True),
)
TACTICS = (
    *_CHOICES,
    *(Tactics(t.eager_joins, t.set_wide, t.scarce_first, uniform_slots=True) for t in _CHOICES),
    Tactics(deadline_first=True),
    Tactics(set_wide=True, scarce_first=True, deadline_first=True),
)


def set_cap(size: int) -> int:
    """Installs allowed at once in an availability set of `size` VMs."""
    return 1 if size < 10 else max(1, size // 5)


def batch_cap(size: int) -> int:
    """Installs allowed at once among `size` VMs of one subscription in one region."""
    return max(1, size // 5)


class _LaneKey(NamedTuple):
    """What the VMs of a lane share besides their set: subscription, window class and zone."""

    subscription: str
    window_class: int
    zone: str | None


class _LaneGroup(NamedTuple):
    """A lane per set (None for standalone VMs) and per `_LaneKey`."""

    set_key: str | None
    lane: _LaneKey


class _Opening(NamedTuple):
    """The update domain an idle set decided to open at a minute."""

    minute: int
    domain: int


class _Running(NamedTuple):
    """A slot in progress, ordered by when it ends (the job index breaks ties)."""

    end: int
    job_index: int
    job: Job


class _Queued(NamedTuple):
    """A lane waiting in its heap: highest priority first, then first queued."""

    rank: float
    sequence: int
    lane: _Lane


class _ZoneSubscription(NamedTuple):
    zone: str
    subscription: str


class _SetState:
    __slots__ = (
        "busy_until",
        "cap",
        "lanes",
        "opening",
        "parked",
        "remaining",
        "running",
        "running_domain",
    )

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.running = 0
        self.running_domain: int | None = None
        self.busy_until = 0
        self.remaining: dict[int, int] = defaultdict(int)
        self.parked: list[_Lane] = []
        self.lanes: list[_Lane] = []
        self.opening: _Opening | None = None

    def chain(self) -> int:
        return sum(-(-count // self.cap) for count in self.remaining.values())

    def may_join(self, domain: int, end: int, *, eager: bool) -> bool:
        """Joining a running domain late keeps the set busy longer: eagerly that fills the
        set's lanes, otherwise it is done only when no other domain is waiting."""
        if eager or end <= self.busy_until:
            return True
        return all(count == 0 for d, count in self.remaining.items() if d != domain)


class _Lane:
    """VMs that become eligible together: one set (or the standalone VMs) in one class and zone."""

    __slots__ = ("by_domain", "key", "set_state", "size")

    def __init__(self, key: _LaneKey, set_state: _SetState | None) -> None:
        self.key = key
        self.set_state = set_state
        self.by_domain: dict[int, list[Job]] = defaultdict(list)
        self.size = 0


class RegionScheduler:
    """Schedules one region's jobs from `start`; `run()` returns job index -> start minute."""

    def __init__(
        self,
        jobs: Sequence[Job],
        *,
        start: int,
        classes: Sequence[WindowClass],
        batch_sizes: dict[str, int],
        set_sizes: dict[str, int],
        fixed: Iterable[FixedSlot] = (),
        tactics: Tactics = TACTICS[0],
    ) -> None:
        self._tactics = tactics
        self._start = start
        self._classes = classes
        self._batch_caps = {sub: batch_cap(size) for sub, size in batch_sizes.items()}
        self._sets = {key: _SetState(set_cap(size)) for key, size in set_sizes.items()}
        self._heaps: dict[str, dict[int, dict[str | None, list[_Queued]]]] = {}
        self._sequence = itertools.count()
        self._pending = 0
        self._pending_by_class: dict[int, int] = defaultdict(int)
        self._pending_by_zone: dict[str, int] = defaultdict(int)
        self._pending_zone_sub: dict[_ZoneSubscription, int] = defaultdict(int)
        self._sub_running: dict[str, int] = defaultdict(int)
        self._zone_running = 0
        self._zone: str | None = None
        self._running: list[_Running] = []
        self._pointer: dict[int, int] = {}
        self._active: set[int] = set()
        self._zones_now: tuple[str | None, ...] = (None,)
        self._slots = self._planned_slots(jobs)
        self._load(jobs)
        for fixed_slot in fixed:
            if fixed_slot.end > start:
                self._occupy(fixed_slot.job, fixed_slot.end)

    def _planned_slots(self, jobs: Sequence[Job]) -> dict[int, int]:
        """The length each class's slots are scheduled with: their own, or with
        `uniform_slots` at least the region's most common length (the longer on a tie),
        within the class's window. Planned slots are never shorter than the real ones, so
        every rule still holds for the real ones."""
        used = {job.window_class for job in jobs}
        slots = {c: self._classes[c].slot for c in used}
        if not self._tactics.uniform_slots or not jobs:
            return slots
        counts: dict[int, int] = defaultdict(int)
        for job in jobs:
            counts[slots[job.window_class]] += 1
        common = max(counts, key=lambda length: (counts[length], length))
        return {
            c: max(slot, min(common, self._classes[c].window.nominal_minutes))
            for c, slot in slots.items()
        }

    def _load(self, jobs: Sequence[Job]) -> None:
        lanes: dict[_LaneGroup, _Lane] = {}
        for job in jobs:
            key = _LaneKey(job.subscription, job.window_class, job.zone)
            group = _LaneGroup(job.set_key, key)
            lane = lanes.get(group)
            if lane is None:
                state = self._sets[job.set_key] if job.set_key is not None else None
                lane = _Lane(key, state)
                lanes[group] = lane
                if state is not None:
                    state.lanes.append(lane)
            domain = job.update_domain if job.set_key is not None else 0
            lane.by_domain[domain].append(job)
            lane.size += 1
            if lane.set_state is not None:
                lane.set_state.remaining[domain] += 1
            self._pending += 1
            self._pending_by_class[job.window_class] += 1
            if job.zone is not None:
                self._pending_by_zone[job.zone] += 1
                self._pending_zone_sub[_ZoneSubscription(job.zone, job.subscription)] += 1
        for lane in lanes.values():
            self._push(lane)

    def _push(self, lane: _Lane) -> None:
        sub, window_class, zone = lane.key.subscription, lane.key.window_class, lane.key.zone
        heap = self._heaps.setdefault(sub, {}).setdefault(window_class, {}).setdefault(zone, [])
        heapq.heappush(heap, _Queued(-self._priority(lane), next(self._sequence), lane))

    def _priority(self, lane: _Lane) -> float:
        """Longest remaining chain first: a set's update-domain rounds; for zonal VMs the
        region's zone rounds (zonal wins a tie, as it can only run in its zone's turn); the
        other standalone VMs fill what is left."""
        if lane.set_state is not None:
            return float(lane.set_state.chain())
        if lane.key.zone is not None:
            return self._zone_chain() + 0.5
        return 0.0

    def _zone_chain(self) -> int:
        """Rounds the pending zonal VMs still need: zones one after another, each as many as
        its busiest subscription's cap requires."""
        rounds: dict[str, int] = {}
        for (zone, sub), count in self._pending_zone_sub.items():
            if count:
                need = -(-count // self._batch_caps[sub])
                rounds[zone] = max(rounds.get(zone, 0), need)
        return sum(rounds.values())

    def _occupy(self, job: Job, end: int) -> None:
        heapq.heappush(self._running, _Running(end, job.index, job))
        self._sub_running[job.subscription] += 1
        if job.zone is not None:
            self._zone_running += 1
            self._zone = job.zone
        if job.set_key is not None:
            state = self._sets.setdefault(job.set_key, _SetState(1))
            state.running += 1
            state.running_domain = job.update_domain
            state.busy_until = max(state.busy_until, end)

    def _release(self, job: Job) -> None:
        self._sub_running[job.subscription] -= 1
        if job.zone is not None:
            self._zone_running -= 1
        if job.set_key is not None:
            state = self._sets[job.set_key]
            state.running -= 1
            if state.running == 0:
                state.running_domain = None
            for lane in state.parked:
                self._push(lane)
            state.parked.clear()

    def run(self) -> dict[int, int]:
        starts: dict[int, int] = {}
        events = [self._start] + [running.end for running in self._running]
        heapq.heapify(events)
        queued = set(events)
        while self._pending:
            if not events:
                raise SchedulingFault("scheduler ran out of events with work pending")
            now = heapq.heappop(events)
            queued.discard(now)
            while self._running and self._running[0].end <= now:
                self._release(heapq.heappop(self._running).job)
            if self._zone_running == 0:
                self._zone = None
            active, next_openings = self._active_classes(now)
            self._start_jobs(now, active, starts)
            wakeups = list(next_openings)
            if self._running:
                wakeups.append(self._running[0].end)
            for moment in wakeups:
                if moment not in queued:
                    queued.add(moment)
                    heapq.heappush(events, moment)
        return starts

    def _active_classes(self, now: int) -> tuple[list[int], list[int]]:
        active: list[int] = []
        openings: list[int] = []
        for window_class, pending in self._pending_by_class.items():
            if not pending:
                continue
            windows = self._classes[window_class]
            index = self._pointer.get(window_class, 0)
            opens, closes = windows.occurrence(index)
            while closes - self._slots[window_class] < now:
                index += 1
                opens, closes = windows.occurrence(index)
            self._pointer[window_class] = index
            if opens <= now:
                active.append(window_class)
            else:
                openings.append(opens)
        return active, openings

    def _start_jobs(self, now: int, active: list[int], starts: dict[int, int]) -> None:
        if not active:
            return
        self._active = set(active)
        zone = self._zone if self._zone is not None else self._pick_zone(active)
        zones: tuple[str | None, ...] = (None,) if zone is None else (None, zone)
        self._zones_now = zones
        for sub, by_class in self._heaps.items():
            room = self._batch_caps[sub] - self._sub_running[sub]
            if room <= 0:
                continue
            heaps = [
                heap
                for window_class in active
                for zone_key in zones
                if (heap := by_class.get(window_class, {}).get(zone_key))
            ]
            if heaps:
                self._take(now, heaps, room, starts)

    def _pick_zone(self, active: list[int]) -> str | None:
        """With no zone in progress, open the one with most work that can start now."""
        for zone in sorted(
            (zone for zone, count in self._pending_by_zone.items() if count),
            key=lambda zone: (-self._pending_by_zone[zone], zone),
        ):
            for sub, by_class in self._heaps.items():
                if self._batch_caps[sub] <= self._sub_running[sub]:
                    continue
                if any(by_class.get(window_class, {}).get(zone) for window_class in active):
                    return zone
        return None

    def _take(
        self,
        now: int,
        heaps: list[list[_Queued]],
        room: int,
        starts: dict[int, int],
    ) -> None:
        deferred: list[_Lane] = []
        while room > 0:
            heaps = [heap for heap in heaps if heap]
            if not heaps:
                break
            best = min(heaps, key=lambda heap: self._order(heap[0]))
            lane = heapq.heappop(best).lane
            chosen = self._choose(lane, room, now)
            for job in chosen:
                starts[job.index] = now
                self._occupy(job, now + self._slots[job.window_class])
                self._account(job)
            room -= len(chosen)
            if lane.size:
                if lane.set_state is not None and not self._set_can_take(lane, now):
                    lane.set_state.parked.append(lane)
                else:
                    deferred.append(lane)
        for lane in deferred:
            self._push(lane)

    def _order(self, queued: _Queued) -> tuple[float, int, int, int]:
        """Which waiting lane goes first: the highest priority; with `deadline_first`, among
        equals the one whose window closes soonest, then the shortest slot (so VMs whose
        windows stay open longer are left for the end of the night, and short slots do not
        take its last minutes from long ones); then the first queued."""
        if not self._tactics.deadline_first:
            return queued.rank, 0, 0, queued.sequence
        window_class = queued.lane.key.window_class
        closes = self._classes[window_class].occurrence(self._pointer[window_class])[1]
        return queued.rank, closes, self._slots[window_class], queued.sequence

    def _choose(self, lane: _Lane, room: int, now: int) -> list[Job]:
        state = lane.set_state
        if state is None:
            return self._pop_from(lane, 0, room)
        allowed = state.cap - state.running
        if allowed <= 0:
            return []
        domain = state.running_domain
        if domain is None:
            domain = self._opening_domain(state, now, lane)
        elif not state.may_join(
            domain, now + self._lane_slot(lane), eager=self._tactics.eager_joins
        ):
            return []
        chosen = self._pop_from(lane, domain, min(room, allowed))
        if chosen:
            state.remaining[domain] -= len(chosen)
        return chosen

    def _opening_domain(self, state: _SetState, now: int, lane: _Lane) -> int:
        """The update domain an idle set opens now, decided once per moment for the whole set
        (its other lanes that can start then join it): the one that fills most of the cap
        with VMs whose windows are open, then the one with most left. Candidates are the
        lane's own domains, or with `set_wide` those of every lane of the set that can start;
        with `scarce_first` the domain holding the shortest daily window comes first."""
        if state.opening is not None and state.opening.minute == now:
            return state.opening.domain
        sources = [o for o in state.lanes if self._can_start(o)] if self._tactics.set_wide else []
        sources = sources or [lane]

        def fill(domain: int) -> tuple[int, int]:
            ready = sum(
                len(other.by_domain.get(domain, ()))
                for other in state.lanes
                if other.key.window_class in self._active
            )
            return min(state.cap, ready), state.remaining[domain]

        def scarcity(domain: int) -> int:
            return -min(
                self._classes[other.key.window_class].window.nominal_minutes
                for other in sources
                if other.by_domain.get(domain)
            )

        candidates = sorted({d for o in sources for d, jobs in o.by_domain.items() if jobs})
        if self._tactics.scarce_first:
            domain = max(candidates, key=lambda d: (scarcity(d), *fill(d), -d))
        else:
            domain = max(candidates, key=lambda d: (*fill(d), -d))
        state.opening = _Opening(now, domain)
        return domain

    def _lane_slot(self, lane: _Lane) -> int:
        return self._slots[lane.key.window_class]

    def _can_start(self, lane: _Lane) -> bool:
        key = lane.key
        return (
            key.window_class in self._active
            and key.zone in self._zones_now
            and self._sub_running[key.subscription] < self._batch_caps[key.subscription]
        )

    @staticmethod
    def _pop_from(lane: _Lane, domain: int, count: int) -> list[Job]:
        jobs = lane.by_domain.get(domain)
        if not jobs:
            return []
        chosen = jobs[-count:]
        del jobs[-count:]
        lane.size -= len(chosen)
        return chosen

    def _set_can_take(self, lane: _Lane, now: int) -> bool:
        state = lane.set_state
        assert state is not None
        if state.running >= state.cap:
            return False
        domain = state.running_domain
        if domain is None:
            return True
        return bool(lane.by_domain.get(domain)) and state.may_join(
            domain, now + self._lane_slot(lane), eager=self._tactics.eager_joins
        )

    def _account(self, job: Job) -> None:
        self._pending -= 1
        self._pending_by_class[job.window_class] -= 1
        if job.zone is not None:
            self._pending_by_zone[job.zone] -= 1
            self._pending_zone_sub[_ZoneSubscription(job.zone, job.subscription)] -= 1
            self._zone = job.zone

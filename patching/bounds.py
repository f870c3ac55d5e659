"""A lower bound on how soon a region can finish, valid for every plan that obeys the rules.

Each rule forces some number of installs to run one after another:
- a VM needs one slot inside one of its own windows;
- a subscription's n VMs in a region, at most c at once, put ceil(n/c) slots on
  one of c lanes (interval graphs colour with c colours), so one lane holds that
  many slots that never overlap;
- an availability set's update domains never overlap one another, and each
  domain of u VMs needs ceil(u/c) non-overlapping slots;
- zones never overlap one another in a region, and zone z needs, for every
  subscription s, ceil(n_zs/c_s) non-overlapping slots.
k non-overlapping slots that must lie in a union of windows end no sooner than
packing them greedily from the start into that union, each as long as the shortest
of them, which `packed_end` does. Slots differ in length, so those k slots are also
at least as long, together, as the k shortest ones the rule could pick (per update
domain, per zone); they end no sooner than that much window time after the start
(`worked_end`, as if a slot could be split across windows).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

from patching.scheduling import Job, SchedulingFault, batch_cap, set_cap
from patching.windowclass import WindowClass


@dataclass(frozen=True, slots=True)
class Chain:
    """`length` slots that must not overlap, each in a window of one of `classes`, and
    `work` minutes of slots that must not overlap in those windows (a rule may force
    more of one than of the other, so each bounds the finish on its own)."""

    classes: frozenset[int]
    length: int
    work: int


class _Rounds(NamedTuple):
    """How many slots of a group must run one after another, and their least total minutes."""

    rounds: int
    work: int


def region_chains(
    jobs: Sequence[Job],
    batch_sizes: dict[str, int],
    set_sizes: dict[str, int],
    slots: Sequence[int],
) -> list[Chain]:
    """The chains the rules impose on one region's jobs, de-duplicated; `slots[c]` is the
    slot length of window class c.

    A rule binds every subset of its VMs too, so each rule also yields the chain of
    its VMs of one window class alone, confined to that class's windows.
    """
    by_sub: dict[str, list[Job]] = defaultdict(list)
    by_set: dict[str, list[Job]] = defaultdict(list)
    zonal: list[Job] = []
    for job in jobs:
        by_sub[job.subscription].append(job)
        if job.set_key is not None:
            by_set[job.set_key].append(job)
        if job.zone is not None:
            zonal.append(job)
    chains = {Chain(frozenset({job.window_class}), 1, slots[job.window_class]) for job in jobs}
    for sub, members in by_sub.items():
        cap = batch_cap(batch_sizes[sub])
        chains |= _chains_of(members, partial(_batch_rounds, cap=cap, slots=slots), slots)
    for set_key, members in by_set.items():
        cap = set_cap(set_sizes[set_key])
        chains |= _chains_of(members, partial(_set_rounds, cap=cap, slots=slots), slots)
    if zonal:
        chains |= _chains_of(
            zonal, partial(_zone_rounds, batch_sizes=batch_sizes, slots=slots), slots
        )
    return _dominant(chains, slots)


def _chains_of(
    members: Sequence[Job], rounds: Callable[[Sequence[Job]], _Rounds], slots: Sequence[int]
) -> set[Chain]:
    """The chain of the members, and of the members of each few of its window classes.

    Short slots pack densely, so a chain mixing them with long ones says little: the
    classes whose slots are at least each of a few lengths are taken on their own too.
    """
    by_class: dict[int, list[Job]] = defaultdict(list)
    for job in members:
        by_class[job.window_class].append(job)
    subsets: set[tuple[int, ...]] = set()
    for low in _spread(sorted({slots[c] for c in by_class})):
        subsets.update(_subsets(sorted(c for c in by_class if slots[c] >= low)))
    return {
        Chain(frozenset(subset), *rounds([job for c in subset for job in by_class[c]]))
        for subset in subsets
    }


def _subsets(classes: list[int]) -> list[tuple[int, ...]]:
    if len(classes) <= _ALL_SUBSETS_UP_TO:
        return [
            combination
            for size in range(1, len(classes) + 1)
            for combination in itertools.combinations(classes, size)
        ]
    subsets = [(c,) for c in classes] + [tuple(o for o in classes if o != c) for c in classes]
    subsets.append(tuple(classes))
    return subsets


def _spread(lengths: list[int]) -> list[int]:
    """At most `_MOST_SLOT_FLOORS` of the sorted lengths, the shortest always among them."""
    if len(lengths) <= _MOST_SLOT_FLOORS:
        return lengths
    last = len(lengths) - 1
    return sorted({lengths[i * last // (_MOST_SLOT_FLOORS - 1)] for i in range(_MOST_SLOT_FLOORS)})


# A group's window classes are few; beyond this many, only single classes, all but one,
# and all of them are tried.
_ALL_SUBSETS_UP_TO = 5
# Slot lengths too: most groups have one or two (the settings); learned ones may have more.
_MOST_SLOT_FLOORS = 4


def _lane(members: Sequence[Job], cap: int, slots: Sequence[int]) -> _Rounds:
    """n slots, at most `cap` at once: one lane holds ceil(n / cap) of them, which last at
    least as long as that many of the shortest. The time some of them run is also no less
    than their total over `cap`, as no more than `cap` run at any moment, and no less than
    the longest one: with mixed lengths either can exceed the shortest ones' sum (and an
    availability set adds up its domains' times, a zone its subscriptions')."""
    count = -(-len(members) // cap)
    lengths = sorted(slots[job.window_class] for job in members)
    return _Rounds(count, max(sum(lengths[:count]), -(-sum(lengths) // cap), lengths[-1]))


def _batch_rounds(members: Sequence[Job], *, cap: int, slots: Sequence[int]) -> _Rounds:
    return _lane(members, cap, slots)


def _set_rounds(members: Sequence[Job], *, cap: int, slots: Sequence[int]) -> _Rounds:
    """Update domains never overlap; each needs its own lane of rounds."""
    domains: dict[int, list[Job]] = defaultdict(list)
    for job in members:
        domains[job.update_domain].append(job)
    lanes = [_lane(domain, cap, slots) for domain in domains.values()]
    return _Rounds(sum(lane.rounds for lane in lanes), sum(lane.work for lane in lanes))


def _zone_rounds(
    members: Sequence[Job], *, batch_sizes: dict[str, int], slots: Sequence[int]
) -> _Rounds:
    """Zones never overlap; a zone needs, in each subscription, that subscription's lane."""
    groups: dict[str, dict[str, list[Job]]] = defaultdict(lambda: defaultdict(list))
    for job in members:
        assert job.zone is not None
        groups[job.zone][job.subscription].append(job)
    count = work = 0
    for subs in groups.values():
        lanes = [_lane(jobs, batch_cap(batch_sizes[sub]), slots) for sub, jobs in subs.items()]
        count += max(lane.rounds for lane in lanes)
        work += max(lane.work for lane in lanes)
    return _Rounds(count, work)


def _dominant(chains: set[Chain], slots: Sequence[int]) -> list[Chain]:
    """Keep, per set of classes, only the most slots and the most work; then drop a chain
    when one in fewer of its classes asks for no fewer slots, no less work and slots no
    shorter, since that one can never end sooner."""
    most: dict[frozenset[int], tuple[int, int]] = {}
    for chain in chains:
        length, work = most.get(chain.classes, (0, 0))
        most[chain.classes] = (max(length, chain.length), max(work, chain.work))
    merged = [Chain(classes, length, work) for classes, (length, work) in most.items()]
    shortest = {chain.classes: min(slots[c] for c in chain.classes) for chain in merged}

    def covers(a: Chain, b: Chain) -> bool:
        return (
            a.classes < b.classes
            and a.length >= b.length
            and a.work >= b.work
            and shortest[a.classes] >= shortest[b.classes]
        )

    return [b for b in merged if not any(covers(a, b) for a in merged)]


class RegionBound:
    """Earliest possible finish of one region when it may start at a given minute."""

    def __init__(self, chains: list[Chain], classes: Sequence[WindowClass]) -> None:
        self._chains = chains
        self._classes = classes
        self._cache: dict[int, int] = {}

    def finish(self, start: int) -> int:
        cached = self._cache.get(start)
        if cached is None:
            cached = max(self._chain_end(chain, start) for chain in self._chains)
            self._cache[start] = cached
        return cached

    def _chain_end(self, chain: Chain, start: int) -> int:
        packed = self.packed_end(chain, start)
        shortest = min(self._classes[c].slot for c in chain.classes)
        if chain.work <= chain.length * shortest:
            return packed  # packing those slots already needs that much window time
        return max(packed, self.worked_end(chain, start))

    def packed_end(self, chain: Chain, start: int) -> int:
        """Pack the chain's slots left to right into the union of its classes' windows.

        Overlapping occurrences extend the span being packed, so windows that
        together cover whole days never need to be merged up front.
        """
        # Slots are as long as their class allows; the shortest of the chain's keeps it a bound.
        slot = min(self._classes[c].slot for c in chain.classes)
        remaining = chain.length
        cursor = start
        span_end = start
        for opens, closes in self._in_order(chain.classes, start):
            if opens > span_end:
                cursor = max(cursor, opens)
            span_end = max(span_end, closes)
            take = min(max(0, (span_end - cursor) // slot), remaining)
            cursor += take * slot
            remaining -= take
            if remaining == 0:
                return cursor
        raise SchedulingFault("window occurrences ran out")

    def worked_end(self, chain: Chain, start: int) -> int:
        """The moment the union of the chain's windows has held `work` minutes since `start`."""
        remaining = chain.work
        covered = start
        for opens, closes in self._in_order(chain.classes, start):
            begin = max(opens, covered)
            if closes > begin:
                if closes - begin >= remaining:
                    return begin + remaining
                remaining -= closes - begin
                covered = closes
        raise SchedulingFault("window occurrences ran out")

    def _in_order(self, classes: frozenset[int], start: int) -> Iterator[tuple[int, int]]:
        """The classes' occurrences that end after `start`, by opening time."""
        indices = dict.fromkeys(classes, 0)
        while True:
            best = min(indices, key=lambda c: self._classes[c].occurrence(indices[c])[0])
            opens, closes = self._classes[best].occurrence(indices[best])
            indices[best] += 1
            if closes > start:
                yield opens, closes

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
packing them greedily from the start into that union, which `packed_end` does.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial

from patching.scheduling import Job, SchedulingFault, batch_cap, set_cap
from patching.windowclass import WindowClass


@dataclass(frozen=True, slots=True)
class Chain:
    """`length` slots that must not overlap, each in a window of one of `classes`."""

    classes: frozenset[int]
    length: int


def region_chains(
    jobs: Sequence[Job], batch_sizes: dict[str, int], set_sizes: dict[str, int]
) -> list[Chain]:
    """The chains the rules impose on one region's jobs, de-duplicated.

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
    chains = {Chain(frozenset({job.window_class}), 1) for job in jobs}
    for sub, members in by_sub.items():
        chains |= _chains_of(members, partial(_batch_rounds, cap=batch_cap(batch_sizes[sub])))
    for set_key, members in by_set.items():
        chains |= _chains_of(members, partial(_set_rounds, cap=set_cap(set_sizes[set_key])))
    if zonal:
        chains |= _chains_of(zonal, partial(_zone_rounds, batch_sizes=batch_sizes))
    return _dominant(chains)


def _chains_of(members: Sequence[Job], rounds: Callable[[Sequence[Job]], int]) -> set[Chain]:
    """The chain of the members, and of the members of each few of its window classes."""
    by_class: dict[int, list[Job]] = defaultdict(list)
    for job in members:
        by_class[job.window_class].append(job)
    classes = sorted(by_class)
    if len(classes) <= _ALL_SUBSETS_UP_TO:
        subsets = [
            combination
            for size in range(1, len(classes) + 1)
            for combination in itertools.combinations(classes, size)
        ]
    else:
        subsets = [(c,) for c in classes] + [tuple(o for o in classes if o != c) for c in classes]
        subsets.append(tuple(classes))
    return {
        Chain(frozenset(subset), rounds([job for c in subset for job in by_class[c]]))
        for subset in subsets
    }


# A group's window classes are few; beyond this many, only single classes, all but one,
# and all of them are tried.
_ALL_SUBSETS_UP_TO = 5


def _batch_rounds(members: Sequence[Job], *, cap: int) -> int:
    return -(-len(members) // cap)


def _set_rounds(members: Sequence[Job], *, cap: int) -> int:
    """Update domains never overlap; each needs ceil(u / cap) rounds of its own."""
    domains: dict[int, int] = defaultdict(int)
    for job in members:
        domains[job.update_domain] += 1
    return sum(-(-count // cap) for count in domains.values())


def _zone_rounds(members: Sequence[Job], *, batch_sizes: dict[str, int]) -> int:
    """Zones never overlap; a zone needs, in its busiest subscription, ceil(n / cap) rounds."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for job in members:
        assert job.zone is not None
        counts[job.zone][job.subscription] += 1
    return sum(
        max(-(-n // batch_cap(batch_sizes[sub])) for sub, n in subs.items())
        for subs in counts.values()
    )


def _dominant(chains: set[Chain]) -> list[Chain]:
    """Keep, per set of classes, only the longest chain."""
    longest: dict[frozenset[int], int] = {}
    for chain in chains:
        longest[chain.classes] = max(longest.get(chain.classes, 0), chain.length)
    return [Chain(classes, length) for classes, length in longest.items()]


class RegionBound:
    """Earliest possible finish of one region when it may start at a given minute."""

    def __init__(self, chains: list[Chain], classes: Sequence[WindowClass]) -> None:
        self._chains = chains
        self._classes = classes
        self._cache: dict[int, int] = {}

    def finish(self, start: int) -> int:
        cached = self._cache.get(start)
        if cached is None:
            cached = max(self.packed_end(chain, start) for chain in self._chains)
            self._cache[start] = cached
        return cached

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

    def _in_order(self, classes: frozenset[int], start: int) -> Iterator[tuple[int, int]]:
        """The classes' occurrences that end after `start`, by opening time."""
        indices = dict.fromkeys(classes, 0)
        while True:
            best = min(indices, key=lambda c: self._classes[c].occurrence(indices[c])[0])
            opens, closes = self._classes[best].occurrence(indices[best])
            indices[best] += 1
            if closes > start:
                yield opens, closes

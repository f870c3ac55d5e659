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

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from patching.scheduling import Job, batch_cap, set_cap
from patching.windowclass import WindowClass


@dataclass(frozen=True, slots=True)
class Chain:
    """`length` slots that must not overlap, each in a window of one of `classes`."""

    classes: frozenset[int]
    length: int


def region_chains(
    jobs: Sequence[Job], batch_sizes: dict[str, int], set_sizes: dict[str, int]
) -> list[Chain]:
    """The chains the rules impose on one region's jobs, de-duplicated."""
    by_class: set[int] = set()
    by_sub: dict[str, list[Job]] = defaultdict(list)
    by_set_domain: dict[str, dict[int, list[Job]]] = defaultdict(lambda: defaultdict(list))
    by_zone_sub: dict[str, dict[str, list[Job]]] = defaultdict(lambda: defaultdict(list))
    for job in jobs:
        by_class.add(job.window_class)
        by_sub[job.subscription].append(job)
        if job.set_key is not None:
            by_set_domain[job.set_key][job.update_domain].append(job)
        if job.zone is not None:
            by_zone_sub[job.zone][job.subscription].append(job)
    chains = {Chain(frozenset({c}), 1) for c in by_class}
    for sub, members in by_sub.items():
        cap = batch_cap(batch_sizes[sub])
        chains.add(Chain(_classes(members), -(-len(members) // cap)))
    for set_key, domains in by_set_domain.items():
        cap = set_cap(set_sizes[set_key])
        length = sum(-(-len(members) // cap) for members in domains.values())
        chains.add(Chain(_classes(j for m in domains.values() for j in m), length))
    if by_zone_sub:
        length = sum(
            max(-(-len(members) // batch_cap(batch_sizes[sub])) for sub, members in subs.items())
            for subs in by_zone_sub.values()
        )
        zonal = (j for subs in by_zone_sub.values() for m in subs.values() for j in m)
        chains.add(Chain(_classes(zonal), length))
    return _dominant(chains)


def _classes(jobs: Iterable[Job]) -> frozenset[int]:
    return frozenset(job.window_class for job in jobs)


def _dominant(chains: set[Chain]) -> list[Chain]:
    """Keep, per set of classes, only the longest chain."""
    longest: dict[frozenset[int], int] = {}
    for chain in chains:
        longest[chain.classes] = max(longest.get(chain.classes, 0), chain.length)
    return [Chain(classes, length) for classes, length in longest.items()]


class RegionBound:
    """Earliest possible finish of one region when it may start at a given minute."""

    def __init__(self, chains: list[Chain], classes: Sequence[WindowClass], slot: int) -> None:
        self._chains = chains
        self._classes = classes
        self._slot = slot
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
        remaining = chain.length
        cursor = start
        span_end = start
        for opens, closes in self._in_order(chain.classes, start):
            if opens > span_end:
                cursor = max(cursor, opens)
            span_end = max(span_end, closes)
            take = min(max(0, (span_end - cursor) // self._slot), remaining)
            cursor += take * self._slot
            remaining -= take
            if remaining == 0:
                return cursor
        raise AssertionError("window occurrences are unbounded")

    def _in_order(self, classes: frozenset[int], start: int) -> Iterator[tuple[int, int]]:
        """The classes' occurrences that end after `start`, by opening time."""
        indices = dict.fromkeys(classes, 0)
        while True:
            best = min(indices, key=lambda c: self._classes[c].occurrence(indices[c])[0])
            opens, closes = self._classes[best].occurrence(indices[best])
            indices[best] += 1
            if closes > start:
                yield opens, closes

"""The chains of the lower bound with slots of mixed lengths (docs/PLANNER.md section 5)."""

from __future__ import annotations

from patching.bounds import Chain, region_chains
from patching.scheduling import Job

SLOTS = [30, 90]  # class 0: hotpatch slots, class 1: install slots


def _job(index: int, window_class: int, *, zone: str | None = None, domain: int = 0) -> Job:
    set_key = "as" if domain else None
    return Job(index, "s", zone, set_key, domain, window_class)


def _by_classes(chains: list[Chain]) -> dict[frozenset[int], tuple[int, int]]:
    return {chain.classes: (chain.length, chain.work) for chain in chains}


def test_a_lane_lasts_at_least_as_long_as_its_shortest_slots() -> None:
    # 10 VMs in one subscription, 2 at once: a lane holds 5 of them, at least the 5 short ones
    # (150 minutes); but 5 x 30 + 5 x 90 minutes of slots, 2 at a time, run at least 300.
    jobs = [_job(i, 0 if i < 5 else 1) for i in range(10)]
    chains = _by_classes(region_chains(jobs, {"s": 10}, {}, SLOTS))
    assert chains[frozenset({0, 1})] == (5, (5 * 30 + 5 * 90) // 2)
    # The long ones alone: 3 on a lane, 270 minutes.
    assert chains[frozenset({1})] == (3, 3 * 90)


def test_update_domains_add_up_their_own_lanes() -> None:
    # A set of 4 (one at a time) over two domains: every slot runs alone, 2 x 30 + 2 x 90.
    jobs = [_job(i, c, domain=1 + i % 2) for i, c in enumerate([0, 0, 1, 1])]
    chains = _by_classes(region_chains(jobs, {"s": 4}, {"as": 4}, SLOTS))
    assert chains[frozenset({0, 1})] == (4, 2 * 30 + 2 * 90)


def test_zones_take_each_zones_busiest_lane() -> None:
    # Zone 1 holds two short slots, zone 2 one long one; one subscription of 3, one at a time.
    jobs = [_job(0, 0, zone="1"), _job(1, 0, zone="1"), _job(2, 1, zone="2")]
    chains = _by_classes(region_chains(jobs, {"s": 3}, {}, SLOTS))
    assert chains[frozenset({0, 1})] == (3, 2 * 30 + 90)

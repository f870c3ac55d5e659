"""The phase-level bound searches every ordered split of the regions into phases."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from patching.phasing import lower_bound, rank_layouts

REGIONS = ["r0", "r1", "r2", "r3", "r4"]


def _ordered_splits(regions: list[str]):
    """Every ordered partition of `regions` into non-empty phases (brute force)."""
    for labels in itertools.product(range(len(regions)), repeat=len(regions)):
        used = sorted(set(labels))
        if used != list(range(len(used))):
            continue
        yield [[r for r, label in zip(regions, labels, strict=True) if label == k] for k in used]


@st.composite
def problems(draw):
    count = draw(st.integers(2, 5))
    regions = REGIONS[:count]
    sizes = {r: draw(st.integers(1, 4)) for r in regions}
    graph: dict[str, set[str]] = {r: set() for r in regions}
    for a, b in itertools.combinations(regions, 2):
        if draw(st.booleans()):
            graph[a].add(b)
            graph[b].add(a)
    # Each region works `length` minutes, but only starts on the next multiple of `period`:
    # monotone in the start, as the planner's region bounds are.
    shapes = {r: (draw(st.integers(1, 300)), draw(st.integers(1, 240))) for r in regions}
    gate = draw(st.integers(0, 60))
    return sizes, graph, shapes, gate


@settings(max_examples=200, deadline=None)
@given(problems())
def test_the_bound_is_the_soonest_end_over_every_valid_split(problem) -> None:
    sizes, graph, shapes, gate = problem

    def finish(region: str, start: int) -> int:
        length, period = shapes[region]
        return -(-start // period) * period + length

    smallest = min(sizes.values())
    best = None
    for canary in (r for r in sizes if sizes[r] == smallest):
        rest = [r for r in sizes if r != canary]
        for split in _ordered_splits(rest):
            if any(b in graph[a] for phase in split for a in phase for b in phase):
                continue
            end = finish(canary, 0)
            for phase in split:
                end = max(finish(r, end + gate) for r in phase)
            best = end if best is None else min(best, end)
    assert best is not None
    assert lower_bound(sizes, graph, finish, 0, gate) == best
    # Whatever layout the planner ranks first is one of those splits, so never sooner.
    layout = rank_layouts(sizes, graph, finish, 0, gate)[0]
    end = 0
    for index, phase in enumerate(layout):
        end = max(finish(r, end + (gate if index else 0)) for r in phase)
    assert end >= best

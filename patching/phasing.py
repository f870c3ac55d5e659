"""Phases across regions: a small canary region alone first, then the rest with
geo-pairs apart, ordered to finish soonest; and the bound every such order obeys.

`finish(region, start)` is the earliest a region can finish when it may start at
`start` (minutes); phases are compared through it, so choosing an order costs a
few bound evaluations, not full schedules.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence

Finish = Callable[[str, int], int]

_EXHAUSTIVE_LIMIT = 512


def canary_candidates(sizes: Mapping[str, int]) -> list[str]:
    """The canary is a region with the fewest enrolled VMs (the smallest blast radius)."""
    smallest = min(sizes.values())
    return sorted(region for region, size in sizes.items() if size == smallest)


Layout = list[tuple[str, ...]]


def rank_layouts(
    sizes: Mapping[str, int],
    graph: Mapping[str, set[str]],
    finish: Finish,
    start: int,
    gate: int,
) -> list[Layout]:
    """Ways to group the regions into ordered phases (the canary alone first), most promising
    first by the regions' bounds; the caller may schedule the first few for real."""
    if not sizes:
        return [[]]
    if len(sizes) == 1:
        return [[tuple(sizes)]]
    ranked: list[tuple[int, Layout]] = []
    for canary in canary_candidates(sizes):
        rest = sorted(region for region in sizes if region != canary)
        layouts = _layouts(canary, rest, graph, finish, start, gate)
        if len(rest) <= _SEARCH_ALL_SPLITS_UP_TO:
            after = finish(canary, start) + gate
            layouts.append([(canary,), *_soonest_split(rest, graph, finish, after, gate)[1]])
        for layout in layouts:
            ranked.append((_layout_end(layout, finish, start, gate), layout))
    ranked.sort(key=lambda item: item[0])
    unique: list[Layout] = []
    for _, layout in ranked:
        if layout not in unique:
            unique.append(layout)
    return unique


def lower_bound(
    sizes: Mapping[str, int],
    graph: Mapping[str, set[str]],
    finish: Finish,
    start: int,
    gate: int,
) -> int:
    """No plan with a canary first and pairs in different phases ends sooner than this.

    With few regions every ordered split into phases is searched; with many, each region
    waits for the canary and, of each pair, one waits for the other.
    """
    if not sizes:
        return start
    if len(sizes) == 1:
        return finish(next(iter(sizes)), start)
    bounds = []
    for canary in canary_candidates(sizes):
        after = finish(canary, start) + gate
        rest = sorted(region for region in sizes if region != canary)
        if len(rest) <= _SEARCH_ALL_SPLITS_UP_TO:
            bounds.append(_soonest_split(rest, graph, finish, after, gate)[0])
            continue
        bound = max(finish(region, after) for region in rest)
        edges = [edge for edge in _edges(graph) if canary not in edge]
        for a, b in edges:
            a_first = finish(b, finish(a, after) + gate)
            b_first = finish(a, finish(b, after) + gate)
            bound = max(bound, min(a_first, b_first))
        bounds.append(max(bound, _pairs_bound(edges, graph, finish, after, gate)))
    return min(bounds)


# With many regions, the soonest split of the regions of every few pairs bounds the whole:
# any plan, seen through those regions alone, is one of their splits, none opening sooner.
_PAIRS_TOGETHER = 2


def _pairs_bound(
    edges: list[tuple[str, str]],
    graph: Mapping[str, set[str]],
    finish: Finish,
    opens: int,
    gate: int,
) -> int:
    """The latest soonest end over the splits of the regions of every few pairs: one phase
    holds one end of each pair, so a pair whose regions are both quick in their own order may
    still wait for another pair's slower region (a pair alone cannot see that)."""
    best = opens
    for size in range(2, _PAIRS_TOGETHER + 1):
        for group in itertools.combinations(edges, size):
            regions = sorted({region for edge in group for region in edge})
            if len(regions) <= _SEARCH_ALL_SPLITS_UP_TO:
                best = max(best, _soonest_split(regions, graph, finish, opens, gate)[0])
    return best


# Every ordered split of n regions costs 3^n steps: cheap up to about ten regions.
_SEARCH_ALL_SPLITS_UP_TO = 9


def _soonest_split(
    regions: list[str], graph: Mapping[str, set[str]], finish: Finish, opens: int, gate: int
) -> tuple[int, Layout]:
    """The soonest end, by the regions' bounds, over every ordered split of `regions` into
    phases that keep pairs apart, the first opening at `opens`; and that split.

    `finish` never decreases with the start, so the soonest end of each set of finished
    regions is all a later phase depends on: a search over sets, not over sequences.
    """
    conflicts = [
        sum(1 << j for j, other in enumerate(regions) if other in graph.get(region, ()))
        for region in regions
    ]
    everything = (1 << len(regions)) - 1
    # finished set -> (its soonest end, the set before, the phase that finished it)
    soonest: dict[int, tuple[int, int, int]] = {0: (opens - gate, 0, 0)}
    for done in range(everything + 1):
        if done not in soonest:
            continue
        phase_opens = soonest[done][0] + gate
        left = everything & ~done
        phase = left
        while phase:
            members = [i for i in range(len(regions)) if phase >> i & 1]
            if all(not conflicts[i] & phase for i in members):
                end = max(finish(regions[i], phase_opens) for i in members)
                after = done | phase
                if after not in soonest or end < soonest[after][0]:
                    soonest[after] = (end, done, phase)
            phase = (phase - 1) & left
    phases: Layout = []
    done = everything
    while done:
        _, before, phase = soonest[done]
        phases.append(tuple(regions[i] for i in range(len(regions)) if phase >> i & 1))
        done = before
    return soonest[everything][0], phases[::-1]


def _edges(graph: Mapping[str, set[str]]) -> list[tuple[str, str]]:
    return sorted({(a, b) if a < b else (b, a) for a, ends in graph.items() for b in ends})


def _layout_end(layout: Sequence[tuple[str, ...]], finish: Finish, start: int, gate: int) -> int:
    end = start
    for index, regions in enumerate(layout):
        opens = start if index == 0 else end + gate
        end = max(finish(region, opens) for region in regions)
    return end


def _layouts(
    canary: str,
    rest: list[str],
    graph: Mapping[str, set[str]],
    finish: Finish,
    start: int,
    gate: int,
) -> list[Layout]:
    """Every grouping when there are few; otherwise one found by local search on the bounds."""
    components = _components(rest, graph)
    colourings = [_colourings(component, graph) for component in components]
    depth = max((max(c.values()) + 1 for options in colourings for c in options), default=1)
    # A lone region may go in any phase; a pair's two ends fill the first two.
    options: list[list[dict[str, int]]] = []
    for component, component_options in zip(components, colourings, strict=True):
        if len(component) == 1:
            options.append([{component[0]: phase} for phase in range(depth)])
        else:
            options.append(component_options)

    def layout_of(choice: Sequence[dict[str, int]]) -> Layout:
        phases: list[list[str]] = [[] for _ in range(depth)]
        for assignment in choice:
            for region, phase in assignment.items():
                phases[phase].append(region)
        return [(canary,)] + [tuple(sorted(p)) for p in phases if p]

    def cost(choice: Sequence[dict[str, int]]) -> int:
        return _layout_end(layout_of(choice), finish, start, gate)

    combinations = 1
    for component_options in options:
        combinations *= len(component_options)
    if combinations <= _EXHAUSTIVE_LIMIT:
        return [layout_of(choice) for choice in itertools.product(*options)]
    choice = [component_options[0] for component_options in options]
    improved = True
    while improved:
        improved = False
        for index, component_options in enumerate(options):
            current = cost(choice)
            for option in component_options:
                trial = [*choice[:index], option, *choice[index + 1 :]]
                if cost(trial) < current:
                    choice, current, improved = trial, cost(trial), True
    return [layout_of(choice)]


def _components(regions: list[str], graph: Mapping[str, set[str]]) -> list[list[str]]:
    remaining = set(regions)
    components: list[list[str]] = []
    for seed in regions:
        if seed not in remaining:
            continue
        stack, members = [seed], []
        remaining.discard(seed)
        while stack:
            region = stack.pop()
            members.append(region)
            for other in sorted(graph.get(region, ())):
                if other in remaining:
                    remaining.discard(other)
                    stack.append(other)
        components.append(sorted(members))
    return components


def _colourings(component: list[str], graph: Mapping[str, set[str]]) -> list[dict[str, int]]:
    """Both orientations of a two-colourable component; a greedy colouring otherwise."""
    members = set(component)
    colour: dict[str, int] = {component[0]: 0}
    stack = [component[0]]
    bipartite = True
    while stack and bipartite:
        region = stack.pop()
        for other in graph.get(region, set()) & members:
            if other not in colour:
                colour[other] = 1 - colour[region]
                stack.append(other)
            elif colour[other] == colour[region]:
                bipartite = False
    if bipartite:
        return [colour, {region: 1 - c for region, c in colour.items()}]
    greedy: dict[str, int] = {}
    for region in sorted(component, key=lambda r: (-len(graph.get(r, set()) & members), r)):
        taken = {greedy[o] for o in graph.get(region, set()) & members if o in greedy}
        greedy[region] = next(c for c in itertools.count() if c not in taken)
    return [greedy]

"""Fan-out groups and slot batches: the tree that keeps every rollout history small."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rollout_strategies import RELEASE, assignment, fleets_with_plans, plan_of, target

from patching.calendar import make_cycle
from patching.fanout import (
    HISTORY_EVENTS_LIMIT,
    FanoutError,
    batches_within,
    events_per_batch,
    group_assignments,
    history_events,
    slot_batches,
)
from patching.fleet import parse_fleet
from patching.planner import plan_cycle

EXAMPLE_FLEET = Path(__file__).parents[1] / "domain" / "data" / "fleet-small.json"
SAFE_ID = re.compile(r"p\d+-r\d+-g\d{2,}")


@settings(max_examples=80, deadline=None)
@given(fleets_with_plans(), st.integers(1, 120), st.integers(1, 20))
def test_groups_partition_the_plan_within_their_caps(fleet_plan, max_vms, max_batches):
    vms, plan = fleet_plan
    groups = group_assignments(plan, vms, max_vms=max_vms, max_batches=max_batches)
    by_key = {vm.key: vm for vm in vms}
    grouped = Counter(a for g in groups for a in g.assignments)
    assert grouped == Counter(plan.assignments)
    assert len({g.id for g in groups}) == len(groups)
    for group in groups:
        assert SAFE_ID.fullmatch(group.id)
        assert group.id.startswith(f"p{group.phase}-")
        assert 1 <= len(group.assignments) <= max_vms
        assert len(slot_batches(group)) <= max_batches
        members = [by_key[a.vm.lower()] for a in group.assignments]
        assert {a.phase for a in group.assignments} == {group.phase}
        assert {(vm.subscription_id, vm.region) for vm in members} == {
            (group.subscription, group.region)
        }
        order = [(a.start, a.vm.lower()) for a in group.assignments]
        assert order == sorted(order)
    firsts = [(g.phase, g.assignments[0].start, g.id) for g in groups]
    assert firsts == sorted(firsts)
    # A lane opens another group only when no earlier one of the lane could take the slot:
    # full of VMs or of starts, or still busy with a slot that overlaps it.
    by_id = {g.id: g for g in groups}
    for group in groups:
        lane, n = group.id.rsplit("-g", 1)
        first = group.assignments[0]
        for earlier in range(int(n)):
            before = by_id[f"{lane}-g{earlier:02d}"]
            held = [a for a in before.assignments if (a.start, a.vm.lower()) < _order(first)]
            starts = {a.start for a in held}
            assert (
                len(held) == max_vms
                or (first.start not in starts and len(starts) == max_batches)
                or (first.start not in starts and first.start < max(a.end for a in held))
            )


def _order(assignment):
    return assignment.start, assignment.vm.lower()


@settings(max_examples=80, deadline=None)
@given(fleets_with_plans(), st.integers(1, 120), st.integers(1, 20))
def test_a_groups_batches_never_overlap_so_each_starts_on_time(fleet_plan, max_vms, max_batches):
    """The group's orchestrator runs its batches one after another: a batch may start only
    once every slot of the earlier ones has ended."""
    vms, plan = fleet_plan
    for group in group_assignments(plan, vms, max_vms=max_vms, max_batches=max_batches):
        batches = slot_batches(group)
        for earlier, later in pairwise(batches):
            assert later.start >= max(earlier.ends)


def test_overlapping_slots_of_one_lane_go_to_groups_that_run_side_by_side():
    vms = [target("sub-a", "eastus", f"vm{i}") for i in range(4)]
    # Slots of 90 minutes starting 0, 30, 90 and 120 minutes in.
    plan = plan_of(
        [assignment(vm, 0, start) for vm, start in zip(vms, (0, 30, 90, 120), strict=True)]
    )
    groups = group_assignments(plan, vms)
    assert [(g.id, [vm.rsplit("/", 1)[1] for vm in g.vms]) for g in groups] == [
        ("p0-r0-g00", ["vm0", "vm2"]),
        ("p0-r0-g01", ["vm1", "vm3"]),
    ]


@settings(max_examples=40, deadline=None)
@given(fleets_with_plans(max_vms=120), st.randoms(use_true_random=False))
def test_groups_do_not_depend_on_the_order_of_plan_or_targets(fleet_plan, rng):
    vms, plan = fleet_plan
    shuffled_vms = list(vms)
    shuffled_slots = list(plan.assignments)
    rng.shuffle(shuffled_vms)
    rng.shuffle(shuffled_slots)
    assert group_assignments(plan, vms) == group_assignments(plan_of(shuffled_slots), shuffled_vms)


@settings(max_examples=80, deadline=None)
@given(fleets_with_plans())
def test_batches_cover_a_group_once_each_with_one_start_in_order(fleet_plan):
    vms, plan = fleet_plan
    for group in group_assignments(plan, vms):
        batches = slot_batches(group)
        starts = [b.start for b in batches]
        assert starts == sorted(set(starts))
        by_vm = {a.vm: a for a in group.assignments}
        assert sorted(vm for b in batches for vm in b.vms) == sorted(by_vm)
        for batch in batches:
            assert len(batch.vms) == len(batch.ends)
            for vm, end in zip(batch.vms, batch.ends, strict=True):
                assert (by_vm[vm].start, by_vm[vm].end) == (batch.start, end)


@settings(max_examples=80, deadline=None)
@given(fleets_with_plans(), st.integers(0, 30))
def test_a_group_sized_by_batches_within_stays_under_the_history_limit(fleet_plan, polls):
    vms, plan = fleet_plan
    cap = batches_within(polls)
    assert history_events(cap, polls) <= HISTORY_EVENTS_LIMIT < history_events(cap + 1, polls)
    for group in group_assignments(plan, vms, max_batches=cap):
        assert history_events(len(slot_batches(group)), polls) <= HISTORY_EVENTS_LIMIT


def test_the_history_arithmetic_counts_each_wake_up():
    # Per batch: slot timer 2, start 2, health 2, record 2, and 4 per poll round (timer and
    # check); each of the 4 + 2 x polls completions adds an OrchestratorStarted/Completed pair.
    assert events_per_batch(0) == 16
    assert events_per_batch(12) == 112
    assert batches_within(12) == 17
    assert history_events(17, 12) == 1908 <= HISTORY_EVENTS_LIMIT < history_events(18, 12)


def test_groups_split_by_phase_subscription_region_and_cap_with_exact_ids():
    a1, a2, a3 = (target("sub-a", "eastus", f"a{i}") for i in range(3))
    b1 = target("sub-b", "eastus", "b1")
    w1 = target("sub-a", "westus", "w1")
    plan = plan_of(
        [
            assignment(a1, 0, 0),
            assignment(a2, 0, 0),
            assignment(a3, 0, 90),
            assignment(b1, 0, 30),
            assignment(w1, 1, 300),
        ]
    )
    groups = group_assignments(plan, [a1, a2, a3, b1, w1], max_vms=2)
    assert [(g.id, [vm.rsplit("/", 1)[1] for vm in g.vms]) for g in groups] == [
        ("p0-r0-g00", ["a0", "a1"]),
        ("p0-r1-g00", ["b1"]),
        ("p0-r0-g01", ["a2"]),
        ("p1-r0-g00", ["w1"]),
    ]
    batches = slot_batches(groups[0])
    assert [(b.start, b.vms) for b in batches] == [(RELEASE, (a1.id, a2.id))]
    assert batches[0].ends == (RELEASE + timedelta(minutes=90),) * 2


def test_a_new_start_past_the_batch_cap_opens_a_new_group():
    vms = [target("sub-a", "eastus", f"vm{i}") for i in range(4)]
    plan = plan_of([assignment(vm, 0, 60 * (i // 2)) for i, vm in enumerate(vms)])
    groups = group_assignments(plan, vms, max_batches=1)
    assert [len(g.assignments) for g in groups] == [2, 2]
    assert [g.id for g in groups] == ["p0-r0-g00", "p0-r0-g01"]


def test_an_assignment_of_an_unknown_vm_is_refused_by_name():
    vm = target("sub-a", "eastus", "known")
    stranger = target("sub-a", "eastus", "stranger")
    with pytest.raises(FanoutError, match="stranger: no such VM among the targets"):
        group_assignments(plan_of([assignment(stranger, 0, 0)]), [vm])
    with pytest.raises(FanoutError, match="max_vms 0"):
        group_assignments(plan_of([]), [vm], max_vms=0)


def test_a_real_plan_of_the_example_fleet_groups_by_its_lanes():
    fleet = parse_fleet(json.loads(EXAMPLE_FLEET.read_text()))
    plan = plan_cycle(fleet, make_cycle("2026-12"))
    groups = group_assignments(plan, fleet.vms, max_vms=3)
    assert Counter(a for g in groups for a in g.assignments) == Counter(plan.assignments)
    lanes = {
        (a.phase, vm.region, vm.subscription_id)
        for a in plan.assignments
        for vm in fleet.vms
        if vm.key == a.vm.lower()
    }
    assert {(g.phase, g.region, g.subscription) for g in groups} == lanes

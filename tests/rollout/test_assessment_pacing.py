"""Which VMs the periodic assessment takes, and the pace that keeps it under the compute limit."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rollout_strategies import REGIONS, RELEASE, SUBSCRIPTIONS, target

from patching.assessment import (
    GROUP_VMS,
    MINUTE,
    PacingError,
    due_for_assessment,
    pace_operations,
)
from patching.models import PowerState

NOW = RELEASE
INTERVAL = timedelta(hours=72)


@st.composite
def fleets_with_history(draw: st.DrawFn, max_vms: int = 60):
    count = draw(st.integers(0, max_vms))
    rng = draw(st.randoms(use_true_random=False))
    vms, last = [], {}
    for i in range(count):
        vm = target(
            rng.choice(SUBSCRIPTIONS),
            rng.choice(REGIONS),
            f"vm-{i:03d}",
            power_state=rng.choice(
                [PowerState.RUNNING] * 3 + [PowerState.DEALLOCATED, PowerState.STOPPED]
            ),
        )
        vms.append(vm)
        if rng.random() < 0.8:
            last[vm.key] = NOW - timedelta(hours=rng.randrange(0, 200))
    return vms, last


@settings(max_examples=60, deadline=None)
@given(fleets_with_history())
def test_due_are_the_running_stale_vms_never_assessed_first_then_oldest(fleet):
    vms, last = fleet
    result = due_for_assessment(vms, last, now=NOW, interval=INTERVAL)
    stale = {vm.key for vm in vms if vm.key not in last or NOW - last[vm.key] >= INTERVAL}
    running = {vm.key for vm in vms if vm.power_state is PowerState.RUNNING}
    assert [vm.key for vm in result.due] == sorted(
        (vm.key for vm in vms if vm.key in stale & running),
        key=lambda k: (k in last, last.get(k, NOW), k),
    )
    by_key = {vm.key: vm for vm in vms}
    assert sorted(s.vm.lower() for s in result.skipped_off) == sorted(stale - running)
    # The next due is the first moment a VM not due now will be: nothing is due before it.
    not_yet = [last[vm.key] + INTERVAL for vm in vms if vm.key not in stale]
    assert result.next_due == (min(not_yet) if not_yet else None)
    assert result.next_due is None or result.next_due > NOW
    for skip in result.skipped_off:
        assert (
            skip.reason
            == f"not assessed: power state is {by_key[skip.vm.lower()].power_state.value}"
        )


def test_an_off_vm_becomes_due_once_seen_running():
    off = target("sub-a", "eastus", "sleepy", power_state=PowerState.DEALLOCATED)
    last = {off.key: NOW - timedelta(hours=100)}
    first = due_for_assessment([off], last, now=NOW, interval=INTERVAL)
    assert (first.due, [s.vm for s in first.skipped_off]) == ((), [off.id])
    woken = target("sub-a", "eastus", "sleepy")
    later = due_for_assessment([woken], last, now=NOW + timedelta(hours=1), interval=INTERVAL)
    assert (later.due, later.skipped_off) == ((woken,), ())


def test_exact_order_and_boundary():
    never = target("sub-a", "eastus", "zz-never")
    old = target("sub-a", "eastus", "aa-old")
    older = target("sub-a", "eastus", "mm-older")
    fresh = target("sub-a", "eastus", "fresh")
    exactly = target("sub-a", "eastus", "exactly")
    last = {
        old.key: NOW - timedelta(hours=80),
        older.key: NOW - timedelta(hours=90),
        fresh.key: NOW - timedelta(hours=71, minutes=59),
        exactly.key: NOW - INTERVAL,
    }
    result = due_for_assessment(
        [old, fresh, older, exactly, never], last, now=NOW, interval=INTERVAL
    )
    assert [vm.name for vm in result.due] == ["zz-never", "mm-older", "aa-old", "exactly"]
    assert result.next_due == NOW + timedelta(minutes=1)


def lanes_of(waves):
    lanes = defaultdict(list)
    for wave in waves:
        lanes[(wave.subscription, wave.region)].append(wave)
    return lanes


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 900),
    st.integers(1, 300),
    st.integers(1, 700),
    st.data(),
)
def test_paced_waves_cover_every_vm_once_within_the_limit(count, per_minute, burst, data):
    reserved = data.draw(st.integers(0, per_minute - 1))
    rng = data.draw(st.randoms(use_true_random=False))
    due = [
        target(rng.choice(SUBSCRIPTIONS[:2]), rng.choice(REGIONS[:2]), f"vm-{i:04d}")
        for i in range(count)
    ]
    waves = pace_operations(due, now=NOW, per_minute=per_minute, burst=burst, reserved=reserved)
    assert Counter(vm for w in waves for vm in w.vms) == Counter(vm.id for vm in due)
    assert [(w.start, w.subscription, w.region) for w in waves] == sorted(
        (w.start, w.subscription, w.region) for w in waves
    )
    by_id = {vm.id: vm for vm in due}
    for (subscription, region), lane in lanes_of(waves).items():
        in_lane = [vm.id for vm in due if (vm.subscription_id, vm.region) == (subscription, region)]
        assert [vm for w in lane for vm in w.vms] == in_lane
        assert len({w.start for w in lane}) == len(lane)
        for wave in lane:
            assert wave.start >= NOW
            assert 1 <= len(wave.vms) <= min(GROUP_VMS, burst)
            assert {(by_id[vm].subscription_id, by_id[vm].region) for vm in wave.vms} == {
                (subscription, region)
            }
            window = sum(len(w.vms) for w in lane if wave.start <= w.start < wave.start + MINUTE)
            assert window <= per_minute - reserved


def test_exact_waves_at_the_azure_limit_with_installs_reserved():
    due = [target("sub-a", "eastus", f"vm-{i:03d}") for i in range(450)]
    waves = pace_operations(due, now=NOW, reserved=50)
    # 150 a minute in two waves of at most 100, half a minute apart.
    assert [(w.start - NOW, len(w.vms)) for w in waves] == [
        (timedelta(0), 100),
        (timedelta(seconds=30), 50),
        (timedelta(minutes=1), 100),
        (timedelta(minutes=1, seconds=30), 50),
        (timedelta(minutes=2), 100),
        (timedelta(minutes=2, seconds=30), 50),
    ]


def test_lanes_run_side_by_side():
    due = [
        target("sub-a", "eastus", "a"),
        target("sub-b", "eastus", "b"),
        target("sub-a", "westus", "c"),
    ]
    waves = pace_operations(due, now=NOW)
    assert [(w.start, w.subscription, w.region) for w in waves] == [
        (NOW, "sub-a", "eastus"),
        (NOW, "sub-a", "westus"),
        (NOW, "sub-b", "eastus"),
    ]


def test_rates_that_leave_no_room_are_refused():
    with pytest.raises(PacingError, match="reserved 200"):
        pace_operations([], now=NOW, reserved=200)
    with pytest.raises(PacingError, match="burst 0"):
        pace_operations([], now=NOW, burst=0)
    with pytest.raises(PacingError, match="interval 0:00:00 must be positive"):
        due_for_assessment([], {}, now=NOW, interval=timedelta(0))

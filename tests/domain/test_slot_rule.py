"""A VM's slot is sized to its work, inside Azure's limits (docs/PLANNER.md section 1)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patching.models import OsType, PatchMode, ReleaseKind, Skip, VmTarget
from patching.slots import (
    learned_install_minutes,
    short_window_reason,
    short_window_skips,
    slot_minutes,
)
from patching.windows import OffPeakWindow

VM_ID = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-1"
NIGHT = OffPeakWindow.parse("22:00-06:00")


def vm(
    *, expected: int | None = None, hotpatch: bool = False, os_type: OsType = OsType.WINDOWS
) -> VmTarget:
    return VmTarget(
        id=VM_ID,
        location="eastus",
        os_type=os_type,
        patch_mode=PatchMode.AUTOMATIC_BY_PLATFORM,
        enable_hotpatching=hotpatch,
        expected_install_minutes=expected,
    )


def slot(
    target: VmTarget,
    kind: ReleaseKind = ReleaseKind.PLANNED_BASELINE,
    window: OffPeakWindow = NIGHT,
    *,
    install: int = 90,
    hotpatch: int = 30,
) -> int | None:
    return slot_minutes(target, kind, window, install_slot=install, hotpatch_slot=hotpatch)


@pytest.mark.parametrize(
    ("expected", "minutes"),
    [
        (1, 30),  # 11, rounded to 15, then Azure's shortest
        (20, 30),  # 30: the margin of 10 wins
        (40, 50),  # 50 either way
        (41, 55),  # 51.25 > 51, rounded up to 55
        (100, 125),  # the quarter wins
        (187, 235),  # 233.75 rounds to 235, the longest
        (200, 235),  # 250, cut to Update Manager's longest window
        (1440, 235),
    ],
)
def test_an_expected_duration_gets_a_margin_rounded_to_five_minutes(expected, minutes):
    assert slot(vm(expected=expected)) == minutes


def test_an_expected_duration_wins_over_the_hotpatch_slot():
    assert slot(vm(expected=100, hotpatch=True), ReleaseKind.HOTPATCH) == 125


@pytest.mark.parametrize(
    ("target", "kind", "minutes"),
    [
        (vm(hotpatch=True), ReleaseKind.HOTPATCH, 30),
        (vm(hotpatch=True), ReleaseKind.PLANNED_BASELINE, 90),
        (vm(hotpatch=True), ReleaseKind.UNPLANNED_BASELINE, 90),
        (vm(), ReleaseKind.HOTPATCH, 90),
        (vm(hotpatch=True, os_type=OsType.LINUX), ReleaseKind.HOTPATCH, 90),
    ],
)
def test_only_a_hotpatch_vm_in_a_hotpatch_month_gets_the_hotpatch_slot(target, kind, minutes):
    assert slot(target, kind) == minutes


def test_the_knobs_set_the_slots_without_history():
    assert slot(vm(hotpatch=True), ReleaseKind.HOTPATCH, hotpatch=45) == 45
    assert slot(vm(), install=120) == 120


@pytest.mark.parametrize(
    ("window", "minutes"),
    [
        ("22:00-06:00", 90),
        ("01:00-02:30", 90),
        ("01:00-01:45", 45),
        ("23:50-00:20", 30),
        ("23:50-00:10", None),
    ],
)
def test_the_slot_is_never_longer_than_the_window(window, minutes):
    assert slot(vm(), window=OffPeakWindow.parse(window)) == minutes


def test_a_window_under_thirty_minutes_is_a_skip_that_says_so():
    window = OffPeakWindow.parse("22:00-22:20")
    assert slot(vm(hotpatch=True), ReleaseKind.HOTPATCH, window) is None
    reason = short_window_reason(window)
    assert reason == "off-peak window 22:00-22:20 is 20 minutes; an install needs at least 30"
    skips = [Skip(VM_ID, reason), Skip(VM_ID, "patchMode is Manual, not AutomaticByPlatform")]
    assert short_window_skips(skips) == 1


windows = st.builds(
    lambda start, length: OffPeakWindow.parse(
        f"{start // 60:02d}:{start % 60:02d}-"
        f"{(start + length) % 1440 // 60:02d}:{(start + length) % 60:02d}"
    ),
    st.integers(0, 1439),
    st.integers(1, 1439),
)


@given(
    st.one_of(st.none(), st.integers(1, 1440)),
    st.booleans(),
    st.sampled_from(list(ReleaseKind)),
    windows,
    st.integers(30, 235),
    st.integers(30, 235),
)
def test_every_slot_keeps_azures_limits_and_its_window(
    expected, hotpatch, kind, window, install, hotpatch_slot
):
    target = vm(expected=expected, hotpatch=hotpatch)
    minutes = slot(target, kind, window, install=install, hotpatch=hotpatch_slot)
    if window.nominal_minutes < 30:
        assert minutes is None
        return
    assert minutes is not None
    assert 30 <= minutes <= min(235, window.nominal_minutes)
    if expected is not None and minutes < min(235, window.nominal_minutes):
        assert minutes >= expected + 10 and minutes >= expected * 1.25
        assert minutes % 5 == 0


@given(st.integers(1, 1439), windows)
def test_a_longer_expected_install_never_gets_a_shorter_slot(expected, window):
    assert (slot(vm(expected=expected), window=window) or 0) <= (
        slot(vm(expected=expected + 1), window=window) or 0
    )


def minutes(*values: float) -> list[timedelta]:
    return [timedelta(minutes=v) for v in values]


def test_no_history_learns_nothing():
    assert learned_install_minutes([], window_exceeded=False, previous_slot_minutes=None) is None
    assert learned_install_minutes([], window_exceeded=True, previous_slot_minutes=90) is None


@pytest.mark.parametrize(
    ("durations", "learned"),
    [
        (minutes(10.5), 11),  # rounded up to whole minutes
        (minutes(*range(1, 11)), 9),  # rank ceil(0.9 x 10) = 9
        (minutes(*range(11, 0, -1)), 10),  # rank ceil(0.9 x 11) = 10, in any order
        (minutes(*range(1, 21)), 18),
        (minutes(5, 5, 5, 60), 60),  # rank ceil(3.6) = 4: one slow install counts
        (minutes(0), 1),  # never under a minute
        (minutes(3000), 1440),  # never over a day
    ],
)
def test_the_learned_duration_is_the_90th_percentile_by_nearest_rank(durations, learned):
    assert (
        learned_install_minutes(durations, window_exceeded=False, previous_slot_minutes=90)
        == learned
    )


def test_an_exceeded_window_asks_for_half_as_much_again():
    history = minutes(40, 42, 45)
    assert learned_install_minutes(history, window_exceeded=True, previous_slot_minutes=90) == 135
    assert learned_install_minutes(history, window_exceeded=True, previous_slot_minutes=25) == 45
    assert learned_install_minutes(history, window_exceeded=True, previous_slot_minutes=None) == 45
    assert learned_install_minutes(history, window_exceeded=False, previous_slot_minutes=90) == 45


def test_a_negative_duration_is_refused():
    with pytest.raises(ValueError, match="negative"):
        learned_install_minutes(minutes(10, -1), window_exceeded=False, previous_slot_minutes=None)


durations = st.lists(st.integers(0, 600 * 60).map(lambda s: timedelta(seconds=s)), min_size=1)


@given(durations)
def test_at_least_nine_in_ten_recent_installs_fit_the_learned_duration(history):
    learned = learned_install_minutes(history, window_exceeded=False, previous_slot_minutes=None)
    assert learned is not None
    fits = sum(1 for d in history if d <= timedelta(minutes=learned))
    assert fits >= 0.9 * len(history)
    # and it is the shortest such whole number of minutes
    if learned > 1:
        shorter = sum(1 for d in history if d <= timedelta(minutes=learned - 1))
        assert shorter < 0.9 * len(history)


@given(durations, st.integers(30, 234))
def test_after_an_exceeded_window_the_next_slot_is_longer(history, previous):
    learned = learned_install_minutes(history, window_exceeded=True, previous_slot_minutes=previous)
    assert learned is not None
    following = slot(vm(expected=learned))
    assert following is not None and following > previous

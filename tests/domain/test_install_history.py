"""A VM's recent installs and the install duration its next plan expects of it
(docs/PLANNER.md section 1, `patching.install_history`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patching import defaults
from patching.install_history import (
    KEPT_PER_KIND,
    InstallKind,
    PastInstall,
    expected_install_minutes,
    install_kind,
    past_install,
    with_install,
)
from patching.models import OsType, PatchMode, ReleaseKind, VmTarget
from patching.slots import LONGEST_SLOT_MINUTES, slot_minutes
from patching.windows import OffPeakWindow

VM_ID = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-1"
# Eight hours: longer than the longest slot, so the window never cuts a slot here.
LONG_WINDOW = OffPeakWindow.parse("22:00-06:00")
FIRST_START = datetime(2026, 1, 13, 22, tzinfo=UTC)


def vm(
    *,
    os_type: OsType = OsType.WINDOWS,
    patch_mode: PatchMode = PatchMode.AUTOMATIC_BY_PLATFORM,
    hotpatch: bool = True,
    expected: int | None = None,
) -> VmTarget:
    return VmTarget(
        id=VM_ID,
        location="eastus",
        os_type=os_type,
        patch_mode=patch_mode,
        enable_hotpatching=hotpatch,
        expected_install_minutes=expected,
    )


def slot_for(expected: int | None) -> int | None:
    """The slot of a VM that expects `expected` minutes, in a baseline month, the defaults."""
    return slot_minutes(
        vm(hotpatch=False, expected=expected),
        ReleaseKind.PLANNED_BASELINE,
        LONG_WINDOW,
        install_slot=defaults.SLOT_MINUTES,
        hotpatch_slot=defaults.HOTPATCH_SLOT_MINUTES,
    )


def install(
    minutes: int,
    nth: int = 0,
    kind: InstallKind = InstallKind.FULL,
    *,
    ran_out: bool = False,
    slot: int | None = None,
) -> PastInstall:
    """The `nth` monthly install of `kind`, `minutes` long."""
    return PastInstall(kind, FIRST_START + timedelta(days=30 * nth), minutes, ran_out, slot)


def recorded(installs: Sequence[PastInstall]) -> tuple[PastInstall, ...]:
    history: tuple[PastInstall, ...] = ()
    for new in installs:
        history = with_install(history, new)
    return history


# install_kind


@pytest.mark.parametrize(
    ("target", "month", "kind"),
    [
        (vm(), ReleaseKind.HOTPATCH, InstallKind.HOTPATCH),
        (vm(), ReleaseKind.PLANNED_BASELINE, InstallKind.FULL),
        (vm(), ReleaseKind.UNPLANNED_BASELINE, InstallKind.FULL),
        (vm(os_type=OsType.LINUX), ReleaseKind.HOTPATCH, InstallKind.FULL),
        (vm(hotpatch=False), ReleaseKind.HOTPATCH, InstallKind.FULL),
        (vm(patch_mode=PatchMode.MANUAL), ReleaseKind.HOTPATCH, InstallKind.FULL),
        (vm(patch_mode=PatchMode.AUTOMATIC_BY_OS), ReleaseKind.HOTPATCH, InstallKind.FULL),
    ],
)
def test_only_a_hotpatch_enabled_vm_in_a_hotpatch_month_installs_a_hotpatch(
    target: VmTarget, month: ReleaseKind, kind: InstallKind
) -> None:
    assert install_kind(target, month) is kind


# past_install and PastInstall


@pytest.mark.parametrize(
    ("length", "minutes"),
    [
        (timedelta(0), 0),
        (timedelta(microseconds=1), 1),
        (timedelta(minutes=41), 41),
        (timedelta(minutes=41, seconds=1), 42),
        (timedelta(minutes=41, seconds=59), 42),
        (timedelta(hours=5), 300),
    ],
)
def test_an_installs_minutes_are_rounded_up(length: timedelta, minutes: int) -> None:
    done = past_install(
        InstallKind.FULL, FIRST_START, FIRST_START + length, ran_out=True, slot_minutes=90
    )
    assert done == PastInstall(InstallKind.FULL, FIRST_START, minutes, True, 90)


def test_an_install_that_ended_before_it_started_is_refused() -> None:
    with pytest.raises(ValueError, match="before it started"):
        past_install(
            InstallKind.HOTPATCH,
            FIRST_START,
            FIRST_START - timedelta(seconds=1),
            ran_out=False,
            slot_minutes=None,
        )


def test_a_past_install_needs_a_timezone_aware_start() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        PastInstall(InstallKind.FULL, datetime(2026, 1, 13, 22), 40)


def test_a_past_install_cannot_take_negative_minutes() -> None:
    with pytest.raises(ValueError, match="0 or more"):
        PastInstall(InstallKind.FULL, FIRST_START, -1)


# with_install


def test_each_kind_keeps_its_newest_ten_oldest_first() -> None:
    fulls = [install(20 + n, n) for n in range(KEPT_PER_KIND + 3)]
    # Hotpatches in between, a day after each full one, so the kinds interleave in time.
    hotpatches = [
        PastInstall(InstallKind.HOTPATCH, p.started_at + timedelta(days=1), 5) for p in fulls[:4]
    ]
    history = recorded([*fulls, *hotpatches])

    assert KEPT_PER_KIND == 10
    assert [p for p in history if p.kind is InstallKind.FULL] == fulls[3:]
    assert [p for p in history if p.kind is InstallKind.HOTPATCH] == hotpatches
    starts = [p.started_at for p in history]
    assert starts == sorted(starts)


def test_an_install_older_than_the_kept_ten_is_not_kept() -> None:
    history = recorded([install(20, n) for n in range(1, KEPT_PER_KIND + 1)])
    assert with_install(history, install(99, 0)) == history


def test_an_install_recorded_twice_is_kept_once_the_second_time_replacing_it() -> None:
    first = install(30, 2)
    again = install(31, 2, ran_out=True, slot=30)
    history = recorded([install(20, 1), first, install(25, 3)])

    replaced = with_install(history, again)
    assert replaced == (install(20, 1), again, install(25, 3))


def test_recording_one_kind_leaves_the_other_alone() -> None:
    hotpatches = [install(5, n, InstallKind.HOTPATCH) for n in range(KEPT_PER_KIND)]
    history = recorded(hotpatches)
    for n in range(KEPT_PER_KIND + 5):
        history = with_install(history, install(60, n))
    assert [p for p in history if p.kind is InstallKind.HOTPATCH] == hotpatches


# expected_install_minutes


def test_without_an_install_of_the_kind_nothing_is_expected() -> None:
    history = recorded([install(40, n, InstallKind.FULL) for n in range(3)])
    assert expected_install_minutes((), InstallKind.FULL) is None
    assert expected_install_minutes(history, InstallKind.HOTPATCH) is None
    assert expected_install_minutes(history, InstallKind.FULL) == 40


NINE_USUAL = (20, 24, 21, 28, 23, 22, 27, 25, 26)  # 28 the longest


def test_one_slow_install_of_ten_does_not_stretch_the_expected_minutes() -> None:
    history = recorded([install(m, n) for n, m in enumerate((*NINE_USUAL, 200))])
    # nearest rank: the 90th percentile of ten is the ninth, the longest of the nine others
    assert expected_install_minutes(history, InstallKind.FULL) == max(NINE_USUAL)


def test_two_slow_installs_of_ten_do() -> None:
    minutes = (*NINE_USUAL[:8], 180, 200)
    history = recorded([install(m, n) for n, m in enumerate(minutes)])
    assert expected_install_minutes(history, InstallKind.FULL) == 180


def test_slow_installs_stop_counting_once_ten_newer_ones_replace_them() -> None:
    slow = [install(200, 0), install(180, 1)]
    usual = [install(m, n + 2) for n, m in enumerate((*NINE_USUAL, 24))]
    history = recorded([*slow, *usual])
    assert slow[0] not in history and slow[1] not in history
    # the ninth of 20, 21, 22, 23, 24, 24, 25, 26, 27, 28
    assert expected_install_minutes(history, InstallKind.FULL) == 27


def test_installs_of_the_other_kind_do_not_count() -> None:
    history = recorded([install(5, n, InstallKind.HOTPATCH) for n in range(5)] + [install(70, 9)])
    assert expected_install_minutes(history, InstallKind.HOTPATCH) == 5
    assert expected_install_minutes(history, InstallKind.FULL) == 70


def test_a_worked_example_from_history_to_slot() -> None:
    """PLANNER.md section 1's rule in numbers."""
    history = recorded([install(20, 0), install(22, 1), install(25, 2)])
    expected = expected_install_minutes(history, InstallKind.FULL)
    assert expected == 25  # the 90th percentile of three by nearest rank is the third
    assert slot_for(expected) == 35  # ceil_to_5(max(25 + 10, 31.25))
    assert slot_for(None) == defaults.SLOT_MINUTES  # without history, the install slot

    # The next install used its whole 90-minute slot and ran out of window.
    history = with_install(history, install(90, 3, ran_out=True, slot=90))
    expected = expected_install_minutes(history, InstallKind.FULL)
    assert expected == 135  # at least 1.5 times the 90 it ran out of
    assert slot_for(expected) == 170  # ceil_to_5(max(145, 168.75))


def test_a_run_out_without_a_known_slot_grows_from_its_own_length() -> None:
    history = recorded([install(20, 0), install(60, 1, ran_out=True, slot=None)])
    assert expected_install_minutes(history, InstallKind.FULL) == 90


def test_only_the_newest_install_running_out_grows_the_expectation() -> None:
    history = recorded([install(20, 0, ran_out=True, slot=90), install(25, 1)])
    assert expected_install_minutes(history, InstallKind.FULL) == 25


# Properties over any sequence of recorded installs.

# Starts on a few days and a few hours, so duplicates (same kind and start) are common.
starts = st.builds(
    lambda day, hour: FIRST_START + timedelta(days=day, hours=hour),
    st.integers(0, 40),
    st.sampled_from([0, 1, 2]),
)
past_installs = st.builds(
    PastInstall,
    kind=st.sampled_from(list(InstallKind)),
    started_at=starts,
    minutes=st.integers(0, 2000),
    ran_out=st.booleans(),
    slot_minutes=st.one_of(st.none(), st.integers(0, LONGEST_SLOT_MINUTES)),
)
install_sequences = st.lists(past_installs, max_size=40)


@settings(max_examples=300, deadline=None)
@given(install_sequences)
def test_any_history_keeps_at_most_ten_of_a_kind_in_order(
    installs: list[PastInstall],
) -> None:
    history = recorded(installs)
    for kind in InstallKind:
        of_kind = [p for p in history if p.kind is kind]
        assert len(of_kind) <= KEPT_PER_KIND
        # the newest distinct starts of the kind, each with what was recorded last for it
        last_recorded = {p.started_at: p for p in installs if p.kind is kind}
        newest = sorted(last_recorded)[-KEPT_PER_KIND:]
        assert of_kind == [last_recorded[start] for start in newest]
    keys = [(p.started_at, p.kind.value) for p in history]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)


@settings(max_examples=300, deadline=None)
@given(install_sequences, past_installs)
def test_recording_the_same_install_again_changes_nothing(
    installs: list[PastInstall], new: PastInstall
) -> None:
    history = recorded(installs)
    once = with_install(history, new)
    assert with_install(once, new) == once
    for kept in history:
        assert with_install(history, kept) == history


@settings(max_examples=300, deadline=None)
@given(install_sequences)
def test_an_expectation_exists_exactly_with_history_and_keeps_its_bounds(
    installs: list[PastInstall],
) -> None:
    history = recorded(installs)
    for kind in InstallKind:
        expected = expected_install_minutes(history, kind)
        if not any(p.kind is kind for p in installs):
            assert expected is None
        else:
            assert expected is not None
            assert expected in defaults.EXPECTED_INSTALL_MINUTES_BOUNDS


@settings(max_examples=300, deadline=None)
@given(install_sequences, st.sampled_from(list(InstallKind)))
def test_after_running_out_the_next_slot_is_longer(
    installs: list[PastInstall], kind: InstallKind
) -> None:
    history = recorded(installs)
    of_kind = [p for p in history if p.kind is kind]
    if not of_kind:
        return
    newest = max(of_kind, key=lambda p: p.started_at)
    if not newest.ran_out or newest.slot_minutes is None:
        return
    ran_out_of = newest.slot_minutes
    slot = slot_for(expected_install_minutes(history, kind))
    assert slot is not None
    if ran_out_of < LONGEST_SLOT_MINUTES:
        assert slot > ran_out_of
    else:
        assert slot == LONGEST_SLOT_MINUTES


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 1000), min_size=0, max_size=15),
    st.integers(0, LONGEST_SLOT_MINUTES),
    st.integers(0, 2000),
)
def test_a_newest_install_that_ran_out_always_lengthens_the_slot(
    earlier: list[int], ran_out_of: int, minutes: int
) -> None:
    """The same property with the run-out install certainly the newest, so it never skips."""
    history = recorded([install(m, n) for n, m in enumerate(earlier)])
    history = with_install(history, install(minutes, len(earlier), ran_out=True, slot=ran_out_of))
    slot = slot_for(expected_install_minutes(history, InstallKind.FULL))
    assert slot is not None
    assert slot > ran_out_of or slot == ran_out_of == LONGEST_SLOT_MINUTES

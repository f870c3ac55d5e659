"""Which finished installs teach a VM how long its next one takes (docs/PLANNER.md 1)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from activities.rollout_slots import finished_outcome, timed_install
from azure_io.patch_results import InstalledPatch, InstallResult
from patching.install_history import InstallKind

VM = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-1"
STARTED = datetime(2026, 12, 9, 3, 0, tzinfo=UTC)
DONE = InstallResult(
    vm_id=VM,
    status="Succeeded",
    started_at=STARTED,
    reboot_status="Completed",
    maintenance_window_exceeded=False,
    installed_patch_count=2,
    failed_patch_count=0,
    pending_patch_count=0,
    excluded_patch_count=0,
    not_selected_patch_count=0,
    ended_at=STARTED + timedelta(minutes=41, seconds=10),
    maximum_duration_minutes=90,
)
PENDING_SECURITY = InstalledPatch("5050002", "cumulative update", ("Security",), "Pending")
PENDING_OTHER = InstalledPatch("5050009", "defender update", ("Definition",), "Pending")


def timed(result: InstallResult) -> tuple[int, bool, int | None] | None:
    outcome = finished_outcome(result, unhealthy=False, detail="")
    past = timed_install(result, outcome, InstallKind.FULL)
    return None if past is None else (past.minutes, past.ran_out, past.slot_minutes)


def test_a_completed_install_is_kept_with_its_length_rounded_up_and_its_slot() -> None:
    assert timed(DONE) == (42, False, 90)
    assert timed(replace(DONE, status="CompletedWithWarnings")) == (42, False, 90)


@pytest.mark.parametrize(
    "result",
    [
        replace(DONE, status="Failed"),
        replace(DONE, status="InProgress"),
        replace(DONE, ended_at=None),
        replace(DONE, started_at=None),
    ],
    ids=["failed", "not finished", "no end time", "no start time"],
)
def test_an_install_whose_length_says_nothing_of_the_next_teaches_nothing(
    result: InstallResult,
) -> None:
    assert timed(result) is None


def test_running_out_with_security_pending_is_kept_as_ran_out_even_when_it_failed() -> None:
    ran_out = replace(
        DONE,
        status="Failed",
        maintenance_window_exceeded=True,
        pending_patch_count=1,
        patches=(PENDING_SECURITY,),
        ended_at=STARTED + timedelta(minutes=90),
    )
    assert timed(ran_out) == (90, True, 90)


def test_running_out_with_only_other_patches_pending_is_not_a_ran_out() -> None:
    ran_out = replace(
        DONE,
        status="CompletedWithWarnings",
        maintenance_window_exceeded=True,
        pending_patch_count=1,
        patches=(PENDING_OTHER,),
    )
    assert timed(ran_out) == (42, False, 90)


def test_an_end_reported_before_the_start_counts_as_no_time_at_all() -> None:
    assert timed(replace(DONE, ended_at=STARTED - timedelta(seconds=5))) == (0, False, 90)

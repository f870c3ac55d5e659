"""A slot's install outcome: the VM's state in the report, and whether it missed its slot."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rollout_strategies import target

from patching.models import PatchMode, ReleaseKind
from patching.outcomes import (
    Attempt,
    InstallOutcome,
    OutcomeError,
    VmReport,
    VmState,
    install_failed,
    is_miss,
    vm_state,
)
from patching.policy import MissingPatch

VM = target("sub-a", "eastus", "web-01")
HOTPATCH_VM = target("sub-a", "eastus", "hot-01", hotpatch=True)
REBOOT_KB = MissingPatch("5048667", ("Security",), "CanRequestReboot")


@st.composite
def outcomes(draw: st.DrawFn) -> InstallOutcome:
    attempt = draw(st.sampled_from(list(Attempt)))
    statuses = ("Succeeded", "CompletedWithWarnings", "Failed", "Canceled")
    return InstallOutcome(
        VM.id,
        attempt,
        status=draw(st.sampled_from(statuses)) if attempt is Attempt.FINISHED else None,
        maintenance_window_exceeded=draw(st.booleans()),
        installed=draw(st.integers(0, 5)),
        failed=draw(st.integers(0, 2)),
        pending=draw(st.integers(0, 3)),
        critical_or_security_pending=draw(st.booleans()),
        excluded=draw(st.sampled_from(((), (REBOOT_KB,)))),
        unhealthy=draw(st.booleans()),
    )


def said(report: VmReport) -> tuple[VmState, str]:
    return report.state, report.reason


def finished(status: str = "Succeeded", **fields) -> InstallOutcome:
    return InstallOutcome(VM.id, Attempt.FINISHED, status=status, **fields)


@given(outcomes(), st.sampled_from(list(ReleaseKind)))
def test_a_miss_is_never_compliant_and_every_refusal_is_a_miss(outcome, kind):
    state = vm_state(VM, kind, outcome).state
    if is_miss(outcome):
        assert state in {VmState.PENDING, VmState.FAILED}
    if outcome.attempt is not Attempt.FINISHED:
        assert is_miss(outcome)
    if state is VmState.COMPLIANT:
        assert not outcome.unhealthy and not outcome.critical_or_security_pending
        assert not install_failed(outcome)


@given(outcomes())
def test_a_failed_install_is_failed_and_a_miss(outcome):
    if install_failed(outcome):
        assert is_miss(outcome)
        assert vm_state(VM, ReleaseKind.HOTPATCH, outcome).state is VmState.FAILED


@pytest.mark.parametrize(
    ("outcome", "state", "reason", "miss"),
    [
        (
            InstallOutcome(VM.id, Attempt.VM_OFF),
            VmState.PENDING,
            "the VM was off at its slot",
            True,
        ),
        (
            InstallOutcome(VM.id, Attempt.CONFLICT, detail="OperationNotAllowed"),
            VmState.PENDING,
            "ARM refused the install with 409 (OperationNotAllowed)",
            True,
        ),
        (
            InstallOutcome(VM.id, Attempt.NOT_STARTED, detail="BadRequest"),
            VmState.FAILED,
            "the install failed to start (BadRequest)",
            True,
        ),
        (
            finished("Failed", failed=2, installed=1, detail="PatchInstallFailure"),
            VmState.FAILED,
            "install ended Failed: 2 failed, 1 installed, 0 pending; PatchInstallFailure",
            True,
        ),
        (
            finished("CompletedWithWarnings", failed=1, installed=3),
            VmState.FAILED,
            "install ended CompletedWithWarnings: 1 failed, 3 installed, 0 pending",
            True,
        ),
        (
            finished(
                "CompletedWithWarnings",
                maintenance_window_exceeded=True,
                pending=2,
                critical_or_security_pending=True,
                reboot_status="NotNeeded",
            ),
            VmState.PENDING,
            "maintenance window exceeded: Critical/Security patches still pending "
            "(rebootStatus NotNeeded)",
            True,
        ),
        (
            finished("Succeeded", maintenance_window_exceeded=True, pending=1),
            VmState.COMPLIANT,
            "no Critical or Security patch missing",
            False,
        ),
        (
            finished("Succeeded", installed=4, unhealthy=True, detail="VM agent not ready"),
            VmState.FAILED,
            "unhealthy after the install (VM agent not ready)",
            False,
        ),
    ],
)
def test_outcomes_give_the_report_state_and_reason(outcome, state, reason, miss):
    assert said(vm_state(VM, ReleaseKind.HOTPATCH, outcome)) == (state, reason)
    assert is_miss(outcome) is miss


def test_a_hotpatch_vm_defers_reboot_patches_in_a_hotpatch_month_only():
    outcome = InstallOutcome(
        HOTPATCH_VM.id, Attempt.FINISHED, status="Succeeded", installed=2, excluded=(REBOOT_KB,)
    )
    assert said(vm_state(HOTPATCH_VM, ReleaseKind.HOTPATCH, outcome)) == (
        VmState.COMPLIANT,
        "deferred to the next baseline: 5048667",
    )
    assert said(vm_state(HOTPATCH_VM, ReleaseKind.UNPLANNED_BASELINE, outcome)) == (
        VmState.PENDING,
        "missing Critical/Security: 5048667",
    )
    assert vm_state(VM, ReleaseKind.HOTPATCH, outcome).state is VmState.PENDING
    assert not is_miss(outcome)


def test_skipped_halted_and_waiting_vms():
    manual = target("sub-a", "eastus", "manual", patch_mode=PatchMode.MANUAL)
    assert said(vm_state(manual, ReleaseKind.HOTPATCH, None)) == (
        VmState.SKIPPED,
        "patchMode is Manual, not AutomaticByPlatform",
    )
    short = "off-peak window 02:00-02:15 is shorter than the 30 minutes an install needs"
    assert said(vm_state(VM, ReleaseKind.HOTPATCH, None, plan_skip=short)) == (
        VmState.SKIPPED,
        short,
    )
    assert vm_state(VM, ReleaseKind.HOTPATCH, None, halted=True).state is VmState.HALTED
    assert said(vm_state(VM, ReleaseKind.HOTPATCH, None)) == (
        VmState.PENDING,
        "waiting for its slot",
    )
    ran = finished(installed=1)
    assert vm_state(VM, ReleaseKind.HOTPATCH, ran, halted=True).state is VmState.COMPLIANT


def test_contradictory_outcomes_are_refused_by_field():
    with pytest.raises(OutcomeError, match="failed is -1"):
        finished(failed=-1)
    with pytest.raises(OutcomeError, match="status is given exactly when the install finished"):
        InstallOutcome(VM.id, Attempt.FINISHED)
    with pytest.raises(OutcomeError, match="status is given exactly"):
        InstallOutcome(VM.id, Attempt.VM_OFF, status="Succeeded")

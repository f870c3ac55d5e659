"""The health gate after a phase: failed plus unhealthy VMs against the error budget."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rollout_strategies import vm_id

from patching.gate import GateError, GateVerdict, error_budget, phase_verdict
from patching.outcomes import Attempt, InstallOutcome

budgets = st.floats(0, 100, allow_nan=False)


def good(i: int, *, unhealthy: bool = False) -> InstallOutcome:
    return InstallOutcome(
        vm_id("s", f"vm{i}"), Attempt.FINISHED, status="Succeeded", installed=1, unhealthy=unhealthy
    )


def bad(i: int) -> InstallOutcome:
    return InstallOutcome(vm_id("s", f"vm{i}"), Attempt.FINISHED, status="Failed", failed=1)


def phase(failures: int, unhealthy: int, fine: int) -> list[InstallOutcome]:
    return (
        [bad(i) for i in range(failures)]
        + [good(failures + i, unhealthy=True) for i in range(unhealthy)]
        + [good(failures + unhealthy + i) for i in range(fine)]
    )


@given(st.integers(0, 30), st.integers(0, 10), st.integers(0, 40), budgets)
def test_the_verdict_is_monotone_in_failures(failures, unhealthy, fine, budget):
    before = phase_verdict(phase(failures, unhealthy, fine + 1), budget_percent=budget)
    after = phase_verdict(phase(failures + 1, unhealthy, fine), budget_percent=budget)
    assert after.failed == before.failed + 1
    assert after.allowed == before.allowed
    assert before.halt <= after.halt


@given(st.integers(0, 40), budgets)
def test_no_bad_vm_never_halts(fine, budget):
    verdict = phase_verdict(phase(0, 0, fine), budget_percent=budget)
    assert not verdict.halt
    assert (verdict.failed, verdict.unhealthy) == (0, 0)


@given(st.integers(1, 60), st.floats(0, 99.99, allow_nan=False))
def test_a_phase_where_every_vm_failed_halts_below_a_full_budget(vms, budget):
    assert phase_verdict(phase(vms, 0, 0), budget_percent=budget).halt


@given(st.integers(0, 30), st.integers(0, 10), st.integers(0, 40), budgets)
def test_it_halts_exactly_when_bad_vms_exceed_the_floor_of_the_budget(
    failures, unhealthy, fine, budget
):
    verdict = phase_verdict(phase(failures, unhealthy, fine), budget_percent=budget)
    vms = failures + unhealthy + fine
    assert verdict.allowed == error_budget(budget, vms) <= budget / 100 * vms + 1e-9
    assert verdict.halt == (failures + unhealthy > verdict.allowed)
    assert verdict.halt <= (failures + unhealthy >= 1)


def test_exact_budgets_and_reasons():
    assert error_budget(10, 30) == 3
    assert error_budget(10, 29) == 2
    assert error_budget(0, 1000) == 0
    assert phase_verdict(phase(1, 0, 9), budget_percent=0) == GateVerdict(
        True,
        "1 failed and 0 unhealthy of 10 VMs exceed the error budget of 0 (0% of 10)",
        1,
        0,
        0,
    )
    assert phase_verdict(phase(2, 1, 27), budget_percent=10).reason == (
        "2 failed and 1 unhealthy of 30 VMs are within the error budget of 3 (10% of 30)"
    )
    assert phase_verdict(phase(2, 2, 26), budget_percent=10).halt


def test_a_failed_unhealthy_vm_counts_once_and_off_vms_do_not_count():
    both = InstallOutcome(
        vm_id("s", "x"), Attempt.FINISHED, status="Failed", failed=1, unhealthy=True
    )
    off = InstallOutcome(vm_id("s", "y"), Attempt.VM_OFF)
    busy = InstallOutcome(vm_id("s", "z"), Attempt.CONFLICT)
    refused = InstallOutcome(vm_id("s", "w"), Attempt.NOT_STARTED)
    verdict = phase_verdict([both, off, busy, refused], budget_percent=50)
    assert (verdict.failed, verdict.unhealthy, verdict.allowed, verdict.halt) == (2, 0, 2, False)


def test_bad_budgets_and_repeated_vms_are_refused():
    with pytest.raises(GateError, match="budget_percent 101 is outside 0 to 100"):
        phase_verdict([good(1)], budget_percent=101)
    with pytest.raises(GateError, match="vm1 more than once"):
        phase_verdict([good(1), bad(1)])

"""What a VM's install slot came to, and the VM's state in the cycle's report.

The rollout learns one `InstallOutcome` per slot: the install was refused (the VM was
off, ARM answered 409 because the VM was busy, or the request failed to start) or it
finished with ARM's result, checked for health afterwards. `vm_state` turns it into the
report's state (docs/CONTRACTS.md section 4); `is_miss` says whether the VM goes back to
`patching.replan` for a later slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from patching.errors import BadInput
from patching.models import ReleaseKind, VmTarget
from patching.policy import ComplianceState, MissingPatch, compliance, skip_reason

# ARM's final statuses of an install that ran as asked (a failed patch still shows in the
# counts); anything else (Failed, Canceled, Unknown, a new word) is a failed install.
_COMPLETED = frozenset({"succeeded", "completedwithwarnings"})


class OutcomeError(BadInput):
    """An install outcome that contradicts itself."""


class Attempt(StrEnum):
    VM_OFF = "vmOff"
    CONFLICT = "conflict"
    NOT_STARTED = "notStarted"
    FINISHED = "finished"


class VmState(StrEnum):
    COMPLIANT = "compliant"
    PENDING = "pending"
    FAILED = "failed"
    SKIPPED = "skipped"
    HALTED = "halted"


@dataclass(frozen=True, slots=True)
class InstallOutcome:
    """One slot's result. `excluded` are the Critical/Security patches the install left out
    because they need a reboot (`excludeKbsRequiringReboot`); `detail` is ARM's error code
    or message when there is one."""

    vm: str
    attempt: Attempt
    status: str | None = None
    maintenance_window_exceeded: bool = False
    installed: int = 0
    failed: int = 0
    pending: int = 0
    critical_or_security_pending: bool = False
    excluded: tuple[MissingPatch, ...] = ()
    reboot_status: str | None = None
    unhealthy: bool = False
    detail: str = ""

    def __post_init__(self) -> None:
        for name, count in (
            ("installed", self.installed),
            ("failed", self.failed),
            ("pending", self.pending),
        ):
            if count < 0:
                raise OutcomeError(f"{self.vm}: {name} is {count}; expected a count >= 0")
        finished = self.attempt is Attempt.FINISHED
        if finished != (self.status is not None):
            raise OutcomeError(f"{self.vm}: status is given exactly when the install finished")


@dataclass(frozen=True, slots=True)
class VmReport:
    state: VmState
    reason: str


def install_failed(outcome: InstallOutcome) -> bool:
    """The install failed to start, ended in failure, or failed some of its patches."""
    if outcome.attempt is Attempt.NOT_STARTED:
        return True
    if outcome.attempt is not Attempt.FINISHED:
        return False
    return (outcome.status or "").lower() not in _COMPLETED or outcome.failed > 0


def is_miss(outcome: InstallOutcome) -> bool:
    """The VM did not get its patches in its slot and needs a later one."""
    return (
        outcome.attempt in {Attempt.VM_OFF, Attempt.CONFLICT}
        or install_failed(outcome)
        or (outcome.maintenance_window_exceeded and outcome.critical_or_security_pending)
    )


def vm_state(
    vm: VmTarget,
    kind: ReleaseKind,
    outcome: InstallOutcome | None,
    *,
    halted: bool = False,
    plan_skip: str | None = None,
) -> VmReport:
    """The VM's state in the cycle: `plan_skip` is the plan's reason when it gave no slot,
    `halted` whether the cycle stopped before the VM's slot ran."""
    not_enrolled = skip_reason(vm) or plan_skip
    if not_enrolled is not None:
        return VmReport(VmState.SKIPPED, not_enrolled)
    if outcome is None:
        if halted:
            return VmReport(VmState.HALTED, "the cycle halted before the VM's slot")
        return VmReport(VmState.PENDING, "waiting for its slot")
    if outcome.attempt is not Attempt.FINISHED:
        return _refused(outcome)
    if install_failed(outcome):
        return VmReport(VmState.FAILED, _failure(outcome))
    if outcome.unhealthy:
        return VmReport(
            VmState.FAILED, f"unhealthy after the install ({outcome.detail or 'no detail'})"
        )
    if outcome.critical_or_security_pending:
        why = "maintenance window exceeded" if outcome.maintenance_window_exceeded else "install"
        return VmReport(
            VmState.PENDING,
            f"{why}: Critical/Security patches still pending (rebootStatus "
            f"{outcome.reboot_status or 'unknown'})",
        )
    verdict = compliance(vm, kind, outcome.excluded)
    if verdict.state is ComplianceState.PENDING:
        return VmReport(VmState.PENDING, verdict.reason)
    return VmReport(VmState.COMPLIANT, verdict.reason)


def _refused(outcome: InstallOutcome) -> VmReport:
    detail = f" ({outcome.detail})" if outcome.detail else ""
    if outcome.attempt is Attempt.VM_OFF:
        return VmReport(VmState.PENDING, f"the VM was off at its slot{detail}")
    if outcome.attempt is Attempt.CONFLICT:
        return VmReport(VmState.PENDING, f"ARM refused the install with 409{detail}")
    return VmReport(VmState.FAILED, f"the install failed to start{detail}")


def _failure(outcome: InstallOutcome) -> str:
    detail = f"; {outcome.detail}" if outcome.detail else ""
    return (
        f"install ended {outcome.status}: {outcome.failed} failed, {outcome.installed} "
        f"installed, {outcome.pending} pending{detail}"
    )

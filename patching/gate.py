"""The health gate after a phase: the error budget that halts a cycle (docs/DOMAIN.md section 2).

A phase's bad VMs are its failed installs (`outcomes.install_failed`: failed to start,
ended in failure, or failed a patch) and the VMs unhealthy after an install that did not
fail, each VM counted once. The budget allows `floor(percent / 100 x VMs in the phase)`
of them; the cycle halts when there are more, which takes at least one bad VM. VMs that
were off or busy (409) are misses for re-planning, not signs of a bad patch. So a 0 %
budget halts on the first bad VM, a phase without one never halts, and a phase whose
every VM failed halts under any budget below 100 %.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from patching import defaults
from patching.errors import BadInput
from patching.outcomes import InstallOutcome, install_failed


class GateError(BadInput):
    """A budget outside its bounds, or a phase's outcomes naming a VM twice."""


@dataclass(frozen=True, slots=True)
class GateVerdict:
    halt: bool
    reason: str
    failed: int
    unhealthy: int
    allowed: int


def error_budget(budget_percent: float, vms: int) -> int:
    """The bad VMs a phase of `vms` VMs may have; decimal, so 10 % of 30 is 3, not 2."""
    if budget_percent not in defaults.ERROR_BUDGET_PERCENT_BOUNDS:
        raise GateError(
            f"budget_percent {budget_percent} is outside {defaults.ERROR_BUDGET_PERCENT_BOUNDS}"
        )
    return int(Decimal(repr(float(budget_percent))) * vms // 100)


def phase_verdict(
    outcomes: Sequence[InstallOutcome],
    *,
    budget_percent: float = defaults.ERROR_BUDGET_PERCENT,
) -> GateVerdict:
    """Halt when the phase's failed installs plus unhealthy VMs exceed its error budget."""
    twice = sorted(vm for vm, n in Counter(o.vm.lower() for o in outcomes).items() if n > 1)
    if twice:
        raise GateError(f"outcomes name {twice[0]} more than once; expected one per VM")
    allowed = error_budget(budget_percent, len(outcomes))
    failed = sum(install_failed(o) for o in outcomes)
    unhealthy = sum(o.unhealthy and not install_failed(o) for o in outcomes)
    halt = failed + unhealthy > allowed
    counts = f"{failed} failed and {unhealthy} unhealthy of {len(outcomes)} VMs"
    budget = f"the error budget of {allowed} ({budget_percent:g}% of {len(outcomes)})"
    reason = f"{counts} exceed {budget}" if halt else f"{counts} are within {budget}"
    return GateVerdict(halt, reason, failed, unhealthy, allowed)

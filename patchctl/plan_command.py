"""`patchctl plan` and the plan summary that `patchctl demo` prints."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from azure_io.settings import Settings, SettingsError
from patchctl.errors import UsageError
from patchctl.files import load_fleet, write_json
from patching.calendar import cycle_id_of, make_cycle
from patching.models import Plan
from patching.planfile import format_time, plan_to_json
from patching.planner import PlanningPolicy, plan_cycle
from patching.windows import OffPeakWindow


def run(arguments: argparse.Namespace) -> int:
    plan = _plan(arguments, arguments.cycle)
    write_json(arguments.out, plan_to_json(plan))
    print(
        f"planned {len(plan.assignments)} VMs in {len(plan.phases)} phases, "
        f"{len(plan.skipped)} skipped; makespan {plan.makespan_hours} h "
        f"(lower bound {plan.lower_bound_hours} h) -> {arguments.out}"
    )
    late = _late(plan)
    if late:
        print(
            f"warning: {late} slots end after the deadline {format_time(plan.cycle.deadline)}",
            file=sys.stderr,
        )
    return 0


def _late(plan: Plan) -> int:
    return sum(1 for a in plan.assignments if a.end > plan.cycle.deadline)


def run_demo(arguments: argparse.Namespace) -> int:
    cycle_id = cycle_id_of(datetime.now(UTC))
    plan = _plan(arguments, cycle_id)
    write_json(arguments.out, plan_to_json(plan))
    print(summarise(plan))
    print(f"\nplan file: {arguments.out}")
    return 0


def _plan(arguments: argparse.Namespace, cycle_id: str) -> Plan:
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        raise UsageError(str(error)) from error
    policy = _policy(arguments, settings)
    fleet = load_fleet(arguments.fleet)
    try:
        cycle = make_cycle(
            cycle_id,
            kind=getattr(arguments, "kind", None),
            released_at=getattr(arguments, "released_at", None),
            baseline_months=settings.planned_baseline_months,
        )
    except ValueError as error:
        raise UsageError(f"--cycle: {error}") from error
    if cycle_id_of(cycle.release.released_at) != cycle.id:
        raise UsageError(
            f"--released-at: {format_time(cycle.release.released_at)} is not in cycle {cycle.id}"
        )
    return plan_cycle(fleet, cycle, now=getattr(arguments, "now", None), policy=policy)


def _policy(arguments: argparse.Namespace, settings: Settings) -> PlanningPolicy:
    """Flags override the app settings, which carry the built-in defaults."""
    slot: int = _flag(arguments, "slot_minutes", settings.install_slot_minutes)
    gate: int = _flag(arguments, "health_gate_minutes", settings.health_gate_minutes)
    window_text: str = _flag(arguments, "default_window", settings.off_peak_window)
    if not 15 <= slot <= 240:
        raise UsageError(f"--slot-minutes: {slot} is out of range; expected 15 to 240")
    if gate < 0:
        raise UsageError(f"--health-gate-minutes: {gate} is negative; expected 0 or more")
    try:
        window = OffPeakWindow.parse(window_text)
    except ValueError as error:
        raise UsageError(f"--default-window: {error}") from error
    return PlanningPolicy(slot_minutes=slot, default_window=window, health_gate_minutes=gate)


def _flag(arguments: argparse.Namespace, name: str, default: Any) -> Any:
    value = getattr(arguments, name, None)
    return default if value is None else value


def summarise(plan: Plan) -> str:
    """A readable account of a plan: phases, timing against the deadline, skipped VMs."""
    release = plan.cycle.release
    lines = [
        f"Cycle {plan.cycle.id}: {release.kind.value} released {format_time(release.released_at)}, "
        f"deadline {format_time(plan.cycle.deadline)}",
        f"{len(plan.assignments)} VMs planned, {len(plan.skipped)} skipped, "
        f"{len(plan.phases)} phases",
        "",
        f"{'phase':>5}  {'regions':<40} {'VMs':>6}  {'start':<20} {'end':<20}",
    ]
    per_phase: dict[int, int] = {}
    for assignment in plan.assignments:
        per_phase[assignment.phase] = per_phase.get(assignment.phase, 0) + 1
    for phase in plan.phases:
        regions = ", ".join(phase.regions)
        label = f"{phase.index}{'r' if phase.retry else ''}"
        lines.append(
            f"{label:>5}  {regions:<40} {per_phase.get(phase.index, 0):>6}  "
            f"{format_time(phase.start):<20} {format_time(phase.end):<20}"
        )
    days = plan.makespan_hours / 24
    late = _late(plan)
    lines += [
        "",
        f"Every enrolled VM patched {plan.makespan_hours} h ({days:.1f} days) after the release; "
        f"lower bound {plan.lower_bound_hours} h.",
        "All slots end before the deadline."
        if not late
        else f"{late} slots end after the deadline.",
    ]
    never = sum(1 for a in plan.assignments if a.exclude_kbs_requiring_reboot)
    if never:
        lines.append(f"{never} hotpatch VMs install without a reboot (rebootSetting Never).")
    if plan.skipped:
        lines.append("Skipped:")
        lines += [f"  {s.vm.rsplit('/', 1)[-1]}: {s.reason}" for s in plan.skipped]
    return "\n".join(lines)

"""`patchctl plan` and the plan summary that `patchctl demo` prints."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from azure_io.settings import Settings, SettingsError
from patchctl import simulate_command
from patchctl.files import load_fleet, refuse_same_files, write_json
from patching import defaults
from patching.calendar import cycle_id_of, make_cycle, parse_cycle_id
from patching.errors import BadInput
from patching.models import Plan
from patching.planfile import format_time, plan_to_json
from patching.planner import PlanningPolicy, plan_cycle
from patching.slots import SHORTEST_SLOT_MINUTES, short_window_skips
from patching.windows import OffPeakWindow


def run(arguments: argparse.Namespace) -> int:
    plan = _plan(arguments, arguments.cycle)
    write_json(arguments.out, plan_to_json(plan), flag="--out", inputs={"--fleet": arguments.fleet})
    print(
        f"planned {len(plan.assignments)} VMs in {len(plan.phases)} phases, "
        f"{len(plan.skipped)} skipped; makespan {plan.makespan_hours} h "
        f"(lower bound {plan.lower_bound_hours} h) -> {arguments.out}"
    )
    short = _short_windows(plan)
    if short:
        print(short)
    late = _late(plan)
    if late:
        print(
            f"warning: {late} slots end after the deadline {format_time(plan.cycle.deadline)}",
            file=sys.stderr,
        )
    return 0


def _late(plan: Plan) -> int:
    return sum(1 for a in plan.assignments if a.end > plan.cycle.deadline)


def _short_windows(plan: Plan) -> str | None:
    count = short_window_skips(plan.skipped)
    if not count:
        return None
    return (
        f"{count} enrolled VMs skipped: their off-peak window is under "
        f"{SHORTEST_SLOT_MINUTES} minutes, too short for an install."
    )


def run_demo(arguments: argparse.Namespace) -> int:
    """The example fleet's current cycle: its plan, then the rehearsal of its month (the
    35 days `simulate` runs by default), the store in memory so it takes seconds."""
    cycle_id = cycle_id_of(datetime.now(UTC))
    plan = _plan(arguments, cycle_id)
    report_dir: Path = arguments.report_dir or arguments.out.parent / "rehearsal"
    rehearsal = argparse.Namespace(
        fleet=arguments.fleet,
        cycle=cycle_id,
        days=simulate_command.DEFAULT_DAYS,
        out=report_dir,
        in_memory_store=True,
    )
    refuse_same_files({"--out": arguments.out, "--report-dir": report_dir})
    spec_of = simulate_command.prepare(rehearsal)
    write_json(arguments.out, plan_to_json(plan), flag="--out", inputs={"--fleet": arguments.fleet})
    print(summarise(plan))
    print(f"\nplan file: {arguments.out}")
    print(f"\nRehearsing {rehearsal.days} days from the release...", flush=True)
    report = simulate_command.rehearsed(report_dir, spec_of, {"--fleet": arguments.fleet})
    print(simulate_command.summarise(report, report_dir))
    return 0


def _plan(arguments: argparse.Namespace, cycle_id: str) -> Plan:
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        raise BadInput(str(error)) from error
    policy = _policy(arguments, settings)
    refuse_same_files({"--fleet": arguments.fleet, "--out": arguments.out})
    fleet = load_fleet(arguments.fleet)
    released_at: datetime | None = getattr(arguments, "released_at", None)
    now: datetime | None = getattr(arguments, "now", None)
    with _reported_as("--cycle"):
        parse_cycle_id(cycle_id)
    # The flag that fixes the release time, then the one that fixes the start of the
    # plan, is the one to name when the calendar cannot hold what follows from it.
    release_flag = "--cycle" if released_at is None else "--released-at"
    with _reported_as(release_flag):
        cycle = make_cycle(
            cycle_id,
            kind=getattr(arguments, "kind", None),
            released_at=released_at,
            baseline_months=settings.planned_baseline_months,
        )
    if cycle_id_of(cycle.release.released_at) != cycle.id:
        raise BadInput(
            f"--released-at: {format_time(cycle.release.released_at)} is not in cycle {cycle.id}"
        )
    start_flag = "--now" if now is not None and now > cycle.release.released_at else release_flag
    with _reported_as(start_flag):
        return plan_cycle(fleet, cycle, now=now, policy=policy)


@contextmanager
def _reported_as(flag: str) -> Iterator[None]:
    """The domain's refusal of a flag's value, or a date past the calendar's end, names the flag."""
    try:
        yield
    except OverflowError as error:
        raise BadInput(f"{flag}: the dates that follow from it leave the calendar") from error
    except ValueError as error:
        raise BadInput(f"{flag}: {error}") from error


def _policy(arguments: argparse.Namespace, settings: Settings) -> PlanningPolicy:
    """Flags override the app settings, which carry the built-in defaults."""
    slot: int = _flag(arguments, "slot_minutes", settings.install_slot_minutes)
    gate: int = _flag(arguments, "health_gate_minutes", settings.health_gate_minutes)
    if slot not in defaults.SLOT_MINUTES_BOUNDS:
        raise BadInput(
            f"--slot-minutes: {slot} is out of range; expected {defaults.SLOT_MINUTES_BOUNDS}"
        )
    if gate not in defaults.HEALTH_GATE_MINUTES_BOUNDS:
        raise BadInput(
            f"--health-gate-minutes: {gate} is out of range; "
            f"expected {defaults.HEALTH_GATE_MINUTES_BOUNDS}"
        )
    window = settings.off_peak_window
    window_flag: str | None = getattr(arguments, "default_window", None)
    if window_flag is not None:
        try:
            window = OffPeakWindow.parse(window_flag)
        except ValueError as error:
            raise BadInput(f"--default-window: {error}") from error
    return PlanningPolicy(
        slot_minutes=slot,
        hotpatch_slot_minutes=settings.hotpatch_slot_minutes,
        default_window=window,
        health_gate_minutes=gate,
    )


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
    short = _short_windows(plan)
    if short:
        lines.append(short)
    if plan.skipped:
        lines.append("Skipped:")
        lines += [f"  {s.vm.rsplit('/', 1)[-1]}: {s.reason}" for s in plan.skipped]
    return "\n".join(lines)

"""The availability-first planner: a cycle's phases and every enrolled VM's install slot."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from patching.fleet import Fleet
from patching.models import Assignment, Cycle, Phase, Plan, Skip
from patching.phasing import lower_bound, rank_layouts
from patching.policy import cycle_install_settings
from patching.regions import pair_graph
from patching.timefmt import check_in_range
from patching.windowclass import from_minute, minute_ceil
from patching.workload import PlanningPolicy, Workload

__all__ = ["PlanningPolicy", "assemble_plan", "assignment_for", "plan_cycle"]


def plan_cycle(
    fleet: Fleet,
    cycle: Cycle,
    *,
    now: datetime | None = None,
    policy: PlanningPolicy | None = None,
) -> Plan:
    """Every VM of the fleet once: an install slot if enrolled, a reason if not."""
    policy = policy or PlanningPolicy()
    released = cycle.release.released_at
    opens = max(released, check_in_range(now, "now")) if now is not None else released
    workload = Workload(fleet, policy, opens, cycle.release.kind)
    start = minute_ceil(opens)
    bounds = workload.bounds()

    def finish(region: str, at: int) -> int:
        return bounds[region].finish(at)

    sizes = workload.region_sizes()
    graph = pair_graph(sizes, workload.regions)
    layouts = rank_layouts(sizes, graph, finish, start, workload.gate)
    bound = lower_bound(sizes, graph, finish, start, workload.gate)
    tries = max(1, min(_MOST_LAYOUTS, _LAYOUT_BUDGET // max(1, len(workload.targets))))
    best: tuple[list[Phase], list[Assignment]] | None = None
    for layout in layouts[:tries]:
        phases, assignments = _schedule_layout(workload, cycle, layout, start)
        if best is None or _end(phases) < _end(best[0]):
            best = (phases, assignments)
    phases, assignments = best if best is not None else ([], [])
    return assemble_plan(cycle, phases, assignments, workload.skipped, start_of_bound=bound)


# Layouts are ranked by the regions' bounds; the best few are scheduled for real, as many
# as keep the work near one full schedule of a large fleet.
_MOST_LAYOUTS = 8
_LAYOUT_BUDGET = 40_000


def _end(phases: Sequence[Phase]) -> datetime:
    return phases[-1].end if phases else datetime.min.replace(tzinfo=UTC)


def _schedule_layout(
    workload: Workload, cycle: Cycle, layout: Sequence[tuple[str, ...]], start: int
) -> tuple[list[Phase], list[Assignment]]:
    phases: list[Phase] = []
    assignments: list[Assignment] = []
    phase_start = start
    for index, regions in enumerate(layout):
        if index:
            phase_start = minute_ceil(phases[-1].end) + workload.gate
        phase_end = phase_start
        for starts in workload.schedule_phase(regions, phase_start).values():
            for job_index, slot_start in starts.items():
                assignments.append(assignment_for(workload, cycle, job_index, index, slot_start))
                phase_end = max(phase_end, slot_start + workload.slot_of(job_index))
        phases.append(Phase(index, regions, from_minute(phase_start), from_minute(phase_end)))
    return phases, assignments


def assignment_for(
    workload: Workload, cycle: Cycle, job_index: int, phase: int, start: int
) -> Assignment:
    vm = workload.targets[job_index]
    settings = cycle_install_settings(vm, cycle.release.kind)
    return Assignment(
        vm=vm.id,
        phase=phase,
        start=from_minute(start),
        end=from_minute(start + workload.slot_of(job_index)),
        reboot_setting=settings.reboot_setting,
        exclude_kbs_requiring_reboot=settings.exclude_kbs_requiring_reboot,
        classifications=settings.classifications,
    )


def assemble_plan(
    cycle: Cycle,
    phases: Sequence[Phase],
    assignments: Sequence[Assignment],
    skipped: Sequence[Skip],
    *,
    start_of_bound: int | None = None,
    lower_bound_hours: float | None = None,
) -> Plan:
    released = cycle.release.released_at
    last = max((a.end for a in assignments), default=released)
    if lower_bound_hours is None:
        bound_end = from_minute(start_of_bound) if start_of_bound is not None else released
        lower_bound_hours = _hours(bound_end - released) if assignments else 0.0
    ordered = sorted(assignments, key=lambda a: (a.start, a.vm.lower()))
    return Plan(
        cycle=cycle,
        phases=tuple(phases),
        assignments=tuple(ordered),
        skipped=tuple(sorted(skipped, key=lambda s: s.vm.lower())),
        makespan_hours=_hours(last - released) if assignments else 0.0,
        lower_bound_hours=lower_bound_hours,
    )


def _hours(span: timedelta) -> float:
    return round(span.total_seconds() / 3600, 2)

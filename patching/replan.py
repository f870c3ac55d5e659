"""Re-planning a cycle in progress: VMs that missed their slot get later ones, under the same
rules, and nothing that already ran moves.

- Slots that started before `now` stay, unless their VM missed them.
- The phase in progress (the last one with a started slot) takes its missed VMs
  and its not-yet-started VMs again from `now`, around the slots still running.
- Phases that have not started follow it, re-scheduled after its new end.
- VMs that missed a slot in an earlier, finished phase go to retry phases after
  the last phase (pairs still apart): their region then appears twice, once in a
  phase marked `retry`, which is the one way a re-plan bends rule 6.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

from patching.errors import BadInput
from patching.fleet import Fleet
from patching.models import Assignment, Phase, Plan
from patching.planner import assemble_plan, assignment_for, plan_cycle
from patching.regions import pair_graph
from patching.scheduling import FixedSlot, Job
from patching.timefmt import check_in_range
from patching.windowclass import from_minute, minute_ceil, minute_floor
from patching.workload import PlanningPolicy, Workload


class ReplanError(BadInput):
    """A re-plan request that does not fit the plan or the fleet."""


def replan(
    plan: Plan,
    fleet: Fleet,
    *,
    now: datetime,
    missed: Iterable[str],
    policy: PlanningPolicy | None = None,
) -> Plan:
    policy = policy or PlanningPolicy()
    now = check_in_range(now, "now")
    cycle = plan.cycle
    by_key = {a.vm.lower(): a for a in plan.assignments}
    missed_keys = {vm.lower() for vm in missed}
    for key in sorted(missed_keys):
        assignment = by_key.get(key)
        if assignment is None:
            raise ReplanError(f"{key} has no slot in the plan")
        if assignment.start >= now:
            raise ReplanError(
                f"{assignment.vm} has not reached its slot ({assignment.start:%Y-%m-%dT%H:%MZ})"
            )
    started = [a for a in plan.assignments if a.start < now]
    if not started:
        return plan_cycle(fleet, cycle, now=now, policy=policy)

    workload = Workload(fleet, policy, min(cycle.release.released_at, now), cycle.release.kind)
    jobs = {workload.targets[job.index].key: job for job in workload.jobs}
    unknown = sorted(by_key.keys() - jobs.keys())
    if unknown:
        raise ReplanError(f"{unknown[0]} is in the plan but not enrolled in the fleet")

    current = max(a.phase for a in started)
    kept = [a for a in started if a.vm.lower() not in missed_keys]
    phases: list[Phase] = [p for p in plan.phases if p.index < current]
    assignments: list[Assignment] = list(kept)

    def schedule(
        index: int, regions: tuple[str, ...], todo: Sequence[Assignment], opens: int, *, retry: bool
    ) -> None:
        fixed = [
            FixedSlot(jobs[a.vm.lower()], minute_floor(a.start), minute_floor(a.end))
            for a in kept
            if a.phase == index
        ]
        end = max((minute_floor(a.end) for a in kept if a.phase == index), default=opens)
        by_region: dict[str, list[Job]] = defaultdict(list)
        for a in todo:
            by_region[workload.targets[jobs[a.vm.lower()].index].region].append(jobs[a.vm.lower()])
        for region in sorted(by_region):
            in_region = [f for f in fixed if workload.targets[f.job.index].region == region]
            starts = workload.schedule(region, by_region[region], opens, in_region)
            for job_index, slot_start in starts.items():
                assignments.append(assignment_for(workload, cycle, job_index, index, slot_start))
                end = max(end, slot_start + workload.slot_of(job_index))
        opened = plan.phases[current].start if index == current else from_minute(opens)
        phases.append(Phase(index, regions, opened, from_minute(end), retry))

    now_minute = minute_ceil(now)

    def after_last_phase() -> int:
        """A later phase opens a health gate after the last one, and never in the past."""
        return max(minute_ceil(phases[-1].end) + workload.gate, now_minute)

    in_progress = plan.phases[current]
    todo_now = [
        a
        for a in plan.assignments
        if a.phase == current and (a.start >= now or a.vm.lower() in missed_keys)
    ]
    schedule(current, in_progress.regions, todo_now, now_minute, retry=in_progress.retry)
    for phase in plan.phases[current + 1 :]:
        todo = [a for a in plan.assignments if a.phase == phase.index]
        schedule(phase.index, phase.regions, todo, after_last_phase(), retry=phase.retry)

    catch_up = [by_key[k] for k in sorted(missed_keys) if by_key[k].phase < current]
    for group in _retry_groups(catch_up, workload):
        regions = tuple(sorted({workload.targets[jobs[a.vm.lower()].index].region for a in group}))
        schedule(len(phases), regions, group, after_last_phase(), retry=True)
    return assemble_plan(
        cycle, phases, assignments, plan.skipped, lower_bound_hours=plan.lower_bound_hours
    )


def _retry_groups(missed: Sequence[Assignment], workload: Workload) -> list[list[Assignment]]:
    """Missed VMs of finished phases, grouped so that no group holds two paired regions."""
    by_region: dict[str, list[Assignment]] = defaultdict(list)
    index = {vm.key: vm for vm in workload.targets}
    for a in missed:
        by_region[index[a.vm.lower()].region].append(a)
    graph = pair_graph(by_region, workload.regions)
    groups: list[list[str]] = []
    for region in sorted(by_region):
        for group in groups:
            if not graph[region] & set(group):
                group.append(region)
                break
        else:
            groups.append([region])
    return [[a for region in group for a in by_region[region]] for group in groups]

"""The availability-first planner: a cycle's phases and every enrolled VM's install slot."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from patching.bounds import RegionBound, region_chains
from patching.fleet import Fleet
from patching.models import Assignment, Cycle, Phase, Plan, Skip, VmTarget
from patching.phasing import lower_bound, rank_layouts
from patching.policy import cycle_install_settings, skip_reason
from patching.regions import pair_graph
from patching.scheduling import TACTICS, FixedSlot, Job, RegionScheduler, Tactics
from patching.timezones import vm_zone
from patching.windowclass import WindowClass, from_minute, minute_ceil
from patching.windows import DEFAULT_WINDOW, OffPeakWindow


@dataclass(frozen=True, slots=True)
class PlanningPolicy:
    """The knobs of a plan; the availability rules themselves are fixed."""

    slot_minutes: int = 90
    default_window: OffPeakWindow = field(
        default_factory=lambda: OffPeakWindow.parse(DEFAULT_WINDOW)
    )
    health_gate_minutes: int = 30

    def __post_init__(self) -> None:
        if self.slot_minutes <= 0:
            raise ValueError("slot_minutes must be positive")
        if self.health_gate_minutes < 0:
            raise ValueError("health_gate_minutes must not be negative")


class Workload:
    """The enrolled VMs of a fleet as scheduler jobs, grouped by region, with their windows."""

    def __init__(self, fleet: Fleet, policy: PlanningPolicy, since: datetime) -> None:
        self.policy = policy
        self.targets: list[VmTarget] = []
        self.jobs: list[Job] = []
        self.skipped: list[Skip] = []
        self.classes: list[WindowClass] = []
        self.jobs_by_region: dict[str, list[Job]] = defaultdict(list)
        self.batch_sizes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.set_sizes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.regions = fleet.regions
        self._schedules: dict[tuple[str, int, Tactics], dict[int, int]] = {}
        class_index: dict[tuple[str, str], int] = {}
        for vm in fleet.vms:
            # A set's cap counts all its VMs (CONTRACTS.md rule 3: the set's size), the
            # batch cap only the enrolled ones (rule 5).
            if vm.availability_set_key is not None:
                self.set_sizes[vm.region][vm.availability_set_key] += 1
            reason = skip_reason(vm)
            window = fleet.window_tag(vm) or policy.default_window
            if reason is not None:
                self.skipped.append(Skip(vm.id, reason))
                continue
            zone = vm_zone(
                windows_id=vm.time_zone,
                tag_zone=vm.tags.get("timeZone"),
                region=vm.region,
                regions=fleet.regions,
            )
            key = (zone.key, str(window))
            if key not in class_index:
                class_index[key] = len(self.classes)
                self.classes.append(WindowClass(zone, window, since, policy.slot_minutes))
            job = Job(
                index=len(self.targets),
                subscription=vm.subscription_id,
                zone=vm.zone,
                set_key=vm.availability_set_key,
                update_domain=vm.update_domain or 0,
                window_class=class_index[key],
            )
            self.targets.append(vm)
            self.jobs.append(job)
            self.jobs_by_region[vm.region].append(job)
            self.batch_sizes[vm.region][job.subscription] += 1

    def slot_of(self, job_index: int) -> int:
        return self.classes[self.jobs[job_index].window_class].slot

    @property
    def gate(self) -> int:
        return self.policy.health_gate_minutes

    def region_sizes(self) -> dict[str, int]:
        return {region: len(jobs) for region, jobs in self.jobs_by_region.items()}

    def bounds(self) -> dict[str, RegionBound]:
        return {
            region: RegionBound(
                region_chains(jobs, self.batch_sizes[region], self.set_sizes[region]),
                self.classes,
            )
            for region, jobs in self.jobs_by_region.items()
        }

    def schedule(
        self,
        region: str,
        jobs: Sequence[Job],
        start: int,
        fixed: Sequence[FixedSlot] = (),
        *,
        tactics: Tactics = TACTICS[0],
    ) -> dict[int, int]:
        key = (region, start, tactics)
        if not fixed and key in self._schedules:
            return self._schedules[key]
        scheduler = RegionScheduler(
            jobs,
            start=start,
            classes=self.classes,
            batch_sizes=self.batch_sizes[region],
            set_sizes=self.set_sizes[region],
            fixed=fixed,
            tactics=tactics,
        )
        starts = scheduler.run()
        if not fixed:
            self._schedules[key] = starts
        return starts

    def schedule_phase(self, regions: Sequence[str], start: int) -> dict[str, dict[int, int]]:
        """Each region of a phase from `start`; the region that ends the phase is tried with
        the other tactics too and keeps whichever ends soonest, until the phase's last region
        has had every try."""
        starts = {r: self.schedule(r, self.jobs_by_region[r], start) for r in regions}
        retried: set[str] = set()
        while True:
            critical = max(regions, key=lambda r: (max(starts[r].values()), r))
            if critical in retried:
                return starts
            retried.add(critical)
            for tactics in TACTICS[1:]:
                other = self.schedule(
                    critical, self.jobs_by_region[critical], start, tactics=tactics
                )
                if max(other.values()) < max(starts[critical].values()):
                    starts[critical] = other


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
    opens = max(released, now) if now is not None else released
    workload = Workload(fleet, policy, opens)
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

"""The enrolled VMs of a fleet as the scheduler's jobs, and the policy that shapes them.

Planning a cycle and re-planning one in progress both work on a `Workload`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from patching import defaults
from patching.bounds import RegionBound, region_chains
from patching.errors import BadInput
from patching.fleet import Fleet
from patching.models import ReleaseKind, Skip, VmTarget
from patching.policy import skip_reason
from patching.scheduling import TACTICS, FixedSlot, Job, RegionScheduler, Tactics
from patching.slots import short_window_reason, slot_minutes
from patching.timezones import vm_zone
from patching.windowclass import WindowClass
from patching.windows import OffPeakWindow


class PolicyError(BadInput):
    """A planning knob outside its bounds (`patching.defaults`)."""


class _ClassKey(NamedTuple):
    """VMs with the same zone, window and slot length share a window class."""

    zone: str
    window: str
    slot: int


class _ScheduleKey(NamedTuple):
    """A region's schedule from a start minute with some tactics (cached when nothing is fixed)."""

    region: str
    start: int
    tactics: Tactics


@dataclass(frozen=True, slots=True)
class PlanningPolicy:
    """The knobs of a plan; the availability rules themselves are fixed."""

    slot_minutes: int = defaults.SLOT_MINUTES
    hotpatch_slot_minutes: int = defaults.HOTPATCH_SLOT_MINUTES
    default_window: OffPeakWindow = defaults.DEFAULT_WINDOW
    health_gate_minutes: int = defaults.HEALTH_GATE_MINUTES

    def __post_init__(self) -> None:
        for name in ("slot_minutes", "hotpatch_slot_minutes"):
            value = getattr(self, name)
            if value not in defaults.SLOT_MINUTES_BOUNDS:
                raise PolicyError(f"{name} {value} is outside {defaults.SLOT_MINUTES_BOUNDS}")
        if self.health_gate_minutes not in defaults.HEALTH_GATE_MINUTES_BOUNDS:
            raise PolicyError(
                f"health_gate_minutes {self.health_gate_minutes} is outside "
                f"{defaults.HEALTH_GATE_MINUTES_BOUNDS}"
            )


class Workload:
    """The enrolled VMs of a fleet as scheduler jobs, grouped by region, with their windows
    and slots (sized for the release's kind)."""

    def __init__(
        self, fleet: Fleet, policy: PlanningPolicy, since: datetime, kind: ReleaseKind
    ) -> None:
        self.policy = policy
        self.targets: list[VmTarget] = []
        self.jobs: list[Job] = []
        self.skipped: list[Skip] = []
        self.classes: list[WindowClass] = []
        self.jobs_by_region: dict[str, list[Job]] = defaultdict(list)
        self.batch_sizes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.set_sizes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.regions = fleet.regions
        self._schedules: dict[_ScheduleKey, dict[int, int]] = {}
        class_index: dict[_ClassKey, int] = {}
        for vm in fleet.vms:
            # A set's cap counts all its VMs (docs/CONTRACTS.md rule 3: the set's size), the
            # batch cap only the enrolled ones (rule 5).
            if vm.availability_set_key is not None:
                self.set_sizes[vm.region][vm.availability_set_key] += 1
            reason = skip_reason(vm)
            window = fleet.window_tag(vm) or policy.default_window
            if reason is not None:
                self.skipped.append(Skip(vm.id, reason))
                continue
            slot = slot_minutes(
                vm,
                kind,
                window,
                install_slot=policy.slot_minutes,
                hotpatch_slot=policy.hotpatch_slot_minutes,
            )
            if slot is None:
                self.skipped.append(Skip(vm.id, short_window_reason(window)))
                continue
            zone = vm_zone(
                windows_id=vm.time_zone,
                tag_zone=vm.tags.get("timeZone"),
                region=vm.region,
                regions=fleet.regions,
            )
            key = _ClassKey(zone.key, str(window), slot)
            if key not in class_index:
                class_index[key] = len(self.classes)
                self.classes.append(WindowClass(zone, window, since, slot))
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
                region_chains(
                    jobs,
                    self.batch_sizes[region],
                    self.set_sizes[region],
                    [c.slot for c in self.classes],
                ),
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
        key = _ScheduleKey(region, start, tactics)
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
            # Slots differ in length: the region that ends the phase is the one whose last
            # slot ends last, not the one whose last slot starts last.
            critical = max(regions, key=lambda r: (self.end_of(starts[r]), r))
            if critical in retried:
                return starts
            retried.add(critical)
            mixed = len({self.slot_of(job.index) for job in self.jobs_by_region[critical]}) > 1
            for tactics in TACTICS[1:]:
                if tactics.uniform_slots and not mixed:
                    continue  # with slots of one length it plans just what its twin does
                other = self.schedule(
                    critical, self.jobs_by_region[critical], start, tactics=tactics
                )
                if self.end_of(other) < self.end_of(starts[critical]):
                    starts[critical] = other

    def end_of(self, starts: dict[int, int]) -> int:
        """When the last of these slots (job index -> start minute) ends."""
        return max(begin + self.slot_of(job_index) for job_index, begin in starts.items())

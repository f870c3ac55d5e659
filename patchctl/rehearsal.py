"""The rehearsal behind `patchctl simulate`: the function app as deployed (`function_app.app`)
on the local host, the real compute adapter against the fleet simulator in process, the
tables in Azurite (or the store the caller names), all on one virtual clock that starts at
the release.

The app opens the cycle itself: from the release events given, delivered when the clock
reaches them, or from its calendar on its hourly timer. The report is built afterwards
from what the store recorded (each VM's state) and what the simulator and the engine
counted.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from activities.deps import Deps, reset_deps, use_deps
from azure_io.compute import ComputeAdapter
from azure_io.memory_store import MemoryPatchStore
from azure_io.ports import PatchStore
from azure_io.settings import Settings, TableStorage
from devhost.app_loader import loaded
from devhost.host import LocalHost
from fleetsim.clock import VirtualClock
from fleetsim.transport import open_simulator
from patchctl.local_tables import opened_tables, started_azurite
from patchctl.rehearsal_spec import Progress, RehearsalSpec
from patching.calendar import next_patch_tuesday
from patching.install_history import PastInstall, install_kind
from patching.models import Assignment, Cycle, ReleaseKind, VmTarget
from patching.outcomes import VmState, vm_state
from patching.timefmt import parse_time
from reporting.model import (
    ArmCounters,
    Attempt,
    DurableCounters,
    Halt,
    PlannedSlot,
    Report,
    TableCounters,
    VmRow,
    VmRun,
)

SUCCEEDED = "Succeeded"


def rehearse(
    spec: RehearsalSpec,
    *,
    progress: Callable[[Progress], None] | None = None,
    store: PatchStore | None = None,
) -> Report:
    """Run the app on the fleet from the release for `spec.days` days; the cycle's report.
    With `store`, the app keeps its records there (an earlier month's, so this one plans
    with that month's history) instead of the spec's. Everything started is stopped on the
    way out, also on an error or Ctrl-C."""
    with _running(spec, store) as run:
        pending = [dataclasses.replace(e, at=max(e.at, spec.start)) for e in spec.events]

        def next_event() -> datetime | None:
            return pending[0].at if pending else None

        def on_wake(now: datetime) -> None:
            due = [e.event for e in pending if e.at <= now]
            if due:
                del pending[: len(due)]
                run.host.deliver_event_grid(due)
            if progress is not None:
                progress(Progress(now, run.installs_done()))

        on_wake(spec.start)
        run.host.run_until(spec.end, wake_sources=(next_event,), on_wake=on_wake)
        return run.report(spec)


@dataclass
class _Run:
    host: LocalHost
    store: PatchStore
    log_path: Path
    requests: Callable[[], int]
    throttled: Callable[[], int]
    _log_offset: int = 0
    _installs_done: int = 0

    def installs_done(self) -> int:
        """Installs the simulator finished so far, reading only what the log gained."""
        with self.log_path.open("rb") as log:
            log.seek(self._log_offset)
            for line in log:
                if not line.endswith(b"\n"):
                    break
                self._log_offset += len(line)
                if b'"installPatches"' in line and _is_success(json.loads(line)):
                    self._installs_done += 1
        return self._installs_done

    def report(self, spec: RehearsalSpec) -> Report:
        stats = self.host.engine.stats()
        store_id, cycle, halt = self._cycle(spec)
        # A run past the next Patch Tuesday rehearses that month's cycle too.
        until = next_patch_tuesday(cycle.release.released_at)
        runs = _runs(self.log_path)
        return Report(
            cycle=cycle,
            halt=halt,
            vms=tuple(
                self._row(vm, cycle.release.kind, halt, runs, until) for vm in spec.fleet.vms
            ),
            durable=DurableCounters(
                instances=stats.instances,
                max_history_events=stats.max_history_events,
                replayed_events=stats.replayed_events,
            ),
            arm=ArmCounters(requests=self.requests(), throttled=self.throttled()),
            tables=TableCounters(rows_written=self.store.rows_written),
            slots=self._slots(spec, store_id),
            runs=tuple(
                VmRun(vm.id, tuple(runs[vm.key])) for vm in spec.fleet.vms if vm.key in runs
            ),
        )

    def _cycle(self, spec: RehearsalSpec) -> tuple[str | None, Cycle, Halt | None]:
        """The month's cycle as the app recorded it (a replacing baseline before the
        hotpatch cycle it replaced) with its id in the store, else the one asked for."""
        month = spec.cycle.id
        for cycle_id in (f"{month}-baseline", month):
            record = self.store.cycle(cycle_id)
            if record is None:
                continue
            cycle = dataclasses.replace(
                spec.cycle,
                release=dataclasses.replace(
                    spec.cycle.release,
                    kind=ReleaseKind(record.release_kind),
                    released_at=record.released_at,
                    release_id=record.release_id,
                ),
                deadline=record.deadline,
            )
            halted = record.state == "halted"
            return cycle_id, cycle, Halt(record.halt_reason or "halted") if halted else None
        return None, spec.cycle, None

    def _slots(self, spec: RehearsalSpec, store_id: str | None) -> tuple[PlannedSlot, ...]:
        """Each planned VM's last slot (a re-plan gives a VM that missed its slot a later one)."""
        if store_id is None:
            return ()
        regions = {vm.key: vm.region for vm in spec.fleet.vms}
        last: dict[str, Assignment] = {}
        for group in self.store.plan_groups(store_id):
            for slot in self.store.plan_group(store_id, group.group_id):
                key = slot.assignment.vm.lower()
                if key in regions and (key not in last or last[key].start < slot.assignment.start):
                    last[key] = slot.assignment
        return tuple(
            PlannedSlot(a.vm, a.phase, regions[key], a.start, a.end, a.reboot_setting)
            for key, a in sorted(last.items())
        )

    def _row(
        self,
        vm: VmTarget,
        kind: ReleaseKind,
        halt: Halt | None,
        runs: Mapping[str, list[Attempt]],
        until: datetime,
    ) -> VmRow:
        """The VM's state at the run's end, and when an install of this cycle (one started
        before `until`, the next month's release) last made it compliant."""
        view = self.store.vm_view(vm.id)
        record = view.compliance if view else None
        installed_at = next(
            (
                a.end
                for a in reversed(runs.get(vm.key, []))
                if a.status == SUCCEEDED and a.start < until
            ),
            None,
        )
        if record is None:
            judged = vm_state(vm, kind, None, halted=halt is not None)
            return VmRow(vm.id, judged.state, installed_at, judged.reason)
        state = VmState(record.state)
        if state is VmState.HALTED and halt is None:
            state = VmState.PENDING
        return VmRow(vm.id, state, installed_at, record.reason)


def _is_success(entry: Mapping[str, Any]) -> bool:
    return (
        entry.get("op") == "installPatches"
        and "httpStatus" not in entry
        and entry.get("status") == SUCCEEDED
    )


def _runs(log_path: Path) -> dict[str, list[Attempt]]:
    """{VM key: the installs the simulator ran on it}, refusals left out."""
    runs: dict[str, list[Attempt]] = {}
    with log_path.open(encoding="utf-8") as log:
        for line in log:
            entry = json.loads(line)
            if entry.get("op") != "installPatches" or "httpStatus" in entry:
                continue
            end = entry.get("end")
            runs.setdefault(entry["vm"].lower(), []).append(
                Attempt(
                    start=parse_time(entry["start"]),
                    end=parse_time(end) if end else None,
                    status=entry["status"],
                    rebooted=bool(entry.get("rebooted")),
                )
            )
    return runs


@contextmanager
def _running(spec: RehearsalSpec, given_store: PatchStore | None) -> Iterator[_Run]:
    with ExitStack() as stack:
        connection = spec.storage_connection_string
        if connection is None and not spec.in_memory_store and given_store is None:
            connection = stack.enter_context(started_azurite()).connection_string
        clock = VirtualClock(spec.start)
        sim = stack.enter_context(
            open_simulator(
                spec.fleet_document, clock=clock, log_path=spec.log_path, sleep=lambda _: None
            )
        )
        settings = _settings(spec, sim.base_url, connection)
        store = given_store or (
            MemoryPatchStore()
            if connection is None
            else opened_tables(settings, where="--storage-connection-string")
        )
        store.record_recent_installs(_expected_installs(spec), recorded_at=spec.start)
        compute = ComputeAdapter.from_settings(settings, sim.credential, transport=sim.transport)
        stack.callback(compute.close)
        use_deps(Deps(settings=settings, compute=compute, store=store, clock=clock))
        stack.callback(reset_deps)
        # The app is imported only when a rehearsal runs: `patchctl plan` never pays for it.
        import function_app

        host = stack.enter_context(
            LocalHost(
                loaded(function_app.app),
                clock=clock,
                duplicate_activities=spec.duplicate_activities,
            )
        )
        state = sim.state
        yield _Run(host, store, spec.log_path, lambda: state.requests, lambda: state.throttled)


def _expected_installs(spec: RehearsalSpec) -> dict[str, tuple[PastInstall, ...]]:
    """The fleet file's `expectedInstallMinutes` as each VM's install history: one install
    of that length, of the kind this month's is, the day before the release."""
    kind = spec.cycle.release.kind
    before = spec.start - timedelta(days=1)
    return {
        vm.id: (PastInstall(install_kind(vm, kind), before, vm.expected_install_minutes),)
        for vm in spec.fleet.vms
        if vm.expected_install_minutes is not None
    }


def _settings(spec: RehearsalSpec, arm_endpoint: str, connection: str | None) -> Settings:
    """The caller's planning settings; ARM is the simulator, the subscriptions the fleet's,
    the tables at `connection`, and the calendar's kind the one the cycle asks for."""
    located = Settings.from_env(
        {
            "PATCH_SUBSCRIPTIONS": ",".join(spec.fleet.subscription_names),
            "PATCH_ARM_ENDPOINT": arm_endpoint,
            "PATCH_ARM_CREDENTIAL": "static",
        }
    )
    month = spec.cycle.release.released_at.month
    baseline_months = set(spec.settings.planned_baseline_months)
    if spec.cycle.release.kind is ReleaseKind.PLANNED_BASELINE:
        baseline_months.add(month)
    elif spec.cycle.release.kind is ReleaseKind.HOTPATCH:
        baseline_months.discard(month)
    return dataclasses.replace(
        spec.settings,
        subscriptions=located.subscriptions,
        arm_endpoint=located.arm_endpoint,
        arm_ca_bundle=None,
        arm_credential=located.arm_credential,
        # No real waits on a virtual clock: the simulator's answers are immediate.
        arm_retry_backoff_seconds=0.0,
        table_storage=None if connection is None else TableStorage(connection_string=connection),
        planned_baseline_months=tuple(sorted(baseline_months)),
    )

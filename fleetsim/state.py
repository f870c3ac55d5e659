"""The simulated fleet: each VM's patches, power, health and its patch operations.

Operations finish by the clock: an install started at T with duration D takes
effect the first time anyone looks at the fleet at or after T + D (`settle`).
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from fleetsim.catalog import Patch, patches_for
from fleetsim.clock import Clock
from fleetsim.errors import ArmError, invalid_parameter, not_found
from fleetsim.fleet import FleetSpec, VmSpec
from fleetsim.install import (
    InstallOutcome,
    InvalidRequest,
    parse_install_request,
    plan_install,
)
from fleetsim.oplog import OperationLog, iso
from fleetsim.vm_ids import vm_id as build_vm_id
from fleetsim.vm_update import parse_vm_update

ASSESS = "assessPatches"
INSTALL = "installPatches"
_View = TypeVar("_View")


@dataclass
class VmRuntime:
    """One VM as it is now; mutated only under the fleet's lock."""

    spec: VmSpec
    patch_mode: str
    enable_hotpatching: bool
    tags: dict[str, str]
    installed: set[str] = field(default_factory=set)
    reboot_pending: bool = False
    healthy: bool = True
    reboots: int = 0
    last_assessment: Operation | None = None
    last_install: Operation | None = None
    running_install: Operation | None = None
    running_assessments: int = 0

    def next_deallocation(self, now: datetime) -> timedelta | None:
        """How long until the VM's next off period begins, if one is scheduled."""
        starts = [p.start for p in self.spec.off_during if p.start > now]
        return min(starts) - now if starts else None

    def power_state(self, now: datetime) -> str:
        if any(period.contains(now) for period in self.spec.off_during):
            return "deallocated"
        return self.spec.power_state


@dataclass
class Operation:
    """An assessPatches or installPatches, decided when it starts."""

    id: str
    kind: str
    vm: VmRuntime
    start: datetime
    end: datetime
    request: Any
    activity_id: str
    found: tuple[Patch, ...] = ()  # assessment: what the VM lacks
    outcome: InstallOutcome | None = None
    reboot_pending_at_start: bool = False


@dataclass(frozen=True)
class VmSnapshot:
    """What tests and the rehearsal inspect about a VM."""

    id: str
    power_state: str
    installed_kbs: tuple[str, ...]
    reboot_pending: bool
    healthy: bool
    reboots: int
    patch_mode: str
    enable_hotpatching: bool
    install_in_progress: bool


def _activity_id(*parts: object) -> str:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return str(uuid.UUID(bytes=digest[:16]))


class FleetState:
    """All VMs of the fleet and their operations, settled up to the clock's now."""

    def __init__(self, fleet: FleetSpec, clock: Clock, log: OperationLog) -> None:
        self.fleet = fleet
        self.clock = clock
        self._log = log
        self._lock = threading.RLock()
        self._epoch = clock.now()
        self._vms: dict[str, VmRuntime] = {
            spec.key: VmRuntime(
                spec=spec,
                patch_mode=spec.patch_mode,
                enable_hotpatching=spec.enable_hotpatching,
                tags=dict(spec.tags),
            )
            for spec in fleet.vms
        }
        # The fleet never changes its VMs: lists by subscription and resource group, built once,
        # keep a request that names one from scanning the whole fleet.
        self._by_group: dict[tuple[str, str | None], list[VmRuntime]] = {}
        for vm in self._vms.values():
            subscription = vm.spec.subscription_id.lower()
            self._by_group.setdefault((subscription, None), []).append(vm)
            group = (subscription, vm.spec.resource_group.lower())
            self._by_group.setdefault(group, []).append(vm)
        self._operations: dict[str, Operation] = {}
        # Running operations as a heap on (end, sequence): settling is cheap per request.
        self._pending: list[tuple[datetime, int, Operation]] = []
        self._catalogs: dict[tuple[str, bool], tuple[Patch, ...]] = {}
        self._sequence = itertools.count(1)
        self._requests = 0
        self._throttled = 0

    # --- inspection (public: tests and the rehearsal) -------------------------

    def vm_ids(self) -> list[str]:
        return [vm.spec.id for vm in self._vms.values()]

    def vm(self, vm_id: str) -> VmSnapshot:
        now = self.clock.now()
        with self._lock:
            self.settle(now)
            vm = self._vms.get(vm_id.lower())
            if vm is None:
                raise KeyError(vm_id)
            return VmSnapshot(
                id=vm.spec.id,
                power_state=vm.power_state(now),
                installed_kbs=tuple(sorted(vm.installed)),
                reboot_pending=vm.reboot_pending,
                healthy=vm.healthy,
                reboots=vm.reboots,
                patch_mode=vm.patch_mode,
                enable_hotpatching=vm.enable_hotpatching,
                install_in_progress=vm.running_install is not None,
            )

    @property
    def requests(self) -> int:
        """Requests answered so far, refusals included."""
        return self._requests

    @property
    def throttled(self) -> int:
        """Requests refused with 429 so far."""
        return self._throttled

    # --- used by the server ---------------------------------------------------

    def count_request(self) -> None:
        with self._lock:
            self._requests += 1

    def count_throttled(self) -> None:
        with self._lock:
            self._throttled += 1

    def read(self, view: Callable[[], _View]) -> _View:
        """`view()` while no operation changes the fleet: a consistent answer."""
        with self._lock:
            return view()

    def settle(self, now: datetime) -> None:
        """Apply every operation that has ended by `now`, in the order they ended."""
        with self._lock:
            while self._pending and self._pending[0][0] <= now:
                self._complete(heapq.heappop(self._pending)[2])

    def finish(self) -> None:
        """At shutdown: settle, then log what is still running as InProgress."""
        with self._lock:
            now = self.clock.now()
            self.settle(now)
            for _, _, op in sorted(self._pending):
                self._log_operation(op, "InProgress", end=None)
            self._pending = []

    def require_resource_group(self, subscription_id: str, resource_group: str) -> None:
        """ARM answers 404 ResourceGroupNotFound for a group the subscription lacks.

        The simulator knows the groups its fleet's VMs are in, and no others.
        """
        if not self.vms_in(subscription_id, resource_group):
            raise ArmError(
                404,
                "ResourceGroupNotFound",
                f"Resource group '{resource_group}' could not be found.",
            )

    def find_vm(self, subscription_id: str, resource_group: str, name: str) -> VmRuntime:
        self.require_resource_group(subscription_id, resource_group)
        vm = self._vms.get(build_vm_id(subscription_id, resource_group, name).lower())
        if vm is None:
            raise not_found("Microsoft.Compute/virtualMachines", name, resource_group)
        return vm

    def vms_in(self, subscription_id: str, resource_group: str | None = None) -> list[VmRuntime]:
        group = resource_group.lower() if resource_group is not None else None
        return list(self._by_group.get((subscription_id.lower(), group), ()))

    def operation(self, operation_id: str) -> Operation | None:
        return self._operations.get(operation_id)

    def missing_patches(self, vm: VmRuntime) -> tuple[Patch, ...]:
        key = (vm.spec.key, vm.enable_hotpatching)
        catalog = self._catalogs.get(key)
        if catalog is None:
            catalog = self._catalogs[key] = patches_for(
                vm.spec, self._epoch, hotpatching=vm.enable_hotpatching
            )
        return tuple(p for p in catalog if p.key not in vm.installed)

    def _require_running(self, vm: VmRuntime, op_name: str, now: datetime) -> None:
        power = vm.power_state(now)
        if power != "running":
            raise ArmError(
                409,
                "OperationNotAllowed",
                f"Operation '{op_name}' is not allowed on VM '{vm.spec.name}' since the VM is "
                f"{power}. The VM is not running; start the VM and retry the operation.",
            )

    def _new_operation(
        self, kind: str, vm: VmRuntime, now: datetime, duration: timedelta, request: Any
    ) -> Operation:
        sequence = next(self._sequence)
        op = Operation(
            id=_activity_id("operation", vm.spec.key, kind, sequence, now),
            kind=kind,
            vm=vm,
            start=now,
            end=now + duration,
            request=request,
            activity_id=_activity_id("activity", vm.spec.key, kind, sequence),
            reboot_pending_at_start=vm.reboot_pending,
        )
        self._operations[op.id] = op
        heapq.heappush(self._pending, (op.end, sequence, op))
        return op

    @staticmethod
    def _conflict(vm: VmRuntime, op_name: str, running: str) -> ArmError:
        return ArmError(
            409,
            "OperationNotAllowed",
            f"Operation '{op_name}' is not allowed on VM '{vm.spec.name}' since another "
            f"operation ('{running}') is in progress. Retry after it has completed.",
        )

    def start_assessment(self, vm: VmRuntime, now: datetime) -> Operation:
        with self._lock:
            self.settle(now)
            self._require_running(vm, ASSESS, now)
            # Azure runs one patch operation of a kind at a time on a VM and no
            # assessment during an install (assessments may overlap each other).
            if vm.running_install is not None:
                raise self._conflict(vm, ASSESS, INSTALL)
            op = self._new_operation(
                ASSESS, vm, now, timedelta(minutes=vm.spec.assess_minutes), None
            )
            op.found = self.missing_patches(vm)
            vm.running_assessments += 1
            return op

    def start_install(
        self, vm: VmRuntime, body: Any, now: datetime, *, logged_request: Any
    ) -> Operation:
        """Start an install of `body`; the log shows it as `logged_request`."""
        with self._lock:
            self.settle(now)
            try:
                request = parse_install_request(body, windows=vm.spec.is_windows)
            except InvalidRequest as exc:
                raise invalid_parameter(exc.target, str(exc)) from exc
            self._require_running(vm, INSTALL, now)
            if vm.running_install is not None:
                raise self._conflict(vm, INSTALL, INSTALL)
            if vm.running_assessments:
                raise self._conflict(vm, INSTALL, ASSESS)
            # A hotpatch install (reboot-needing KBs left out) takes minutes, not the full
            # install's time.
            hotpatch_only = vm.enable_hotpatching and request.exclude_kbs_requiring_reboot
            outcome = plan_install(
                self.missing_patches(vm),
                request,
                install_minutes=vm.spec.hotpatch_install_minutes
                if hotpatch_only
                else vm.spec.install_minutes,
                fails=vm.spec.install_fails,
                reboot_pending_before=vm.reboot_pending,
                deallocated_after=vm.next_deallocation(now),
            )
            op = self._new_operation(INSTALL, vm, now, outcome.duration, logged_request)
            op.outcome = outcome
            vm.running_install = op
            return op

    def update_vm(self, vm: VmRuntime, body: Any) -> None:
        """PATCH: tags, patch mode and the hotpatch flag (`fleetsim.vm_update`)."""
        with self._lock:
            update = parse_vm_update(
                body,
                vm.spec,
                patch_mode=vm.patch_mode,
                enable_hotpatching=vm.enable_hotpatching,
            )
            vm.patch_mode = update.patch_mode
            vm.enable_hotpatching = update.enable_hotpatching
            if update.tags is not None:
                vm.tags = update.tags

    def _complete(self, op: Operation) -> None:
        vm = op.vm
        if op.kind == ASSESS:
            vm.running_assessments -= 1
            vm.last_assessment = op
            self._log_operation(op, "Succeeded", end=op.end)
            return
        outcome = op.outcome
        assert outcome is not None
        vm.running_install = None
        vm.last_install = op
        vm.installed.update(p.key for p in outcome.installed)
        if outcome.rebooted:
            vm.reboots += 1
            vm.reboot_pending = False
        elif outcome.reboot_status == "Required":
            vm.reboot_pending = True
        if vm.spec.unhealthy_after_install and outcome.status != "Failed":
            vm.healthy = False
        self._log_operation(op, outcome.status, end=op.end)

    def _log_operation(self, op: Operation, status: str, *, end: datetime | None) -> None:
        installed = [p.key for p in op.outcome.installed] if op.outcome and end is not None else []
        self._log.write(
            {
                "op": op.kind,
                "vm": op.vm.spec.id,
                "start": iso(op.start),
                "end": iso(end) if end is not None else None,
                "status": status,
                "request": op.request,
                "rebooted": bool(op.outcome and end is not None and op.outcome.rebooted),
                "installedKbs": installed,
            }
        )

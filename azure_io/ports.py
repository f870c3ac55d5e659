"""The two ports activities depend on, so tests and the local rehearsal can pass any
implementation: ``ComputePort`` (ARM compute: ``azure_io.compute.ComputeAdapter``) and
``PatchStore`` (the tables: ``azure_io.tables.PatchTables`` on Table Storage,
``azure_io.memory_store.MemoryPatchStore`` in memory).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from azure_io.compute_outcomes import (
    AssessmentCheck,
    HealthCheck,
    HotpatchOutcome,
    InstallCheck,
    OperationKind,
    Started,
    StartOutcome,
)
from azure_io.patch_results import AssessmentResult, InstallRequest, InstallResult
from azure_io.patch_views import HISTORY_DAYS, HistoryEntry, VmView
from azure_io.rollout_records import (
    OperationInFlight,
    OperationKey,
    PlanGroupRows,
    PlanGroupSummary,
    PlannedSlot,
)
from azure_io.table_rows import ComplianceRecord, CycleRecord
from patching.assessment import Wave
from patching.install_history import PastInstall
from patching.models import VmTarget


class ComputePort(Protocol):
    """Discovery, patch operations and health of VMs.

    Per-VM calls return at once with a typed outcome for the expected cases (throttled,
    VM not running, operation failed or refused) instead of raising; long-running
    operations are started and later checked, never waited on. Only misconfiguration and
    exhausted transient retries raise (``ArmCallError``; ``ArmThrottledError`` for the
    calls that return data).
    """

    def discover(self, subscription_id: str) -> list[VmTarget]:
        """Every VM of the subscription with its placement and power state."""
        ...

    def region_pairs(self, subscription_id: str) -> dict[str, str]:
        """{region: its geo-pair} for the subscription's regions that have one; region
        names normalized."""
        ...

    def start_assessment(self, vm_id: str) -> StartOutcome:
        """Starts assessPatches; ``Started`` carries the token to check it with."""
        ...

    def start_install(self, vm_id: str, request: InstallRequest) -> StartOutcome:
        """Starts installPatches as ``request`` says; ``Started`` carries the token."""
        ...

    def check_assessment(self, started: Started) -> AssessmentCheck:
        """One look at a started assessment: in progress, its result, failed or throttled."""
        ...

    def check_install(self, started: Started) -> InstallCheck:
        """One look at a started install: in progress, its result, failed or throttled."""
        ...

    def check_health(self, vm_id: str) -> HealthCheck:
        """The VM's health verdict from platform signals, or throttled."""
        ...

    def set_hotpatching(self, vm_id: str, enabled: bool) -> HotpatchOutcome:
        """Turns the VM's hotpatch flag on or off (one VM update), or refused, or throttled."""
        ...

    def close(self) -> None:
        """Releases connections; the port is not used afterwards."""
        ...


class PatchStore(Protocol):
    """The app's records: each VM's latest state, 30 days of history, patch cycles, and
    what orchestrations work on without carrying it in their histories: the month's plan,
    the discovered fleet and the operations in flight.

    Every write is idempotent: keys are deterministic functions of what a row records
    (docs/CONTRACTS.md section 7), so a replayed or redelivered write lands on the same row
    and writing the same facts again changes nothing. Safe under concurrent writers
    (threads; on Table Storage also other processes). Times must be timezone-aware
    (ValueError otherwise, and then nothing is written); so must every value be valid
    (ValueError naming it, nothing written). A call that writes many rows is not one
    transaction on Table Storage (at most 100 rows of one partition are): when it fails
    part way, calling it again completes it.
    """

    def create_tables(self) -> None:
        """Makes the store ready for use; idempotent."""
        ...

    @property
    def rows_written(self) -> int:
        """Rows this store object inserted, replaced, merged or deleted since it was made:
        a transaction counts its rows, a retried write counts again, and so does a delete
        of a row already gone; writes of one row in one call count once."""
        ...

    def record_assessments(
        self, results: Iterable[AssessmentResult], *, recorded_at: datetime
    ) -> None:
        """One history row per result, keyed by its event time (``started_at``, or
        ``recorded_at`` for a result without one: pass a moment a redelivery repeats, such
        as the orchestrator's replay-safe clock). A VM's latest assessment becomes the
        newest of its results only when newer than the one held: it moves only forward in
        event time, whatever order results arrive in, also under concurrent writers.
        """
        ...

    def record_installs(
        self, results: Iterable[InstallResult], *, cycle: str | None, recorded_at: datetime
    ) -> None:
        """As ``record_assessments``, for installs; ``cycle`` is None for an on-demand
        install, and a newer install replaces the VM's install cycle and error."""
        ...

    def record_compliance(self, records: Iterable[ComplianceRecord]) -> None:
        """Sets each VM's compliance (state, reason, enrolled, hotpatch, cycle), last
        record winning; its latest assessment and install are kept."""
        ...

    def record_recent_installs(
        self, installs: Mapping[str, Sequence[PastInstall]], *, recorded_at: datetime
    ) -> None:
        """Sets each VM's recent installs ({VM id: installs, oldest first}), replacing what
        it held; its other columns are kept."""
        ...

    def save_cycle(self, record: CycleRecord) -> None:
        """Creates or replaces the cycle's record."""
        ...

    def purge_history(self, *, now: datetime, keep_days: int = HISTORY_DAYS) -> int:
        """Deletes history (assessments and installs) older than ``keep_days`` before
        ``now`` and returns how many entries went; latest state is not history and stays.
        Tolerates another clean-up deleting the same rows meanwhile."""
        ...

    def save_plan_groups(
        self, cycle_id: str, groups: Iterable[PlanGroupRows], *, recorded_at: datetime
    ) -> None:
        """Writes a row per assignment of each group (a group is one partition, written in
        one transaction); a row saved again is replaced. Group ids are unique in a cycle
        (ValueError for one given twice). To replace a cycle's plan, ``delete_plan`` first.
        """
        ...

    def delete_plan(self, cycle_id: str) -> int:
        """Deletes every group of the cycle's plan and returns how many rows went."""
        ...

    def save_inventory(
        self, subscription_id: str, targets: Iterable[VmTarget], *, discovered_at: datetime
    ) -> None:
        """Replaces the subscription's snapshot of discovered VMs with ``targets`` (all of
        that subscription, each once; ValueError otherwise): their rows are written and
        rows of VMs no longer there are deleted."""
        ...

    def save_operations(self, records: Iterable[OperationInFlight]) -> None:
        """Keeps each started operation (one per VM and kind) until it is finished; saving
        the same start again changes nothing, a later start of the VM and kind replaces it.
        A status URL is kept whole: one beyond Table Storage's 64 KiB string
        property is refused (ValueError)."""
        ...

    def save_assessment_waves(
        self, round_id: str, waves: Sequence[Wave], *, recorded_at: datetime
    ) -> None:
        """Keeps the waves of an assessment round, the n-th of ``waves`` at index n (at most
        100,000); saving a round's waves again replaces those of the same indexes."""
        ...

    def assessment_wave(self, round_id: str, index: int) -> Wave | None:
        """The round's wave at ``index`` as saved, or None."""
        ...

    def purge_assessment_waves(self, *, before: datetime) -> int:
        """Deletes the waves saved before ``before`` and returns how many went."""
        ...

    def finish_operations(self, keys: Iterable[OperationKey]) -> None:
        """Forgets the operations of ``keys``; one already gone is fine."""
        ...

    def vm_view(self, vm_id: str) -> VmView | None:
        """The VM's latest assessment, last install and compliance, or None if nothing was
        recorded for it; ``vm_id`` matches whatever its case."""
        ...

    def vm_views(self, subscription_id: str) -> dict[str, VmView]:
        """The view of every VM recorded in the subscription (whatever the case of its id),
        by the VM's key (``VmId.key``); empty if nothing was recorded there. Each view is
        what ``vm_view`` answers for that VM. One query, for reading the views of many VMs.
        """
        ...

    def compliance_counts(self, subscription: str | None = None) -> dict[str, dict[str, int]]:
        """{subscription id: {compliance state: VM count}} over every VM recorded (or one
        subscription's); VMs never judged count as ``unknown``."""
        ...

    def history(self, vm_id: str, *, now: datetime, days: int = HISTORY_DAYS) -> list[HistoryEntry]:
        """The VM's assessments and installs of the last ``days`` (1-30, ValueError
        otherwise) before ``now``, newest first."""
        ...

    def cycle(self, cycle_id: str) -> CycleRecord | None:
        """The cycle's record as last saved, or None."""
        ...

    def plan_group(self, cycle_id: str, group_id: str) -> tuple[PlannedSlot, ...]:
        """The group's slots by slot start, then VM id; empty for an unknown group."""
        ...

    def plan_groups(self, cycle_id: str) -> tuple[PlanGroupSummary, ...]:
        """A summary of each of the cycle's groups (no VM lists), by phase, then first
        start, then id."""
        ...

    def inventory(self, subscription_id: str | None = None) -> tuple[VmTarget, ...]:
        """The VMs of the last discovery of every subscription (or one), as discovered,
        by subscription, then resource group and name."""
        ...

    def inventory_age(self, subscription_id: str) -> datetime | None:
        """When the subscription was last discovered, or None if it never was (or had no
        VMs then)."""
        ...

    def operations(
        self,
        kind: OperationKind,
        *,
        vm_ids: Iterable[str] | None = None,
        subscription_id: str | None = None,
    ) -> tuple[OperationInFlight, ...]:
        """The operations of ``kind`` in flight on ``vm_ids`` (those that have one) or in
        one subscription, by key (subscription, then resource group and name); exactly one
        of ``vm_ids`` and ``subscription_id`` (ValueError otherwise)."""
        ...


if TYPE_CHECKING:
    # mypy proves here that the implementations keep to their port.
    from azure_io.compute import ComputeAdapter
    from azure_io.memory_store import MemoryPatchStore
    from azure_io.tables import PatchTables

    _compute_adapter: type[ComputePort] = ComputeAdapter
    _table_store: type[PatchStore] = PatchTables
    _memory_store: type[PatchStore] = MemoryPatchStore

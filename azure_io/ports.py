"""The two ports activities depend on, so tests and the local rehearsal can pass any
implementation: ``ComputePort`` (ARM compute: ``azure_io.compute.ComputeAdapter``) and
``PatchStore`` (the tables: ``azure_io.tables.PatchTables`` on Table Storage,
``azure_io.memory_store.MemoryPatchStore`` in memory).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from azure_io.compute_outcomes import (
    AssessmentCheck,
    HealthCheck,
    InstallCheck,
    Started,
    StartOutcome,
)
from azure_io.patch_results import AssessmentResult, InstallRequest, InstallResult
from azure_io.patch_views import HISTORY_DAYS, HistoryEntry, VmView
from azure_io.table_rows import ComplianceRecord, CycleRecord
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

    def close(self) -> None:
        """Releases connections; the port is not used afterwards."""
        ...


class PatchStore(Protocol):
    """The app's records: each VM's latest state, 30 days of history, patch cycles.

    Every write is idempotent: keys are deterministic functions of what a row records
    (CONTRACTS.md section 7), so a replayed or redelivered write lands on the same row
    and writing the same facts again changes nothing. Safe under concurrent writers
    (threads; on Table Storage also other processes). Times must be timezone-aware
    (ValueError otherwise, and then nothing is written).
    """

    def create_tables(self) -> None:
        """Makes the store ready for use; idempotent."""
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

    def save_cycle(self, record: CycleRecord) -> None:
        """Creates or replaces the cycle's record."""
        ...

    def purge_history(self, *, now: datetime, keep_days: int = HISTORY_DAYS) -> int:
        """Deletes history (assessments and installs) older than ``keep_days`` before
        ``now`` and returns how many entries went; latest state is not history and stays.
        Tolerates another clean-up deleting the same rows meanwhile."""
        ...

    def vm_view(self, vm_id: str) -> VmView | None:
        """The VM's latest assessment, last install and compliance, or None if nothing was
        recorded for it; ``vm_id`` matches whatever its case."""
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


if TYPE_CHECKING:
    # mypy proves here that the implementations keep to their port.
    from azure_io.compute import ComputeAdapter
    from azure_io.memory_store import MemoryPatchStore
    from azure_io.tables import PatchTables

    _compute_adapter: type[ComputePort] = ComputeAdapter
    _table_store: type[PatchStore] = PatchTables
    _memory_store: type[PatchStore] = MemoryPatchStore

"""A ``PatchStore`` in memory, for tests and the fast local rehearsal.

It holds the same rows as the Table Storage repository (same tables, keys and columns,
built by the same functions) and answers from them with the same views, so the two
stores agree on everything a caller can observe. One lock serializes every call, which
makes each call atomic: the forward-only rule of a VM's latest state needs no retries.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime, timedelta

from azure_io.compute_outcomes import OperationKind
from azure_io.patch_results import AssessmentResult, InstallResult
from azure_io.patch_views import (
    HISTORY_DAYS,
    HistoryEntry,
    VmView,
    count_compliance,
    history_from_rows,
    history_since,
    oldest_discovery,
    plan_group_summaries,
    planned_slots,
    vm_view_from_entity,
)
from azure_io.rollout_records import (
    OperationInFlight,
    OperationKey,
    PlanGroupRows,
    PlanGroupSummary,
    PlannedSlot,
)
from azure_io.table_rows import (
    ALL_TABLES,
    ASSESSMENT_TIME_COLUMN,
    ASSESSMENTS_TABLE,
    CYCLES_PARTITION,
    CYCLES_TABLE,
    INSTALL_TIME_COLUMN,
    INSTALLATIONS_TABLE,
    INVENTORY_TABLE,
    OPERATIONS_TABLE,
    PLAN_TABLE,
    VM_STATE_TABLE,
    ComplianceRecord,
    CycleRecord,
    Entity,
    ResultRows,
    assessment_rows,
    compliance_entity,
    cycle_entity,
    cycle_from_entity,
    history_key_range,
    install_rows,
    inventory_rows,
    operation_entity,
    operation_from_entity,
    operation_keys,
    operation_row_kind,
    plan_partition,
    plan_partition_range,
    plan_rows,
    subscription_partition,
    target_from_entity,
    utc,
    vm_keys,
)
from patching.models import VmTarget

_Keys = tuple[str, str]


class MemoryPatchStore:
    """The tables of docs/CONTRACTS.md section 7 as dictionaries (a ``PatchStore``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tables: dict[str, dict[_Keys, Entity]] = {name: {} for name in ALL_TABLES}

    def create_tables(self) -> None:
        """Nothing to create: the tables exist from the start."""

    def rows(self, table: str) -> list[Entity]:
        """Copies of a table's rows in key order, as Table Storage lists them."""
        with self._lock:
            return [dict(row) for _, row in sorted(self._tables[table].items())]

    # -- writes ---------------------------------------------------------------------------

    def record_assessments(
        self, results: Iterable[AssessmentResult], *, recorded_at: datetime
    ) -> None:
        self._record(assessment_rows(results, recorded_at=recorded_at))

    def record_installs(
        self, results: Iterable[InstallResult], *, cycle: str | None, recorded_at: datetime
    ) -> None:
        self._record(install_rows(results, cycle=cycle, recorded_at=recorded_at))

    def _record(self, rows: ResultRows) -> None:
        with self._lock:
            for entity in rows.history:
                self._merge(rows.history_table, entity)
            state = self._tables[VM_STATE_TABLE]
            for keys, entity in rows.latest.items():
                seen_at = state.get(keys, {}).get(rows.time_column)
                if seen_at is None or seen_at < entity[rows.time_column]:
                    self._merge(VM_STATE_TABLE, entity)

    def record_compliance(self, records: Iterable[ComplianceRecord]) -> None:
        entities = [compliance_entity(record) for record in records]
        with self._lock:
            for entity in entities:
                self._merge(VM_STATE_TABLE, entity)

    def save_cycle(self, record: CycleRecord) -> None:
        entity = cycle_entity(record)
        with self._lock:
            self._merge(CYCLES_TABLE, entity)

    def purge_history(self, *, now: datetime, keep_days: int = HISTORY_DAYS) -> int:
        cutoff = utc(now) - timedelta(days=keep_days)
        removed = 0
        with self._lock:
            for table, time_column in (
                (ASSESSMENTS_TABLE, ASSESSMENT_TIME_COLUMN),
                (INSTALLATIONS_TABLE, INSTALL_TIME_COLUMN),
            ):
                rows = self._tables[table]
                old = [keys for keys, row in rows.items() if row[time_column] < cutoff]
                for keys in old:
                    del rows[keys]
                removed += len(old)
        return removed

    def save_plan_groups(
        self, cycle_id: str, groups: Iterable[PlanGroupRows], *, recorded_at: datetime
    ) -> None:
        rows = plan_rows(cycle_id, groups, recorded_at=recorded_at)
        with self._lock:
            for entity in rows:
                self._replace(PLAN_TABLE, entity)

    def delete_plan(self, cycle_id: str) -> int:
        low, high = plan_partition_range(cycle_id)
        with self._lock:
            plan = self._tables[PLAN_TABLE]
            doomed = [keys for keys in plan if low <= keys[0] < high]
            for keys in doomed:
                del plan[keys]
        return len(doomed)

    def save_inventory(
        self, subscription_id: str, targets: Iterable[VmTarget], *, discovered_at: datetime
    ) -> None:
        rows = inventory_rows(subscription_id, targets, discovered_at=discovered_at)
        partition = subscription_partition(subscription_id)
        with self._lock:
            inventory = self._tables[INVENTORY_TABLE]
            for keys in [keys for keys in inventory if keys[0] == partition]:
                if keys not in rows:
                    del inventory[keys]
            for entity in rows.values():
                self._replace(INVENTORY_TABLE, entity)

    def save_operations(self, records: Iterable[OperationInFlight]) -> None:
        rows = [operation_entity(record) for record in records]
        with self._lock:
            for entity in rows:
                self._replace(OPERATIONS_TABLE, entity)

    def finish_operations(self, keys: Iterable[OperationKey]) -> None:
        doomed = [operation_keys(key) for key in keys]
        with self._lock:
            for row_keys in doomed:
                self._tables[OPERATIONS_TABLE].pop(row_keys, None)

    def _replace(self, table: str, entity: Entity) -> None:
        """Inserts or replaces ``entity``'s row as given."""
        self._tables[table][(str(entity["PartitionKey"]), str(entity["RowKey"]))] = dict(entity)

    def _merge(self, table: str, entity: Entity) -> None:
        """Upserts ``entity`` into its row, keeping the columns it does not name."""
        keys = (str(entity["PartitionKey"]), str(entity["RowKey"]))
        self._tables[table].setdefault(keys, {}).update(entity)

    # -- queries --------------------------------------------------------------------------

    def vm_view(self, vm_id: str) -> VmView | None:
        keys = vm_keys(vm_id)
        with self._lock:
            entity = self._tables[VM_STATE_TABLE].get(keys)
            return vm_view_from_entity(entity) if entity is not None else None

    def compliance_counts(self, subscription: str | None = None) -> dict[str, dict[str, int]]:
        with self._lock:
            rows = list(self._tables[VM_STATE_TABLE].values())
        if subscription:
            rows = [row for row in rows if row["PartitionKey"] == subscription.lower()]
        return count_compliance(rows)

    def history(self, vm_id: str, *, now: datetime, days: int = HISTORY_DAYS) -> list[HistoryEntry]:
        partition, low, high = history_key_range(vm_id, since=history_since(now, days))
        with self._lock:
            assessments = self._key_range(ASSESSMENTS_TABLE, partition, low, high)
            installs = self._key_range(INSTALLATIONS_TABLE, partition, low, high)
        return history_from_rows(assessments, installs)

    def _key_range(self, table: str, partition: str, low: str, high: str) -> list[Entity]:
        """The partition's rows with RowKeys from ``low`` to ``high``, in key order."""
        return [
            row
            for (row_partition, row_key), row in sorted(self._tables[table].items())
            if row_partition == partition and low <= row_key <= high
        ]

    def cycle(self, cycle_id: str) -> CycleRecord | None:
        with self._lock:
            entity = self._tables[CYCLES_TABLE].get((CYCLES_PARTITION, cycle_id))
            return cycle_from_entity(entity) if entity is not None else None

    def plan_group(self, cycle_id: str, group_id: str) -> tuple[PlannedSlot, ...]:
        partition = plan_partition(cycle_id, group_id)
        with self._lock:
            rows = self._partition_rows(PLAN_TABLE, partition)
        return planned_slots(rows)

    def plan_groups(self, cycle_id: str) -> tuple[PlanGroupSummary, ...]:
        low, high = plan_partition_range(cycle_id)
        with self._lock:
            rows = [row for keys, row in self._tables[PLAN_TABLE].items() if low <= keys[0] < high]
        return plan_group_summaries(rows)

    def inventory(self, subscription_id: str | None = None) -> tuple[VmTarget, ...]:
        partition = subscription_partition(subscription_id) if subscription_id is not None else None
        with self._lock:
            rows = [
                row
                for keys, row in sorted(self._tables[INVENTORY_TABLE].items())
                if partition is None or keys[0] == partition
            ]
        return tuple(target_from_entity(row) for row in rows)

    def inventory_age(self, subscription_id: str) -> datetime | None:
        partition = subscription_partition(subscription_id)
        with self._lock:
            rows = self._partition_rows(INVENTORY_TABLE, partition)
        return oldest_discovery(rows)

    def operations(
        self,
        kind: OperationKind,
        *,
        vm_ids: Iterable[str] | None = None,
        subscription_id: str | None = None,
    ) -> tuple[OperationInFlight, ...]:
        if (vm_ids is None) == (subscription_id is None):
            raise ValueError("operations: give either vm_ids or subscription_id")
        word = operation_row_kind(kind)
        wanted = (
            {operation_keys(OperationKey(vm_id, kind)) for vm_id in vm_ids}
            if vm_ids is not None
            else None
        )
        partition = subscription_partition(subscription_id) if subscription_id is not None else None
        with self._lock:
            rows = [
                row
                for keys, row in sorted(self._tables[OPERATIONS_TABLE].items())
                if row["kind"] == word
                and (keys in wanted if wanted is not None else keys[0] == partition)
            ]
        return tuple(operation_from_entity(row) for row in rows)

    def _partition_rows(self, table: str, partition: str) -> list[Entity]:
        """A partition's rows in key order."""
        return [row for keys, row in sorted(self._tables[table].items()) if keys[0] == partition]

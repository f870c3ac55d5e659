"""A ``PatchStore`` in memory, for tests and the fast local rehearsal.

It holds the same rows as the Table Storage repository (same tables, keys and columns,
built by the same functions) and answers from them with the same views, so the two
stores agree on everything a caller can observe. One lock serializes every call, which
makes each call atomic: the forward-only rule of a VM's latest state needs no retries.

Each table is kept per partition, as Table Storage keeps it, so reading a partition (a
subscription's inventory, a plan group) costs its own rows, not the whole table's, and
rows come back in key order like the service lists them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
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
    views_by_key,
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
    ASSESSMENT_WAVES_TABLE,
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
    recent_installs_entity,
    subscription_partition,
    target_from_entity,
    utc,
    vm_keys,
)
from azure_io.wave_rows import wave_from_entity, wave_partition, wave_row_key, wave_rows
from patching.assessment import Wave
from patching.install_history import PastInstall
from patching.models import VmTarget

_Keys = tuple[str, str]
# {PartitionKey: {RowKey: row}}; a partition left without rows is dropped.
_Table = dict[str, dict[str, Entity]]


class MemoryPatchStore:
    """The tables of docs/CONTRACTS.md section 7 as dictionaries (a ``PatchStore``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tables: dict[str, _Table] = {name: {} for name in ALL_TABLES}
        self._rows_written = 0

    def create_tables(self) -> None:
        """Nothing to create: the tables exist from the start."""

    @property
    def rows_written(self) -> int:
        with self._lock:
            return self._rows_written

    def rows(self, table: str) -> list[Entity]:
        """Copies of a table's rows in key order, as Table Storage lists them."""
        with self._lock:
            ordered = self._ordered_rows(table, sorted(self._tables[table]))
            return [dict(row) for row in ordered]

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
            self._merge(rows.history_table, rows.history)
            advanced = []
            for keys, entity in rows.latest.items():
                seen = self._row(VM_STATE_TABLE, keys)
                seen_at = seen.get(rows.time_column) if seen is not None else None
                if seen_at is None or seen_at < entity[rows.time_column]:
                    advanced.append(entity)
            self._merge(VM_STATE_TABLE, advanced)

    def record_compliance(self, records: Iterable[ComplianceRecord]) -> None:
        entities = [compliance_entity(record) for record in records]
        with self._lock:
            self._merge(VM_STATE_TABLE, entities)

    def record_recent_installs(
        self, installs: Mapping[str, Sequence[PastInstall]], *, recorded_at: datetime
    ) -> None:
        entities = [
            recent_installs_entity(vm, recent, recorded_at=recorded_at)
            for vm, recent in installs.items()
        ]
        with self._lock:
            self._merge(VM_STATE_TABLE, entities)

    def save_cycle(self, record: CycleRecord) -> None:
        entity = cycle_entity(record)
        with self._lock:
            self._merge(CYCLES_TABLE, [entity])

    def purge_history(self, *, now: datetime, keep_days: int = HISTORY_DAYS) -> int:
        cutoff = utc(now) - timedelta(days=keep_days)
        removed = 0
        with self._lock:
            for table, time_column in (
                (ASSESSMENTS_TABLE, ASSESSMENT_TIME_COLUMN),
                (INSTALLATIONS_TABLE, INSTALL_TIME_COLUMN),
            ):
                old = self._older_than(table, time_column, cutoff)
                self._delete(table, old)
                removed += len(old)
        return removed

    def save_plan_groups(
        self, cycle_id: str, groups: Iterable[PlanGroupRows], *, recorded_at: datetime
    ) -> None:
        rows = plan_rows(cycle_id, groups, recorded_at=recorded_at)
        with self._lock:
            self._replace(PLAN_TABLE, rows)

    def delete_plan(self, cycle_id: str) -> int:
        low, high = plan_partition_range(cycle_id)
        with self._lock:
            doomed = [
                (partition, row)
                for partition in self._partitions_between(PLAN_TABLE, low, high)
                for row in self._tables[PLAN_TABLE][partition]
            ]
            self._delete(PLAN_TABLE, doomed)
        return len(doomed)

    def save_inventory(
        self, subscription_id: str, targets: Iterable[VmTarget], *, discovered_at: datetime
    ) -> None:
        rows = inventory_rows(subscription_id, targets, discovered_at=discovered_at)
        partition = subscription_partition(subscription_id)
        with self._lock:
            held = self._tables[INVENTORY_TABLE].get(partition, {})
            gone = [(partition, row) for row in held if (partition, row) not in rows]
            self._replace(INVENTORY_TABLE, rows.values())
            self._delete(INVENTORY_TABLE, gone)

    def save_operations(self, records: Iterable[OperationInFlight]) -> None:
        rows = [operation_entity(record) for record in records]
        with self._lock:
            self._replace(OPERATIONS_TABLE, rows)

    def save_assessment_waves(
        self, round_id: str, waves: Sequence[Wave], *, recorded_at: datetime
    ) -> None:
        rows = wave_rows(round_id, waves, recorded_at=recorded_at)
        with self._lock:
            self._replace(ASSESSMENT_WAVES_TABLE, rows)

    def assessment_wave(self, round_id: str, index: int) -> Wave | None:
        keys = (wave_partition(round_id), wave_row_key(index))
        with self._lock:
            entity = self._row(ASSESSMENT_WAVES_TABLE, keys)
        return wave_from_entity(entity) if entity is not None else None

    def purge_assessment_waves(self, *, before: datetime) -> int:
        cutoff = utc(before)
        with self._lock:
            old = self._older_than(ASSESSMENT_WAVES_TABLE, "recordedAt", cutoff)
            self._delete(ASSESSMENT_WAVES_TABLE, old)
        return len(old)

    def finish_operations(self, keys: Iterable[OperationKey]) -> None:
        doomed = [operation_keys(key) for key in keys]
        with self._lock:
            self._delete(OPERATIONS_TABLE, doomed)

    # -- row plumbing (under the lock) ----------------------------------------------------
    # Each write counts the distinct rows it names, as Table Storage gets them: the
    # repository folds writes of one row into one operation and deletes a row already gone.

    def _replace(self, table: str, entities: Iterable[Entity]) -> None:
        """Inserts or replaces each entity's row as given."""
        written: set[_Keys] = set()
        for entity in entities:
            partition, row = str(entity["PartitionKey"]), str(entity["RowKey"])
            self._tables[table].setdefault(partition, {})[row] = dict(entity)
            written.add((partition, row))
        self._rows_written += len(written)

    def _merge(self, table: str, entities: Iterable[Entity]) -> None:
        """Upserts each entity into its row, keeping the columns it does not name."""
        written: set[_Keys] = set()
        for entity in entities:
            partition, row = str(entity["PartitionKey"]), str(entity["RowKey"])
            self._tables[table].setdefault(partition, {}).setdefault(row, {}).update(entity)
            written.add((partition, row))
        self._rows_written += len(written)

    def _delete(self, table: str, doomed: Iterable[_Keys]) -> None:
        """Deletes the rows of ``doomed``; one already gone is fine."""
        rows = self._tables[table]
        written = set(doomed)
        for partition, row in written:
            partition_rows = rows.get(partition, {})
            partition_rows.pop(row, None)
            if not partition_rows:
                rows.pop(partition, None)
        self._rows_written += len(written)

    def _older_than(self, table: str, time_column: str, cutoff: datetime) -> list[_Keys]:
        """The keys of the table's rows whose ``time_column`` is before ``cutoff``."""
        return [
            (partition, row_key)
            for partition, partition_rows in self._tables[table].items()
            for row_key, row in partition_rows.items()
            if row[time_column] < cutoff
        ]

    def _row(self, table: str, keys: _Keys) -> Entity | None:
        return self._tables[table].get(keys[0], {}).get(keys[1])

    def _partition_rows(self, table: str, partition: str) -> list[Entity]:
        """A partition's rows in key order."""
        partition_rows = self._tables[table].get(partition, {})
        return [partition_rows[row] for row in sorted(partition_rows)]

    def _ordered_rows(self, table: str, partitions: Iterable[str]) -> list[Entity]:
        """The rows of ``partitions``, partition by partition, each in key order."""
        return [row for partition in partitions for row in self._partition_rows(table, partition)]

    def _partitions_between(self, table: str, low: str, high: str) -> list[str]:
        """The table's PartitionKeys from ``low`` up to (not including) ``high``, sorted."""
        return sorted(partition for partition in self._tables[table] if low <= partition < high)

    # -- queries --------------------------------------------------------------------------

    def vm_view(self, vm_id: str) -> VmView | None:
        keys = vm_keys(vm_id)
        with self._lock:
            entity = self._row(VM_STATE_TABLE, keys)
            return vm_view_from_entity(entity) if entity is not None else None

    def vm_views(self, subscription_id: str) -> dict[str, VmView]:
        partition = subscription_partition(subscription_id)
        with self._lock:  # rows are merged in place: decode them under the lock
            return views_by_key(self._tables[VM_STATE_TABLE].get(partition, {}).values())

    def compliance_counts(self, subscription: str | None = None) -> dict[str, dict[str, int]]:
        with self._lock:
            partitions = (
                [subscription.lower()] if subscription else sorted(self._tables[VM_STATE_TABLE])
            )
            rows = self._ordered_rows(VM_STATE_TABLE, partitions)
        return count_compliance(rows)

    def history(self, vm_id: str, *, now: datetime, days: int = HISTORY_DAYS) -> list[HistoryEntry]:
        partition, low, high = history_key_range(vm_id, since=history_since(now, days))
        with self._lock:
            assessments = self._key_range(ASSESSMENTS_TABLE, partition, low, high)
            installs = self._key_range(INSTALLATIONS_TABLE, partition, low, high)
        return history_from_rows(assessments, installs)

    def _key_range(self, table: str, partition: str, low: str, high: str) -> list[Entity]:
        """The partition's rows with RowKeys from ``low`` to ``high``, in key order."""
        partition_rows = self._tables[table].get(partition, {})
        return [partition_rows[row] for row in sorted(partition_rows) if low <= row <= high]

    def cycle(self, cycle_id: str) -> CycleRecord | None:
        with self._lock:
            entity = self._row(CYCLES_TABLE, (CYCLES_PARTITION, cycle_id))
            return cycle_from_entity(entity) if entity is not None else None

    def plan_group(self, cycle_id: str, group_id: str) -> tuple[PlannedSlot, ...]:
        partition = plan_partition(cycle_id, group_id)
        with self._lock:
            rows = self._partition_rows(PLAN_TABLE, partition)
        return planned_slots(rows)

    def plan_groups(self, cycle_id: str) -> tuple[PlanGroupSummary, ...]:
        low, high = plan_partition_range(cycle_id)
        with self._lock:
            rows = self._ordered_rows(PLAN_TABLE, self._partitions_between(PLAN_TABLE, low, high))
        return plan_group_summaries(rows)

    def inventory(self, subscription_id: str | None = None) -> tuple[VmTarget, ...]:
        with self._lock:
            partitions = (
                [subscription_partition(subscription_id)]
                if subscription_id is not None
                else sorted(self._tables[INVENTORY_TABLE])
            )
            rows = self._ordered_rows(INVENTORY_TABLE, partitions)
        return tuple(target_from_entity(row) for row in rows)

    def inventory_age(self, subscription_id: str) -> datetime | None:
        partition = subscription_partition(subscription_id)
        with self._lock:
            rows = list(self._tables[INVENTORY_TABLE].get(partition, {}).values())
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
            sorted({operation_keys(OperationKey(vm_id, kind)) for vm_id in vm_ids})
            if vm_ids is not None
            else None
        )
        with self._lock:
            if wanted is not None:
                found = (self._row(OPERATIONS_TABLE, keys) for keys in wanted)
                rows = [row for row in found if row is not None]
            else:
                assert subscription_id is not None
                partition = subscription_partition(subscription_id)
                rows = self._partition_rows(OPERATIONS_TABLE, partition)
        return tuple(operation_from_entity(row) for row in rows if row["kind"] == word)

"""The app's Table Storage repository: idempotent, batched writes and the report queries.

Every write is an upsert (or delete) on a deterministic key, so replays and redeliveries
never duplicate a row. Writes are grouped per table and partition into transactions of at
most 100 operations (``azure_io.table_batches``).

A VM's latest-assessment and last-install columns (VmPatchState) only move forward in
event time, whatever order results arrive in: the rows' current event times are read
first (one query per partition), older results are dropped, and the rest are written
with ETag conditions (update if not modified, create if missing); a transaction that lost
a race to another writer is re-read and retried.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from azure.core import MatchConditions
from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.data.tables import TableServiceClient, TableTransactionError, UpdateMode

from azure_io.compute_outcomes import OperationKind
from azure_io.errors import AzureIoError
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
from azure_io.settings import Settings
from azure_io.table_batches import TableWrite, plan_transactions
from azure_io.table_rows import (
    ALL_TABLES,
    ASSESSMENT_TIME_COLUMN,
    ASSESSMENT_WAVES_TABLE,
    ASSESSMENTS_TABLE,
    CYCLES_PARTITION,
    CYCLES_TABLE,
    DISCOVERY_TIME_COLUMN,
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

# Rounds of read-and-write for VM state rows that other writers keep changing.
STATE_WRITE_ATTEMPTS = 5
_CONFLICT_STATUSES = (409, 412)  # create of an existing row; update of a changed one


class TableWriteError(AzureIoError, RuntimeError):
    """A write to Table Storage failed; the azure-core error is chained."""


class PatchTables:
    """Repository over the tables of docs/CONTRACTS.md section 7 (a ``PatchStore``)."""

    def __init__(self, service: TableServiceClient) -> None:
        self._service = service
        self._rows_written = 0
        self._count_lock = threading.Lock()

    @classmethod
    def from_settings(
        cls, settings: Settings, credential: TokenCredential | None = None
    ) -> PatchTables:
        storage = settings.require_table_storage()
        if storage.connection_string is not None:
            return cls(TableServiceClient.from_connection_string(storage.connection_string))
        if credential is None:
            raise ValueError("a table account URL needs a credential (managed identity)")
        assert storage.account_url is not None
        return cls(TableServiceClient(endpoint=storage.account_url, credential=credential))

    def create_tables(self) -> None:
        for name in ALL_TABLES:
            self._service.create_table_if_not_exists(name)

    @property
    def rows_written(self) -> int:
        with self._count_lock:
            return self._rows_written

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
        self._write(TableWrite(rows.history_table, "upsert", entity) for entity in rows.history)
        self._advance_state(rows.time_column, rows.latest)

    def _advance_state(self, time_column: str, newest: Mapping[tuple[str, str], Entity]) -> None:
        """Merges each entity into its VmPatchState row unless the row already holds an event
        at least as new (by ``time_column``); retries rows that other writers changed meanwhile.
        """
        pending = dict(newest)
        for _ in range(STATE_WRITE_ATTEMPTS):
            current = self._state_times(time_column, pending.keys())
            writes: list[TableWrite] = []
            for keys, entity in pending.items():
                if keys not in current:
                    writes.append(TableWrite(VM_STATE_TABLE, "create", entity))
                    continue
                seen_at, etag = current[keys]
                if seen_at is None or seen_at < entity[time_column]:
                    writes.append(TableWrite(VM_STATE_TABLE, "update", entity, etag))
            conflicted = [
                (write.partition_key, write.row_key)
                for transaction in plan_transactions(writes)
                for write in self._submit(transaction)
            ]
            if not conflicted:
                return
            pending = {keys: pending[keys] for keys in conflicted}
        raise TableWriteError(
            f"{len(pending)} {VM_STATE_TABLE} rows kept changing under concurrent writers "
            f"({STATE_WRITE_ATTEMPTS} attempts)"
        )

    def _state_times(
        self, time_column: str, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[datetime | None, str]]:
        """{(PartitionKey, RowKey): (event time or None, ETag)} of the existing rows of
        ``keys``: one query per partition over the RowKey range the keys span."""
        rows_by_partition: dict[str, set[str]] = defaultdict(set)
        for partition, row in keys:
            rows_by_partition[partition].add(row)
        table = self._service.get_table_client(VM_STATE_TABLE)
        found: dict[tuple[str, str], tuple[datetime | None, str]] = {}
        for partition, rows in rows_by_partition.items():
            try:
                entities = table.query_entities(
                    "PartitionKey eq @partition and RowKey ge @low and RowKey le @high",
                    parameters={"partition": partition, "low": min(rows), "high": max(rows)},
                    select=["PartitionKey", "RowKey", time_column],
                )
                for entity in entities:
                    if entity["RowKey"] in rows:
                        found[(partition, entity["RowKey"])] = (
                            entity.get(time_column),
                            str(entity.metadata["etag"]),
                        )
            except AzureError as error:
                raise TableWriteError(f"reading {VM_STATE_TABLE} failed") from error
        return found

    def record_compliance(self, records: Iterable[ComplianceRecord]) -> None:
        self._write(
            TableWrite(VM_STATE_TABLE, "upsert", compliance_entity(record)) for record in records
        )

    def record_recent_installs(
        self, installs: Mapping[str, Sequence[PastInstall]], *, recorded_at: datetime
    ) -> None:
        self._write(
            TableWrite(
                VM_STATE_TABLE,
                "upsert",
                recent_installs_entity(vm, recent, recorded_at=recorded_at),
            )
            for vm, recent in installs.items()
        )

    def save_cycle(self, record: CycleRecord) -> None:
        self._write([TableWrite(CYCLES_TABLE, "upsert", cycle_entity(record))])

    def purge_history(self, *, now: datetime, keep_days: int = HISTORY_DAYS) -> int:
        cutoff = utc(now) - timedelta(days=keep_days)
        writes: list[TableWrite] = []
        for table, time_column in (
            (ASSESSMENTS_TABLE, ASSESSMENT_TIME_COLUMN),
            (INSTALLATIONS_TABLE, INSTALL_TIME_COLUMN),
        ):
            old_rows = self._service.get_table_client(table).query_entities(
                f"{time_column} lt @cutoff",
                parameters={"cutoff": cutoff},
                select=["PartitionKey", "RowKey"],
            )
            writes.extend(
                TableWrite(
                    table, "delete", {"PartitionKey": row["PartitionKey"], "RowKey": row["RowKey"]}
                )
                for row in old_rows
            )
        self._write(writes)
        return len(writes)

    def save_plan_groups(
        self, cycle_id: str, groups: Iterable[PlanGroupRows], *, recorded_at: datetime
    ) -> None:
        rows = plan_rows(cycle_id, groups, recorded_at=recorded_at)
        self._write(TableWrite(PLAN_TABLE, "replace", entity) for entity in rows)

    def delete_plan(self, cycle_id: str) -> int:
        writes = [
            TableWrite(PLAN_TABLE, "delete", _keys_of(row))
            for row in self._cycle_plan_rows(cycle_id, select=["PartitionKey", "RowKey"])
        ]
        self._write(writes)
        return len(writes)

    def save_inventory(
        self, subscription_id: str, targets: Iterable[VmTarget], *, discovered_at: datetime
    ) -> None:
        rows = inventory_rows(subscription_id, targets, discovered_at=discovered_at)
        held = self._inventory_rows(subscription_id, select=["PartitionKey", "RowKey"])
        self._write(TableWrite(INVENTORY_TABLE, "replace", entity) for entity in rows.values())
        # Separately: a transaction of deletes alone survives rows another writer removed.
        self._write(
            TableWrite(INVENTORY_TABLE, "delete", _keys_of(row))
            for row in held
            if (row["PartitionKey"], row["RowKey"]) not in rows
        )

    def save_operations(self, records: Iterable[OperationInFlight]) -> None:
        rows = [operation_entity(record) for record in records]
        self._write(TableWrite(OPERATIONS_TABLE, "replace", entity) for entity in rows)

    def save_assessment_waves(
        self, round_id: str, waves: Sequence[Wave], *, recorded_at: datetime
    ) -> None:
        rows = wave_rows(round_id, waves, recorded_at=recorded_at)
        self._write(TableWrite(ASSESSMENT_WAVES_TABLE, "replace", entity) for entity in rows)

    def assessment_wave(self, round_id: str, index: int) -> Wave | None:
        try:
            entity = self._service.get_table_client(ASSESSMENT_WAVES_TABLE).get_entity(
                wave_partition(round_id), wave_row_key(index)
            )
        except ResourceNotFoundError:
            return None
        return wave_from_entity(entity)

    def purge_assessment_waves(self, *, before: datetime) -> int:
        old_rows = self._service.get_table_client(ASSESSMENT_WAVES_TABLE).query_entities(
            "recordedAt lt @cutoff",
            parameters={"cutoff": utc(before)},
            select=["PartitionKey", "RowKey"],
        )
        writes = [TableWrite(ASSESSMENT_WAVES_TABLE, "delete", _keys_of(row)) for row in old_rows]
        self._write(writes)
        return len(writes)

    def finish_operations(self, keys: Iterable[OperationKey]) -> None:
        writes = [
            TableWrite(OPERATIONS_TABLE, "delete", _keys_of(operation_keys(key))) for key in keys
        ]
        self._write(writes)

    # -- queries --------------------------------------------------------------------------

    def vm_view(self, vm_id: str) -> VmView | None:
        partition, row = vm_keys(vm_id)
        try:
            entity = self._service.get_table_client(VM_STATE_TABLE).get_entity(partition, row)
        except ResourceNotFoundError:
            return None
        return vm_view_from_entity(entity)

    def vm_views(self, subscription_id: str) -> dict[str, VmView]:
        rows = self._service.get_table_client(VM_STATE_TABLE).query_entities(
            "PartitionKey eq @partition",
            parameters={"partition": subscription_partition(subscription_id)},
        )
        return views_by_key(rows)

    def compliance_counts(self, subscription: str | None = None) -> dict[str, dict[str, int]]:
        table = self._service.get_table_client(VM_STATE_TABLE)
        select = ["PartitionKey", "complianceState"]
        rows = (
            table.query_entities(
                "PartitionKey eq @subscription",
                parameters={"subscription": subscription.lower()},
                select=select,
            )
            if subscription
            else table.list_entities(select=select)
        )
        return count_compliance(rows)

    def history(self, vm_id: str, *, now: datetime, days: int = HISTORY_DAYS) -> list[HistoryEntry]:
        partition, low, high = history_key_range(vm_id, since=history_since(now, days))
        query = "PartitionKey eq @partition and RowKey ge @low and RowKey le @high"
        parameters = {"partition": partition, "low": low, "high": high}
        return history_from_rows(
            self._service.get_table_client(ASSESSMENTS_TABLE).query_entities(
                query, parameters=parameters
            ),
            self._service.get_table_client(INSTALLATIONS_TABLE).query_entities(
                query, parameters=parameters
            ),
        )

    def cycle(self, cycle_id: str) -> CycleRecord | None:
        try:
            entity = self._service.get_table_client(CYCLES_TABLE).get_entity(
                CYCLES_PARTITION, cycle_id
            )
        except ResourceNotFoundError:
            return None
        return cycle_from_entity(entity)

    def plan_group(self, cycle_id: str, group_id: str) -> tuple[PlannedSlot, ...]:
        return planned_slots(
            self._service.get_table_client(PLAN_TABLE).query_entities(
                "PartitionKey eq @partition",
                parameters={"partition": plan_partition(cycle_id, group_id)},
            )
        )

    def plan_groups(self, cycle_id: str) -> tuple[PlanGroupSummary, ...]:
        return plan_group_summaries(
            self._cycle_plan_rows(cycle_id, select=["groupId", "phase", "slotStart", "slotEnd"])
        )

    def _cycle_plan_rows(self, cycle_id: str, *, select: list[str]) -> Iterable[Entity]:
        low, high = plan_partition_range(cycle_id)
        return self._service.get_table_client(PLAN_TABLE).query_entities(
            "PartitionKey ge @low and PartitionKey lt @high",
            parameters={"low": low, "high": high},
            select=select,
        )

    def inventory(self, subscription_id: str | None = None) -> tuple[VmTarget, ...]:
        rows = (
            self._inventory_rows(subscription_id)
            if subscription_id is not None
            else self._service.get_table_client(INVENTORY_TABLE).list_entities()
        )
        return tuple(target_from_entity(row) for row in rows)

    def inventory_age(self, subscription_id: str) -> datetime | None:
        return oldest_discovery(
            self._inventory_rows(subscription_id, select=[DISCOVERY_TIME_COLUMN])
        )

    def _inventory_rows(
        self, subscription_id: str, *, select: list[str] | None = None
    ) -> Iterable[Entity]:
        return self._service.get_table_client(INVENTORY_TABLE).query_entities(
            "PartitionKey eq @partition",
            parameters={"partition": subscription_partition(subscription_id)},
            select=select,
        )

    def operations(
        self,
        kind: OperationKind,
        *,
        vm_ids: Iterable[str] | None = None,
        subscription_id: str | None = None,
    ) -> tuple[OperationInFlight, ...]:
        if (vm_ids is None) == (subscription_id is None):
            raise ValueError("operations: give either vm_ids or subscription_id")
        if vm_ids is not None:
            rows = self._operation_rows_of_vms(kind, vm_ids)
        else:
            assert subscription_id is not None
            rows = list(
                self._service.get_table_client(OPERATIONS_TABLE).query_entities(
                    "PartitionKey eq @partition and kind eq @kind",
                    parameters={
                        "partition": subscription_partition(subscription_id),
                        "kind": operation_row_kind(kind),
                    },
                )
            )
        return tuple(operation_from_entity(row) for row in rows)

    def _operation_rows_of_vms(self, kind: OperationKind, vm_ids: Iterable[str]) -> list[Entity]:
        """The rows of the VMs' operations of ``kind``: one query per subscription, over
        the RowKey range the VMs span."""
        wanted_by_partition: dict[str, set[str]] = defaultdict(set)
        for vm_id in vm_ids:
            partition, row = operation_keys(OperationKey(vm_id, kind))
            wanted_by_partition[partition].add(row)
        table = self._service.get_table_client(OPERATIONS_TABLE)
        rows: list[Entity] = []
        for partition, wanted in sorted(wanted_by_partition.items()):
            in_range = table.query_entities(
                "PartitionKey eq @partition and RowKey ge @low and RowKey le @high",
                parameters={"partition": partition, "low": min(wanted), "high": max(wanted)},
            )
            rows.extend(row for row in in_range if row["RowKey"] in wanted)
        return rows

    # -- plumbing -------------------------------------------------------------------------

    def _write(self, writes: Iterable[TableWrite]) -> None:
        """Sends unconditional writes (upsert, replace, delete)."""
        for transaction in plan_transactions(writes):
            if self._submit(transaction):
                raise TableWriteError(f"unexpected conflict writing {transaction[0].table}")

    def _submit(self, transaction: list[TableWrite]) -> list[TableWrite]:
        """Sends one transaction; returns it when its conditional writes lost to another
        writer (then none of it was applied), else nothing."""
        table = self._service.get_table_client(transaction[0].table)
        try:
            table.submit_transaction([_operation(write) for write in transaction])
            self._count_written(len(transaction))
            return []
        except TableTransactionError as error:
            if _only_missing_rows(error, transaction):
                # A concurrent clean-up deleted some rows first: delete one by one,
                # which ignores rows that are already gone.
                for write in transaction:
                    table.delete_entity(write.entity["PartitionKey"], write.entity["RowKey"])
                    self._count_written(1)
                return []
            if _lost_a_race(error, transaction):
                return transaction
            raise TableWriteError(
                f"transaction of {len(transaction)} writes to {transaction[0].table} failed"
            ) from error
        except AzureError as error:
            raise TableWriteError(f"write to {transaction[0].table} failed") from error

    def _count_written(self, rows: int) -> None:
        with self._count_lock:
            self._rows_written += rows


def _operation(write: TableWrite) -> tuple[str, Entity] | tuple[str, Entity, dict[str, Any]]:
    match write.kind:
        case "delete" | "create":
            return (write.kind, write.entity)
        case "upsert":
            return ("upsert", write.entity, {"mode": UpdateMode.MERGE})
        case "replace":
            return ("upsert", write.entity, {"mode": UpdateMode.REPLACE})
        case "update":
            if write.etag is None:
                raise ValueError(
                    f"an update of row {write.row_key!r} needs the ETag it was read with"
                )
            return (
                "update",
                write.entity,
                {
                    "mode": UpdateMode.MERGE,
                    "etag": write.etag,
                    "match_condition": MatchConditions.IfNotModified,
                },
            )


def _keys_of(keys: Mapping[str, Any] | tuple[str, str]) -> Entity:
    """The key columns of a row, or of a (PartitionKey, RowKey) pair."""
    if isinstance(keys, tuple):
        return {"PartitionKey": keys[0], "RowKey": keys[1]}
    return {"PartitionKey": keys["PartitionKey"], "RowKey": keys["RowKey"]}


def _only_missing_rows(error: TableTransactionError, transaction: list[TableWrite]) -> bool:
    return error.status_code == 404 and all(write.kind == "delete" for write in transaction)


def _lost_a_race(error: TableTransactionError, transaction: list[TableWrite]) -> bool:
    return error.status_code in _CONFLICT_STATUSES and any(
        write.conditional for write in transaction
    )

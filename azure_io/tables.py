"""The app's Table Storage repository: idempotent, batched writes and the report queries.

Every write is an upsert (or delete) on a deterministic key, so replays and redeliveries
never duplicate a row. Writes are grouped per table and partition into transactions of at
most 100 operations, the service's limit, enforced here: Azurite answers an oversized
transaction with a malformed response instead of a clean error.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal, TypeVar

from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.data.tables import TableServiceClient, TableTransactionError, UpdateMode

from azure_io.patch_results import AssessmentResult, InstallResult
from azure_io.settings import Settings
from azure_io.table_rows import (
    ALL_TABLES,
    ASSESSMENTS_TABLE,
    CYCLES_PARTITION,
    CYCLES_TABLE,
    INSTALLATIONS_TABLE,
    VM_STATE_TABLE,
    ComplianceRecord,
    CycleRecord,
    Entity,
    assessment_columns,
    assessment_from_columns,
    compliance_columns,
    compliance_from_columns,
    cycle_entity,
    cycle_from_entity,
    history_key_range,
    history_keys,
    install_columns,
    install_from_columns,
    utc,
    vm_keys,
)

_Result = TypeVar("_Result", AssessmentResult, InstallResult)

MAX_TRANSACTION_OPERATIONS = 100
HISTORY_DAYS = 30
UNKNOWN_COMPLIANCE = "unknown"


class TableWriteError(RuntimeError):
    """A write to Table Storage failed; the azure-core error is chained."""


@dataclass(frozen=True, slots=True)
class TableWrite:
    """One operation of a transaction: merge-upsert or delete of a row."""

    table: str
    kind: Literal["upsert", "delete"]
    entity: Entity

    @property
    def partition_key(self) -> str:
        return str(self.entity["PartitionKey"])

    @property
    def row_key(self) -> str:
        return str(self.entity["RowKey"])


def plan_transactions(writes: Iterable[TableWrite]) -> list[list[TableWrite]]:
    """Groups writes per (table, partition) into transactions of at most 100 operations.

    Writes to the same row collapse into one (the service refuses a transaction that names
    a row twice): merges combine their columns, later values winning; a delete wins over
    what came before it and an upsert after a delete replaces it.
    """
    rows: dict[tuple[str, str], dict[str, TableWrite]] = defaultdict(dict)
    for write in writes:
        partition_rows = rows[(write.table, write.partition_key)]
        earlier = partition_rows.get(write.row_key)
        if earlier is not None and earlier.kind == "upsert" and write.kind == "upsert":
            write = TableWrite(write.table, "upsert", {**earlier.entity, **write.entity})
        partition_rows[write.row_key] = write
    transactions: list[list[TableWrite]] = []
    for partition_rows in rows.values():
        ordered = list(partition_rows.values())
        for start in range(0, len(ordered), MAX_TRANSACTION_OPERATIONS):
            transactions.append(ordered[start : start + MAX_TRANSACTION_OPERATIONS])
    return transactions


class HistoryKind(StrEnum):
    ASSESSMENT = "assessment"
    INSTALL = "install"


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    kind: HistoryKind
    at: datetime
    assessment: AssessmentResult | None = None
    install: InstallResult | None = None
    cycle: str | None = None


@dataclass(frozen=True, slots=True)
class VmView:
    """What the app knows of one VM: latest assessment, last install, compliance."""

    vm_id: str
    latest_assessment: AssessmentResult | None
    latest_install: InstallResult | None
    install_cycle: str | None
    compliance: ComplianceRecord | None


class PatchTables:
    """Repository over the four tables of CONTRACTS.md section 7.

    ``batched=False`` sends every operation on its own (one request per row); it exists
    to measure what batching saves.
    """

    def __init__(self, service: TableServiceClient, *, batched: bool = True) -> None:
        self._service = service
        self._batched = batched

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

    # -- writes ---------------------------------------------------------------------------

    def record_assessments(
        self, results: Iterable[AssessmentResult], *, recorded_at: datetime
    ) -> None:
        """History rows plus the VMs' latest-assessment columns; the event time keys the row."""
        self._record_history(
            ASSESSMENTS_TABLE, results, recorded_at, lambda r, at: assessment_columns(r, at=at)
        )

    def record_installs(
        self, results: Iterable[InstallResult], *, cycle: str | None, recorded_at: datetime
    ) -> None:
        """History rows plus the VMs' last-install columns; ``cycle`` is None when on demand."""
        self._record_history(
            INSTALLATIONS_TABLE,
            results,
            recorded_at,
            lambda r, at: install_columns(r, at=at, cycle=cycle),
        )

    def _record_history(
        self,
        table: str,
        results: Iterable[_Result],
        recorded_at: datetime,
        columns_of: Callable[[_Result, datetime], Entity],
    ) -> None:
        """One history row per result, keyed by its event time, and the VM's latest columns."""
        recorded_at = utc(recorded_at)
        writes: list[TableWrite] = []
        for result in results:
            at = utc(result.started_at or recorded_at)
            columns = {"vmId": result.vm_id, "recordedAt": recorded_at, **columns_of(result, at)}
            writes.append(_upsert(table, history_keys(result.vm_id, at), columns))
            writes.append(_upsert(VM_STATE_TABLE, vm_keys(result.vm_id), columns))
        self._write(writes)

    def record_compliance(self, records: Iterable[ComplianceRecord]) -> None:
        self._write(
            _upsert(
                VM_STATE_TABLE,
                vm_keys(record.vm_id),
                {
                    "vmId": record.vm_id,
                    "recordedAt": utc(record.recorded_at),
                    **compliance_columns(record),
                },
            )
            for record in records
        )

    def save_cycle(self, record: CycleRecord) -> None:
        self._write([TableWrite(CYCLES_TABLE, "upsert", cycle_entity(record))])

    def purge_history(self, *, now: datetime, keep_days: int = HISTORY_DAYS) -> int:
        """Deletes assessment and install rows older than ``keep_days``; returns how many."""
        cutoff = utc(now) - timedelta(days=keep_days)
        writes: list[TableWrite] = []
        for table, time_column in (
            (ASSESSMENTS_TABLE, "assessmentAt"),
            (INSTALLATIONS_TABLE, "installAt"),
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

    # -- queries --------------------------------------------------------------------------

    def vm_view(self, vm_id: str) -> VmView | None:
        partition, row = vm_keys(vm_id)
        try:
            entity = self._service.get_table_client(VM_STATE_TABLE).get_entity(partition, row)
        except ResourceNotFoundError:
            return None
        return VmView(
            vm_id=entity["vmId"],
            latest_assessment=assessment_from_columns(entity),
            latest_install=install_from_columns(entity),
            install_cycle=entity.get("installCycle") or None,
            compliance=compliance_from_columns(entity),
        )

    def compliance_counts(self, subscription: str | None = None) -> dict[str, dict[str, int]]:
        """{subscription id: {compliance state: VM count}}; VMs never judged count as unknown."""
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
        counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for row in rows:
            counts[row["PartitionKey"]][row.get("complianceState") or UNKNOWN_COMPLIANCE] += 1
        return {sub: dict(states) for sub, states in counts.items()}

    def history(self, vm_id: str, *, now: datetime, days: int = HISTORY_DAYS) -> list[HistoryEntry]:
        """Assessments and installs of one VM in the last ``days`` (1-30), newest first."""
        if not 1 <= days <= HISTORY_DAYS:
            raise ValueError(f"days must be from 1 to {HISTORY_DAYS}, not {days}")
        partition, low, high = history_key_range(vm_id, since=utc(now) - timedelta(days=days))
        query = "PartitionKey eq @partition and RowKey ge @low and RowKey le @high"
        parameters = {"partition": partition, "low": low, "high": high}
        entries = [
            HistoryEntry(HistoryKind.ASSESSMENT, assessment.started_at, assessment=assessment)
            for row in self._service.get_table_client(ASSESSMENTS_TABLE).query_entities(
                query, parameters=parameters
            )
            if (assessment := assessment_from_columns(row)) and assessment.started_at
        ]
        entries += [
            HistoryEntry(
                HistoryKind.INSTALL,
                install.started_at,
                install=install,
                cycle=row.get("installCycle") or None,
            )
            for row in self._service.get_table_client(INSTALLATIONS_TABLE).query_entities(
                query, parameters=parameters
            )
            if (install := install_from_columns(row)) and install.started_at
        ]
        return sorted(entries, key=lambda entry: entry.at, reverse=True)

    def cycle(self, cycle_id: str) -> CycleRecord | None:
        try:
            entity = self._service.get_table_client(CYCLES_TABLE).get_entity(
                CYCLES_PARTITION, cycle_id
            )
        except ResourceNotFoundError:
            return None
        return cycle_from_entity(entity)

    # -- plumbing -------------------------------------------------------------------------

    def _write(self, writes: Iterable[TableWrite]) -> None:
        for transaction in plan_transactions(writes):
            table = self._service.get_table_client(transaction[0].table)
            try:
                if self._batched:
                    table.submit_transaction([_operation(write) for write in transaction])
                else:
                    for write in transaction:
                        if write.kind == "upsert":
                            table.upsert_entity(write.entity, mode=UpdateMode.MERGE)
                        else:
                            table.delete_entity(
                                write.entity["PartitionKey"], write.entity["RowKey"]
                            )
            except TableTransactionError as error:
                if _only_missing_rows(error, transaction):
                    # A concurrent clean-up deleted some rows first: delete one by one,
                    # which ignores rows that are already gone.
                    for write in transaction:
                        table.delete_entity(write.entity["PartitionKey"], write.entity["RowKey"])
                    continue
                raise TableWriteError(
                    f"transaction of {len(transaction)} writes to {transaction[0].table} failed"
                ) from error
            except AzureError as error:
                raise TableWriteError(f"write to {transaction[0].table} failed") from error


def _upsert(table: str, keys: tuple[str, str], columns: Mapping[str, Any]) -> TableWrite:
    partition, row = keys
    return TableWrite(table, "upsert", {"PartitionKey": partition, "RowKey": row, **columns})


def _operation(write: TableWrite) -> tuple[str, Entity] | tuple[str, Entity, dict[str, Any]]:
    if write.kind == "delete":
        return ("delete", write.entity)
    return ("upsert", write.entity, {"mode": UpdateMode.MERGE})


def _only_missing_rows(error: TableTransactionError, transaction: list[TableWrite]) -> bool:
    return error.status_code == 404 and all(write.kind == "delete" for write in transaction)

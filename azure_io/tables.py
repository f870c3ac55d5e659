"""The app's Table Storage repository: idempotent, batched writes and the report queries.

Every write is an upsert (or delete) on a deterministic key, so replays and redeliveries
never duplicate a row. Writes are grouped per table and partition into transactions of at
most 100 operations, the service's limit, enforced here: Azurite answers an oversized
transaction with a malformed response instead of a clean error.

A VM's latest-assessment and last-install columns (VmPatchState) only move forward in
event time, whatever order results arrive in: the rows' current event times are read
first (one query per partition), older results are dropped, and the rest are written
with ETag conditions (update if not modified, create if missing); a transaction that lost
a race to another writer is re-read and retried.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal, TypeVar

from azure.core import MatchConditions
from azure.core.credentials import TokenCredential
from azure.core.exceptions import (
    AzureError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import (
    TableClient,
    TableServiceClient,
    TableTransactionError,
    UpdateMode,
)

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
# Rounds of read-and-write for VM state rows that other writers keep changing.
STATE_WRITE_ATTEMPTS = 5
_CONFLICT_STATUSES = (409, 412)  # create of an existing row; update of a changed one
HISTORY_DAYS = 30
UNKNOWN_COMPLIANCE = "unknown"


class TableWriteError(RuntimeError):
    """A write to Table Storage failed; the azure-core error is chained."""


WriteKind = Literal["upsert", "replace", "delete", "update", "create"]
_CONDITIONAL_KINDS = ("update", "create")


@dataclass(frozen=True, slots=True)
class TableWrite:
    """One operation of a transaction on a row.

    ``upsert`` merges columns into the row (creating it), ``replace`` upserts the row as
    given (columns not named are gone), ``delete`` removes it. The conditional kinds fail
    when another writer came first: ``update`` merges only while the row still has
    ``etag``, ``create`` inserts only while the row does not exist.
    """

    table: str
    kind: WriteKind
    entity: Entity
    etag: str | None = None

    @property
    def partition_key(self) -> str:
        return str(self.entity["PartitionKey"])

    @property
    def row_key(self) -> str:
        return str(self.entity["RowKey"])


def plan_transactions(writes: Iterable[TableWrite]) -> list[list[TableWrite]]:
    """Groups writes per (table, partition) into transactions of at most 100 operations.

    Writes to the same row collapse into one (the service refuses a transaction that names
    a row twice): merges combine their columns, later values winning; a delete or replace
    wins over what came before it; an upsert after a delete becomes a replace (the row
    the delete left behind has no old columns), and after a replace merges into it.
    A conditional write (update, create) cannot be combined with another write of its row.
    """
    rows: dict[tuple[str, str], dict[str, TableWrite]] = defaultdict(dict)
    for write in writes:
        partition_rows = rows[(write.table, write.partition_key)]
        earlier = partition_rows.get(write.row_key)
        if earlier is not None:
            if earlier.kind in _CONDITIONAL_KINDS or write.kind in _CONDITIONAL_KINDS:
                raise ValueError(
                    f"a conditional write to {write.table} row {write.row_key!r} "
                    "cannot share a transaction with another write of that row"
                )
            if write.kind == "upsert" and earlier.kind == "delete":
                write = TableWrite(write.table, "replace", write.entity)
            elif write.kind == "upsert":
                write = TableWrite(write.table, earlier.kind, {**earlier.entity, **write.entity})
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
            ASSESSMENTS_TABLE,
            "assessmentAt",
            results,
            recorded_at,
            lambda r, at: assessment_columns(r, at=at),
        )

    def record_installs(
        self, results: Iterable[InstallResult], *, cycle: str | None, recorded_at: datetime
    ) -> None:
        """History rows plus the VMs' last-install columns; ``cycle`` is None when on demand."""
        self._record_history(
            INSTALLATIONS_TABLE,
            "installAt",
            results,
            recorded_at,
            lambda r, at: install_columns(r, at=at, cycle=cycle),
        )

    def _record_history(
        self,
        table: str,
        time_column: str,
        results: Iterable[_Result],
        recorded_at: datetime,
        columns_of: Callable[[_Result, datetime], Entity],
    ) -> None:
        """One history row per result, keyed by its event time, and the VM's latest columns.

        A result without a start time is dated by ``recorded_at``; callers pass a moment that
        a repeated delivery repeats too (the orchestrator's replay-safe clock), so the row's
        key (CONTRACTS.md section 7: inverted ticks) is the same. Only the newest result of
        each VM, and only when newer than what the VM's row holds, updates VmPatchState.
        """
        recorded_at = utc(recorded_at)
        history: list[TableWrite] = []
        newest: dict[tuple[str, str], Entity] = {}
        for result in results:
            at = utc(result.started_at or recorded_at)
            columns = {"vmId": result.vm_id, "recordedAt": recorded_at, **columns_of(result, at)}
            history.append(_upsert(table, history_keys(result.vm_id, at), columns))
            state = vm_keys(result.vm_id)
            if state not in newest or newest[state][time_column] <= at:
                newest[state] = {"PartitionKey": state[0], "RowKey": state[1], **columns}
        self._write(history)
        self._advance_state(time_column, newest)

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
        since = utc(now) - timedelta(days=days)
        partition, low, high = history_key_range(vm_id, since=since)
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
        """Sends unconditional writes (upsert, replace, delete)."""
        for transaction in plan_transactions(writes):
            if self._submit(transaction):
                raise TableWriteError(f"unexpected conflict writing {transaction[0].table}")

    def _submit(self, transaction: list[TableWrite]) -> list[TableWrite]:
        """Sends one transaction (or its writes one by one); returns the conditional writes
        that lost to another writer and were not applied (batched: the whole transaction)."""
        table = self._service.get_table_client(transaction[0].table)
        try:
            if self._batched:
                table.submit_transaction([_operation(write) for write in transaction])
                return []
            return [write for write in transaction if not _send_one(table, write)]
        except TableTransactionError as error:
            if _only_missing_rows(error, transaction):
                # A concurrent clean-up deleted some rows first: delete one by one,
                # which ignores rows that are already gone.
                for write in transaction:
                    table.delete_entity(write.entity["PartitionKey"], write.entity["RowKey"])
                return []
            if _lost_a_race(error, transaction):
                return transaction
            raise TableWriteError(
                f"transaction of {len(transaction)} writes to {transaction[0].table} failed"
            ) from error
        except AzureError as error:
            raise TableWriteError(f"write to {transaction[0].table} failed") from error


def _upsert(table: str, keys: tuple[str, str], columns: Mapping[str, Any]) -> TableWrite:
    partition, row = keys
    return TableWrite(table, "upsert", {"PartitionKey": partition, "RowKey": row, **columns})


def _operation(write: TableWrite) -> tuple[str, Entity] | tuple[str, Entity, dict[str, Any]]:
    match write.kind:
        case "delete" | "create":
            return (write.kind, write.entity)
        case "upsert":
            return ("upsert", write.entity, {"mode": UpdateMode.MERGE})
        case "replace":
            return ("upsert", write.entity, {"mode": UpdateMode.REPLACE})
        case "update":
            return ("update", write.entity, _if_not_modified(write))


def _send_one(table: TableClient, write: TableWrite) -> bool:
    """Sends one write on its own; False when a conditional write lost to another writer."""
    try:
        match write.kind:
            case "delete":
                table.delete_entity(write.entity["PartitionKey"], write.entity["RowKey"])
            case "create":
                table.create_entity(write.entity)
            case "upsert":
                table.upsert_entity(write.entity, mode=UpdateMode.MERGE)
            case "replace":
                table.upsert_entity(write.entity, mode=UpdateMode.REPLACE)
            case "update":
                table.update_entity(write.entity, **_if_not_modified(write))
    except (ResourceExistsError, ResourceModifiedError):
        if write.kind not in _CONDITIONAL_KINDS:
            raise
        return False
    return True


def _if_not_modified(write: TableWrite) -> dict[str, Any]:
    if write.etag is None:
        raise ValueError(f"an update of row {write.row_key!r} needs the ETag it was read with")
    return {
        "mode": UpdateMode.MERGE,
        "etag": write.etag,
        "match_condition": MatchConditions.IfNotModified,
    }


def _only_missing_rows(error: TableTransactionError, transaction: list[TableWrite]) -> bool:
    return error.status_code == 404 and all(write.kind == "delete" for write in transaction)


def _lost_a_race(error: TableTransactionError, transaction: list[TableWrite]) -> bool:
    return error.status_code in _CONFLICT_STATUSES and any(
        write.kind in _CONDITIONAL_KINDS for write in transaction
    )

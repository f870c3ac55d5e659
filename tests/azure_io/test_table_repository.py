"""Table Storage mechanics of PatchTables on Azurite: transaction sizes, request counts,
ETag races, concurrent clean-ups. Its semantics are in test_patch_store_contract.py."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.core.pipeline import PipelineRequest
from azure.data.tables import TableClient, TableServiceClient
from rollout_samples import group
from table_samples import NOW, SUB_A, assessment, install, vm_id

from azure_io.table_batches import TableWrite
from azure_io.table_rows import (
    ALL_TABLES,
    ASSESSMENTS_TABLE,
    INVENTORY_TABLE,
    PLAN_TABLE,
    VM_STATE_TABLE,
    ComplianceRecord,
    history_keys,
    inverted_ticks,
    vm_keys,
)
from azure_io.tables import PatchTables
from bench.bench_tables import write_batched, write_one_by_one
from patching.models import OsType, PatchMode, VmTarget


class CountRequests:
    """Counts transactions (and their sizes) and single-row writes that reach Azurite."""

    def __init__(self) -> None:
        self.transaction_sizes: list[int] = []
        self.single_writes = 0

    def on_request(self, request: PipelineRequest) -> None:  # type: ignore[type-arg]
        http = request.http_request
        if not http.url.endswith("$batch") and http.method in ("PUT", "PATCH", "DELETE", "POST"):
            self.single_writes += 1

    def reset(self) -> None:
        self.transaction_sizes.clear()
        self.single_writes = 0


@pytest.fixture
def counter(monkeypatch: pytest.MonkeyPatch) -> CountRequests:
    counts = CountRequests()
    submit = TableClient.submit_transaction

    def counting_submit(self: TableClient, operations: Any, **kwargs: Any) -> Any:
        operations = list(operations)
        counts.transaction_sizes.append(len(operations))
        return submit(self, operations, **kwargs)

    monkeypatch.setattr(TableClient, "submit_transaction", counting_submit)
    return counts


@pytest.fixture
def service(azurite_connection_string: str, counter: CountRequests) -> TableServiceClient:
    client = TableServiceClient.from_connection_string(
        azurite_connection_string, raw_request_hook=counter.on_request
    )
    for name in ALL_TABLES:
        client.delete_table(name)
    return client


@pytest.fixture
def tables(service: TableServiceClient, counter: CountRequests) -> PatchTables:
    repository = PatchTables(service)
    repository.create_tables()
    counter.reset()
    return repository


def all_rows(service: TableServiceClient, table: str) -> list[dict[str, object]]:
    rows = [dict(row) for row in service.get_table_client(table).list_entities()]
    return sorted(rows, key=lambda row: (str(row["PartitionKey"]), str(row["RowKey"])))


def test_keys_follow_the_contract() -> None:
    assert vm_keys(vm_id("Web-01")) == (SUB_A, "rg-web~web-01")
    partition, row = history_keys(vm_id("Web-01"), NOW)
    assert partition == SUB_A
    assert row.startswith("rg-web~web-01~") and len(row.rsplit("~", 1)[1]) == 19
    # .NET: DateTime.MaxValue.Ticks - new DateTime(2026,12,20,12,0,0).Ticks
    assert inverted_ticks(datetime(1, 1, 1, tzinfo=UTC)) == "3155378975999999999"
    assert inverted_ticks(NOW) < inverted_ticks(NOW - timedelta(microseconds=1))


def test_250_rows_of_one_partition_take_three_transactions(
    tables: PatchTables, service: TableServiceClient, counter: CountRequests
) -> None:
    vms = [vm_id(f"vm-{index:03}") for index in range(250)]
    tables.record_compliance(
        ComplianceRecord(vm, "pending", "not yet", True, False, NOW) for vm in vms
    )
    assert counter.transaction_sizes == [100, 100, 50]
    assert counter.single_writes == 0
    assert len(all_rows(service, VM_STATE_TABLE)) == 250


def test_purge_tolerates_a_concurrent_clean_up(
    tables: PatchTables, service: TableServiceClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    vm = vm_id("web-01")
    tables.record_assessments(
        [assessment(vm, NOW - timedelta(days=d)) for d in (40, 50)], recorded_at=NOW
    )
    submit = TableClient.submit_transaction

    def another_cleaner_first(self: TableClient, operations: Any, **kwargs: Any) -> Any:
        operations = list(operations)
        if operations[0][0] == "delete":  # someone else deletes a row we are about to delete
            self.delete_entity(operations[0][1]["PartitionKey"], operations[0][1]["RowKey"])
        return submit(self, operations, **kwargs)

    monkeypatch.setattr(TableClient, "submit_transaction", another_cleaner_first)
    assert tables.purge_history(now=NOW) == 2
    assert all_rows(service, ASSESSMENTS_TABLE) == []


def latest_times(tables: PatchTables, vm: str) -> tuple[datetime | None, datetime | None]:
    view = tables.vm_view(vm)
    assert view is not None
    return (
        view.latest_assessment.started_at if view.latest_assessment else None,
        view.latest_install.started_at if view.latest_install else None,
    )


def another_writer_first(monkeypatch: pytest.MonkeyPatch, write: Callable[[], None]) -> list[int]:
    """Lets ``write`` run once, just before the first VmPatchState transaction is sent:
    another repository writes between this one's read and its write. Returns the
    transaction sizes sent to VmPatchState."""
    submit = TableClient.submit_transaction
    sent: list[int] = []
    pending = [write]

    def interleaved(self: TableClient, operations: Any, **kwargs: Any) -> Any:
        operations = list(operations)
        if self.table_name == VM_STATE_TABLE:
            if pending:
                pending.pop()()
            sent.append(len(operations))
        return submit(self, operations, **kwargs)

    monkeypatch.setattr(TableClient, "submit_transaction", interleaved)
    return sent


@pytest.mark.parametrize("row_exists", [True, False], ids=["update", "create"])
def test_a_concurrent_newer_write_wins_over_an_older_one(
    tables: PatchTables,
    azurite_connection_string: str,
    monkeypatch: pytest.MonkeyPatch,
    row_exists: bool,
) -> None:
    vm, neighbour = vm_id("web-01"), vm_id("web-02")
    if row_exists:
        tables.record_compliance([ComplianceRecord(vm, "pending", "", True, False, NOW)])
    other = PatchTables(TableServiceClient.from_connection_string(azurite_connection_string))
    sent = another_writer_first(
        monkeypatch,
        lambda: other.record_assessments([assessment(vm, NOW, critical=2)], recorded_at=NOW),
    )
    old = NOW - timedelta(days=1)
    tables.record_assessments(
        [assessment(vm, old, critical=5), assessment(neighbour, old)], recorded_at=NOW
    )
    assert latest_times(tables, vm) == (NOW, None)
    assert latest_times(tables, neighbour) == (old, None)
    # The other writer's row; ours lost the race (412 or 409) and was re-read: only the
    # neighbour is left to write.
    assert sent == [1, 2, 1]
    if row_exists:
        view = tables.vm_view(vm)
        assert view is not None and view.compliance is not None


def test_a_newer_write_retries_after_a_concurrent_older_one(
    tables: PatchTables, azurite_connection_string: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    vm = vm_id("web-01")
    tables.record_installs([install(vm, NOW - timedelta(days=9))], cycle=None, recorded_at=NOW)
    other = PatchTables(TableServiceClient.from_connection_string(azurite_connection_string))
    old = NOW - timedelta(days=2)
    sent = another_writer_first(
        monkeypatch, lambda: other.record_installs([install(vm, old)], cycle=None, recorded_at=NOW)
    )
    written = tables.rows_written
    tables.record_installs([install(vm, NOW)], cycle="2026-12", recorded_at=NOW)
    assert latest_times(tables, vm) == (None, NOW)
    assert sent == [1, 1, 1]  # the other writer's, ours (412), ours again
    # The history row and the state row once: the try that lost the race wrote nothing.
    assert tables.rows_written - written == 2


def test_a_delete_then_an_upsert_of_one_row_leaves_only_the_new_columns(
    tables: PatchTables, service: TableServiceClient
) -> None:
    keys = {"PartitionKey": SUB_A, "RowKey": "rg-web~web-01"}
    service.get_table_client(VM_STATE_TABLE).upsert_entity({**keys, "old": 1, "b": 1})
    tables._write(
        [
            TableWrite(VM_STATE_TABLE, "delete", keys),
            TableWrite(VM_STATE_TABLE, "upsert", {**keys, "b": 2}),
        ]
    )
    assert all_rows(service, VM_STATE_TABLE) == [{**keys, "b": 2}]


def test_the_bench_one_by_one_sends_the_repository_rows_one_request_each(
    service: TableServiceClient, counter: CountRequests
) -> None:
    def rows_written_by(write: Callable[[TableServiceClient, list[Any]], None]) -> list[Any]:
        for name in ALL_TABLES:
            service.delete_table(name)
        PatchTables(service).create_tables()
        counter.reset()
        write(service, [assessment(vm_id(f"vm-{index}"), NOW) for index in range(7)])
        return [
            [{k: v for k, v in row.items() if k != "Timestamp"} for row in all_rows(service, table)]
            for table in ALL_TABLES
        ]

    one_by_one = rows_written_by(write_one_by_one)
    assert (counter.transaction_sizes, counter.single_writes) == ([], 14)
    assert rows_written_by(write_batched) == one_by_one
    assert (counter.transaction_sizes, counter.single_writes) == ([7, 7], 0)


def test_a_250_vm_plan_in_groups_takes_a_transaction_per_group(
    tables: PatchTables, service: TableServiceClient, counter: CountRequests
) -> None:
    groups = [group("p0-r0-g00", 100), group("p0-r0-g01", 100), group("p0-r1-g00", 50)]
    tables.save_plan_groups("2026-12", groups, recorded_at=NOW)
    assert counter.transaction_sizes == [100, 100, 50]
    assert counter.single_writes == 0
    counter.reset()
    assert tables.delete_plan("2026-12") == 250
    assert counter.transaction_sizes == [100, 100, 50]
    assert all_rows(service, PLAN_TABLE) == []


def test_a_discovery_writes_and_deletes_in_transactions(
    tables: PatchTables, service: TableServiceClient, counter: CountRequests
) -> None:
    def targets(count: int) -> list[VmTarget]:
        return [
            VmTarget(vm_id(f"vm-{index:03}"), "eastus", OsType.LINUX, PatchMode.MANUAL)
            for index in range(count)
        ]

    tables.save_inventory(SUB_A, targets(250), discovered_at=NOW)
    counter.reset()
    tables.save_inventory(SUB_A, targets(120), discovered_at=NOW)
    # The 120 rows written, then the 130 of VMs gone deleted in transactions of their own.
    assert counter.transaction_sizes == [100, 20, 100, 30]
    assert counter.single_writes == 0
    assert len(all_rows(service, INVENTORY_TABLE)) == 120

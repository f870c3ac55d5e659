import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.core.pipeline import PipelineRequest
from azure.data.tables import TableClient, TableServiceClient

from azure_io.patch_results import (
    AssessmentResult,
    AvailablePatch,
    InstalledPatch,
    InstallResult,
    OperationError,
)
from azure_io.table_rows import (
    ALL_TABLES,
    ASSESSMENTS_TABLE,
    INSTALLATIONS_TABLE,
    VM_STATE_TABLE,
    ComplianceRecord,
    CycleRecord,
    history_keys,
    inverted_ticks,
    vm_keys,
)
from azure_io.tables import (
    MAX_TRANSACTION_OPERATIONS,
    HistoryKind,
    PatchTables,
    TableWrite,
    plan_transactions,
)

SUB_A = "11111111-1111-1111-1111-111111111111"
SUB_B = "22222222-2222-2222-2222-222222222222"
NOW = datetime(2026, 12, 20, 12, 0, tzinfo=UTC)


def vm_id(name: str, sub: str = SUB_A, group: str = "RG-Web") -> str:
    return (
        f"/subscriptions/{sub}/resourceGroups/{group}"
        f"/providers/Microsoft.Compute/virtualMachines/{name}"
    )


def assessment(vm: str, at: datetime, *, critical: int = 2) -> AssessmentResult:
    return AssessmentResult(
        vm_id=vm,
        status="Succeeded",
        started_at=at,
        reboot_pending=False,
        critical_and_security_patch_count=critical,
        other_patch_count=1,
        available_patches=(
            AvailablePatch("5048654", "2026-12 CU", ("Security",), "NeverReboots", at),
        ),
    )


def install(vm: str, at: datetime, *, status: str = "Succeeded") -> InstallResult:
    return InstallResult(
        vm_id=vm,
        status=status,
        started_at=at,
        reboot_status="NotNeeded",
        maintenance_window_exceeded=False,
        installed_patch_count=1,
        failed_patch_count=0 if status == "Succeeded" else 1,
        pending_patch_count=0,
        excluded_patch_count=0,
        not_selected_patch_count=3,
        patches=(InstalledPatch("5048654", "2026-12 CU", ("Security",), "Installed"),),
        error=None if status == "Succeeded" else OperationError("PatchFailed", "KB failed"),
    )


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


def test_repeated_writes_never_duplicate(tables: PatchTables, service: TableServiceClient) -> None:
    vms = [vm_id(f"web-{index:02}") for index in range(5)]

    def write_once() -> dict[str, list[dict[str, object]]]:
        tables.record_assessments([assessment(vm, NOW) for vm in vms], recorded_at=NOW)
        tables.record_installs([install(vm, NOW) for vm in vms], cycle="2026-12", recorded_at=NOW)
        tables.record_compliance(
            ComplianceRecord(vm, "compliant", "installed", True, False, NOW, "2026-12")
            for vm in vms
        )
        # Timestamp is the service's own write time; everything else must be identical.
        return {
            table: [
                {k: v for k, v in row.items() if k != "Timestamp"}
                for row in all_rows(service, table)
            ]
            for table in ALL_TABLES
        }

    first = write_once()
    assert write_once() == first
    assert write_once() == first  # a replayed activity writes the same facts again
    assert len(first[VM_STATE_TABLE]) == 5
    assert len(first[ASSESSMENTS_TABLE]) == 5
    assert len(first[INSTALLATIONS_TABLE]) == 5
    for table in (VM_STATE_TABLE, ASSESSMENTS_TABLE, INSTALLATIONS_TABLE):
        assert all(row["vmId"] and row["recordedAt"] for row in first[table])


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


def test_transactions_never_exceed_100_or_mix_partitions() -> None:
    writes = [
        TableWrite("T", "upsert", {"PartitionKey": f"p{index % 3}", "RowKey": f"r{index}"})
        for index in range(750)
    ]
    transactions = plan_transactions(writes)
    assert all(len(batch) <= MAX_TRANSACTION_OPERATIONS for batch in transactions)
    assert all(len({write.partition_key for write in batch}) == 1 for batch in transactions)
    assert sum(len(batch) for batch in transactions) == 750
    assert len(transactions) == 9


def test_writes_to_one_row_collapse_in_a_transaction() -> None:
    writes = [
        TableWrite("T", "upsert", {"PartitionKey": "p", "RowKey": "r", "a": 1, "b": 1}),
        TableWrite("T", "upsert", {"PartitionKey": "p", "RowKey": "r", "b": 2}),
    ]
    [[merged]] = plan_transactions(writes)
    assert merged.entity == {"PartitionKey": "p", "RowKey": "r", "a": 1, "b": 2}


def test_unbatched_mode_sends_one_request_per_row(
    service: TableServiceClient, counter: CountRequests
) -> None:
    tables = PatchTables(service, batched=False)
    tables.create_tables()
    counter.reset()
    tables.record_compliance(
        ComplianceRecord(vm_id(f"vm-{index}"), "pending", "", True, False, NOW)
        for index in range(7)
    )
    assert (counter.transaction_sizes, counter.single_writes) == ([], 7)


def test_purge_keeps_recent_and_removes_old(
    tables: PatchTables, service: TableServiceClient
) -> None:
    vm = vm_id("web-01")
    ages = [0, 1, 29, 31, 45, 90]
    tables.record_assessments(
        [assessment(vm, NOW - timedelta(days=d)) for d in ages], recorded_at=NOW
    )
    tables.record_installs(
        [install(vm, NOW - timedelta(days=d, hours=1)) for d in ages], cycle=None, recorded_at=NOW
    )
    removed = tables.purge_history(now=NOW)
    assert removed == 6
    kept = [row["assessmentAt"] for row in all_rows(service, ASSESSMENTS_TABLE)]
    assert sorted(kept, reverse=True) == [NOW - timedelta(days=d) for d in (0, 1, 29)]
    assert len(all_rows(service, INSTALLATIONS_TABLE)) == 3
    assert len(all_rows(service, VM_STATE_TABLE)) == 1  # latest state is not history
    assert tables.purge_history(now=NOW) == 0
    # The latest state is the newest result, not the last one of the list (90 days old).
    view = tables.vm_view(vm)
    assert view is not None and view.latest_assessment and view.latest_install
    assert view.latest_assessment.started_at == NOW
    assert view.latest_install.started_at == NOW - timedelta(hours=1)


def test_vm_view_has_latest_assessment_install_and_compliance(tables: PatchTables) -> None:
    vm = vm_id("Web-01")
    assert tables.vm_view(vm) is None
    tables.record_assessments(
        [assessment(vm, NOW - timedelta(days=3), critical=4)], recorded_at=NOW
    )
    tables.record_assessments([assessment(vm, NOW, critical=2)], recorded_at=NOW)
    tables.record_installs([install(vm, NOW, status="Failed")], cycle="2026-12", recorded_at=NOW)
    tables.record_compliance(
        [ComplianceRecord(vm, "failed", "KB failed", True, True, NOW, "2026-12")]
    )

    view = tables.vm_view(vm.upper().replace("SUBSCRIPTIONS", "subscriptions"))
    assert view is not None
    assert view.latest_assessment == assessment(vm, NOW, critical=2)
    assert view.latest_install == install(vm, NOW, status="Failed")
    assert view.install_cycle == "2026-12"
    assert view.compliance == ComplianceRecord(
        vm, "failed", "KB failed", True, True, NOW, "2026-12"
    )


def test_on_demand_install_clears_cycle_and_error(tables: PatchTables) -> None:
    vm = vm_id("web-01")
    tables.record_installs([install(vm, NOW, status="Failed")], cycle="2026-12", recorded_at=NOW)
    later = NOW + timedelta(hours=2)
    tables.record_installs([install(vm, later)], cycle=None, recorded_at=later)
    view = tables.vm_view(vm)
    assert view is not None and view.latest_install is not None
    assert view.install_cycle is None
    assert view.latest_install.error is None


def test_compliance_counts_per_subscription(tables: PatchTables) -> None:
    records = [
        ComplianceRecord(vm_id("a1"), "compliant", "", True, False, NOW),
        ComplianceRecord(vm_id("a2"), "compliant", "", True, False, NOW),
        ComplianceRecord(vm_id("a3"), "failed", "KB failed", True, False, NOW),
        ComplianceRecord(vm_id("b1", SUB_B), "skipped", "Manual", False, False, NOW),
    ]
    tables.record_compliance(records)
    tables.record_assessments([assessment(vm_id("b2", SUB_B), NOW)], recorded_at=NOW)
    assert tables.compliance_counts() == {
        SUB_A: {"compliant": 2, "failed": 1},
        SUB_B: {"skipped": 1, "unknown": 1},
    }
    assert tables.compliance_counts(SUB_B.upper()) == {SUB_B: {"skipped": 1, "unknown": 1}}


def test_history_is_newest_first_and_limited_to_days(tables: PatchTables) -> None:
    vm, other = vm_id("web-01"), vm_id("web-011")
    tables.record_assessments(
        [assessment(vm, NOW - timedelta(days=d)) for d in (1, 5, 12, 20)], recorded_at=NOW
    )
    tables.record_installs(
        [install(vm, NOW - timedelta(days=d)) for d in (2, 11)], cycle="2026-12", recorded_at=NOW
    )
    tables.record_assessments([assessment(other, NOW)], recorded_at=NOW)  # a shared name prefix

    entries = tables.history(vm, now=NOW, days=30)
    assert [(entry.kind, (NOW - entry.at).days) for entry in entries] == [
        (HistoryKind.ASSESSMENT, 1),
        (HistoryKind.INSTALL, 2),
        (HistoryKind.ASSESSMENT, 5),
        (HistoryKind.INSTALL, 11),
        (HistoryKind.ASSESSMENT, 12),
        (HistoryKind.ASSESSMENT, 20),
    ]
    assert entries[1].cycle == "2026-12"
    assert [(NOW - entry.at).days for entry in tables.history(vm, now=NOW, days=7)] == [1, 2, 5]
    with pytest.raises(ValueError, match="days"):
        tables.history(vm, now=NOW, days=31)


def test_cycle_round_trip(tables: PatchTables) -> None:
    record = CycleRecord(
        cycle_id="2026-12",
        release_kind="hotpatch",
        released_at=NOW - timedelta(days=12),
        deadline=NOW + timedelta(days=18),
        state="halted",
        recorded_at=NOW,
        release_id="2026-12-B",
        halt_reason="error budget exceeded in phase 1",
        plan_summary={"phases": 3, "assignments": 40},
    )
    tables.save_cycle(record)
    tables.save_cycle(record)
    assert tables.cycle("2026-12") == record
    assert tables.cycle("2027-01") is None


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


def test_latest_state_is_the_newest_result_of_one_call(tables: PatchTables) -> None:
    vm, other = vm_id("web-01"), vm_id("web-02")
    tables.record_assessments(
        [
            assessment(vm, NOW, critical=2),
            assessment(other, NOW - timedelta(days=1)),
            assessment(vm, NOW - timedelta(days=3), critical=9),
            assessment(other, NOW - timedelta(hours=1)),
        ],
        recorded_at=NOW,
    )
    tables.record_installs(
        [install(vm, NOW - timedelta(hours=1)), install(vm, NOW - timedelta(days=2))],
        cycle="2026-12",
        recorded_at=NOW,
    )
    assert latest_times(tables, vm) == (NOW, NOW - timedelta(hours=1))
    view = tables.vm_view(vm)
    assert view is not None and view.latest_assessment == assessment(vm, NOW, critical=2)
    assert latest_times(tables, other) == (NOW - timedelta(hours=1), None)


def test_an_older_redelivery_never_overwrites_a_newer_result(
    tables: PatchTables, service: TableServiceClient
) -> None:
    vm = vm_id("web-01")
    tables.record_assessments([assessment(vm, NOW, critical=2)], recorded_at=NOW)
    tables.record_installs([install(vm, NOW)], cycle="2026-12", recorded_at=NOW)
    tables.record_compliance(
        [ComplianceRecord(vm, "compliant", "installed", True, False, NOW, "2026-12")]
    )
    late = NOW + timedelta(hours=5)  # an old result delivered again, hours later
    old = NOW - timedelta(days=3)
    tables.record_assessments([assessment(vm, old, critical=7)], recorded_at=late)
    tables.record_installs([install(vm, old, status="Failed")], cycle="2026-11", recorded_at=late)

    view = tables.vm_view(vm)
    assert view is not None
    assert view.latest_assessment == assessment(vm, NOW, critical=2)
    assert view.latest_install == install(vm, NOW)
    assert view.install_cycle == "2026-12"
    assert view.compliance is not None and view.compliance.state == "compliant"
    [state] = all_rows(service, VM_STATE_TABLE)
    assert state["recordedAt"] == NOW
    # History is per event: the old results still get their rows.
    assert len(all_rows(service, ASSESSMENTS_TABLE)) == 2
    assert len(all_rows(service, INSTALLATIONS_TABLE)) == 2


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
    tables.record_installs([install(vm, NOW)], cycle="2026-12", recorded_at=NOW)
    assert latest_times(tables, vm) == (None, NOW)
    assert sent == [1, 1, 1]  # the other writer's, ours (412), ours again


def test_concurrent_writers_end_at_the_newest_result(azurite_connection_string: str) -> None:
    repositories = [
        PatchTables(TableServiceClient.from_connection_string(azurite_connection_string))
        for _ in range(3)
    ]
    repositories[0].create_tables()
    vms = [vm_id(f"race-{index:02}", sub) for index in range(15) for sub in (SUB_A, SUB_B)]
    sent: dict[str, list[datetime]] = {vm: [] for vm in vms}
    errors: list[BaseException] = []
    lock = threading.Lock()

    def writer(repository: PatchTables, seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(8):
                batch = [
                    assessment(vm, NOW - timedelta(minutes=rng.randrange(600)))
                    for vm in rng.sample(vms, 20)
                ]
                with lock:
                    for result in batch:
                        assert result.started_at is not None
                        sent[result.vm_id].append(result.started_at)
                repository.record_assessments(batch, recorded_at=NOW)
        except BaseException as error:
            errors.append(error)

    threads = [
        threading.Thread(target=writer, args=(repository, seed))
        for seed, repository in enumerate(repositories)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for vm, times in sent.items():
        if times:
            assert latest_times(repositories[0], vm)[0] == max(times), vm


def test_a_delete_then_an_upsert_of_one_row_replaces_it(
    tables: PatchTables, service: TableServiceClient
) -> None:
    delete = TableWrite("T", "delete", {"PartitionKey": "p", "RowKey": "r"})
    upsert = TableWrite("T", "upsert", {"PartitionKey": "p", "RowKey": "r", "b": 2})
    [[write]] = plan_transactions([delete, upsert])
    assert (write.kind, write.entity) == ("replace", upsert.entity)
    more = TableWrite("T", "upsert", {"PartitionKey": "p", "RowKey": "r", "c": 3})
    [[write]] = plan_transactions([delete, upsert, more])
    assert (write.kind, write.entity) == ("replace", {**upsert.entity, "c": 3})

    # Against the service: the columns the deleted row had are gone.
    keys = {"PartitionKey": SUB_A, "RowKey": "rg-web~web-01"}
    service.get_table_client(VM_STATE_TABLE).upsert_entity({**keys, "old": 1, "b": 1})
    tables._write(
        [
            TableWrite(VM_STATE_TABLE, "delete", keys),
            TableWrite(VM_STATE_TABLE, "upsert", {**keys, "b": 2}),
        ]
    )
    assert all_rows(service, VM_STATE_TABLE) == [{**keys, "b": 2}]


def test_a_result_without_start_time_is_dated_by_its_recording_and_stays_one_row(
    tables: PatchTables, service: TableServiceClient
) -> None:
    vm = vm_id("web-01")
    untimed = AssessmentResult(
        vm_id=vm,
        status="Failed",
        started_at=None,
        reboot_pending=False,
        critical_and_security_patch_count=0,
        other_patch_count=0,
        error=OperationError("VMAgentStatusCommunicationError", "agent unreachable"),
        activity_id="3F2504E0-4F89-11D3-9A0C-0305E82C3301",
    )
    failed_install = InstallResult(
        vm_id=vm,
        status="Failed",
        started_at=None,
        reboot_status=None,
        maintenance_window_exceeded=False,
        installed_patch_count=0,
        failed_patch_count=0,
        pending_patch_count=0,
        excluded_patch_count=0,
        not_selected_patch_count=0,
    )
    # A redelivery carries the same replay-safe moment, so it lands on the same row.
    for _ in range(3):
        tables.record_assessments([untimed], recorded_at=NOW)
        tables.record_installs([failed_install], cycle="2026-12", recorded_at=NOW)
    [row] = all_rows(service, ASSESSMENTS_TABLE)
    assert len(all_rows(service, INSTALLATIONS_TABLE)) == 1
    assert row["RowKey"] == history_keys(vm, NOW)[1]
    assert row["assessmentActivityId"] == "3F2504E0-4F89-11D3-9A0C-0305E82C3301"
    entries = tables.history(vm, now=NOW + timedelta(hours=1), days=1)
    assert sorted(entry.kind for entry in entries) == [HistoryKind.ASSESSMENT, HistoryKind.INSTALL]
    assert {entry.at for entry in entries} == {NOW}
    assert tables.history(vm, now=NOW + timedelta(days=3), days=1) == []


def test_a_conditional_write_is_never_combined_with_another_write_of_its_row() -> None:
    keys = {"PartitionKey": "p", "RowKey": "r"}
    update = TableWrite("T", "update", {**keys, "a": 1}, etag="W/1")
    with pytest.raises(ValueError, match="conditional"):
        plan_transactions([TableWrite("T", "upsert", {**keys, "b": 1}), update])
    with pytest.raises(ValueError, match="conditional"):
        plan_transactions([TableWrite("T", "create", keys), TableWrite("T", "delete", keys)])

"""The PatchStore contract, run over every implementation: in memory and Table Storage
(Azurite). What only concerns Table Storage's mechanics is in test_table_repository.py;
the plan, inventory and operations tables are in test_rollout_store_contract.py."""

import random
import threading
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store_backends import Backend, Rows, azurite_backend, memory_backend
from table_samples import NOW, SUB_A, SUB_B, assessment, install, vm_id

from azure_io.patch_results import AssessmentResult, InstallResult, OperationError
from azure_io.patch_views import HistoryKind
from azure_io.ports import PatchStore
from azure_io.table_rows import (
    ALL_TABLES,
    ASSESSMENTS_TABLE,
    INSTALLATIONS_TABLE,
    VM_STATE_TABLE,
    ComplianceRecord,
    CycleRecord,
    history_keys,
)
from patching.resource_ids import VmId


def latest_times(store: PatchStore, vm: str) -> tuple[datetime | None, datetime | None]:
    view = store.vm_view(vm)
    assert view is not None
    return (
        view.latest_assessment.started_at if view.latest_assessment else None,
        view.latest_install.started_at if view.latest_install else None,
    )


def test_repeated_writes_never_duplicate(store: PatchStore, rows: Rows) -> None:
    vms = [vm_id(f"web-{index:02}") for index in range(5)]

    def write_once() -> dict[str, list[dict[str, object]]]:
        store.record_assessments([assessment(vm, NOW) for vm in vms], recorded_at=NOW)
        store.record_installs([install(vm, NOW) for vm in vms], cycle="2026-12", recorded_at=NOW)
        store.record_compliance(
            ComplianceRecord(vm, "compliant", "installed", True, False, NOW, "2026-12")
            for vm in vms
        )
        # Timestamp is the service's own write time; everything else must be identical.
        return {
            table: [{k: v for k, v in row.items() if k != "Timestamp"} for row in rows(table)]
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


def test_purge_keeps_recent_and_removes_old(store: PatchStore, rows: Rows) -> None:
    vm = vm_id("web-01")
    ages = [0, 1, 29, 31, 45, 90]
    store.record_assessments(
        [assessment(vm, NOW - timedelta(days=d)) for d in ages], recorded_at=NOW
    )
    store.record_installs(
        [install(vm, NOW - timedelta(days=d, hours=1)) for d in ages], cycle=None, recorded_at=NOW
    )
    removed = store.purge_history(now=NOW)
    assert removed == 6
    kept = [row["assessmentAt"] for row in rows(ASSESSMENTS_TABLE)]
    assert sorted(kept, reverse=True) == [NOW - timedelta(days=d) for d in (0, 1, 29)]
    assert len(rows(INSTALLATIONS_TABLE)) == 3
    assert len(rows(VM_STATE_TABLE)) == 1  # latest state is not history
    assert store.purge_history(now=NOW) == 0
    # The latest state is the newest result, not the last one of the list (90 days old).
    view = store.vm_view(vm)
    assert view is not None and view.latest_assessment and view.latest_install
    assert view.latest_assessment.started_at == NOW
    assert view.latest_install.started_at == NOW - timedelta(hours=1)


def test_purge_removes_only_what_is_older_than_keep_days(store: PatchStore, rows: Rows) -> None:
    vm = vm_id("web-01")
    store.record_assessments(
        [assessment(vm, NOW - timedelta(hours=h)) for h in (47, 48, 49, 71)], recorded_at=NOW
    )
    assert store.purge_history(now=NOW, keep_days=2) == 2
    kept = [row["assessmentAt"] for row in rows(ASSESSMENTS_TABLE)]
    assert kept == [NOW - timedelta(hours=h) for h in (47, 48)]  # newest first, by key


def test_compliance_counts_key_subscriptions_in_lower_case(store: PatchStore) -> None:
    upper = "ABCDEF01-2345-6789-ABCD-EF0123456789"
    store.record_compliance(
        [
            ComplianceRecord(vm_id("x1", upper), "compliant", "", True, False, NOW),
            ComplianceRecord(vm_id("x2", upper.lower()), "failed", "KB failed", True, False, NOW),
        ]
    )
    expected = {upper.lower(): {"compliant": 1, "failed": 1}}
    assert store.compliance_counts() == expected
    assert store.compliance_counts(upper) == expected
    assert store.compliance_counts(SUB_A) == {}


def test_vm_view_has_latest_assessment_install_and_compliance(store: PatchStore) -> None:
    vm = vm_id("Web-01")
    assert store.vm_view(vm) is None
    store.record_assessments([assessment(vm, NOW - timedelta(days=3), critical=4)], recorded_at=NOW)
    store.record_assessments([assessment(vm, NOW, critical=2)], recorded_at=NOW)
    store.record_installs([install(vm, NOW, status="Failed")], cycle="2026-12", recorded_at=NOW)
    store.record_compliance(
        [ComplianceRecord(vm, "failed", "KB failed", True, True, NOW, "2026-12")]
    )

    view = store.vm_view(vm.upper().replace("SUBSCRIPTIONS", "subscriptions"))
    assert view is not None
    assert view.latest_assessment == assessment(vm, NOW, critical=2)
    assert view.latest_install == install(vm, NOW, status="Failed")
    assert view.install_cycle == "2026-12"
    assert view.compliance == ComplianceRecord(
        vm, "failed", "KB failed", True, True, NOW, "2026-12"
    )


def test_on_demand_install_clears_cycle_and_error(store: PatchStore) -> None:
    vm = vm_id("web-01")
    store.record_installs([install(vm, NOW, status="Failed")], cycle="2026-12", recorded_at=NOW)
    later = NOW + timedelta(hours=2)
    store.record_installs([install(vm, later)], cycle=None, recorded_at=later)
    view = store.vm_view(vm)
    assert view is not None and view.latest_install is not None
    assert view.install_cycle is None
    assert view.latest_install.error is None


def test_compliance_counts_per_subscription(store: PatchStore) -> None:
    records = [
        ComplianceRecord(vm_id("a1"), "compliant", "", True, False, NOW),
        ComplianceRecord(vm_id("a2"), "compliant", "", True, False, NOW),
        ComplianceRecord(vm_id("a3"), "failed", "KB failed", True, False, NOW),
        ComplianceRecord(vm_id("b1", SUB_B), "skipped", "Manual", False, False, NOW),
    ]
    store.record_compliance(records)
    store.record_assessments([assessment(vm_id("b2", SUB_B), NOW)], recorded_at=NOW)
    assert store.compliance_counts() == {
        SUB_A: {"compliant": 2, "failed": 1},
        SUB_B: {"skipped": 1, "unknown": 1},
    }
    assert store.compliance_counts(SUB_B.upper()) == {SUB_B: {"skipped": 1, "unknown": 1}}


def test_history_is_newest_first_and_limited_to_days(store: PatchStore) -> None:
    vm, other = vm_id("web-01"), vm_id("web-011")
    store.record_assessments(
        [assessment(vm, NOW - timedelta(days=d)) for d in (1, 5, 12, 20)], recorded_at=NOW
    )
    store.record_installs(
        [install(vm, NOW - timedelta(days=d)) for d in (2, 11)], cycle="2026-12", recorded_at=NOW
    )
    store.record_assessments([assessment(other, NOW)], recorded_at=NOW)  # a shared name prefix

    entries = store.history(vm, now=NOW, days=30)
    assert [(entry.kind, (NOW - entry.at).days) for entry in entries] == [
        (HistoryKind.ASSESSMENT, 1),
        (HistoryKind.INSTALL, 2),
        (HistoryKind.ASSESSMENT, 5),
        (HistoryKind.INSTALL, 11),
        (HistoryKind.ASSESSMENT, 12),
        (HistoryKind.ASSESSMENT, 20),
    ]
    assert entries[1].cycle == "2026-12"
    assert [(NOW - entry.at).days for entry in store.history(vm, now=NOW, days=7)] == [1, 2, 5]
    with pytest.raises(ValueError, match="days"):
        store.history(vm, now=NOW, days=31)


def test_cycle_round_trip(store: PatchStore) -> None:
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
    store.save_cycle(record)
    store.save_cycle(record)
    assert store.cycle("2026-12") == record
    assert store.cycle("2027-01") is None


def test_latest_state_is_the_newest_result_of_one_call(store: PatchStore) -> None:
    vm, other = vm_id("web-01"), vm_id("web-02")
    store.record_assessments(
        [
            assessment(vm, NOW, critical=2),
            assessment(other, NOW - timedelta(days=1)),
            assessment(vm, NOW - timedelta(days=3), critical=9),
            assessment(other, NOW - timedelta(hours=1)),
        ],
        recorded_at=NOW,
    )
    store.record_installs(
        [install(vm, NOW - timedelta(hours=1)), install(vm, NOW - timedelta(days=2))],
        cycle="2026-12",
        recorded_at=NOW,
    )
    assert latest_times(store, vm) == (NOW, NOW - timedelta(hours=1))
    view = store.vm_view(vm)
    assert view is not None and view.latest_assessment == assessment(vm, NOW, critical=2)
    assert latest_times(store, other) == (NOW - timedelta(hours=1), None)


def test_an_older_redelivery_never_overwrites_a_newer_result(store: PatchStore, rows: Rows) -> None:
    vm = vm_id("web-01")
    store.record_assessments([assessment(vm, NOW, critical=2)], recorded_at=NOW)
    store.record_installs([install(vm, NOW)], cycle="2026-12", recorded_at=NOW)
    store.record_compliance(
        [ComplianceRecord(vm, "compliant", "installed", True, False, NOW, "2026-12")]
    )
    late = NOW + timedelta(hours=5)  # an old result delivered again, hours later
    old = NOW - timedelta(days=3)
    store.record_assessments([assessment(vm, old, critical=7)], recorded_at=late)
    store.record_installs([install(vm, old, status="Failed")], cycle="2026-11", recorded_at=late)

    view = store.vm_view(vm)
    assert view is not None
    assert view.latest_assessment == assessment(vm, NOW, critical=2)
    assert view.latest_install == install(vm, NOW)
    assert view.install_cycle == "2026-12"
    assert view.compliance is not None and view.compliance.state == "compliant"
    [state] = rows(VM_STATE_TABLE)
    assert state["recordedAt"] == NOW
    # History is per event: the old results still get their rows.
    assert len(rows(ASSESSMENTS_TABLE)) == 2
    assert len(rows(INSTALLATIONS_TABLE)) == 2


def test_concurrent_writers_end_at_the_newest_result(backend: Backend, store: PatchStore) -> None:
    writers = [store, backend.another_writer(), backend.another_writer()]
    vms = [vm_id(f"race-{index:02}", sub) for index in range(15) for sub in (SUB_A, SUB_B)]
    sent: dict[str, list[datetime]] = {vm: [] for vm in vms}
    errors: list[BaseException] = []
    lock = threading.Lock()

    def writer(writer_store: PatchStore, seed: int) -> None:
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
                writer_store.record_assessments(batch, recorded_at=NOW)
        except BaseException as error:
            errors.append(error)

    threads = [
        threading.Thread(target=writer, args=(writer_store, seed))
        for seed, writer_store in enumerate(writers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for vm, times in sent.items():
        if times:
            assert latest_times(store, vm)[0] == max(times), vm


def test_a_result_without_start_time_is_dated_by_its_recording_and_stays_one_row(
    store: PatchStore, rows: Rows
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
        store.record_assessments([untimed], recorded_at=NOW)
        store.record_installs([failed_install], cycle="2026-12", recorded_at=NOW)
    [row] = rows(ASSESSMENTS_TABLE)
    assert len(rows(INSTALLATIONS_TABLE)) == 1
    assert row["RowKey"] == history_keys(vm, NOW)[1]
    assert row["assessmentActivityId"] == "3F2504E0-4F89-11D3-9A0C-0305E82C3301"
    entries = store.history(vm, now=NOW + timedelta(hours=1), days=1)
    assert sorted(entry.kind for entry in entries) == [HistoryKind.ASSESSMENT, HistoryKind.INSTALL]
    assert {entry.at for entry in entries} == {NOW}
    assert store.history(vm, now=NOW + timedelta(days=3), days=1) == []


def test_a_time_without_time_zone_is_refused_and_nothing_is_written(
    store: PatchStore, rows: Rows
) -> None:
    naive = datetime(2026, 12, 20, 12, 0)
    good, bad = assessment(vm_id("web-01"), NOW), assessment(vm_id("web-02"), naive)
    with pytest.raises(ValueError, match="time zone"):
        store.record_assessments([good, bad], recorded_at=NOW)
    with pytest.raises(ValueError, match="time zone"):
        store.record_installs([install(vm_id("web-01"), NOW)], cycle=None, recorded_at=naive)
    with pytest.raises(ValueError, match="time zone"):
        store.record_compliance(
            [
                ComplianceRecord(vm_id("web-01"), "pending", "", True, False, NOW),
                ComplianceRecord(vm_id("web-02"), "pending", "", True, False, naive),
            ]
        )
    assert [rows(table) for table in ALL_TABLES] == [[] for _ in ALL_TABLES]
    assert store.vm_view(vm_id("web-01")) is None


def test_times_come_back_in_utc_whatever_zone_they_were_given_in(store: PatchStore) -> None:
    vm = vm_id("web-01")
    at = datetime(2026, 12, 20, 21, 0, tzinfo=timezone(timedelta(hours=9)))  # NOW, in Tokyo
    store.record_assessments([assessment(vm, at)], recorded_at=NOW)
    [entry] = store.history(vm, now=NOW + timedelta(hours=1), days=1)
    assert entry.at == NOW and entry.at.utcoffset() == timedelta(0)
    view = store.vm_view(vm)
    assert view is not None and view.latest_assessment == assessment(vm, at)
    assert view.latest_assessment.started_at == NOW
    assert view.latest_assessment.started_at.utcoffset() == timedelta(0)


def test_both_stores_hold_the_same_rows_after_the_same_writes(
    azurite_connection_string: str,
) -> None:
    backends = [memory_backend(), azurite_backend(azurite_connection_string)]
    vms = [vm_id("web-01"), vm_id("web-02"), vm_id("db-01", SUB_B, "RG-Data")]
    for backend in backends:
        store = backend.store
        store.create_tables()
        store.record_assessments(
            [assessment(vm, NOW - timedelta(days=age)) for vm in vms for age in (0, 40)],
            recorded_at=NOW,
        )
        store.record_assessments([assessment(vms[0], NOW - timedelta(days=2))], recorded_at=NOW)
        store.record_installs(
            [install(vms[1], NOW, status="Failed")], cycle="2026-12", recorded_at=NOW
        )
        store.record_compliance([ComplianceRecord(vms[2], "skipped", "Manual", False, False, NOW)])
        store.save_cycle(
            CycleRecord("2026-12", "baseline", NOW, NOW + timedelta(days=30), "running", NOW)
        )
        assert store.purge_history(now=NOW) == 3
    memory, azurite = ([backend.rows(table) for table in ALL_TABLES] for backend in backends)
    assert memory == azurite


def test_vm_views_hold_every_recorded_vm_of_one_subscription_by_key(store: PatchStore) -> None:
    web, db = vm_id("Web-01"), vm_id("db-01", group="RG-Data")
    upper_subscription = vm_id("web-02", SUB_A.upper())
    elsewhere = vm_id("web-01", SUB_B)
    store.record_assessments(
        [assessment(vm, NOW) for vm in (web, upper_subscription, elsewhere)], recorded_at=NOW
    )
    store.record_installs([install(db, NOW, status="Failed")], cycle="2026-12", recorded_at=NOW)
    store.record_compliance([ComplianceRecord(web, "compliant", "", True, False, NOW, "2026-12")])

    views = store.vm_views(SUB_A)
    assert set(views) == {VmId.parse(vm).key for vm in (web, db, upper_subscription)}
    for vm in (web, db, upper_subscription):
        assert views[VmId.parse(vm).key] == store.vm_view(vm)
    assert views[VmId.parse(web).key].compliance is not None
    assert views[VmId.parse(db).key].install_cycle == "2026-12"
    assert store.vm_views(SUB_A.upper()) == views
    assert store.vm_views(SUB_B) == {VmId.parse(elsewhere).key: store.vm_view(elsewhere)}


def test_vm_views_of_a_subscription_with_nothing_recorded_are_empty(store: PatchStore) -> None:
    assert store.vm_views(SUB_A) == {}
    store.record_assessments([assessment(vm_id("web-01", SUB_B), NOW)], recorded_at=NOW)
    assert store.vm_views(SUB_A) == {}


@pytest.mark.parametrize("subscription", ["", "a~b", "11111111/1111"])
def test_vm_views_refuse_a_subscription_id_that_cannot_be_a_key(
    store: PatchStore, subscription: str
) -> None:
    with pytest.raises(ValueError, match="subscription id"):
        store.vm_views(subscription)


_recorded_vms = st.lists(
    st.tuples(
        st.sampled_from(["web-01", "Web-01", "WEB-02", "db-01"]),
        st.sampled_from(["RG-Web", "rg-web", "RG-Data"]),
        st.sampled_from(["assessment", "install", "compliance"]),
    ),
    min_size=1,
    max_size=6,
)


# Examples share the store (and its Azurite tables), and one may reuse an earlier one's
# subscription: the views must hold at least what this one wrote, each as vm_view has it.
@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(subscription=st.uuids(), writes=_recorded_vms)
def test_vm_views_answer_as_vm_view_does_for_each_vm(
    store: PatchStore, subscription: object, writes: list[tuple[str, str, str]]
) -> None:
    sub = str(subscription)
    vms = {
        kind: [vm_id(name, sub, group) for name, group, k in writes if k == kind]
        for kind in ("assessment", "install", "compliance")
    }
    store.record_assessments([assessment(vm, NOW) for vm in vms["assessment"]], recorded_at=NOW)
    store.record_installs(
        [install(vm, NOW) for vm in vms["install"]], cycle="2026-12", recorded_at=NOW
    )
    store.record_compliance(
        ComplianceRecord(vm, "pending", "", True, False, NOW) for vm in vms["compliance"]
    )
    views = store.vm_views(sub.upper())
    assert {VmId.parse(vm_id(name, sub, group)).key for name, group, _ in writes} <= set(views)
    for key, view in views.items():
        assert VmId.parse(view.vm_id).key == key
        assert store.vm_view(key) == view


def test_rows_written_count_each_row_a_result_write_sends(store: PatchStore) -> None:
    web, db = vm_id("web-01"), vm_id("db-01", SUB_B)
    written = [store.rows_written]

    def wrote() -> int:
        written.append(store.rows_written)
        return written[-1] - written[-2]

    store.record_assessments([assessment(web, NOW), assessment(db, NOW)], recorded_at=NOW)
    assert (written[0], wrote()) == (0, 2 + 2)  # history rows, then each VM's state row
    # An older result gets its history row only; a replayed one rewrites history only.
    store.record_assessments([assessment(web, NOW - timedelta(days=40))], recorded_at=NOW)
    assert wrote() == 1
    store.record_assessments([assessment(web, NOW), assessment(db, NOW)], recorded_at=NOW)
    assert wrote() == 2
    store.record_installs([install(web, NOW)], cycle="2026-12", recorded_at=NOW)
    assert wrote() == 1 + 1  # the VM's first install moves its state forward
    store.record_compliance(
        [
            ComplianceRecord(web, "pending", "", True, False, NOW),
            ComplianceRecord(web, "compliant", "installed", True, False, NOW),
            ComplianceRecord(db, "skipped", "Manual", False, False, NOW),
        ]
    )
    assert wrote() == 2  # the last record of web-01 wins, in one write of its row
    store.save_cycle(
        CycleRecord("2026-12", "baseline", NOW, NOW + timedelta(days=30), "running", NOW)
    )
    assert wrote() == 1
    assert store.purge_history(now=NOW) == 1 and wrote() == 1
    assert store.purge_history(now=NOW + timedelta(days=31)) == 3 and wrote() == 3
    store.vm_views(SUB_A)
    store.compliance_counts()
    with pytest.raises(ValueError, match="time zone"):
        store.record_assessments([assessment(web, datetime(2026, 12, 21))], recorded_at=NOW)
    assert wrote() == 0
    assert store.rows_written == 4 + 1 + 2 + 2 + 2 + 1 + 1 + 3


def test_rows_written_are_exact_under_concurrent_calls_of_one_store(store: PatchStore) -> None:
    batches = [
        [
            ComplianceRecord(vm_id(f"vm-{thread}-{n:02}"), "pending", "", True, False, NOW)
            for n in range(30)
        ]
        for thread in range(4)
    ]
    threads = [threading.Thread(target=store.record_compliance, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.rows_written == 4 * 30

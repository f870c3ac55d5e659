"""The PatchStore contract for what orchestrations keep out of their histories: the plan
(PatchPlan), the discovered fleet (PatchInventory), the operations in flight
(PatchOperations) and the waves of assessment rounds (PatchAssessmentWaves), on every store. Transaction mechanics are in test_table_repository.py."""

from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rollout_samples import STATUS_URL, group, hotpatch_slot, slot, started
from store_backends import Rows, azurite_backend, memory_backend, without_timestamps
from table_samples import NOW, SUB_A, SUB_B, vm_id

from azure_io.compute_outcomes import OperationKind, Started
from azure_io.ports import PatchStore
from azure_io.rollout_records import (
    MAX_PLAN_GROUP_SIZE,
    OperationInFlight,
    OperationKey,
    PlanGroupRows,
    PlanGroupSummary,
    PlannedSlot,
)
from azure_io.table_batches import MAX_TRANSACTION_OPERATIONS
from azure_io.table_rows import (
    ALL_TABLES,
    ASSESSMENT_WAVES_TABLE,
    INVENTORY_TABLE,
    MAX_STRING_PROPERTY_BYTES,
    OPERATIONS_TABLE,
    PLAN_TABLE,
)
from patching.assessment import Wave
from patching.models import OsType, PatchMode, PowerState, VmTarget

INSTALL, ASSESSMENT = OperationKind.INSTALL, OperationKind.ASSESSMENT


def full_target(name: str, sub: str = SUB_A, **changes: object) -> VmTarget:
    fields: dict[str, object] = {
        "id": vm_id(name, sub),
        "location": "West Europe",
        "os_type": OsType.WINDOWS,
        "patch_mode": PatchMode.AUTOMATIC_BY_PLATFORM,
        "zone": "2",
        "availability_set": "AS-Web",
        "update_domain": 3,
        "fault_domain": 0,
        "enable_hotpatching": True,
        "image_sku": "2022-datacenter-azure-edition-hotpatch",
        "time_zone": "W. Europe Standard Time",
        "power_state": PowerState.DEALLOCATED,
        "tags": {"patch-window": "Sat 02:00-04:00", "owner": "équipe web", "empty": ""},
    }
    return VmTarget(**{**fields, **changes})  # type: ignore[arg-type]


def bare_target(name: str, sub: str = SUB_A) -> VmTarget:
    return VmTarget(vm_id(name, sub), "eastus", OsType.LINUX, PatchMode.IMAGE_DEFAULT)


# -- the plan ----------------------------------------------------------------------------


def test_a_plan_group_comes_back_in_slot_order_with_its_values(store: PatchStore) -> None:
    later = NOW + timedelta(hours=3)
    first, second = vm_id("Web-02"), vm_id("web-01")  # same start: VM id decides, any case
    assignments = (slot(vm_id("web-03"), later, phase=1), hotpatch_slot(first, NOW))
    assignments += (hotpatch_slot(second, NOW),)
    store.save_plan_groups(
        "2026-12",
        [PlanGroupRows("p1-r0-g00", 1, assignments, retry=True), group("p0-r0-g00", 2)],
        recorded_at=NOW,
    )
    assert store.plan_group("2026-12", "p1-r0-g00") == (
        PlannedSlot("p1-r0-g00", hotpatch_slot(second, NOW), retry=True),
        PlannedSlot("p1-r0-g00", hotpatch_slot(first, NOW), retry=True),
        PlannedSlot("p1-r0-g00", slot(vm_id("web-03"), later, phase=1), retry=True),
    )
    assert store.plan_group("2026-12", "p0-r0-g00") == tuple(
        PlannedSlot("p0-r0-g00", assignment) for assignment in group("p0-r0-g00", 2).assignments
    )
    assert store.plan_group("2026-12", "p9-r9-g99") == ()
    assert store.plan_group("2027-01", "p1-r0-g00") == ()


def test_plan_groups_summarize_each_group_by_phase_then_start(store: PatchStore) -> None:
    store.save_plan_groups(
        "2026-12",
        [group("p1-r0-g00", 3, phase=1), group("p0-r1-g00", 2), group("p0-r0-g01", 4)],
        recorded_at=NOW,
    )
    store.save_plan_groups("2026-11", [group("p0-r0-g00", 1)], recorded_at=NOW)
    day = timedelta(days=1)
    assert store.plan_groups("2026-12") == (
        PlanGroupSummary("p0-r0-g01", 0, 4, NOW, NOW + timedelta(hours=5)),
        PlanGroupSummary("p0-r1-g00", 0, 2, NOW, NOW + timedelta(hours=3)),
        PlanGroupSummary("p1-r0-g00", 1, 3, NOW + day, NOW + day + timedelta(hours=4)),
    )
    assert store.plan_groups("2027-01") == ()


def test_saving_a_plan_again_changes_nothing_and_250_vms_fit_in_groups(
    store: PatchStore, rows: Rows
) -> None:
    groups = [group("p0-r0-g00", 100), group("p0-r0-g01", 100), group("p0-r1-g00", 50)]
    store.save_plan_groups("2026-12", groups, recorded_at=NOW)
    first = without_timestamps(rows(PLAN_TABLE))
    store.save_plan_groups("2026-12", groups, recorded_at=NOW)  # an activity run twice
    assert without_timestamps(rows(PLAN_TABLE)) == first
    assert len(first) == 250
    assert [summary.count for summary in store.plan_groups("2026-12")] == [100, 100, 50]
    assert {row["PartitionKey"] for row in first} == {
        "2026-12~p0-r0-g00",
        "2026-12~p0-r0-g01",
        "2026-12~p0-r1-g00",
    }
    assert all(row["vmId"] and row["recordedAt"] == NOW for row in first)
    assert first[0]["RowKey"] == "rg-web~p0-r0-g00-vm-000"


def test_deleting_a_plan_removes_that_cycle_only(store: PatchStore) -> None:
    # Cycle ids that share a prefix: a key range must not reach into the neighbours.
    for cycle in ("2026-11", "2026-11-baseline", "2026-12"):
        store.save_plan_groups(
            cycle, [group("p0-r0-g00", 3), group("p1-r0-g00", 2, phase=1)], recorded_at=NOW
        )
    assert store.delete_plan("2026-11") == 5
    assert store.plan_groups("2026-11") == ()
    assert [summary.count for summary in store.plan_groups("2026-11-baseline")] == [3, 2]
    assert [summary.count for summary in store.plan_groups("2026-12")] == [3, 2]
    assert store.delete_plan("2026-11") == 0  # a replayed delete


@pytest.mark.parametrize(
    ("make_groups", "message"),
    [
        (lambda: [group("p0~r0", 1)], "plan group id 'p0~r0'"),
        (lambda: [group("", 1)], "plan group id ''"),
        (lambda: [group("g", MAX_PLAN_GROUP_SIZE + 1)], "expected 1 to 100, got 101"),
        (lambda: [PlanGroupRows("g", 0, ())], "expected 1 to 100, got 0"),
        (
            lambda: [PlanGroupRows("g", 1, group("g", 2).assignments)],
            "expected the group's phase 1",
        ),
        (
            lambda: [PlanGroupRows("g", 0, (slot(vm_id("a"), NOW), slot(vm_id("b", SUB_B), NOW)))],
            "one subscription",
        ),
        (
            lambda: [PlanGroupRows("g", 0, (slot(vm_id("a"), NOW), slot(vm_id("A"), NOW)))],
            "appears twice",
        ),
        (
            lambda: [PlanGroupRows("g", 0, (slot(vm_id("a"), NOW, hours=0),))],
            "must end after it starts",
        ),
        (lambda: [group("p0-r0-g00", 2), group("p0-r0-g00", 1)], "given twice"),
        (
            lambda: [
                group("ok", 2),
                PlanGroupRows("naive", 0, (slot(vm_id("a"), NOW.replace(tzinfo=None)),)),
            ],
            "time zone",
        ),
    ],
)
def test_a_bad_plan_is_refused_and_nothing_is_written(
    store: PatchStore, rows: Rows, make_groups: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        store.save_plan_groups("2026-12", make_groups(), recorded_at=NOW)  # type: ignore[operator]
    assert rows(PLAN_TABLE) == []


def test_a_bad_cycle_id_is_refused(store: PatchStore, rows: Rows) -> None:
    for call in (
        lambda: store.save_plan_groups("2026~12", [group("g", 1)], recorded_at=NOW),
        lambda: store.plan_group("2026/12", "g"),
        lambda: store.plan_groups(""),
        lambda: store.delete_plan("2026 12"),
    ):
        with pytest.raises(ValueError, match="cycle id"):
            call()
    assert rows(PLAN_TABLE) == []


def test_a_plan_group_holds_at_most_one_transaction() -> None:
    assert MAX_PLAN_GROUP_SIZE == MAX_TRANSACTION_OPERATIONS


# -- the inventory -----------------------------------------------------------------------


def test_the_inventory_comes_back_exactly_as_discovered(store: PatchStore) -> None:
    targets = [full_target("web-02"), bare_target("db-01"), full_target("Web-01", zone="")]
    store.save_inventory(SUB_A, targets, discovered_at=NOW)
    store.save_inventory(SUB_B, [bare_target("app-01", SUB_B)], discovered_at=NOW)
    expected = (bare_target("db-01"), full_target("Web-01", zone=""), full_target("web-02"))
    found = store.inventory(SUB_A.upper())
    assert found == expected
    assert [target.id for target in found] == [target.id for target in expected]  # its case
    assert [dict(target.tags) for target in found] == [dict(target.tags) for target in expected]
    assert found[0].zone is None and found[0].update_domain is None and found[1].zone == ""
    assert store.inventory() == (*expected, bare_target("app-01", SUB_B))


def test_a_discovery_replaces_the_subscription_snapshot(store: PatchStore, rows: Rows) -> None:
    assert store.inventory_age(SUB_A) is None
    store.save_inventory(
        SUB_A,
        [full_target("web-01"), full_target("web-02"), bare_target("old-01")],
        discovered_at=NOW,
    )
    store.save_inventory(SUB_B, [bare_target("app-01", SUB_B)], discovered_at=NOW)
    later = NOW + timedelta(days=1)
    running = full_target("web-01", power_state=PowerState.RUNNING, tags={})
    snapshot = [running, full_target("web-02"), bare_target("new-01")]
    store.save_inventory(SUB_A, snapshot, discovered_at=later)
    store.save_inventory(SUB_A, snapshot, discovered_at=later)  # an activity run twice
    assert store.inventory(SUB_A) == (bare_target("new-01"), running, full_target("web-02"))
    assert store.inventory(SUB_B) == (bare_target("app-01", SUB_B),)
    assert store.inventory_age(SUB_A) == later
    assert store.inventory_age(SUB_B.upper()) == NOW
    assert len(rows(INVENTORY_TABLE)) == 4
    store.save_inventory(SUB_A, [], discovered_at=later)  # every VM gone
    assert store.inventory(SUB_A) == ()
    assert store.inventory_age(SUB_A) is None


_snapshots = st.lists(
    st.tuples(st.sampled_from([0, 1, 2]), st.sets(st.sampled_from(["Web-01", "web-02", "db-01"]))),
    min_size=1,
    max_size=5,
)


# Examples share the store (and its Azurite tables), so each discovers its own subscriptions.
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(subscriptions=st.lists(st.uuids(), min_size=3, max_size=3, unique=True), saves=_snapshots)
def test_each_subscription_holds_its_last_discovery_whatever_the_others_do(
    store: PatchStore, subscriptions: list[object], saves: list[tuple[int, set[str]]]
) -> None:
    subs = [str(subscription) for subscription in subscriptions]
    # An example hypothesis replays may meet its subscriptions' earlier snapshots.
    held = {sub: {target.id for target in store.inventory(sub)} for sub in subs}
    for index, (which, names) in enumerate(saves):
        sub, at = subs[which], NOW + timedelta(minutes=index)
        found = {vm_id(name, sub) for name in names}
        before = store.rows_written
        store.save_inventory(sub, [bare_target(name, sub) for name in names], discovered_at=at)
        # Every VM found is written; every VM no longer there is deleted.
        assert store.rows_written - before == len(found) + len(held[sub] - found)
        held[sub] = found
    for sub, ids in held.items():
        assert [target.id for target in store.inventory(sub.upper())] == sorted(ids, key=str.lower)
        assert (store.inventory_age(sub) is None) == (not ids)


def test_a_bad_discovery_is_refused_and_the_snapshot_kept(store: PatchStore) -> None:
    store.save_inventory(SUB_A, [bare_target("web-01")], discovered_at=NOW)
    bad_calls = [
        ([bare_target("web-02"), bare_target("app-01", SUB_B)], NOW, "another one"),
        ([bare_target("web-02"), bare_target("WEB-02")], NOW, "twice"),
        ([bare_target("web-02")], datetime(2026, 12, 21), "time zone"),
        ([full_target("web-02", tags={"k": "v" * 40_000})], NOW, "tagsJson of .*web-02"),
    ]
    for targets, discovered_at, message in bad_calls:
        with pytest.raises(ValueError, match=message):
            store.save_inventory(SUB_A, targets, discovered_at=discovered_at)
    with pytest.raises(ValueError, match="subscription id"):
        store.save_inventory("", [], discovered_at=NOW)
    assert store.inventory() == (bare_target("web-01"),)
    assert store.inventory_age(SUB_A) == NOW


# -- the operations in flight ------------------------------------------------------------


def test_operations_in_flight_round_trip_and_a_repeated_save_changes_nothing(
    store: PatchStore, rows: Rows
) -> None:
    web1, web2, db1 = vm_id("Web-01"), vm_id("web-02"), vm_id("db-01", SUB_B)
    records = [started(web1), started(web1, ASSESSMENT), started(web2), started(db1)]
    store.save_operations(records)
    first = without_timestamps(rows(OPERATIONS_TABLE))
    store.save_operations(records)  # an activity run twice
    assert without_timestamps(rows(OPERATIONS_TABLE)) == first
    assert [row["RowKey"] for row in first] == [
        "rg-web~web-01~assessment",
        "rg-web~web-01~install",
        "rg-web~web-02~install",
        "rg-web~db-01~install",
    ]
    assert store.operations(INSTALL, subscription_id=SUB_A.upper()) == (
        started(web1),
        started(web2),
    )
    assert store.operations(ASSESSMENT, subscription_id=SUB_A) == (started(web1, ASSESSMENT),)
    assert store.operations(INSTALL, vm_ids=[db1, web1.lower(), vm_id("never-started")]) == (
        started(web1),
        started(db1),
    )
    assert store.operations(ASSESSMENT, vm_ids=[web2]) == ()
    assert store.operations(INSTALL, vm_ids=[]) == ()


def test_a_later_start_of_the_same_vm_and_kind_replaces_the_earlier(store: PatchStore) -> None:
    vm = vm_id("web-01")
    store.save_operations([started(vm)])
    retried = OperationInFlight(
        Started(vm, INSTALL, STATUS_URL.replace("op-1", "op-2")), started_at=NOW + timedelta(days=2)
    )
    store.save_operations([retried])
    assert store.operations(INSTALL, vm_ids=[vm]) == (retried,)
    assert retried.cycle is None and retried.slot_end is None and retried.activity_id is None


def test_finishing_operations_forgets_them_and_tolerates_ones_already_gone(
    store: PatchStore, rows: Rows
) -> None:
    vms = [vm_id(f"web-{index:02}") for index in range(5)]
    store.save_operations([started(vm) for vm in vms] + [started(vms[0], ASSESSMENT)])
    done = [
        OperationKey(vms[0], INSTALL),
        OperationKey(vms[1].upper().replace("SUBSCRIPTIONS", "subscriptions"), INSTALL),
    ]
    store.finish_operations(done)
    store.finish_operations([*done, OperationKey(vm_id("never-started"), ASSESSMENT)])
    assert [op.started.vm_id for op in store.operations(INSTALL, subscription_id=SUB_A)] == vms[2:]
    assert store.operations(ASSESSMENT, vm_ids=[vms[0]]) == (started(vms[0], ASSESSMENT),)
    assert len(rows(OPERATIONS_TABLE)) == 4


def test_a_status_url_is_kept_whole_up_to_64_kib_and_refused_beyond(
    store: PatchStore, rows: Rows
) -> None:
    longest = "t" * (MAX_STRING_PROPERTY_BYTES // 2)  # UTF-16: two bytes a character
    store.save_operations([started(vm_id("web-01"), token=longest)])
    [kept] = store.operations(INSTALL, vm_ids=[vm_id("web-01")])
    assert kept.started.status_url == longest
    too_long = [started(vm_id("web-02")), started(vm_id("web-03"), token=longest + "t")]
    astral = [started(vm_id("web-04"), token="\N{GRINNING FACE}" * 16_385)]  # 4 bytes each
    for records in (too_long, astral):
        with pytest.raises(ValueError, match=r"statusUrl of the install of .*web-0[34]"):
            store.save_operations(records)
    assert len(rows(OPERATIONS_TABLE)) == 1


def test_bad_operations_are_refused(store: PatchStore) -> None:
    with pytest.raises(ValueError, match="either vm_ids or subscription_id"):
        store.operations(INSTALL)
    with pytest.raises(ValueError, match="either vm_ids or subscription_id"):
        store.operations(INSTALL, vm_ids=[vm_id("web-01")], subscription_id=SUB_A)
    with pytest.raises(ValueError, match="subscription id"):
        store.operations(INSTALL, subscription_id="")
    with pytest.raises(ValueError, match="status URL is empty"):
        OperationInFlight(Started(vm_id("web-01"), INSTALL, ""), started_at=NOW)
    with pytest.raises(ValueError, match="concern installs only"):
        OperationInFlight(
            Started(vm_id("web-01"), ASSESSMENT, "t"), started_at=NOW, cycle="2026-12"
        )
    with pytest.raises(ValueError, match="time zone"):
        store.save_operations(
            [
                OperationInFlight(
                    Started(vm_id("web-01"), INSTALL, "t"), started_at=datetime(2026, 12, 1)
                )
            ]
        )


# -- the waves of assessment rounds -----------------------------------------------------


def _waves(count: int, sub: str = SUB_A) -> list[Wave]:
    return [
        Wave(
            NOW + timedelta(seconds=20 * index),
            sub,
            "westeurope",
            tuple(vm_id(f"vm-{index:03d}-{n:03d}", sub) for n in range(MAX_PLAN_GROUP_SIZE)),
        )
        for index in range(count)
    ]


def test_a_rounds_waves_come_back_by_index_and_a_save_again_replaces_them(
    store: PatchStore, rows: Rows
) -> None:
    waves = _waves(3)
    store.save_assessment_waves("assessment-20261208T19", waves, recorded_at=NOW)
    store.save_assessment_waves("assessment-20261208T19", waves, recorded_at=NOW)
    store.save_assessment_waves("assessment-20261208T20", waves[:1], recorded_at=NOW)
    assert [store.assessment_wave("assessment-20261208T19", i) for i in range(4)] == [
        *waves,
        None,
    ]
    assert store.assessment_wave("assessment-20261208T20", 1) is None
    assert store.assessment_wave("assessment-20261208T21", 0) is None
    assert len(rows(ASSESSMENT_WAVES_TABLE)) == 4
    with pytest.raises(ValueError, match="assessment round id"):
        store.save_assessment_waves("round/1", waves, recorded_at=NOW)
    with pytest.raises(ValueError, match="time zone"):
        store.save_assessment_waves("r", waves, recorded_at=datetime(2026, 12, 1))
    assert len(rows(ASSESSMENT_WAVES_TABLE)) == 4


def test_purging_waves_removes_those_saved_before_the_moment_only(store: PatchStore) -> None:
    store.save_assessment_waves("old", _waves(2), recorded_at=NOW - timedelta(days=3))
    store.save_assessment_waves("new", _waves(1, SUB_B), recorded_at=NOW)
    assert store.purge_assessment_waves(before=NOW - timedelta(days=2)) == 2
    assert store.assessment_wave("old", 0) is None
    assert store.assessment_wave("new", 0) == _waves(1, SUB_B)[0]
    assert store.purge_assessment_waves(before=NOW - timedelta(days=2)) == 0


def test_both_stores_hold_the_same_rollout_rows_after_the_same_writes(
    azurite_connection_string: str,
) -> None:
    backends = [memory_backend(), azurite_backend(azurite_connection_string)]
    for backend in backends:
        store = backend.store
        store.create_tables()
        store.save_plan_groups(
            "2026-12",
            [group("p0-r0-g00", 3), group("p1-r0-g00", 2, phase=1, retry=True)],
            recorded_at=NOW,
        )
        store.save_plan_groups("2026-11", [group("p0-r0-g00", 2)], recorded_at=NOW)
        assert store.delete_plan("2026-11") == 2
        store.save_inventory(
            SUB_A, [full_target("web-01"), bare_target("db-01")], discovered_at=NOW
        )
        store.save_inventory(SUB_A, [full_target("web-01")], discovered_at=NOW)
        store.save_operations([started(vm_id("web-01")), started(vm_id("web-01"), ASSESSMENT)])
        store.finish_operations([OperationKey(vm_id("web-01"), ASSESSMENT)])
        store.save_assessment_waves("assessment-20261208T19", _waves(2), recorded_at=NOW)
    memory, azurite = ([backend.rows(table) for table in ALL_TABLES] for backend in backends)
    assert [len(rows) for rows in memory] == [0, 0, 0, 0, 5, 1, 1, 2]
    assert memory == azurite


# -- rows written ------------------------------------------------------------------------


def test_rows_written_count_each_row_a_rollout_write_sends(store: PatchStore) -> None:
    written = [store.rows_written]

    def wrote() -> int:
        written.append(store.rows_written)
        return written[-1] - written[-2]

    store.save_inventory(
        SUB_A,
        [bare_target("web-01"), bare_target("web-02"), bare_target("db-01")],
        discovered_at=NOW,
    )
    assert (written[0], wrote()) == (0, 3)
    store.save_inventory(SUB_A, [bare_target("web-01"), bare_target("db-01")], discovered_at=NOW)
    assert wrote() == 2 + 1  # two replaced, web-02 deleted
    store.save_inventory(SUB_A, [], discovered_at=NOW)
    assert wrote() == 2
    # Two saves of one row in one call are one write of it.
    store.save_operations(
        [started(vm_id("web-01")), started(vm_id("web-01")), started(vm_id("web-02"))]
    )
    assert wrote() == 2
    # A delete of a row already gone is still sent, and counts.
    store.finish_operations(
        [OperationKey(vm_id("web-01"), INSTALL), OperationKey(vm_id("never-started"), INSTALL)]
    )
    assert wrote() == 2
    store.save_plan_groups(
        "2026-12", [group("p0-r0-g00", 3), group("p1-r0-g00", 2, phase=1)], recorded_at=NOW
    )
    assert wrote() == 5
    assert store.delete_plan("2026-12") == 5 and wrote() == 5
    assert store.delete_plan("2026-12") == 0 and wrote() == 0
    store.save_assessment_waves("assessment-20261208T19", _waves(2), recorded_at=NOW)
    assert wrote() == 2
    assert store.purge_assessment_waves(before=NOW + timedelta(seconds=1)) == 2 and wrote() == 2
    # Reads write nothing, and neither does a refused write.
    store.inventory(SUB_A)
    store.operations(INSTALL, subscription_id=SUB_A)
    store.plan_groups("2026-12")
    with pytest.raises(ValueError, match="twice"):
        store.save_inventory(SUB_A, [bare_target("a-01"), bare_target("A-01")], discovered_at=NOW)
    assert wrote() == 0
    assert store.rows_written == 3 + 3 + 2 + 2 + 2 + 5 + 5 + 2 + 2

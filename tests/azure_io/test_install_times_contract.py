"""The PatchStore contract for what install durations are learned from, run over every
store (in memory and Azurite): an install's end and maximum duration (columns
installEndedAt and installMaximumDurationMinutes of its history row and of its VM's
VmPatchState row), and a VM's recent installs (VmPatchState.recentInstallsJson, set by
``record_recent_installs`` and read back as ``VmView.recent_installs``)."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store_backends import Rows, azurite_backend, memory_backend, without_timestamps
from table_samples import NOW, SUB_A, SUB_B, assessment, install, vm_id

from azure_io.patch_results import InstallResult
from azure_io.patch_views import HistoryKind, VmView
from azure_io.ports import PatchStore
from azure_io.table_rows import (
    ALL_TABLES,
    INSTALLATIONS_TABLE,
    VM_STATE_TABLE,
    ComplianceRecord,
)
from patching.install_history import InstallKind, PastInstall
from patching.resource_ids import VmId

TOKYO = timezone(timedelta(hours=9))
# Microseconds in every time, so a store that rounds them to seconds (or milliseconds) shows.
STARTED = NOW - timedelta(hours=2) + timedelta(microseconds=123_457)
ENDED = STARTED + timedelta(minutes=47, microseconds=654_321)


def timed_install(
    vm: str,
    at: datetime,
    *,
    ended_at: datetime | None,
    maximum_duration_minutes: int | None,
    status: str = "Succeeded",
) -> InstallResult:
    return replace(
        install(vm, at, status=status),
        ended_at=ended_at,
        maximum_duration_minutes=maximum_duration_minutes,
    )


def view_of(store: PatchStore, vm: str) -> VmView:
    view = store.vm_view(vm)
    assert view is not None, f"nothing recorded for {vm}"
    return view


def state_row(rows: Rows, vm: str) -> dict[str, object]:
    [row] = [row for row in rows(VM_STATE_TABLE) if row["vmId"] == vm]
    return row


# Every field of PastInstall varied: both kinds, starts with microseconds and in another
# zone, zero and long lengths, ran out or not, slot length known (int) or not (None).
RECENT = (
    PastInstall(InstallKind.FULL, NOW - timedelta(days=40, microseconds=-1), 95, True, 90),
    PastInstall(InstallKind.HOTPATCH, NOW - timedelta(days=12, seconds=7), 0, False, None),
    PastInstall(InstallKind.FULL, datetime(2026, 12, 11, 3, 4, 5, 678_901, tzinfo=TOKYO), 181),
    PastInstall(InstallKind.HOTPATCH, NOW - timedelta(hours=30), 12, False, 30),
)
OTHER_RECENT = (PastInstall(InstallKind.HOTPATCH, NOW - timedelta(days=2), 4, False, 45),)


# -- an install's end and maximum duration ------------------------------------------------


@pytest.mark.parametrize(
    ("ended_at", "maximum_duration_minutes"),
    [
        (ENDED, 120),
        (ENDED.astimezone(TOKYO), 235),  # given in another zone, read back in UTC
        (ENDED, None),
        (None, 90),
        (None, None),
    ],
)
def test_install_end_and_maximum_duration_round_trip_to_latest_and_history(
    store: PatchStore,
    rows: Rows,
    ended_at: datetime | None,
    maximum_duration_minutes: int | None,
) -> None:
    vm = vm_id("web-01")
    result = timed_install(
        vm, STARTED, ended_at=ended_at, maximum_duration_minutes=maximum_duration_minutes
    )
    store.record_installs([result], cycle="2026-12", recorded_at=NOW)

    latest = view_of(store, vm).latest_install
    [entry] = store.history(vm, now=NOW, days=1)
    assert entry.kind is HistoryKind.INSTALL
    for read in (latest, entry.install):
        assert read == result
        assert read is not None
        assert read.ended_at == ended_at  # to the microsecond, as started_at
        assert read.started_at == STARTED
        assert read.maximum_duration_minutes == maximum_duration_minutes
        if read.ended_at is not None:
            assert read.ended_at.utcoffset() == timedelta(0)
    # Both columns are always written ("" for none), so a merge into VmPatchState clears them.
    for row in (state_row(rows, vm), rows(INSTALLATIONS_TABLE)[0]):
        assert row["installEndedAt"] == ("" if ended_at is None else ended_at)
        assert row["installMaximumDurationMinutes"] == (
            "" if maximum_duration_minutes is None else maximum_duration_minutes
        )


def test_a_later_install_without_end_or_maximum_duration_clears_them_in_latest_state(
    store: PatchStore,
) -> None:
    vm = vm_id("web-01")
    earlier = timed_install(vm, STARTED, ended_at=ENDED, maximum_duration_minutes=120)
    store.record_installs([earlier], cycle="2026-12", recorded_at=NOW)
    later_at = STARTED + timedelta(hours=1)
    later = timed_install(vm, later_at, ended_at=None, maximum_duration_minutes=None)
    store.record_installs([later], cycle="2026-12", recorded_at=NOW)

    latest = view_of(store, vm).latest_install
    assert latest == later
    assert latest is not None
    assert (latest.ended_at, latest.maximum_duration_minutes) == (None, None)
    # Each history row keeps what its own install had.
    entries = store.history(vm, now=NOW, days=1)
    assert [entry.install for entry in entries] == [later, earlier]


def test_an_older_install_delivered_later_leaves_the_newer_end_in_latest_state(
    store: PatchStore,
) -> None:
    vm = vm_id("web-01")
    newer = timed_install(vm, STARTED, ended_at=ENDED, maximum_duration_minutes=120)
    store.record_installs([newer], cycle="2026-12", recorded_at=NOW)
    older = timed_install(
        vm, STARTED - timedelta(days=1), ended_at=None, maximum_duration_minutes=60
    )
    store.record_installs([older], cycle="2026-12", recorded_at=NOW + timedelta(hours=1))
    assert view_of(store, vm).latest_install == newer


def test_an_end_without_time_zone_is_refused_and_nothing_is_written(
    store: PatchStore, rows: Rows
) -> None:
    good = timed_install(vm_id("web-01"), STARTED, ended_at=ENDED, maximum_duration_minutes=60)
    naive = timed_install(
        vm_id("web-02"), STARTED, ended_at=ENDED.replace(tzinfo=None), maximum_duration_minutes=60
    )
    with pytest.raises(ValueError, match="time zone"):
        store.record_installs([good, naive], cycle="2026-12", recorded_at=NOW)
    assert [rows(table) for table in ALL_TABLES] == [[] for _ in ALL_TABLES]
    assert store.rows_written == 0


# -- a VM's recent installs ---------------------------------------------------------------


def test_recent_installs_round_trip_exactly_and_keep_the_vms_other_columns(
    store: PatchStore, rows: Rows
) -> None:
    vm = vm_id("web-01")
    store.record_assessments([assessment(vm, NOW)], recorded_at=NOW)
    store.record_installs(
        [timed_install(vm, STARTED, ended_at=ENDED, maximum_duration_minutes=120)],
        cycle="2026-12",
        recorded_at=NOW,
    )
    store.record_compliance(
        [ComplianceRecord(vm, "compliant", "installed", True, True, NOW, "2026-12")]
    )
    before, row_before = view_of(store, vm), state_row(rows, vm)
    assert before.recent_installs == ()  # none recorded yet

    store.record_recent_installs({vm: RECENT}, recorded_at=NOW)

    after = view_of(store, vm)
    assert after == replace(before, recent_installs=RECENT)
    assert after.latest_assessment is not None and after.latest_install is not None
    assert after.compliance is not None and after.install_cycle == "2026-12"
    assert isinstance(after.recent_installs, tuple)
    # Exactly, field by field (PastInstall equality compares instants, not zones).
    assert [
        (p.kind, p.started_at, p.minutes, p.ran_out, p.slot_minutes) for p in after.recent_installs
    ] == [(p.kind, p.started_at, p.minutes, p.ran_out, p.slot_minutes) for p in RECENT]
    assert all(p.started_at.tzinfo == UTC for p in after.recent_installs)
    assert [type(p.slot_minutes) for p in after.recent_installs] == [
        int,
        type(None),
        type(None),
        int,
    ]
    # The row gained one column; every column it had is as it was.
    row_after = state_row(rows, vm)
    assert set(row_after) - set(row_before) == {"recentInstallsJson"}
    assert without_timestamps([{k: v for k, v in row_after.items() if k in row_before}]) == (
        without_timestamps([row_before])
    )


def test_recent_installs_replace_what_the_vm_held(store: PatchStore) -> None:
    vm = vm_id("web-01")
    store.record_recent_installs({vm: RECENT}, recorded_at=NOW)
    store.record_recent_installs({vm: OTHER_RECENT}, recorded_at=NOW)
    assert view_of(store, vm).recent_installs == OTHER_RECENT
    # The same VM named in another case is the same row, replaced again.
    store.record_recent_installs(
        {vm.upper().replace("SUBSCRIPTIONS", "subscriptions"): RECENT}, recorded_at=NOW
    )
    assert view_of(store, vm).recent_installs == RECENT
    store.record_recent_installs({vm: ()}, recorded_at=NOW)
    assert view_of(store, vm).recent_installs == ()


def test_recent_installs_create_the_row_of_a_vm_with_nothing_recorded(
    store: PatchStore, rows: Rows
) -> None:
    vm = vm_id("Web-01")
    assert store.vm_view(vm) is None
    store.record_recent_installs({vm: RECENT}, recorded_at=NOW)
    assert view_of(store, vm) == VmView(
        vm_id=vm,
        latest_assessment=None,
        latest_install=None,
        install_cycle=None,
        compliance=None,
        recent_installs=RECENT,
    )
    [row] = rows(VM_STATE_TABLE)
    assert (row["PartitionKey"], row["RowKey"]) == (SUB_A, "rg-web~web-01")
    # A later install of that VM moves its state on and keeps its recent installs.
    later = timed_install(vm, STARTED, ended_at=ENDED, maximum_duration_minutes=120)
    store.record_installs([later], cycle="2026-12", recorded_at=NOW)
    view = view_of(store, vm)
    assert (view.latest_install, view.recent_installs) == (later, RECENT)


def test_vm_views_show_the_recent_installs_vm_view_shows(store: PatchStore) -> None:
    web, db = vm_id("web-01"), vm_id("db-01", group="RG-Data")
    only_assessed, elsewhere = vm_id("web-02"), vm_id("web-01", SUB_B)
    store.record_assessments([assessment(vm, NOW) for vm in (web, only_assessed)], recorded_at=NOW)
    store.record_recent_installs(
        {web: RECENT, db: OTHER_RECENT, elsewhere: OTHER_RECENT}, recorded_at=NOW
    )

    views = store.vm_views(SUB_A)
    assert {key: view.recent_installs for key, view in views.items()} == {
        VmId.parse(web).key: RECENT,
        VmId.parse(db).key: OTHER_RECENT,
        VmId.parse(only_assessed).key: (),  # absent column: no recent installs
    }
    for key, view in views.items():
        assert store.vm_view(key) == view
    assert store.vm_views(SUB_B)[VmId.parse(elsewhere).key].recent_installs == OTHER_RECENT


def test_recent_installs_survive_a_purge_of_all_history(store: PatchStore, rows: Rows) -> None:
    vm = vm_id("web-01")
    store.record_assessments([assessment(vm, NOW)], recorded_at=NOW)
    store.record_installs(
        [timed_install(vm, STARTED, ended_at=ENDED, maximum_duration_minutes=120)],
        cycle="2026-12",
        recorded_at=NOW,
    )
    store.record_recent_installs({vm: RECENT, vm_id("web-02"): OTHER_RECENT}, recorded_at=NOW)
    before = view_of(store, vm)

    long_after = NOW + timedelta(days=120)
    assert store.purge_history(now=long_after, keep_days=30) == 2  # the two history rows
    assert store.history(vm, now=NOW, days=30) == []
    assert view_of(store, vm) == before
    assert view_of(store, vm).recent_installs == RECENT
    assert view_of(store, vm_id("web-02")).recent_installs == OTHER_RECENT
    assert len(rows(VM_STATE_TABLE)) == 2


def test_writing_the_same_recent_installs_again_changes_no_row(
    store: PatchStore, rows: Rows
) -> None:
    vms = [vm_id(f"web-{index:02}") for index in range(4)]
    store.record_compliance(ComplianceRecord(vm, "pending", "", True, False, NOW) for vm in vms)

    def write_once() -> dict[str, list[dict[str, object]]]:
        store.record_recent_installs(
            {vm: RECENT[: index + 1] for index, vm in enumerate(vms)}, recorded_at=NOW
        )
        return {table: without_timestamps(rows(table)) for table in ALL_TABLES}

    written = store.rows_written
    first = write_once()
    assert store.rows_written - written == len(vms)  # one merge per VM
    assert write_once() == first
    assert write_once() == first  # a replayed activity writes the same facts again
    assert len(first[VM_STATE_TABLE]) == len(vms)
    for index, vm in enumerate(vms):
        assert view_of(store, vm).recent_installs == RECENT[: index + 1]


def test_recording_no_recent_installs_writes_nothing(store: PatchStore, rows: Rows) -> None:
    store.record_recent_installs({}, recorded_at=NOW)
    assert store.rows_written == 0
    assert [rows(table) for table in ALL_TABLES] == [[] for _ in ALL_TABLES]
    # Nor does it disturb what is there.
    vm = vm_id("web-01")
    store.record_recent_installs({vm: RECENT}, recorded_at=NOW)
    store.record_recent_installs({}, recorded_at=NOW)
    assert view_of(store, vm).recent_installs == RECENT


_past_installs = st.lists(
    st.builds(
        PastInstall,
        kind=st.sampled_from(InstallKind),
        started_at=st.datetimes(
            min_value=datetime(2000, 1, 1),
            max_value=datetime(2099, 12, 31),
            timezones=st.sampled_from([UTC, TOKYO, timezone(timedelta(hours=-3, minutes=-30))]),
        ),
        minutes=st.integers(min_value=0, max_value=10_000),
        ran_out=st.booleans(),
        slot_minutes=st.none() | st.integers(min_value=0, max_value=10_000),
    ),
    max_size=20,
).map(tuple)


# Examples share the store (and its Azurite tables): each replaces the VM's recent installs.
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(recent=_past_installs)
def test_any_recent_installs_round_trip(store: PatchStore, recent: tuple[PastInstall, ...]) -> None:
    vm = vm_id("web-01")
    store.record_recent_installs({vm: recent}, recorded_at=NOW)
    read = view_of(store, vm).recent_installs
    assert read == recent
    assert [p.started_at.utcoffset() for p in read] == [timedelta(0)] * len(recent)


def test_both_stores_hold_the_same_rows_after_the_same_writes(
    azurite_connection_string: str,
) -> None:
    backends = [memory_backend(), azurite_backend(azurite_connection_string)]
    web, db = vm_id("web-01"), vm_id("db-01", SUB_B, "RG-Data")
    for backend in backends:
        store = backend.store
        store.create_tables()
        store.record_installs(
            [
                timed_install(web, STARTED, ended_at=ENDED, maximum_duration_minutes=120),
                timed_install(
                    db, STARTED, ended_at=None, maximum_duration_minutes=None, status="Failed"
                ),
            ],
            cycle="2026-12",
            recorded_at=NOW,
        )
        store.record_recent_installs(
            {web: RECENT, db: (), vm_id("new-01"): OTHER_RECENT}, recorded_at=NOW
        )
    memory, azurite = ([backend.rows(table) for table in ALL_TABLES] for backend in backends)
    assert without_timestamps([row for table in memory for row in table]) == without_timestamps(
        [row for table in azurite for row in table]
    )

"""On-demand assessment scopes, and a 429 waited out on a durable timer, never slept on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activities.deps import deps
from azure_io.compute_outcomes import OperationKind
from azure_io.table_rows import ComplianceRecord
from orchestrators.assessment_payloads import (
    ForeignSubscription,
    RequestError,
    install_payload,
    parse_ondemand_install,
    parse_scope,
    scope_payload,
)
from patching.models import Classification, RebootSetting
from patching.resource_ids import VmId
from patching.timefmt import parse_time
from tests.app.assessment_support import SUB, discover_all, one_lane_fleet, rig

START = datetime(2026, 12, 3, 9, 10, tzinfo=UTC)
OTHER = "0000dddd-0000-4000-8000-000000000004"


def vm(n: int) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/rg-{n % 3}/providers/Microsoft.Compute/virtualMachines/vm-{n:04d}"


def test_an_ondemand_scope_assesses_exactly_its_vms_whatever_their_last_assessment(
    tmp_path: Path,
) -> None:
    scope = [vm(0), f"/subscriptions/{SUB}/resourceGroups/RG-1"]
    cycle_verdict = ComplianceRecord(
        vm(0), "failed", "install failed", True, False, START, "2026-11"
    )
    with rig(one_lane_fleet(9), START, tmp_path) as run:
        discover_all(run)
        run.store.record_compliance([cycle_verdict])
        for instance in ("first", "second"):
            run.host.engine.start_new("assessment_round", instance, {"scope": scope})
            run.host.run_until(run.clock.now() + timedelta(minutes=10))
        log = run.operations_log()
        views = {n: run.store.vm_view(vm(n)) for n in (0, 1)}

    assessed = [line["vm"] for line in log if line.get("op") == "assessPatches"]
    first, other = views[0], views[1]
    assert first is not None and first.compliance == cycle_verdict
    assert other is not None and other.compliance is not None
    assert other.compliance.cycle is None
    expected = sorted([vm(0), vm(1), vm(4), vm(7)])
    assert sorted(assessed) == sorted(expected * 2)


def test_activities_run_twice_start_and_record_each_assessment_once(tmp_path: Path) -> None:
    with rig(one_lane_fleet(6), START, tmp_path, duplicate_activities=1.0) as run:
        run.host.engine.start_new("assessment_round", "twice", {"scope": [SUB]})
        run.host.run_until(START + timedelta(minutes=15))
        status = run.status("twice")
        log = run.operations_log()
        histories = [run.store.history(vm(n), now=START + timedelta(minutes=15)) for n in range(6)]

    assert status is not None and status["output"]["ended"] == 6, status
    assert sorted(line["vm"] for line in log if line.get("op") == "assessPatches") == sorted(
        vm(n) for n in range(6)
    )
    assert [len(history) for history in histories] == [1] * 6


def test_a_throttled_start_waits_its_retry_after_on_a_durable_timer(tmp_path: Path) -> None:
    with rig(one_lane_fleet(1), START, tmp_path) as run:
        discover_all(run)
        compute = deps().compute
        for _ in range(6):  # the VM's own bucket: six guest patch operations, then 429
            compute.start_assessment(vm(0))
        run.host.engine.start_new("assessment_round", "busy", {"scope": [vm(0)]})
        run.host.run_until(START + timedelta(minutes=10))
        status = run.status("busy")
        log = run.operations_log()

    assert status is not None and status["output"]["ended"] == 1, status
    refused = [line for line in log if line.get("status") == "Throttled"]
    assert len(refused) == 1
    retried = [
        parse_time(line["start"])
        for line in log
        if line.get("op") == "assessPatches" and parse_time(line["start"]) > START
    ]
    assert retried and retried[0] - START >= timedelta(seconds=refused[0]["retryAfter"])


def test_scope_items_are_checked_by_position() -> None:
    with pytest.raises(RequestError, match=r"scope\[1\]"):
        parse_scope([SUB, "rg-1"], [SUB])
    with pytest.raises(ForeignSubscription, match=r"scope\[0\]"):
        parse_scope([f"/subscriptions/{OTHER}"], [SUB])
    with pytest.raises(RequestError, match="scope"):
        parse_scope([], [SUB])
    assert parse_scope(None, [SUB]) is None


ids = st.builds(
    lambda n, kind: [SUB, f"/subscriptions/{SUB}/resourceGroups/rg-{n}", vm(n)][kind],
    st.integers(0, 50),
    st.integers(0, 2),
)


@given(st.lists(ids, min_size=1, max_size=8))
def test_a_scope_survives_the_orchestration_input(items: list[str]) -> None:
    scope = parse_scope(items, [SUB])
    assert parse_scope(scope_payload(scope), [SUB]) == scope
    assert scope is not None
    assert all(scope.covers(VmId.parse(item)) for item in items if "/providers/" in item)


@given(
    vms=st.lists(st.integers(0, 500), min_size=1, max_size=5, unique=True),
    classifications=st.lists(st.sampled_from(list(Classification)), min_size=1, unique=True),
    kbs=st.lists(st.integers(1, 9_999_999).map(str), max_size=3),
    reboot=st.sampled_from(list(RebootSetting)),
    minutes=st.integers(30, 240),
)
def test_an_install_request_survives_the_orchestration_input(
    vms: list[int],
    classifications: list[Classification],
    kbs: list[str],
    reboot: RebootSetting,
    minutes: int,
) -> None:
    body = {
        "vms": [vm(n) for n in vms],
        "classifications": [c.value for c in classifications],
        "kbNumbersToInclude": kbs,
        "kbNumbersToExclude": kbs[:1],
        "rebootSetting": reboot.value,
        "maximumDuration": f"PT{minutes // 60}H{minutes % 60}M",
    }
    request = parse_ondemand_install(body, [SUB])
    assert parse_ondemand_install(install_payload(request), [SUB]) == request
    assert request.maximum_duration == timedelta(minutes=minutes)


def test_an_assessment_that_never_ends_is_given_up_and_recorded(tmp_path: Path) -> None:
    fleet = one_lane_fleet(2)
    fleet["vms"][0]["sim"] = {"assessMinutes": 300}
    with rig(fleet, START, tmp_path) as run:
        run.host.engine.start_new("assessment_round", "slow", {"scope": [SUB]})
        run.host.run_until(START + timedelta(minutes=75))
        status = run.status("slow")
        slow, quick = run.store.vm_view(vm(0)), run.store.vm_view(vm(1))
        left = run.store.operations(OperationKind.ASSESSMENT, subscription_id=SUB)

    assert status is not None and status["runtimeStatus"] == "Completed"
    assert slow is not None and slow.latest_assessment is not None
    assert slow.latest_assessment.error is not None
    assert slow.latest_assessment.error.code == "AssessmentTimedOut"
    assert quick is not None and quick.latest_assessment is not None
    assert quick.latest_assessment.status == "Succeeded"
    assert left == ()

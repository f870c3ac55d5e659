"""The monthly cycle rehearsed end to end: the real SDK on the local engine, the real
compute adapter against the fleet simulator. What happened is read from the simulator's
operations log, not from the app's own records."""

from __future__ import annotations

import copy
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.data.tables import TableServiceClient

from azure_io.table_rows import ALL_TABLES
from azure_io.tables import PatchTables
from devhost.app_loader import loaded
from orchestrators import group
from orchestrators.rollout_payloads import (
    ACTIVITY_NAMES,
    EVENTS_PER_WAIT,
    GROUP_OVERHEAD_EVENTS,
)
from patching.fanout import HISTORY_EVENTS_LIMIT
from patching.models import Plan
from patching.planfile import plan_to_json
from patching.timefmt import format_time, parse_time
from tests.app.rollout_support import (
    CYCLE_ID,
    CYCLE_INSTANCE,
    FLEET,
    PLAN,
    RUN_FOR,
    Rehearsal,
    cycle_input,
    expected_plan,
    installs_by_vm,
    maximum_duration,
    rehearsal,
    rollout_app,
    run_cycle,
)
from tests.planner.contract_checks import check_plan


def _compliance(run: Rehearsal) -> dict[str, str]:
    views = {a.vm: run.store.vm_view(a.vm) for a in PLAN.assignments}
    return {vm: v.compliance.state if v and v.compliance else "none" for vm, v in views.items()}


def _as_run(plan: Plan, installs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The plan file with each slot replaced by the install the simulator ran in it."""
    document = plan_to_json(plan)
    for assignment in document["assignments"]:
        install = installs[assignment["vm"].lower()]
        assignment["start"], assignment["end"] = install["start"], install["end"]
    last = max(parse_time(a["end"]) for a in document["assignments"])
    hours = (last - plan.cycle.release.released_at).total_seconds() / 3600
    document["makespanHours"] = round(hours, 2)
    # The lower bound holds for the plan's slots; the installs inside them end earlier.
    document["lowerBoundHours"] = 0.0
    return document


def test_the_cycle_installs_every_enrolled_vm_once_in_its_slot_as_planned(
    tmp_path: Path,
) -> None:
    with rehearsal(FLEET, tmp_path) as run:
        run_cycle(run)
        assert run.failures() == {}
        installs = installs_by_vm(run)
        record = run.store.cycle(CYCLE_ID)
        stats = run.engine.stats()
        per_vm = Counter((e["vm"] or "").lower() for e in run.operations() if e["vm"])
        group_histories = [
            (len(run.engine.history(s["instanceId"])), s["output"]["batches"])
            for s in run.engine.statuses()
            if s["name"] == "rollout_group"
        ]

    assert set(installs) == {a.vm.lower() for a in PLAN.assignments}
    os_of = {vm["id"].lower(): vm["osType"] for vm in FLEET["vms"]}
    for assignment in PLAN.assignments:
        install = installs[assignment.vm.lower()]
        assert assignment.start <= parse_time(install["start"])
        assert parse_time(install["end"]) <= assignment.end
        body = install["request"]
        assert maximum_duration(body["maximumDuration"]) == assignment.end - assignment.start
        assert body["rebootSetting"] == assignment.reboot_setting.value
        if os_of[assignment.vm.lower()] == "Windows":
            windows = body["windowsParameters"]
            assert sorted(windows["classificationsToInclude"]) == ["Critical", "Security"]
            assert windows["excludeKbsRequiringReboot"] is assignment.exclude_kbs_requiring_reboot
        else:
            assert sorted(body["linuxParameters"]["classificationsToInclude"]) == [
                "Critical",
                "Security",
            ]
    assert any(a.exclude_kbs_requiring_reboot for a in PLAN.assignments), "no hotpatch VM"
    # Windows, update domains, zones, caps and phases, on what actually ran.
    check_plan(FLEET, _as_run(PLAN, installs))
    phase_of = {a.vm.lower(): a.phase for a in PLAN.assignments}
    for earlier, later in zip(PLAN.phases, PLAN.phases[1:], strict=False):
        last_end = max(
            parse_time(i["end"]) for vm, i in installs.items() if phase_of[vm] == earlier.index
        )
        first_start = min(
            parse_time(i["start"]) for vm, i in installs.items() if phase_of[vm] == later.index
        )
        assert last_end < first_start, f"phase {later.index} started before {earlier.index} ended"
    assert record is not None and record.state == "completed"
    summary = record.plan_summary or {}
    assert (summary["assigned"], summary["skipped"]) == (len(PLAN.assignments), len(PLAN.skipped))
    assert (summary["failed"], summary["unhealthy"]) == (0, 0)
    assert [p["start"] for p in summary["phases"]] == [format_time(p.start) for p in PLAN.phases]
    assert stats.max_history_events < HISTORY_EVENTS_LIMIT
    # Per VM: its power check, the install, one status look (with its result), the health check.
    assert max(per_vm.values()) <= 4
    # The accounting behind batches_per_execution: a batch that met no 429 and finished by
    # its first check waits five times, each wait costing at most EVENTS_PER_WAIT events.
    assert group_histories
    for events, batches in group_histories:
        assert events <= GROUP_OVERHEAD_EVENTS + batches * 5 * EVENTS_PER_WAIT


def test_redelivered_activities_install_nothing_twice(tmp_path: Path) -> None:
    with rehearsal(FLEET, tmp_path / "once") as run:
        run_cycle(run)
        once = installs_by_vm(run)
    with rehearsal(FLEET, tmp_path / "twice", duplicate_activities=0.2) as run:
        run_cycle(run)
        duplicated = run.engine.stats().duplicated_activities
        redelivered = installs_by_vm(run)
        record = run.store.cycle(CYCLE_ID)

        refused = [e for e in run.operations() if e["op"] == "installPatches" and "httpStatus" in e]
        states = _compliance(run)

    assert duplicated > 0
    assert refused == []
    assert set(states.values()) == {"compliant"}
    assert {vm: (i["start"], i["request"]) for vm, i in redelivered.items()} == {
        vm: (i["start"], i["request"]) for vm, i in once.items()
    }
    assert record is not None and record.state == "completed"


def test_a_group_continues_as_new_between_batches_and_installs_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with rehearsal(FLEET, tmp_path / "whole") as run:
        run_cycle(run)
        whole = installs_by_vm(run)
    monkeypatch.setattr(group, "batches_per_execution", lambda: 1)
    with rehearsal(FLEET, tmp_path / "split") as run:
        run_cycle(run)
        split = installs_by_vm(run)
        continued = [
            s for s in run.engine.statuses() if (s.get("input") or {}).get("fromBatch", 0) > 0
        ]
        record = run.store.cycle(CYCLE_ID)

    assert continued, "no group continued as new"
    assert {vm: i["start"] for vm, i in split.items()} == {
        vm: i["start"] for vm, i in whole.items()
    }
    assert record is not None and record.state == "completed"


def test_a_cycle_input_without_a_known_kind_fails_before_writing_anything(
    tmp_path: Path,
) -> None:
    with rehearsal(FLEET, tmp_path) as run:
        run.engine.start_new(
            "cycle_orchestrator", CYCLE_INSTANCE, {**cycle_input(), "kind": "weekly"}
        )
        run.run_for(timedelta(hours=1))
        status = run.engine.status(CYCLE_INSTANCE)
        assert status is not None
        assert status["runtimeStatus"] == "Failed"
        assert "kind is 'weekly'" in str(status["output"])
        assert run.store.cycle(CYCLE_ID) is None
        assert run.operations() == []


def test_a_throttled_install_waits_out_retry_after_and_starts_once_in_its_slot(
    tmp_path: Path,
) -> None:
    canary = min((a for a in PLAN.assignments if a.phase == 0), key=lambda a: a.start)
    with rehearsal(FLEET, tmp_path) as run:
        run.engine.start_new("cycle_orchestrator", CYCLE_INSTANCE, cycle_input())
        run.run_for(canary.start - timedelta(seconds=1) - run.clock.now())
        run.drain_patch_operations(canary.vm)
        run.run_for(RUN_FOR)
        lines = [e for e in run.operations() if (e["vm"] or "").lower() == canary.vm.lower()]
        installs = installs_by_vm(run)
        record = run.store.cycle(CYCLE_ID)

    throttled = [e for e in lines if e["op"] == "installPatches" and e.get("httpStatus") == 429]
    assert len(throttled) == 1
    install = installs[canary.vm.lower()]
    retried_at = parse_time(throttled[0]["start"]) + timedelta(seconds=throttled[0]["retryAfter"])
    assert retried_at <= parse_time(install["start"])
    assert parse_time(install["end"]) <= canary.end
    assert maximum_duration(install["request"]["maximumDuration"]) <= canary.end - retried_at
    assert set(installs) == {a.vm.lower() for a in PLAN.assignments}
    assert record is not None and record.state == "completed"


def test_every_activity_the_orchestrators_name_is_registered() -> None:
    registered = {spec.name for spec in loaded(rollout_app()).functions}
    assert set(ACTIVITY_NAMES) <= registered, set(ACTIVITY_NAMES) - registered


def test_the_cycle_keeps_its_records_in_table_storage(
    tmp_path: Path, azurite_connection_string: str
) -> None:
    service = TableServiceClient.from_connection_string(azurite_connection_string)
    for name in ALL_TABLES:
        service.delete_table(name)
    tables = PatchTables(service)
    tables.create_tables()
    with rehearsal(FLEET, tmp_path, store=tables) as run:
        run_cycle(run)
        installs = installs_by_vm(run)
        states = _compliance(run)
    record = tables.cycle(CYCLE_ID)

    assert {vm: i["start"] for vm, i in installs.items()} == {
        a.vm.lower(): format_time(a.start) for a in PLAN.assignments
    }
    assert set(states.values()) == {"compliant"}
    assert record is not None and record.state == "completed"
    assert len(tables.plan_groups(CYCLE_ID)) == sum(
        p["groups"] for p in record.plan_summary["phases"]
    )


def test_the_plan_keeps_apart_the_region_pairs_arm_gives(tmp_path: Path) -> None:
    """Regions paired otherwise than the built-in table: the cycle plans with ARM's pairs,
    as `patchctl plan` does with the fleet file's."""
    fleet = copy.deepcopy(FLEET)
    crossed = {"eastus": "westeurope", "westeurope": "eastus"}
    crossed |= {"westus": "northeurope", "northeurope": "westus"}
    for region in fleet["regions"]:
        if region["name"] in crossed:
            region["pairedRegion"] = crossed[region["name"]]
    expected = expected_plan(fleet)
    assert [p.regions for p in expected.phases] != [p.regions for p in PLAN.phases]
    with rehearsal(fleet, tmp_path) as run:
        run.engine.start_new("cycle_orchestrator", CYCLE_INSTANCE, cycle_input())
        run.run_for(timedelta(minutes=30))
        record = run.store.cycle(CYCLE_ID)
        planned = [
            s
            for g in run.store.plan_groups(CYCLE_ID)
            for s in run.store.plan_group(CYCLE_ID, g.group_id)
        ]

    assert record is not None and record.plan_summary is not None
    assert [p["regions"] for p in record.plan_summary["phases"]] == [
        list(p.regions) for p in expected.phases
    ]
    assert {s.assignment for s in planned} == set(expected.assignments)

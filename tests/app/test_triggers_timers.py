"""The hourly and daily timers: the assessment scheduler kept running (rounds when VMs or
inventories fall due, one at a time), the calendar's cycle when no release came, and the
clean-up of old history, leftover operation rows and old assessment waves."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from azure_io.compute_outcomes import OperationKind, Started
from azure_io.patch_results import AssessmentResult
from azure_io.rollout_records import OperationInFlight
from azure_io.table_rows import ASSESSMENTS_TABLE, OPERATIONS_TABLE, ComplianceRecord
from patching.assessment import Wave
from patching.timefmt import parse_time
from tests.app.assessment_support import SUB, one_lane_fleet, rig

PATCH_TUESDAY = datetime(2026, 12, 8, 18, 0, tzinfo=UTC)  # 10:00 US Pacific


def _rounds(statuses: list[dict[str, Any]]) -> list[str]:
    return sorted(s["instanceId"] for s in statuses if s["name"] == "assessment_round")


def test_rounds_run_when_vms_or_inventories_fall_due_and_the_calendar_opens_the_month(
    tmp_path: Path,
) -> None:
    start = PATCH_TUESDAY - timedelta(hours=2, minutes=30)
    with rig(one_lane_fleet(2), start, tmp_path) as run:
        run.host.run_until(start + timedelta(days=3, hours=2))
        statuses = run.host.engine.statuses()
        assessed = sorted(e["start"] for e in run.operations_log() if e["op"] == "assessPatches")

    # The first hour's timer starts the scheduler and its first round, which assesses both
    # VMs; an hour after a round that had work, one more looks for VMs left due (none);
    # then a round a day refreshes the inventory, and the one 72 hours on assesses again.
    assert _rounds(statuses) == [
        "assessment-20261208T1600",
        "assessment-20261208T1702",
        "assessment-20261209T1600",
        "assessment-20261210T1600",
        "assessment-20261211T1600",
        "assessment-20261211T1702",
    ]
    assert assessed == ["2026-12-08T16:00:00Z"] * 2 + ["2026-12-11T16:00:00Z"] * 2
    assert all(
        s["runtimeStatus"] == "Completed" for s in statuses if s["name"] == "assessment_round"
    )
    [scheduler] = [s for s in statuses if s["name"] == "assessment_scheduler"]
    assert scheduler["instanceId"] == "assessment-scheduler"
    assert scheduler["runtimeStatus"] in {"Running", "ContinuedAsNew"}
    cycles = {s["instanceId"]: s for s in statuses if s["name"] == "cycle_orchestrator"}
    assert list(cycles) == ["cycle-2026-12"]
    assert cycles["cycle-2026-12"]["createdTime"] == "2026-12-08T18:00:00Z"
    assert cycles["cycle-2026-12"]["input"] == {
        "releaseId": None,
        "kind": "hotpatch",
        "releasedAt": "2026-12-08T18:00:00Z",
        "replaces": None,
    }


def test_the_hourly_timer_starts_the_scheduler_again_once_it_is_gone(tmp_path: Path) -> None:
    start = datetime(2026, 12, 2, 15, 30, tzinfo=UTC)
    with rig(one_lane_fleet(2), start, tmp_path) as run:
        run.host.run_until(start + timedelta(hours=1))
        run.host.engine.terminate("assessment-scheduler", "operator")
        run.host.run_until(start + timedelta(hours=2))
        statuses = run.host.engine.statuses()

    assert _rounds(statuses) == ["assessment-20261202T1600", "assessment-20261202T1700"]
    [scheduler] = [s for s in statuses if s["name"] == "assessment_scheduler"]
    assert scheduler["createdTime"] == "2026-12-02T17:00:00Z"


def test_the_daily_cleanup_purges_old_history_and_leftover_operations_and_sets_the_gauge(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="patching.metrics")
    start = datetime(2026, 12, 1, 2, 30, tzinfo=UTC)
    old_vm, new_vm = (
        f"/subscriptions/{SUB}/resourceGroups/rg-{n % 3}/providers/"
        f"Microsoft.Compute/virtualMachines/vm-{n:04d}"
        for n in (0, 1)
    )
    with rig(one_lane_fleet(2), start, tmp_path) as run:
        run.store.record_assessments(
            [
                AssessmentResult(old_vm, "Succeeded", start - timedelta(days=40), False, 0, 0),
                AssessmentResult(new_vm, "Succeeded", start - timedelta(days=3), False, 0, 0),
            ],
            recorded_at=start,
        )
        run.store.save_operations(
            [
                OperationInFlight(
                    Started(old_vm, OperationKind.INSTALL, "https://arm.test/operations/old"),
                    started_at=start - timedelta(days=10),
                ),
                OperationInFlight(
                    Started(new_vm, OperationKind.INSTALL, "https://arm.test/operations/new"),
                    started_at=start - timedelta(hours=3),
                ),
            ]
        )
        run.store.record_compliance(
            [ComplianceRecord(vm, "compliant", "", True, False, start) for vm in (old_vm, new_vm)]
        )
        wave = Wave(start, SUB, "eastus", (old_vm,))
        run.store.save_assessment_waves("round-old", [wave], recorded_at=start - timedelta(days=3))
        run.store.save_assessment_waves("round-new", [wave], recorded_at=start - timedelta(hours=5))
        run.host.run_until(start + timedelta(hours=1))
        waves_left = [run.store.assessment_wave(r, 0) for r in ("round-old", "round-new")]
        assessments = run.store.rows(ASSESSMENTS_TABLE)
        operations = run.store.rows(OPERATIONS_TABLE)
        cleanups = [s for s in run.host.engine.statuses() if s["name"] == "daily_cleanup_round"]

    assert [c["output"] for c in cleanups] == [
        {"historyRows": 1, "operationRows": 1, "assessmentWaves": 1, "complianceVms": 2}
    ]
    [gauge] = [r for r in caplog.records if getattr(r, "metric", None) == "patching.compliance.vms"]
    assert (gauge.value, gauge.state, gauge.subscription) == (2, "compliant", SUB)
    assert waves_left == [None, wave]
    assert start - timedelta(days=40) not in [row["assessmentAt"] for row in assessments]
    assert start - timedelta(days=3) in [row["assessmentAt"] for row in assessments]
    status_urls = {row.get("statusUrl") for row in operations}
    assert "https://arm.test/operations/new" in status_urls
    assert "https://arm.test/operations/old" not in status_urls


def test_no_round_starts_while_the_previous_one_still_runs(tmp_path: Path) -> None:
    start = datetime(2026, 12, 2, 15, 30, tzinfo=UTC)
    fleet = one_lane_fleet(2)
    fleet["vms"][0]["sim"] = {"assessMinutes": 150}  # keeps its round checking past an hour
    with rig(fleet, start, tmp_path) as run:
        run.host.run_until(start + timedelta(hours=5))
        statuses = run.host.engine.statuses()

    rounds = {s["instanceId"]: s for s in statuses if s["name"] == "assessment_round"}
    first, second = (rounds[r] for r in sorted(rounds)[:2])
    # The second round (the slow VM's assessment failed by timing out, so it is due again)
    # comes an hour after the first one ended, not while it ran.
    assert first["instanceId"] == "assessment-20261202T1600"
    assert parse_time(second["createdTime"]) >= parse_time(first["lastUpdatedTime"]) + timedelta(
        hours=1
    )

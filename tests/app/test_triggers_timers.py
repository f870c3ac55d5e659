"""The hourly and daily timers: one assessment round an hour, the calendar's cycle when
no release came, and the clean-up of old history and leftover operation rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from azure_io.compute_outcomes import OperationKind, Started
from azure_io.patch_results import AssessmentResult
from azure_io.rollout_records import OperationInFlight
from azure_io.table_rows import ASSESSMENTS_TABLE, OPERATIONS_TABLE
from tests.app.assessment_support import SUB, one_lane_fleet, rig

PATCH_TUESDAY = datetime(2026, 12, 8, 18, 0, tzinfo=UTC)  # 10:00 US Pacific


def test_one_round_an_hour_and_the_calendar_opens_the_month_without_a_release(
    tmp_path: Path,
) -> None:
    start = PATCH_TUESDAY - timedelta(hours=2, minutes=30)
    with rig(one_lane_fleet(2), start, tmp_path) as run:
        # Started by hand before the timer fires for its hour: the timer starts nothing.
        run.host.engine.start_new("assessment_round", "assessment-20261208T16", {"scope": None})
        run.host.run_until(PATCH_TUESDAY + timedelta(minutes=30))
        statuses = run.host.engine.statuses()

    rounds = sorted(s["instanceId"] for s in statuses if s["name"] == "assessment_round")
    assert rounds == [
        "assessment-20261208T16",
        "assessment-20261208T17",
        "assessment-20261208T18",
    ]
    by_hand = next(s for s in statuses if s["instanceId"] == "assessment-20261208T16")
    assert by_hand["createdTime"] == "2026-12-08T15:30:00Z"
    assert all(s["runtimeStatus"] == "Completed" for s in statuses if s["instanceId"] in rounds)
    cycles = {s["instanceId"]: s for s in statuses if s["name"] == "cycle_orchestrator"}
    assert list(cycles) == ["cycle-2026-12"]
    assert cycles["cycle-2026-12"]["createdTime"] == "2026-12-08T18:00:00Z"
    assert cycles["cycle-2026-12"]["input"] == {
        "releaseId": None,
        "kind": "hotpatch",
        "releasedAt": "2026-12-08T18:00:00Z",
        "replaces": None,
    }


def test_the_daily_cleanup_purges_old_history_and_leftover_operations(tmp_path: Path) -> None:
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
                    Started(old_vm, OperationKind.INSTALL, "token-old"),
                    started_at=start - timedelta(days=10),
                ),
                OperationInFlight(
                    Started(new_vm, OperationKind.INSTALL, "token-new"),
                    started_at=start - timedelta(hours=3),
                ),
            ]
        )
        run.host.run_until(start + timedelta(hours=1))
        assessments = run.store.rows(ASSESSMENTS_TABLE)
        operations = run.store.rows(OPERATIONS_TABLE)
        cleanups = [s for s in run.host.engine.statuses() if s["name"] == "daily_cleanup_round"]

    assert [c["output"] for c in cleanups] == [{"historyRows": 1, "operationRows": 1}]
    assert start - timedelta(days=40) not in [row["assessmentAt"] for row in assessments]
    assert start - timedelta(days=3) in [row["assessmentAt"] for row in assessments]
    tokens = {row.get("continuationToken") for row in operations}
    assert "token-new" in tokens and "token-old" not in tokens


def test_no_round_starts_while_the_previous_hours_still_runs(tmp_path: Path) -> None:
    start = datetime(2026, 12, 2, 15, 30, tzinfo=UTC)
    fleet = one_lane_fleet(2)
    fleet["vms"][0]["sim"] = {"assessMinutes": 300}  # keeps its round checking for an hour
    with rig(fleet, start, tmp_path) as run:
        run.host.engine.start_new("assessment_round", "assessment-20261202T15", {"scope": None})
        run.host.run_until(start + timedelta(hours=2))
        statuses = run.host.engine.statuses()

    rounds = sorted(s["instanceId"] for s in statuses if s["name"] == "assessment_round")
    assert rounds == ["assessment-20261202T15", "assessment-20261202T17"]

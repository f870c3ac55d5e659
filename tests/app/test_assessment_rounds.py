"""The periodic assessment through the real SDK: eight simulated days of hourly rounds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

from patchctl.fleetgen import generate_fleet
from patching.timefmt import format_time, parse_time
from tests.app.assessment_support import SUB, one_lane_fleet, rig

START = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)
DAYS = 8
MAX_GAP = timedelta(hours=96)
OFF_FROM = START + timedelta(days=2, hours=12)
OFF_TO = START + timedelta(days=4, hours=12)


def fleet_with_vms_off(count: int, off: int) -> dict[str, Any]:
    fleet = generate_fleet(count, seed=11)
    for vm in fleet["vms"][:off]:
        vm.setdefault("sim", {})["offDuring"] = [
            {"from": format_time(OFF_FROM), "to": format_time(OFF_TO)}
        ]
    return fleet


def assessed_at(log: list[dict[str, Any]]) -> dict[str, list[datetime]]:
    times: dict[str, list[datetime]] = {}
    for line in log:
        if line.get("op") == "assessPatches" and line.get("status") == "Succeeded":
            times.setdefault(line["vm"].lower(), []).append(parse_time(line["start"]))
    return {vm: sorted(moments) for vm, moments in times.items()}


def test_eight_days_of_rounds_assess_every_running_vm_within_96_hours(tmp_path: Path) -> None:
    fleet = fleet_with_vms_off(30, off=4)
    end = START + timedelta(days=DAYS)
    with rig(fleet, START, tmp_path) as run:
        run.host.run_until(end)
        log = run.operations_log()
        requests, throttled = run.sim.state.requests, run.sim.state.throttled
        histories = run.history_sizes()
        unfinished = [
            status
            for status in run.host.engine.statuses()
            if status["runtimeStatus"] != "Completed"
            and status["name"] not in {"cycle_orchestrator", "assessment_scheduler"}
        ]
        skipped = {
            vm["id"].lower(): [
                entry.assessment
                for entry in run.store.history(vm["id"], now=end)
                if entry.assessment is not None and entry.assessment.status == "Skipped"
            ]
            for vm in fleet["vms"][:4]
        }
        judged = {vm["id"]: run.store.vm_view(vm["id"]) for vm in fleet["vms"]}

    assert unfinished == []
    times = assessed_at(log)
    off_vms = {vm["id"].lower() for vm in fleet["vms"][:4]}
    for vm in fleet["vms"]:
        key = vm["id"].lower()
        moments = times.get(key, [])
        assert moments, f"{key} was never assessed"
        assert moments[0] - START < timedelta(hours=2)
        edges = [START, *moments, end]
        gaps = [(a, b) for a, b in pairwise(edges) if b - a > MAX_GAP]
        if key in off_vms:
            assert not [m for m in moments if OFF_FROM <= m < OFF_TO], "assessed while off"
            back_on = [m for m in moments if m >= OFF_TO]
            assert back_on and back_on[0] - OFF_TO <= timedelta(hours=25)
            assert all(a < OFF_TO and b > OFF_FROM for a, b in gaps)
        else:
            assert gaps == [], f"{key} went unassessed {gaps}"
    for vm, skips in skipped.items():
        assert skips, f"{vm} was due while off but no skip was recorded"
        assert all(s.error is not None and "deallocated" in s.error.message for s in skips)
    for vm_id, view in judged.items():
        compliance = view.compliance if view is not None else None
        assert compliance is not None and compliance.cycle is None, vm_id
        assert compliance.state in {"compliant", "pending"}
    assert throttled < 0.05 * requests
    assert max(histories.values()) < 2_000


def test_a_burst_beyond_the_limit_is_paced_under_it(tmp_path: Path) -> None:
    """650 VMs of one subscription and region: more than the 600 operations a burst
    allows, so unpaced starts would be refused by the hundred."""
    fleet = one_lane_fleet(650)
    with rig(fleet, START, tmp_path) as run:
        run.host.engine.start_new("assessment_round", "on-demand-1", {"scope": [SUB]})
        run.host.run_until(START + timedelta(minutes=50))
        status = run.status("on-demand-1")
        log = run.operations_log()
        requests, throttled = run.sim.state.requests, run.sim.state.throttled
        histories = run.history_sizes()

    assert status is not None and status["runtimeStatus"] == "Completed", status
    assert status["output"]["due"] == 650 and status["output"]["leftRunning"] == 0
    starts = sorted(parse_time(line["start"]) for line in log if line.get("op") == "assessPatches")
    assert len(starts) == 650
    busiest_minute = max(
        sum(1 for s in starts if first <= s < first + timedelta(minutes=1)) for first in starts
    )
    assert busiest_minute <= 200
    assert throttled < 0.05 * requests
    assert max(histories.values()) < 2_000

"""The monthly cycle when things go wrong: a bad canary halts it until resumed, VMs that
missed their slot are re-planned, an unplanned baseline supersedes it. Rehearsed as in
test_rollout_cycle.py and read from the simulator's operations log."""

from __future__ import annotations

import copy
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from orchestrators.rollout_payloads import RETRY_ROUNDS
from patching.models import ReleaseKind
from patching.timefmt import format_time, parse_time
from tests.app.rollout_support import (
    CYCLE_ID,
    CYCLE_INSTANCE,
    FLEET,
    PLAN,
    RUN_FOR,
    cycle_input,
    failing_canary,
    installs_by_vm,
    maximum_duration,
    rehearsal,
    run_cycle,
)
from tests.planner.contract_checks import _region_table, in_window, vm_zone


def test_a_bad_canary_halts_the_cycle_until_it_is_resumed(tmp_path: Path) -> None:
    fleet, canary = failing_canary(FLEET, PLAN)
    with rehearsal(fleet, tmp_path) as run:
        run_cycle(run)
        halted = run.store.cycle(CYCLE_ID)
        before_resume = installs_by_vm(run)
        # The operator looks into it for a day: the next phases' slots pass meanwhile.
        run.clock.set(run.clock.now() + timedelta(days=1))
        resumed_at = run.clock.now()
        resumes = 0
        # Each retry round gives the failed canary another slot, which fails the gate again.
        while (record := run.store.cycle(CYCLE_ID)) and record.state == "halted":
            assert resumes <= RETRY_ROUNDS
            run.engine.raise_event(CYCLE_INSTANCE, "resume", {"reason": "canary looked at"})
            resumes += 1
            run.run_for(RUN_FOR)
        installs = run.installs()
        completed = run.store.cycle(CYCLE_ID)

    assert halted is not None and halted.state == "halted"
    assert halted.halt_reason is not None and halted.halt_reason.startswith("phase 0: ")
    assert f"{len(canary)} failed" in halted.halt_reason
    assert set(before_resume) == canary
    assert {i["status"] for i in before_resume.values()} == {"Failed"}
    assert resumes == 1 + RETRY_ROUNDS
    counts = Counter(i["vm"].lower() for i in installs)
    assert counts == {
        a.vm.lower(): 1 + RETRY_ROUNDS if a.vm.lower() in canary else 1 for a in PLAN.assignments
    }
    for vm in canary:
        starts = [i["start"] for i in installs if i["vm"].lower() == vm]
        assert len(set(starts)) == len(starts), "a canary VM installed twice in one slot"
    table = _region_table(fleet)
    vms = {vm["id"].lower(): vm for vm in fleet["vms"]}
    for install in installs:
        vm = vms[install["vm"].lower()]
        window = vm.get("tags", {}).get("patchWindow", "22:00-06:00")
        start, end = parse_time(install["start"]), parse_time(install["end"])
        assert in_window(vm, window, vm_zone(vm, table), start, end), install["vm"]
    assert all(
        parse_time(i["start"]) >= resumed_at for i in installs if i["vm"].lower() not in canary
    )
    assert completed is not None and completed.state == "completed"
    assert (completed.plan_summary or {})["failed"] == len(canary) * (1 + RETRY_ROUNDS)


@pytest.mark.parametrize("duplicate_activities", [0.0, 1.0])
def test_a_vm_off_at_its_slot_is_installed_once_in_a_retry_after_the_last_phase(
    tmp_path: Path, duplicate_activities: float
) -> None:
    missed = next(a for a in PLAN.assignments if a.phase == 1)
    fleet = copy.deepcopy(FLEET)
    for vm in fleet["vms"]:
        if vm["id"].lower() == missed.vm.lower():
            off = {
                "from": format_time(missed.start - timedelta(hours=1)),
                "to": format_time(missed.end),
            }
            vm.setdefault("sim", {})["offDuring"] = [off]
    with rehearsal(fleet, tmp_path, duplicate_activities=duplicate_activities) as run:
        run_cycle(run)
        run.run_for(timedelta(days=1))  # the retry phase opens a window later
        installs = installs_by_vm(run)
        record = run.store.cycle(CYCLE_ID)
        view = run.store.vm_view(missed.vm)

    assert set(installs) == {a.vm.lower() for a in PLAN.assignments}
    retried = installs[missed.vm.lower()]
    assert parse_time(retried["start"]) > PLAN.phases[-1].end
    assert maximum_duration(retried["request"]["maximumDuration"]) == missed.end - missed.start
    assert record is not None and record.state == "completed"
    summary = record.plan_summary or {}
    assert summary["planRounds"] == 1
    assert any(p["retry"] for p in summary["phases"])
    assert view is not None and view.compliance is not None
    assert view.compliance.state == "compliant"


def test_an_unplanned_baseline_supersedes_the_months_cycle(tmp_path: Path) -> None:
    replaced_at = PLAN.phases[1].start + timedelta(hours=6, minutes=10)
    with rehearsal(FLEET, tmp_path) as run:
        run.engine.start_new("cycle_orchestrator", CYCLE_INSTANCE, cycle_input())
        run.run_for(replaced_at - run.clock.now())
        baseline = {
            **cycle_input(ReleaseKind.UNPLANNED_BASELINE),
            "releasedAt": format_time(replaced_at),
            "releaseId": "oob-1",
            "replaces": CYCLE_INSTANCE,
        }
        run.engine.start_new("cycle_orchestrator", f"{CYCLE_INSTANCE}-baseline", baseline)
        run.run_for(RUN_FOR)
        installs = run.installs()
        superseded = run.store.cycle(CYCLE_ID)
        replacement = run.store.cycle(f"{CYCLE_ID}-baseline")
        old_status = run.engine.status(CYCLE_INSTANCE)

    assert superseded is not None and superseded.state == "superseded"
    assert (
        superseded.halt_reason == f"superseded by the unplanned baseline cycle {CYCLE_ID}-baseline"
    )
    assert old_status is not None and old_status["output"]["superseded"] is True
    assert replacement is not None and replacement.state == "completed"
    later = [i for i in installs if parse_time(i["start"]) >= replaced_at]
    assert Counter(i["vm"].lower() for i in later) == Counter(
        a.vm.lower() for a in PLAN.assignments
    )
    for install in later:
        assert install["request"]["rebootSetting"] == "IfRequired"
        windows = install["request"].get("windowsParameters")
        assert windows is None or windows["excludeKbsRequiringReboot"] is False
    assert any(parse_time(i["start"]) < replaced_at for i in installs)


def test_a_cycle_resumed_before_the_next_phase_keeps_the_planned_slots(tmp_path: Path) -> None:
    fleet, canary = failing_canary(FLEET, PLAN)
    with rehearsal(fleet, tmp_path) as run:
        run.engine.start_new("cycle_orchestrator", CYCLE_INSTANCE, cycle_input())
        run.run_for(PLAN.phases[1].start - timedelta(minutes=1) - run.clock.now())
        halted = run.store.cycle(CYCLE_ID)
        run.engine.raise_event(CYCLE_INSTANCE, "resume", {"reason": "known issue"})
        run.run_for(RUN_FOR)
        installs = [i for i in run.installs() if i["vm"].lower() not in canary]

    assert halted is not None and halted.state == "halted"
    planned = {a.vm.lower(): format_time(a.start) for a in PLAN.assignments if a.phase > 0}
    assert {i["vm"].lower(): i["start"] for i in installs} == planned


def test_a_resume_meant_for_another_halt_leaves_the_cycle_halted(tmp_path: Path) -> None:
    fleet, _ = failing_canary(FLEET, PLAN)
    with rehearsal(fleet, tmp_path) as run:
        run.engine.start_new("cycle_orchestrator", CYCLE_INSTANCE, cycle_input())
        run.run_for(PLAN.phases[1].start - timedelta(minutes=1) - run.clock.now())
        halted = run.store.cycle(CYCLE_ID)
        run.engine.raise_event(CYCLE_INSTANCE, "resume", {"reason": "stale", "halt": 2})
        run.run_for(timedelta(hours=2))
        still = run.store.cycle(CYCLE_ID)
        run.engine.raise_event(CYCLE_INSTANCE, "resume", {"reason": "looked at", "halt": 1})
        run.run_for(timedelta(hours=2))
        resumed = run.store.cycle(CYCLE_ID)

    assert halted is not None and halted.state == "halted"
    assert (halted.plan_summary or {})["halts"] == 1
    assert still is not None and still.state == "halted"
    assert resumed is not None and resumed.state == "running"
    assert (resumed.plan_summary or {})["resumed"] == "looked at"

"""The rehearsal plans with install history: the fleet file's `expectedInstallMinutes`, or
an earlier rehearsed month's records (docs/CONTRACTS.md section 2, docs/PLANNER.md 1)."""

from __future__ import annotations

import argparse
import copy
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from azure_io.memory_store import MemoryPatchStore
from patchctl import simulate_command
from patchctl.cli import main
from patchctl.fleetgen import generate_fleet
from patchctl.rehearsal import rehearse
from reporting.model import Report

FLEET = generate_fleet(24, seed=5, region_pairs=2)
DAYS = 6


def _rehearse(
    tmp_path: Path, fleet: dict[str, Any], cycle: str, store: MemoryPatchStore | None = None
) -> Report:
    tmp_path.mkdir(parents=True, exist_ok=True)
    fleet_path = tmp_path / "fleet.json"
    fleet_path.write_text(json.dumps(fleet), encoding="utf-8")
    arguments = argparse.Namespace(
        fleet=fleet_path, cycle=cycle, days=DAYS, out=tmp_path / "out", in_memory_store=True
    )
    spec = simulate_command.prepare(arguments)(tmp_path / "operations.jsonl")
    return rehearse(spec, store=store)


def _slot_minutes(report: Report) -> dict[str, int]:
    return {s.vm.lower(): (s.end - s.start) // timedelta(minutes=1) for s in report.slots}


def _full_install_vms(fleet: dict[str, Any]) -> list[dict[str, Any]]:
    return [vm for vm in fleet["vms"] if not vm.get("enableHotpatching")]


def test_expected_install_minutes_in_the_fleet_file_size_the_rehearsed_slots(
    tmp_path: Path,
) -> None:
    fleet = copy.deepcopy(FLEET)
    told = _full_install_vms(fleet)[:3]
    for vm, minutes in zip(told, (40, 100, 200), strict=True):
        vm["expectedInstallMinutes"] = minutes
        vm.setdefault("sim", {})["installMinutes"] = minutes - 5
    report = _rehearse(tmp_path, fleet, "2026-12")

    slots = _slot_minutes(report)
    # ceil5(max(e + 10, 1.25 e)): 50, 125, 250 held to Azure's 3 h 55 min.
    assert [slots[vm["id"].lower()] for vm in told] == [50, 125, 235]
    others = {vm["id"].lower() for vm in _full_install_vms(fleet)[3:]} & set(slots)
    assert others and {slots[vm] for vm in others} == {90}
    assert report.compliance.compliant == report.compliance.enrolled


def test_a_second_month_with_the_first_months_history_reaches_compliance_sooner(
    tmp_path: Path,
) -> None:
    store = MemoryPatchStore()
    first = _rehearse(tmp_path / "december", FLEET, "2026-12", store)
    second = _rehearse(tmp_path / "february", FLEET, "2027-02", store)

    for report in (first, second):
        assert report.compliance.compliant == report.compliance.enrolled
    first_slots, second_slots = _slot_minutes(first), _slot_minutes(second)
    assert set(first_slots) == set(second_slots)
    assert all(second_slots[vm] <= first_slots[vm] for vm in first_slots)
    assert sum(second_slots.values()) < sum(first_slots.values())
    first_days, second_days = first.days_to_full_compliance(), second.days_to_full_compliance()
    assert first_days is not None and second_days is not None
    assert second_days < first_days


def test_a_window_too_short_for_any_install_is_a_skip_the_summary_and_report_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet = copy.deepcopy(FLEET)
    short = _full_install_vms(fleet)[0]
    short.setdefault("tags", {})["patchWindow"] = "22:00-22:20"
    fleet_path = tmp_path / "fleet.json"
    fleet_path.write_text(json.dumps(fleet), encoding="utf-8")
    out = tmp_path / "run"
    capsys.readouterr()
    code = main(
        [
            *("simulate", "--fleet", str(fleet_path), "--cycle", "2026-12", "--days", "1"),
            *("--in-memory-store", "--out", str(out)),
        ]
    )
    stdout = capsys.readouterr().out

    assert code == 0
    assert "1 of the skipped are enrolled VMs whose off-peak window is under 30 minutes" in stdout
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["compliance"]["shortWindowSkips"] == 1
    (row,) = [vm for vm in report["vms"] if vm["vm"].lower() == short["id"].lower()]
    assert row["state"] == "skipped"
    assert (
        row["reason"] == "off-peak window 22:00-22:20 is 20 minutes; an install needs at least 30"
    )
    assert 'class="short-window-count">1<' in (out / "report.html").read_text(encoding="utf-8")

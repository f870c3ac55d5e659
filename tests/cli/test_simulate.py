"""`patchctl simulate` (docs/CONTRACTS.md sections 1 and 4), run in process through `main`."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from patchctl.cli import main
from patchctl.fleetgen import generate_fleet
from patching.calendar import patch_tuesday
from patching.timefmt import format_time, parse_time
from reporting import from_report_json

FLEET = generate_fleet(30, seed=11, region_pairs=2)
RELEASE = patch_tuesday(2026, 12)
CONTRACT_FIELDS = {
    "cycle",
    "release",
    "halted",
    "haltReason",
    "compliance",
    "vms",
    "durable",
    "arm",
}
# What this project adds to the contract's report.json (docs/CONTRACTS.md section 4).
ADDITIONS = {"deadline", "haltedPhase", "haltedAt", "phases", "slots", "runs", "history", "tables"}


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str
    out: Path

    def report(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads((self.out / "report.json").read_text("utf-8"))
        return document

    def operations(self) -> list[dict[str, Any]]:
        lines = (self.out / "operations.jsonl").read_text("utf-8").splitlines()
        return [json.loads(line) for line in lines]

    def installs(self) -> list[dict[str, Any]]:
        return [
            entry
            for entry in self.operations()
            if entry["op"] == "installPatches" and "httpStatus" not in entry
        ]


def argv(fleet_path: Path, out: Path, *flags: str, days: str = "5") -> list[str]:
    return [
        *("simulate", "--fleet", str(fleet_path), "--cycle", "2026-12", "--days", days),
        *("--out", str(out), *flags),
    ]


def simulate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], *flags: str, fleet: Any = FLEET
) -> Run:
    fleet_path = tmp_path / "fleet.json"
    fleet_path.write_text(json.dumps(fleet), encoding="utf-8")
    out = tmp_path / "run"
    capsys.readouterr()
    code = main(argv(fleet_path, out, "--in-memory-store", *flags))
    stdout, stderr = capsys.readouterr()
    return Run(code, stdout, stderr, out)


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    tmp_path = tmp_path_factory.mktemp("plain")
    fleet_path = tmp_path / "fleet.json"
    fleet_path.write_text(json.dumps(FLEET), encoding="utf-8")
    out = tmp_path / "run"
    code = main(argv(fleet_path, out, "--in-memory-store"))
    return Run(code, "", "", out)


def test_simulate_writes_the_three_outputs_and_nothing_else(plain_run: Run) -> None:
    assert plain_run.code == 0
    assert sorted(p.name for p in plain_run.out.iterdir()) == [
        "operations.jsonl",
        "report.html",
        "report.json",
    ]
    assert "<!DOCTYPE html>" in (plain_run.out / "report.html").read_text("utf-8")


def test_the_report_has_the_contract_fields_and_every_vm_once(plain_run: Run) -> None:
    report = plain_run.report()
    assert set(report) >= CONTRACT_FIELDS
    assert set(report) - CONTRACT_FIELDS <= ADDITIONS
    counts = {"enrolled", "compliant", "pending", "failed", "skipped"}
    # shortWindowSkips: an addition, present when the plan skipped VMs for their window.
    assert counts <= set(report["compliance"]) <= counts | {"shortWindowSkips"}
    assert set(report["durable"]) == {"instances", "maxHistoryEvents", "replayedEvents"}
    assert set(report["arm"]) == {"requests", "throttled"}
    assert all(set(row) == {"vm", "state", "installedAt", "reason"} for row in report["vms"])
    assert Counter(row["vm"].lower() for row in report["vms"]) == Counter(
        vm["id"].lower() for vm in FLEET["vms"]
    )
    from_report_json(report)  # its counts agree with its rows
    assert report["cycle"] == "2026-12"
    planned = {slot["vm"].lower() for slot in report["slots"]}
    enrolled = {row["vm"].lower() for row in report["vms"] if row["state"] != "skipped"}
    assert planned == enrolled
    assert report["durable"]["instances"] > 0
    assert report["arm"]["requests"] >= len(plain_run.installs())


def test_states_agree_with_the_operations_log(plain_run: Run) -> None:
    report = plain_run.report()
    succeeded = {i["vm"].lower() for i in plain_run.installs() if i["status"] == "Succeeded"}
    states = {row["vm"].lower(): row for row in report["vms"]}
    assert succeeded, "the rehearsal installed nothing"
    for vm in succeeded:
        assert states[vm]["state"] == "compliant", states[vm]
        assert states[vm]["installedAt"] is not None
    for vm, row in states.items():
        if row["state"] == "skipped":
            assert vm not in succeeded
    # The cycle opened from the calendar on the hourly timer, after the release.
    first = min(parse_time(i["start"]) for i in plain_run.installs())
    assert first >= RELEASE


def test_a_release_event_opens_the_cycle_at_its_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before the hourly timer's first tick, which would open the month from the calendar.
    at = RELEASE + timedelta(minutes=30)
    event = {
        "id": "e-1",
        "subject": "releases",
        "eventType": "Patching.ReleasePublished",
        "eventTime": format_time(at),
        "dataVersion": "1.0",
        "data": {
            "releaseId": "2026-12-B",
            "kind": "hotpatch",
            "releasedAt": format_time(RELEASE),
            "kbNumbers": ["5048654"],
            "classifications": ["Security"],
        },
    }
    events = tmp_path / "events.json"
    events.write_text(json.dumps([event]), encoding="utf-8")
    done = simulate(tmp_path, capsys, "--events", str(events))
    assert done.code == 0, done.stderr
    report = done.report()
    assert report["release"]["releaseId"] == "2026-12-B"
    installs = done.installs()
    assert installs
    assert min(parse_time(i["start"]) for i in installs) >= at
    first_call = min(parse_time(entry["start"]) for entry in done.operations())
    assert first_call == at


def test_duplicated_activities_give_the_same_installs(
    plain_run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    done = simulate(tmp_path, capsys, "--duplicate-activities", "0.2")
    assert done.code == 0, done.stderr

    def installed(run: Run) -> Counter[tuple[str, str]]:
        return Counter((i["vm"].lower(), i["status"]) for i in run.installs())

    assert installed(done) == installed(plain_run)
    assert [r["state"] for r in done.report()["vms"]] == [
        r["state"] for r in plain_run.report()["vms"]
    ]


def test_the_summary_says_compliance_timing_and_where_the_report_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    done = simulate(tmp_path, capsys, "--days", "1")
    assert done.code == 0, done.stderr
    counts = done.report()["compliance"]
    assert f"{counts['enrolled']} enrolled: {counts['compliant']} compliant" in done.stdout
    assert "full compliance:" in done.stdout
    assert "ARM requests:" in done.stdout
    assert str(done.out / "report.html") in done.stdout


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--days", "0"], "--days"),
        (["--days", "many"], "--days"),
        (["--duplicate-activities", "1.5"], "--duplicate-activities"),
        (["--duplicate-activities", "nan"], "--duplicate-activities"),
        (["--kind", "monthly"], "--kind"),
        (["--storage-connection-string", " "], "--storage-connection-string"),
        (["--events", "EVENTS"], "--events"),
        (["--out", "FLEET"], "--out"),
        (["--cycle", "2026-13"], "--cycle"),
    ],
)
def test_bad_input_is_refused_with_one_line_and_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], named: str
) -> None:
    fleet_path = tmp_path / "fleet.json"
    fleet_path.write_text(json.dumps(FLEET), encoding="utf-8")
    events = tmp_path / "events.json"
    events.write_text(json.dumps({"not": "a list"}), encoding="utf-8")
    paths = {"EVENTS": str(events), "FLEET": str(fleet_path)}
    out = tmp_path / "run"
    capsys.readouterr()
    code = main(
        ["simulate", "--fleet", str(fleet_path), "--cycle", "2026-12", "--out", str(out)]
        + [paths.get(flag, flag) for flag in flags]
    )
    _, stderr = capsys.readouterr()
    assert code == 2
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert named in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.json", "fleet.json"]


def test_a_bad_fleet_is_refused_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    done = simulate(tmp_path, capsys, fleet={"version": 2, "vms": []})
    assert done.code == 2
    assert "fleet file" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not done.out.exists()


def test_results_land_in_the_tables_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], azurite_connection_string: str
) -> None:
    from azure.data.tables import TableServiceClient

    fleet = generate_fleet(8, seed=5, region_pairs=1)
    fleet_path = tmp_path / "fleet.json"
    fleet_path.write_text(json.dumps(fleet), encoding="utf-8")
    out = tmp_path / "run"
    capsys.readouterr()
    connection = ("--storage-connection-string", azurite_connection_string)
    code = main(argv(fleet_path, out, *connection, days="1"))
    _, stderr = capsys.readouterr()
    assert code == 0, stderr
    report = json.loads((out / "report.json").read_text("utf-8"))
    service = TableServiceClient.from_connection_string(azurite_connection_string)
    names = {table.name for table in service.list_tables()}
    assert "PatchCycles" in names
    cycles = service.get_table_client("PatchCycles").list_entities()
    assert "2026-12" in {entity["RowKey"] for entity in cycles}
    assert len(report["vms"]) == len(fleet["vms"])

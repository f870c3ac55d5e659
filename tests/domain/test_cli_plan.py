"""`patchctl plan` and `demo` as a user runs them (docs/CONTRACTS.md section 1), in process."""

import json
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from patchctl.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = Path(__file__).parent / "data" / "fleet-small.json"
MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class Done:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def patchctl(capsys, monkeypatch):
    """`python -m patchctl ARGS` from the repository root, run through `main(argv)`."""
    monkeypatch.chdir(ROOT)

    def run(*args) -> Done:
        capsys.readouterr()
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return Done(code, out, err)

    return run


@pytest.fixture
def fleet_path(tmp_path) -> Path:
    path = tmp_path / "fleet.json"
    shutil.copyfile(EXAMPLE, path)
    return path


def fleet_ids(path: Path) -> list[str]:
    return [vm["id"] for vm in json.loads(path.read_text(encoding="utf-8"))["vms"]]


def test_plan_writes_every_vm_exactly_once(patchctl, fleet_path, tmp_path):
    out = tmp_path / "plans" / "plan.json"
    done = patchctl("plan", "--fleet", fleet_path, "--cycle", "2026-12", "--out", out)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    plan = json.loads(out.read_text(encoding="utf-8"))
    assert plan["version"] == 1
    assert plan["cycle"] == "2026-12"
    assert plan["release"] == {"kind": "hotpatch", "releasedAt": "2026-12-08T18:00:00Z"}
    assert plan["deadline"] == "2027-01-07T18:00:00Z"
    seen = Counter(a["vm"] for a in plan["assignments"]) + Counter(s["vm"] for s in plan["skipped"])
    assert seen == Counter(fleet_ids(fleet_path))
    assert {s["reason"] for s in plan["skipped"]} == {
        "patchMode is Manual, not AutomaticByPlatform",
        "patchMode is ImageDefault, not AutomaticByPlatform",
    }
    assert all(a["start"] >= plan["release"]["releasedAt"] for a in plan["assignments"])
    assert all(a["end"] <= plan["deadline"] for a in plan["assignments"])
    assert str(out) in done.stdout
    assert [p.name for p in out.parent.iterdir()] == ["plan.json"]  # no temporary left behind


def test_plan_honours_kind_released_at_and_now(patchctl, fleet_path, tmp_path):
    out = tmp_path / "plan.json"
    now = "2026-12-20T00:00:00Z"
    done = patchctl(
        "plan",
        "--fleet", fleet_path,
        "--cycle", "2026-12",
        "--kind", "unplannedBaseline",
        "--released-at", "2026-12-15T09:30:00+01:00",
        "--now", now,
        "--out", out,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    plan = json.loads(out.read_text(encoding="utf-8"))
    assert plan["release"] == {"kind": "unplannedBaseline", "releasedAt": "2026-12-15T08:30:00Z"}
    assert plan["deadline"] == "2027-01-14T08:30:00Z"
    assert plan["assignments"]
    assert all(a["start"] >= now for a in plan["assignments"])
    assert all(p["start"] >= now for p in plan["phases"])
    # a baseline month: nobody is told never to reboot
    assert {a["rebootSetting"] for a in plan["assignments"]} == {"IfRequired"}
    assert not any(a["excludeKbsRequiringReboot"] for a in plan["assignments"])


def _broken_fleet(tmp_path: Path, change) -> Path:
    document = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    change(document)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _bad_json(tmp_path: Path) -> Path:
    path = tmp_path / "broken.json"
    path.write_text('{"version": 1, "vms": [', encoding="utf-8")
    return path


CASES = {
    "unreadable file": (lambda tmp: tmp / "missing.json", [], "missing.json"),
    "invalid JSON": (_bad_json, [], "not valid JSON"),
    "wrong version": (
        lambda tmp: _broken_fleet(tmp, lambda d: d.update(version=2)),
        [],
        "version",
    ),
    "missing field": (
        lambda tmp: _broken_fleet(tmp, lambda d: d["vms"][3].pop("patchMode")),
        [],
        "patchMode",
    ),
    "unknown region": (
        lambda tmp: _broken_fleet(tmp, lambda d: d["vms"][0].update(location="marsnorth")),
        [],
        "marsnorth",
    ),
    "bad window tag": (
        lambda tmp: _broken_fleet(
            tmp, lambda d: d["vms"][1].update(tags={"patchWindow": "10pm-6am"})
        ),
        [],
        "patchWindow",
    ),
    "unknown kind": (None, ["--kind", "emergency"], "--kind"),
    "bad cycle": (None, ["--cycle", "2026-13"], "YYYY-MM"),
    "bad released-at": (None, ["--released-at", "2026-12-08 10:00"], "--released-at"),
    "naive now": (None, ["--now", "2026-12-10T00:00:00"], "--now"),
    "release outside the cycle": (
        None,
        ["--released-at", "2027-01-05T18:00:00Z"],
        "not in cycle 2026-12",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_exits_2_with_one_line_and_writes_nothing(patchctl, case, fleet_path, tmp_path):
    make_fleet, extra, mentions = CASES[case]
    fleet = make_fleet(tmp_path) if make_fleet else fleet_path
    out = tmp_path / "out" / "plan.json"
    arguments = {"--fleet": fleet, "--cycle": "2026-12", "--out": out}
    arguments.update(zip(extra[::2], extra[1::2], strict=True))
    done = patchctl("plan", *[item for pair in arguments.items() for item in pair])
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    assert mentions in lines[0]
    assert "Traceback" not in done.stderr
    assert not out.exists()
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_an_unwritable_out_is_one_line_and_exit_2(patchctl, fleet_path, tmp_path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("x", encoding="utf-8")
    done = patchctl("plan", "--fleet", fleet_path, "--cycle", "2026-12", "--out", out)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert str(out) in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fleet.json", "taken"]
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_demo_prints_a_summary_and_writes_the_plan(patchctl, tmp_path):
    out = tmp_path / "demo" / "plan.json"
    done = patchctl("demo", "--out", out)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Cycle ")
    assert "VMs planned" in done.stdout
    assert f"plan file: {out}" in done.stdout
    plan = json.loads(out.read_text(encoding="utf-8"))
    demo_fleet = json.loads((ROOT / "examples" / "fleet-demo.json").read_text(encoding="utf-8"))
    planned = [a["vm"] for a in plan["assignments"]] + [s["vm"] for s in plan["skipped"]]
    assert Counter(planned) == Counter(vm["id"] for vm in demo_fleet["vms"])
    assert f"{len(plan['assignments'])} VMs planned" in done.stdout


def test_a_plan_past_the_deadline_is_written_with_a_warning(patchctl, fleet_path, tmp_path):
    out = tmp_path / "plan.json"
    done = patchctl(
        "plan",
        "--fleet",
        fleet_path,
        "--cycle",
        "2026-12",
        "--now",
        "2027-02-01T00:00:00Z",
        "--out",
        out,
    )
    assert done.returncode == 0, done.stderr
    plan = json.loads(out.read_text(encoding="utf-8"))
    late = sum(1 for a in plan["assignments"] if a["end"] > plan["deadline"])
    assert late == len(plan["assignments"]) > 0
    assert done.stderr.strip() == (
        f"warning: {late} slots end after the deadline 2027-01-07T18:00:00Z"
    )


def test_python_dash_m_patchctl_plans_and_refuses_a_closed_stdout(fleet_path, tmp_path):
    out = tmp_path / "plan.json"
    command = [sys.executable, "-m", "patchctl", "plan", "--fleet", str(fleet_path)]
    command += ["--cycle", "2026-12", "--out", str(out)]
    closed = subprocess.run(
        ["sh", "-c", '"$@" >&-', "sh", *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert closed.returncode == 2, closed.stderr
    assert closed.stderr == "error: standard output is closed; nothing was done\n"
    assert not out.exists()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.startswith("planned 31 VMs in ")
    assert done.stdout.rstrip().endswith(f"-> {out}")
    plan = json.loads(out.read_text(encoding="utf-8"))
    assert Counter(a["vm"] for a in plan["assignments"]) + Counter(
        s["vm"] for s in plan["skipped"]
    ) == Counter(fleet_ids(fleet_path))


def test_plan_counts_the_vms_whose_window_is_too_short(patchctl, fleet_path, tmp_path):
    document = json.loads(fleet_path.read_text(encoding="utf-8"))
    out = tmp_path / "plan.json"
    done = patchctl("plan", "--fleet", fleet_path, "--cycle", "2026-12", "--out", out)
    assert "too short for an install" not in done.stdout
    short = [vm for vm in document["vms"] if vm["patchMode"] == "AutomaticByPlatform"][:2]
    for vm in short:
        vm.setdefault("tags", {})["patchWindow"] = "22:00-22:20"
    fleet_path.write_text(json.dumps(document), encoding="utf-8")
    done = patchctl("plan", "--fleet", fleet_path, "--cycle", "2026-12", "--out", out)
    assert done.returncode == 0, done.stderr
    assert (
        "2 enrolled VMs skipped: their off-peak window is under 30 minutes, "
        "too short for an install."
    ) in done.stdout.splitlines()
    plan = json.loads(out.read_text(encoding="utf-8"))
    reasons = {s["vm"]: s["reason"] for s in plan["skipped"]}
    for vm in short:
        assert reasons[vm["id"]] == (
            "off-peak window 22:00-22:20 is 20 minutes; an install needs at least 30"
        )
    lengths = {
        (datetime.fromisoformat(a["end"]) - datetime.fromisoformat(a["start"])) // MINUTE
        for a in plan["assignments"]
    }
    assert lengths and all(30 <= minutes <= 235 for minutes in lengths)

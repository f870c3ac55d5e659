"""One refusal for both command lines: one line on stderr, exit status 2, never a traceback."""

import shutil
import socket
import sys
from pathlib import Path

import pytest

from fleetsim.cli import main as fleetsim_main
from patchctl.cli import main as patchctl_main

EXAMPLE = Path(__file__).resolve().parents[1] / "domain" / "data" / "fleet-small.json"
PREFIX = {"patchctl": "error: ", "fleetsim": "fleetsim: "}


@pytest.fixture
def fleet(tmp_path) -> Path:
    path = tmp_path / "fleet.json"
    shutil.copyfile(EXAMPLE, path)
    return path


def run(tool: str, args: list[str]) -> int:
    main = patchctl_main if tool == "patchctl" else fleetsim_main
    return main(args)


def plan_args(fleet: Path, out: Path, *extra: str) -> list[str]:
    return ["plan", "--fleet", str(fleet), "--cycle", "2026-12", "--out", str(out), *extra]


def assert_one_line_refusal(capsys, code: int, tool: str, *mentions: str) -> str:
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(PREFIX[tool])
    for mention in mentions:
        assert mention in lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("tool", "args", "mention"),
    [
        ("patchctl", [], "required: command"),
        ("patchctl", ["export"], "invalid choice"),
        ("patchctl", ["plan", "--cycle", "2026-12"], "--fleet"),
        (
            "patchctl",
            ["plan", "--fleet", "f", "--cycle", "2026-12", "--out", "o", "--bogus"],
            "--bogus",
        ),
        ("fleetsim", [], "required: command"),
        ("fleetsim", ["serve"], "--fleet"),
        ("fleetsim", ["serve", "--fleet", "f.json", "--bogus"], "--bogus"),
        ("fleetsim", ["serve", "--fleet", "f.json", "--port"], "--port"),
    ],
)
def test_argparse_refusals_follow_the_same_convention(capsys, tool, args, mention):
    assert_one_line_refusal(capsys, run(tool, args), tool, mention)


FLEET_FILES = {
    "deep nesting": ("[" * 100_000 + "]" * 100_000, "too deeply"),
    "deep nesting in a field": (
        '{"version": 1, "vms": ' + "[" * 50_000 + "]" * 50_000 + "}",
        "deeply",
    ),
    "an integer of thousands of digits": ('{"version": 1' + "0" * 5000 + ', "vms": []}', "digits"),
    "NaN": ('{"version": NaN, "vms": []}', "NaN"),
    "Infinity": ('{"version": 1, "vms": [], "x": Infinity}', "Infinity"),
    "-Infinity": ('{"version": 1, "vms": [], "x": -Infinity}', "-Infinity"),
    "a float beyond double": ('{"version": 1, "vms": [], "x": 1e400}', "1e400"),
}


@pytest.mark.parametrize("tool", ["patchctl", "fleetsim"])
@pytest.mark.parametrize("case", list(FLEET_FILES))
def test_hostile_fleet_files_are_refused_naming_the_file(capsys, tmp_path, tool, case):
    text, mention = FLEET_FILES[case]
    fleet = tmp_path / "fleet.json"
    fleet.write_text(text, encoding="utf-8")
    out = tmp_path / "plan.json"
    args = plan_args(fleet, out) if tool == "patchctl" else ["serve", "--fleet", str(fleet)]
    assert_one_line_refusal(capsys, run(tool, args), tool, str(fleet), mention)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fleet.json"]


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--cycle", "9999-12"], "--cycle"),
        (["--cycle", "0000-01"], "--cycle"),
        (["--now", "9999-12-25T00:00:00Z"], "--now"),
        (["--now", "9999-12-31T23:59:59-14:00"], "--now"),
        (["--released-at", "0001-01-01T00:00:00+01:00"], "--released-at"),
        (["--cycle", "9999-12", "--released-at", "9999-12-30T00:00:00Z"], "--released-at"),
        (["--health-gate-minutes", "99999999999999"], "--health-gate-minutes"),
        (["--health-gate-minutes", "-1"], "--health-gate-minutes"),
        (["--health-gate-minutes", "0"], "--health-gate-minutes"),
        (["--health-gate-minutes", "1441"], "--health-gate-minutes"),
        (["--health-gate-minutes", "half"], "--health-gate-minutes"),
        (["--slot-minutes", "14"], "--slot-minutes"),
        (["--slot-minutes", "241"], "--slot-minutes"),
        (["--slot-minutes", "9" * 5000], "--slot-minutes"),
        (["--default-window", "22:00-22:00x"], "--default-window"),
    ],
)
def test_flags_at_and_past_their_bounds_are_that_flags_error(capsys, fleet, tmp_path, args, flag):
    out = tmp_path / "plan.json"
    arguments = dict(zip(plan_args(fleet, out)[1::2], plan_args(fleet, out)[2::2], strict=True))
    arguments.update(zip(args[::2], args[1::2], strict=True))
    code = patchctl_main(["plan", *[item for pair in arguments.items() for item in pair]])
    assert_one_line_refusal(capsys, code, "patchctl", flag)
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--clock-speed", "inf"], "--clock-speed"),
        (["--clock-speed", "nan"], "--clock-speed"),
        (["--clock-speed", "-1"], "--clock-speed"),
        (["--clock-speed", "0"], "--clock-speed"),
        (["--clock-speed", "1e9"], "--clock-speed"),
        (["--clock-speed", "fast"], "--clock-speed"),
        (["--port", "-1"], "--port"),
        (["--port", "65536"], "--port"),
        (["--port", "9" * 5000], "--port"),
    ],
)
def test_fleetsim_numbers_out_of_bounds_are_refused(capsys, fleet, args, flag):
    code = fleetsim_main(["serve", "--fleet", str(fleet), *args])
    assert_one_line_refusal(capsys, code, "fleetsim", flag)


@pytest.mark.parametrize("tool", ["patchctl", "fleetsim"])
def test_a_path_with_a_nul_character_is_refused(capsys, tmp_path, tool):
    args = (
        plan_args(Path("fleet\0.json"), tmp_path / "plan.json")
        if tool == "patchctl"
        else ["serve", "--fleet", "fleet\0.json"]
    )
    assert_one_line_refusal(capsys, run(tool, args), tool, "--fleet", "NUL")


@pytest.mark.parametrize("tool", ["patchctl", "fleetsim"])
def test_a_closed_stdout_is_refused_before_anything_is_done(
    capsys, fleet, tmp_path, monkeypatch, tool
):
    # What Python makes of a process started with descriptor 1 closed (`>&-`).
    monkeypatch.setattr(sys, "stdout", None)
    out = tmp_path / "plan.json"
    log = tmp_path / "ops.jsonl"
    args = (
        plan_args(fleet, out)
        if tool == "patchctl"
        else ["serve", "--fleet", str(fleet), "--log", str(log)]
    )
    code = run(tool, args)
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err == f"{PREFIX[tool]}standard output is closed; nothing was done\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fleet.json"]


def test_fleetsim_a_port_already_taken_is_one_line(capsys, fleet):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = fleetsim_main(["serve", "--fleet", str(fleet), "--port", str(port)])
    assert_one_line_refusal(capsys, code, "fleetsim", f"cannot serve on 127.0.0.1:{port}")

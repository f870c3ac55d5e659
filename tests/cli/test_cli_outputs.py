"""Outputs never destroy: what `patchctl plan --out` and `fleetsim serve` refuse to write over."""

import json
import os
import shutil
import signal
import stat
from pathlib import Path

import pytest

from fleetsim.cli import main as fleetsim_main
from patchctl import files
from patchctl.cli import main as patchctl_main

EXAMPLE = Path(__file__).resolve().parents[1] / "domain" / "data" / "fleet-small.json"


@pytest.fixture
def fleet(tmp_path) -> Path:
    path = tmp_path / "fleet.json"
    shutil.copyfile(EXAMPLE, path)
    return path


def plan(capsys, fleet: Path, out: Path | str) -> tuple[int, str]:
    code = patchctl_main(["plan", "--fleet", str(fleet), "--cycle", "2026-12", "--out", str(out)])
    captured = capsys.readouterr()
    return code, captured.err


def assert_refused(code: int, stderr: str, prefix: str, *mentions: str) -> None:
    assert code == 2, stderr
    assert len(stderr.splitlines()) == 1, stderr
    assert stderr.startswith(prefix)
    for mention in mentions:
        assert mention in stderr


def spellings_of(fleet: Path) -> dict[str, str]:
    """The same file as `fleet` named five ways (relative to `fleet`'s directory)."""
    (fleet.parent / "link.json").symlink_to(fleet)
    os.link(fleet, fleet.parent / "hard.json")
    (fleet.parent / "sub").mkdir()
    return {
        "as given": str(fleet),
        "relative": "fleet.json",
        "with dots": "sub/../fleet.json",
        "symlink": str(fleet.parent / "link.json"),
        "hard link": str(fleet.parent / "hard.json"),
    }


def test_out_naming_the_fleet_file_in_any_spelling_is_refused(capsys, fleet, monkeypatch):
    monkeypatch.chdir(fleet.parent)
    before = fleet.read_bytes()
    for spelling, out in spellings_of(fleet).items():
        code, stderr = plan(capsys, fleet, out)
        assert_refused(code, stderr, "error: ", "--out", "same file as --fleet")
        assert fleet.read_bytes() == before, spelling
    assert sorted(p.name for p in fleet.parent.iterdir()) == [
        "fleet.json",
        "hard.json",
        "link.json",
        "sub",
    ]


@pytest.mark.parametrize("flag", ["--ca-cert", "--log"])
def test_fleetsim_outputs_naming_the_fleet_file_are_refused(capsys, fleet, monkeypatch, flag):
    monkeypatch.chdir(fleet.parent)
    before = fleet.read_bytes()
    for spelling, out in spellings_of(fleet).items():
        code = fleetsim_main(["serve", "--fleet", str(fleet), flag, out])
        captured = capsys.readouterr()
        assert_refused(code, captured.err, "fleetsim: ", flag, "same file as --fleet")
        assert captured.out == ""
        assert fleet.read_bytes() == before, spelling


def test_fleetsim_ca_cert_and_log_naming_one_file_are_refused(capsys, fleet, monkeypatch):
    monkeypatch.chdir(fleet.parent)
    code = fleetsim_main(["serve", "--fleet", "fleet.json", "--ca-cert", "out", "--log", "./out"])
    captured = capsys.readouterr()
    assert_refused(code, captured.err, "fleetsim: ", "--log", "same file as --ca-cert")
    assert not (fleet.parent / "out").exists()


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _symlink_to_a_file(path: Path) -> Path:
    target = path.with_name("target.json")
    target.write_text("kept\n", encoding="utf-8")
    path.symlink_to(target)
    return path


def _directory(path: Path) -> Path:
    path.mkdir()
    return path


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda tmp: Path("/dev/null"), "a device"),
        (lambda tmp: _directory(tmp / "taken"), "a directory"),
        (lambda tmp: _fifo(tmp / "pipe"), "a FIFO"),
        (lambda tmp: _symlink_to_a_file(tmp / "link.json"), "a symbolic link"),
    ],
)
def test_an_out_that_is_not_a_regular_file_is_refused(capsys, fleet, tmp_path, make, kind):
    out = make(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    mode = os.lstat(out).st_mode
    code, stderr = plan(capsys, fleet, out)
    assert_refused(code, stderr, "error: ", "--out", str(out), kind)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert os.lstat(out).st_mode == mode  # still there, of the same kind
    if kind == "a symbolic link":
        assert out.read_text(encoding="utf-8") == "kept\n"


def test_a_read_only_out_is_refused_and_kept(capsys, fleet, tmp_path):
    out = tmp_path / "plan.json"
    out.write_text("an older plan\n", encoding="utf-8")
    out.chmod(0o444)
    code, stderr = plan(capsys, fleet, out)
    assert_refused(code, stderr, "error: ", "--out", str(out), "read-only")
    assert out.read_text(encoding="utf-8") == "an older plan\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fleet.json", "plan.json"]


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_a_new_plan_file_honours_the_umask(capsys, fleet, tmp_path, umask):
    out = tmp_path / "plan.json"
    previous = os.umask(umask)
    try:
        code, stderr = plan(capsys, fleet, out)
    finally:
        os.umask(previous)
    assert code == 0, stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask


def test_a_replaced_plan_file_keeps_its_mode(capsys, fleet, tmp_path):
    out = tmp_path / "plan.json"
    out.write_text("an older plan\n", encoding="utf-8")
    out.chmod(0o640)
    code, stderr = plan(capsys, fleet, out)
    assert code == 0, stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert json.loads(out.read_text(encoding="utf-8"))["cycle"] == "2026-12"


def test_sigterm_during_the_write_leaves_no_temporary_file(capsys, fleet, tmp_path, monkeypatch):
    out = tmp_path / "plans" / "plan.json"
    written: list[Path] = []
    replace = os.replace

    def terminated_before_the_rename(source: str | Path, target: str | Path) -> None:
        written.append(Path(source))
        assert Path(source).read_text(encoding="utf-8").startswith("{")
        os.kill(os.getpid(), signal.SIGTERM)
        replace(source, target)

    monkeypatch.setattr(files.os, "replace", terminated_before_the_rename)
    handler = signal.getsignal(signal.SIGTERM)
    code, stderr = plan(capsys, fleet, out)
    assert code == 128 + signal.SIGTERM
    assert stderr == ""
    assert written and written[0].parent == out.parent
    assert list(out.parent.iterdir()) == []  # neither the plan nor its temporary file
    assert signal.getsignal(signal.SIGTERM) == handler


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda tmp: Path("/dev/null"), "a device"),
        (lambda tmp: _directory(tmp / "taken"), "a directory"),
        (lambda tmp: _symlink_to_a_file(tmp / "link.pem"), "a symbolic link"),
    ],
)
def test_fleetsim_refuses_a_ca_cert_it_may_not_replace_before_serving(
    capsys, fleet, tmp_path, make, kind
):
    ca = make(tmp_path)
    log = tmp_path / "ops.jsonl"
    before = sorted(p.name for p in tmp_path.iterdir())
    code = fleetsim_main(["serve", "--fleet", str(fleet), "--ca-cert", str(ca), "--log", str(log)])
    captured = capsys.readouterr()
    assert_refused(code, captured.err, "fleetsim: ", "--ca-cert", str(ca), kind)
    assert captured.out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no log started either

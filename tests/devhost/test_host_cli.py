"""`python -m devhost serve`: what it prints, what it serves, how it stops and refuses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from devhost.cli import main
from tests.devhost.host_apps.http_client import call

REPO = Path(__file__).resolve().parents[2]
APPS = Path(__file__).resolve().parent / "host_apps"


def test_serve_prints_url_and_key_serves_the_app_and_stops_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "devhost", "serve", "--app", "http_basics", "--function-key", "k1"],
        cwd=APPS,  # the current folder is where the app module is found
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        key_line = process.stdout.readline().strip()

        assert base_url.startswith("http://127.0.0.1:")
        assert key_line == "function key: k1"
        assert call("GET", f"{base_url}/api/secret?code=k1").body == b"function level"
        assert call("GET", f"{base_url}/api/secret").status == 401
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_random_key_is_printed_when_none_is_given() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "devhost", "serve", "--app", "http_basics"],
        cwd=APPS,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        key = process.stdout.readline().strip().removeprefix("function key: ")

        assert len(key) >= 32
        assert call("GET", f"{base_url}/api/secret", headers={"x-functions-key": key}).status == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        (["--app", "no_such_module_here"], "no_such_module_here"),
        (["--app", "http_basics:missing"], "missing"),
        (["--app", "http_basics", "--duplicate-activities", "1.5"], "--duplicate-activities"),
        (["--app", "http_basics", "--function-key", "a b"], "--function-key"),
        (["--app", "http_basics", "--clock-speed", "0"], "--clock-speed"),
        (["--app", "http_basics", "--port", "70000"], "--port"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(
    arguments: list[str],
    named: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(APPS)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the loader puts the folder on it

    assert main(["serve", *arguments]) == 2

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("devhost: ")
    assert captured.err.count("\n") == 1
    assert named in captured.err

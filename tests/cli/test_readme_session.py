"""The README's `patchctl serve` session, run as a user runs it.

The serve block (after `<!-- readme-serve -->`) is started with bash exactly as written but
on a free port, and the curl block (after `<!-- readme-session -->`) runs against it with
bash (`set -euo pipefail`) on the same port and key. The only thing added is outside the
block: a `curl` function that appends each answer's status and content type, so each
command is checked against what the README says it answers. Then Ctrl-C (SIGINT to the
foreground process group, as a terminal sends it) stops serve, which exits 0.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
SERVE_MARKER = "<!-- readme-serve -->"
SESSION_MARKER = "<!-- readme-session -->"
README_SERVE = (
    "python -m patchctl serve --fleet examples/fleet-demo.json --port 7071 "
    "--clock-speed 60 --function-key demo-key"
)
README_PORT = 7071
README_KEY = "demo-key"
FLEET_SUBSCRIPTIONS = sorted(
    s["id"] for s in json.loads((REPO / "examples/fleet-demo.json").read_text())["subscriptions"]
)
CURL_FLAGS = "--fail-with-body -sS"
# Defined before the block, never in it: each answer ends with its status and content type.
ANSWERED = "@@answered"
CURL_WITH_STATUS = (
    f"curl() {{ command curl \"$@\" -w '\\n{ANSWERED} %{{http_code}} %{{content_type}}@@\\n'; }}\n"
)
ANSWER_END = re.compile(rf"\n{ANSWERED} (\d{{3}}) ([^@\n]*)@@\n")


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    content_type: str
    text: str

    def json(self) -> Any:
        return json.loads(self.text)

    def headers_and_json(self) -> tuple[str, Any]:
        """A `curl -i` answer: its header lines and its JSON body."""
        head, _, body = self.text.replace("\r\n", "\n").partition("\n\n")
        return head, json.loads(body)


def fenced_sh_block(text: str, marker: str) -> str:
    """The ```sh block right after `marker` in the README."""
    assert text.count(marker) == 1, f"README.md should hold {marker} once"
    after = text.split(marker, 1)[1].lstrip("\n")
    assert after.startswith("```sh\n"), f"{marker} is not right before a ```sh block"
    block, closed, _ = after.removeprefix("```sh\n").partition("\n```")
    assert closed, f"the block after {marker} is not closed"
    return block + "\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def on_port(block: str, old: str, new: str) -> str:
    assert old in block, f"expected {old!r} in the README's block"
    moved = block.replace(old, new)
    assert str(README_PORT) not in moved, "the README's port appears in another form"
    return moved


def lines_of(stream: IO[str]) -> queue.Queue[str]:
    """The stream's lines as they come, read by a thread (the pipe never fills)."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    return lines


def drained(lines: queue.Queue[str]) -> str:
    said = []
    while not lines.empty():
        said.append(lines.get_nowait())
    return "\n".join(said)


def port_closed(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1.0)
        return probe.connect_ex(("127.0.0.1", port)) != 0


def answers_of(stdout: str) -> list[Answer]:
    parts = ANSWER_END.split(stdout)
    assert parts[-1] == "", f"output after the last answer: {parts[-1]!r}"
    return [Answer(int(parts[i + 1]), parts[i + 2], parts[i]) for i in range(0, len(parts) - 1, 3)]


def get_json(url: str) -> tuple[int, Any]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, json.loads(response.read())


def eventually(check: Callable[[], Any], *, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:g} s")
        time.sleep(0.2)


def test_the_readme_blocks_say_what_the_test_runs() -> None:
    text = README.read_text(encoding="utf-8")
    serve = fenced_sh_block(text, SERVE_MARKER)
    session = fenced_sh_block(text, SESSION_MARKER)

    assert README_SERVE in serve.splitlines()
    assert f"BASE=http://127.0.0.1:{README_PORT}" in session
    assert f"KEY={README_KEY}" in session
    curls = [line for line in session.splitlines() if line.startswith("curl ")]
    assert len(curls) == 6
    assert all(line.startswith(f"curl {CURL_FLAGS} ") for line in curls), curls


def test_the_readme_session_runs_against_serve_as_written(tmp_path: Path) -> None:
    assert shutil.which("curl"), "the README's session needs curl (apt-get install curl)"
    text = README.read_text(encoding="utf-8")
    port = free_port()
    serve = on_port(fenced_sh_block(text, SERVE_MARKER), f"--port {README_PORT}", f"--port {port}")
    session = on_port(
        fenced_sh_block(text, SESSION_MARKER), f"127.0.0.1:{README_PORT}", f"127.0.0.1:{port}"
    )
    base = f"http://127.0.0.1:{port}"
    months = {datetime.now(UTC).strftime("%Y-%m")}
    process = subprocess.Popen(
        ["bash", "-c", "set -euo pipefail\n" + serve],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Its own process group, as a terminal's foreground job: the SIGINT below reaches
        # bash and serve, never the test runner.
        start_new_session=True,
    )
    try:
        assert process.stdout is not None and process.stderr is not None
        out, err = lines_of(process.stdout), lines_of(process.stderr)
        try:
            assert out.get(timeout=60) == base
            assert out.get(timeout=10) == f"function key: {README_KEY}"
        except queue.Empty:
            pytest.fail(f"serve printed no base URL and key: {drained(err)}")

        ran = subprocess.run(
            ["bash", "-c", "set -euo pipefail\n" + CURL_WITH_STATUS + session],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        months.add(datetime.now(UTC).strftime("%Y-%m"))

        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert ran.stderr == ""
        compliance, assessment, event, cycle, plan, report = answers_of(ran.stdout)

        # Compliance: every managed subscription, counts per state.
        assert compliance.status == 200
        counts = compliance.json()["subscriptions"]
        assert sorted(counts) == FLEET_SUBSCRIPTIONS
        assert all(set(c) == {"total", "states"} for c in counts.values())

        # The on-demand assessment: 202 with the Durable status URLs, which work.
        assert assessment.status == 202
        headers, started = assessment.headers_and_json()
        assert headers.startswith("HTTP/1.1 202")
        assert f"Location: {started['statusQueryGetUri']}" in headers
        assert started["statusQueryGetUri"].startswith(f"{base}/runtime/webhooks/durabletask/")
        status, instance = get_json(started["statusQueryGetUri"])
        assert status in (200, 202)
        assert instance["instanceId"] == started["id"]
        assert instance["name"] == "assessment_round"

        # The release through the Event Grid endpoint opened this month's cycle.
        assert event.status == 202
        assert event.text == ""
        assert cycle.status in (200, 202)
        orchestration = cycle.json()
        month = orchestration["instanceId"].removeprefix("cycle-")
        assert month in months
        assert orchestration["name"] == "cycle_orchestrator"
        assert orchestration["input"]["releaseId"] == f"readme-{month}"
        assert orchestration["input"]["kind"] == "hotpatch"
        assert orchestration["runtimeStatus"] in {"Pending", "Running", "Completed"}

        # The plan preview is a plan file of that cycle.
        assert plan.status == 200
        planned = plan.json()
        assert planned["version"] == 1
        assert planned["cycle"] == month
        assert {"release", "phases", "assignments", "skipped"} <= set(planned)
        # Once the cycle has recorded its release, the preview plans with it.
        plan_url = f"{base}/api/plan?cycle={month}&code={README_KEY}"
        eventually(
            lambda: get_json(plan_url)[1]["release"]["releaseId"] == f"readme-{month}",
            timeout=20,
            what="the plan with the recorded release",
        )

        # The report page, saved to a file: a whole HTML page of this cycle.
        assert report.status == 200
        assert report.content_type.startswith("text/html")
        assert report.text == ""  # it went to the file
        page = (tmp_path / "report.html").read_text(encoding="utf-8")
        assert page.startswith("<!DOCTYPE html>")
        assert page.rstrip().endswith("</html>")
        assert f"cycle {month}" in page

        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in serve's terminal
        assert process.wait(timeout=15) == 0, drained(err)
        assert port_closed(port)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

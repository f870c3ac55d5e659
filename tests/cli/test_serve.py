"""`patchctl serve`: the app on the local host against the fleet simulator (HTTPS) and
Azurite, on one fast clock; what it prints, what answers with and without the key, what a
release event starts, that the timers fire, that stopping stops everything, and refusals.

Most tests share one server started in process (`serving`, what the command runs); one
runs the command itself as a user would, and stops it with a signal.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from azure_io.tables import PatchTables
from patchctl import serve_command
from patchctl.cli import main
from patchctl.fleetgen import generate_fleet
from patchctl.serve_command import Serving, fleet_subscriptions, serving
from patching.errors import BadInput
from patching.fleet import parse_fleet
from tests.devhost.host_apps.http_client import Answer, call

REPO = Path(__file__).resolve().parents[2]
FLEET = generate_fleet(12, seed=9)
SUBSCRIPTIONS = sorted(s["id"] for s in FLEET["subscriptions"])
# An hour of the app's clock a real second: the hourly timer fires within a second or so.
FAST = 3600.0
# Threads the host and the simulator name (devhost.host, fleetsim.server).
SERVER_THREADS = re.compile(r"^(devhost-(http|durable|timers)|fleetsim(-busy)?)$")


def eventually(
    check: Callable[[], Any], *, timeout: float = 20.0, what: str = "the condition"
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:g} s")
        time.sleep(0.05)


def port_closed(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1.0)
        return probe.connect_ex(("127.0.0.1", port)) != 0


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


def child_processes() -> set[int]:
    """Processes whose parent is this one (Azurite's node process, if running)."""
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z":
            children.add(int(stat.parent.name))
    return children


def server_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if SERVER_THREADS.match(t.name)}


def durable(served: Serving, path: str, **params: str) -> Answer:
    query = "&".join(f"{name}={value}" for name, value in params.items())
    return call("GET", f"{served.base_url}/runtime/webhooks/durabletask/{path}?{query}")


def instance(served: Serving, instance_id: str) -> dict[str, Any] | None:
    answer = durable(served, f"instances/{instance_id}", code=served.function_key)
    return answer.json() if answer.status in (200, 202) else None


def release_event(served: Serving, release_id: str) -> list[dict[str, Any]]:
    now = served.clock.now()
    released_at = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return [
        {
            "id": f"event-{release_id}",
            "eventType": "Patching.ReleasePublished",
            "subject": f"releases/{release_id}",
            "eventTime": released_at,
            "dataVersion": "1.0",
            "data": {
                "releaseId": release_id,
                "kind": "hotpatch",
                "releasedAt": released_at,
                "kbNumbers": ["5048654"],
                "classifications": ["Security"],
            },
        }
    ]


def deliver(served: Serving, events: Any, *, key: str | None) -> Answer:
    url = served.event_grid_url + (f"&code={key}" if key is not None else "")
    return call("POST", url, events, headers={"aeg-event-type": "Notification"})


# ----- one server in process, shared by the tests of this class -------------------------


class TestOneServer:
    """Tests that share one server (it is stopped when the class is done, so the tests
    below that start their own never run beside it: the app's dependencies are global)."""

    @pytest.fixture(scope="class")
    @classmethod
    def served(cls) -> Iterator[Serving]:
        with serving(FLEET, clock_speed=FAST) as running:
            yield running

    def test_the_app_manages_the_fleets_subscriptions_on_the_simulator_and_azurite(
        self, served: Serving
    ) -> None:
        settings = served.settings
        assert settings.subscriptions == tuple(SUBSCRIPTIONS)
        assert settings.subscriptions == fleet_subscriptions(parse_fleet(FLEET))
        assert settings.arm_endpoint == served.simulator.base_url.rstrip("/")
        assert settings.arm_endpoint.startswith("https://127.0.0.1:")
        assert settings.arm_ca_bundle is not None and settings.arm_ca_bundle.is_file()
        assert served.base_url.startswith("http://127.0.0.1:")
        assert re.fullmatch(r"[A-Za-z0-9_-]{32,}", served.function_key)

    def test_the_durable_http_api_answers_with_the_key_and_refuses_without(
        self, served: Serving
    ) -> None:
        key = served.function_key

        assert durable(served, "instances", code=key).status == 200
        header = call(
            "GET",
            f"{served.base_url}/runtime/webhooks/durabletask/instances",
            headers={"x-functions-key": key},
        )
        assert header.status == 200
        assert durable(served, "instances").status == 401
        assert durable(served, "instances", code=key + "x").status == 401
        assert durable(served, "instances/no-such-instance", code=key).status == 404

    def test_the_event_grid_webhook_refuses_a_delivery_without_the_key_and_starts_nothing(
        self, served: Serving
    ) -> None:
        events = release_event(served, "refused-1")
        validation = [
            {
                "id": "validation-1",
                "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
                "data": {"validationCode": "c0de"},
            }
        ]

        assert deliver(served, events, key=None).status == 401
        assert deliver(served, events, key="wrong").status == 401
        handshake = call(
            "POST",
            served.event_grid_url,
            validation,
            headers={"aeg-event-type": "SubscriptionValidation"},
        )
        assert handshake.status == 401

        time.sleep(0.5)  # what a refused delivery started would show by now
        listed = durable(served, "instances", code=served.function_key).json()
        assert not [i for i in listed if (i.get("input") or {}).get("releaseId") == "refused-1"]

    def test_a_release_delivered_through_the_webhook_starts_the_cycle(
        self, served: Serving
    ) -> None:
        events = release_event(served, "2026-serve-A")
        cycle = f"cycle-{events[0]['data']['releasedAt'][:7]}"

        answer = deliver(served, events, key=served.function_key)

        assert answer.status in (200, 202), answer.body
        started = eventually(lambda: instance(served, cycle), what=f"the orchestration {cycle}")
        assert started["name"] == "cycle_orchestrator"
        assert started["input"]["releaseId"] == "2026-serve-A"
        assert started["input"]["kind"] == "hotpatch"
        assert started["runtimeStatus"] in {"Pending", "Running", "Completed"}
        # A repeated delivery starts nothing new: the same instance, the same release.
        assert deliver(served, events, key=served.function_key).status in (200, 202)
        again = instance(served, cycle)
        assert again is not None
        assert again["createdTime"] == started["createdTime"]

    def test_on_a_fast_clock_the_timers_fire_and_the_app_reaches_the_simulator_and_azurite(
        self, served: Serving
    ) -> None:
        # The hourly timer keeps the assessment scheduler running; its rounds discover the
        # fleet over HTTPS and record it in Azurite's tables.
        scheduler = eventually(
            lambda: instance(served, "assessment-scheduler"), what="the hourly timer's scheduler"
        )
        assert scheduler["name"] == "assessment_scheduler"
        tables = PatchTables.from_settings(served.settings)
        discovered = eventually(
            lambda: (
                {sub: len(tables.inventory(sub)) for sub in SUBSCRIPTIONS}
                if all(tables.inventory(sub) for sub in SUBSCRIPTIONS)
                else None
            ),
            what="discovery into Azurite",
        )
        by_subscription = {
            sub: sum(1 for vm in FLEET["vms"] if f"/subscriptions/{sub}/" in vm["id"])
            for sub in SUBSCRIPTIONS
        }
        assert discovered == by_subscription
        assert served.simulator.state.requests > 0

    def test_the_apps_routes_answer_under_api_with_the_key_and_refuse_without(
        self, served: Serving
    ) -> None:
        key = served.function_key
        compliance = call("GET", f"{served.base_url}/api/compliance?code={key}")
        if compliance.status == 404:
            pytest.skip("the HTTP routes are not registered in function_app yet")
        scope = {"scope": [f"/subscriptions/{SUBSCRIPTIONS[0]}"]}

        assert compliance.status == 200
        assert all(sub in compliance.body.decode() for sub in SUBSCRIPTIONS)  # the fleet's
        assert call("GET", f"{served.base_url}/api/compliance").status == 401
        assert call("POST", f"{served.base_url}/api/assessments", scope).status == 401
        accepted = call("POST", f"{served.base_url}/api/assessments?code={key}", scope)
        assert accepted.status == 202, accepted.body
        status = call("GET", accepted.json()["statusQueryGetUri"])  # the link carries the key
        assert status.status in (200, 202)
        assert status.json()["instanceId"] == accepted.json()["id"]

    def test_a_second_server_in_the_process_is_refused(self, served: Serving) -> None:
        with pytest.raises(RuntimeError, match="a server runs in this process already"):  # noqa: SIM117
            with serving(FLEET):
                pytest.fail("a second server started")
        assert durable(served, "instances", code=served.function_key).status == 200


# ----- starting and stopping -------------------------------------------------------------


def test_leaving_serving_stops_the_host_the_simulator_and_azurite_even_on_an_error() -> None:
    children, threads = child_processes(), server_threads()
    with pytest.raises(RuntimeError, match="the caller failed"), serving(FLEET) as running:
        ports = {
            "host": port_of(running.base_url),
            "simulator": running.simulator.port,
            "azurite": running.tables_port,
        }
        assert not any(port_closed(port) for port in ports.values())
        assert child_processes() - children  # Azurite runs
        raise RuntimeError("the caller failed")

    assert {name: port_closed(port) for name, port in ports.items()} == dict.fromkeys(ports, True)
    assert child_processes() == children
    assert {t for t in server_threads() if t.is_alive()} <= threads


def test_a_port_taken_after_the_check_stops_what_had_started() -> None:
    children, threads = child_processes(), server_threads()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        with pytest.raises(BadInput, match=f"--port: cannot serve on 127.0.0.1:{port}"):  # noqa: SIM117
            with serving(FLEET, port=port):
                pytest.fail("served on a port that is taken")

    assert child_processes() == children
    assert {t for t in server_threads() if t.is_alive()} <= threads


def _lines(stream: IO[str]) -> queue.Queue[str]:
    """The stream's lines as they come, read by a thread (a read never blocks the test)."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _next_line(lines: queue.Queue[str], matching: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        if re.search(matching, line):
            return line


def descendants(pid: int) -> dict[int, str]:
    """{pid: command line} of every live process below `pid`."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if fields[0] != "Z":
            parents[int(stat.parent.name)] = int(fields[1])
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in found:
                found[child] = command_line(child)
                frontier.append(child)
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# Ctrl-C in a terminal is SIGINT to the whole foreground process group (serve and, unless
# it has its own session, Azurite); a service manager sends SIGTERM to serve alone.
@pytest.mark.parametrize("stop", ["ctrl-c", "sigterm"])
def test_the_command_prints_url_and_key_serves_and_a_signal_stops_everything(
    stop: str, tmp_path: Path
) -> None:
    fleet = tmp_path / "fleet.json"
    fleet.write_text(json.dumps(FLEET))
    process = subprocess.Popen(
        [sys.executable, "-m", "patchctl", "serve", "--fleet", str(fleet), "--clock-speed", "60"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Its own process group, as a shell gives a foreground job: the group's SIGINT
        # below reaches serve and whatever shares its group, never the test runner.
        start_new_session=True,
    )
    try:
        assert process.stdout is not None and process.stderr is not None
        out, err = _lines(process.stdout), _lines(process.stderr)
        base_url = out.get(timeout=60)
        key = out.get(timeout=10).removeprefix("function key: ")
        started = _next_line(err, r"^patchctl serve: ")

        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base_url)
        assert re.fullmatch(r"[A-Za-z0-9_-]{32,}", key)
        simulator = re.search(r"fleet simulator https://127\.0\.0\.1:(\d+)", started)
        tables = re.search(r"Azurite tables on 127\.0\.0\.1:(\d+)", started)
        assert simulator and tables, started
        assert f"{len(FLEET['vms'])} VMs in {len(SUBSCRIPTIONS)} subscriptions" in started
        instances = f"{base_url}/runtime/webhooks/durabletask/instances"
        assert call("GET", f"{instances}?code={key}").status == 200
        assert call("GET", instances).status == 401
        azurite = {pid for pid, line in descendants(process.pid).items() if "azurite" in line}
        assert azurite, descendants(process.pid)
        # Outside serve's group: the terminal's SIGINT does not reach it, serve stops it last.
        assert {os.getpgid(pid) for pid in azurite}.isdisjoint({os.getpgid(process.pid)})

        if stop == "ctrl-c":
            os.killpg(process.pid, signal.SIGINT)
        else:
            process.send_signal(signal.SIGTERM)

        assert process.wait(timeout=10) == 0, _drained(err)
        ports = [port_of(base_url), int(simulator.group(1)), int(tables.group(1))]
        assert all(port_closed(port) for port in ports)
        assert not [pid for pid in azurite if alive(pid)]
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _drained(lines: queue.Queue[str]) -> str:
    """What the stream said since last read (for a failure's message)."""
    said = []
    while not lines.empty():
        said.append(lines.get_nowait())
    return "\n".join(said)


# ----- refusals --------------------------------------------------------------------------


def assert_refused(capsys: pytest.CaptureFixture[str], code: int, *mentions: str) -> None:
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ")
    for mention in mentions:
        assert mention in lines[0]


def _fleet_file(tmp_path: Path, content: str) -> Path:
    path = tmp_path / "fleet.json"
    path.write_text(content)
    return path


NOT_A_GUID_FLEET = {
    "version": 1,
    "vms": [
        {
            "id": "/subscriptions/lab/resourceGroups/rg/providers/"
            "Microsoft.Compute/virtualMachines/vm-1",
            "location": "eastus",
            "osType": "Linux",
            "patchMode": "AutomaticByPlatform",
        }
    ],
}


@pytest.mark.parametrize(
    ("fleet_text", "flags", "mentions"),
    [
        (None, [], ["cannot read fleet file"]),
        ("{not json", [], ["is not valid JSON"]),
        ('{"version": 1, "vms": [{"id": "x"}]}', [], ["fleet file", "vms[0]"]),
        (json.dumps(NOT_A_GUID_FLEET), [], ["subscription", "'lab'"]),
        (json.dumps(FLEET), ["--clock-speed", "0"], ["--clock-speed"]),
        (json.dumps(FLEET), ["--clock-speed", "-5"], ["--clock-speed"]),
        (json.dumps(FLEET), ["--clock-speed", "nan"], ["--clock-speed"]),
        (json.dumps(FLEET), ["--clock-speed", "1e9"], ["--clock-speed"]),
        (json.dumps(FLEET), ["--clock-speed", "fast"], ["--clock-speed"]),
        (json.dumps(FLEET), ["--port", "70000"], ["--port"]),
        (json.dumps(FLEET), ["--function-key", "a b"], ["--function-key"]),
    ],
    ids=[
        "missing-fleet",
        "not-json",
        "schema",
        "subscription-not-a-guid",
        "speed-zero",
        "speed-negative",
        "speed-nan",
        "speed-too-fast",
        "speed-not-a-number",
        "port-out-of-range",
        "bad-key",
    ],
)
def test_bad_input_is_refused_with_one_line_and_starts_nothing(
    fleet_text: str | None,
    flags: list[str],
    mentions: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fleet = tmp_path / "missing.json" if fleet_text is None else _fleet_file(tmp_path, fleet_text)
    children, threads = child_processes(), server_threads()

    code = main(["serve", "--fleet", str(fleet), *flags])

    assert_refused(capsys, code, *mentions)
    assert child_processes() == children
    assert server_threads() <= threads


def test_a_port_in_use_is_refused_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet = _fleet_file(tmp_path, json.dumps(FLEET))

    def must_not_start(*args: Any, **kwargs: Any) -> Any:
        pytest.fail("Azurite, the simulator and the host were started for a taken port")

    monkeypatch.setattr(serve_command, "serving", must_not_start)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        code = main(["serve", "--fleet", str(fleet), "--port", str(port)])

    assert_refused(capsys, code, "--port", f"127.0.0.1:{port}")

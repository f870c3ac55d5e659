"""`python -m fleetsim serve`: in process through `main(argv)`, and once as a process of its own."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from azure.mgmt.compute import ComputeManagementClient
from fleetsim_helpers import SUB_A, fleet_of, linux_vm, windows_vm

from fleetsim import SimulatorCredential
from fleetsim.cli import main

REPO = Path(__file__).resolve().parents[2]


class _FirstLine(io.StringIO):
    """Standard output that tells a waiting thread its first line."""

    def __init__(self) -> None:
        super().__init__()
        self.line_written = threading.Event()

    def write(self, text: str) -> int:
        written = super().write(text)
        if "\n" in self.getvalue():
            self.line_written.set()
        return written

    def first_line(self) -> str:
        return self.getvalue().split("\n", 1)[0]


def serve_in_process(args: list[str], use: Callable[[str], None]) -> tuple[int, str]:
    """Run `main(["serve", *args])` here; `use(base_url)` on a thread, then SIGTERM.

    The exit status and stderr are returned; what `use` raised is raised again.
    """
    stdout, stderr = _FirstLine(), io.StringIO()
    returned = threading.Event()
    failures: list[BaseException] = []

    def client() -> None:
        while not (stdout.line_written.wait(0.05) or returned.is_set()):
            pass
        if returned.is_set():
            return
        try:
            use(stdout.first_line())
        except BaseException as error:
            failures.append(error)
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=client)
    thread.start()
    try:
        with redirect_stdout(stdout), redirect_stderr(stderr):
            code = main(["serve", *args])
    finally:
        returned.set()
        thread.join(timeout=30)
    if failures:
        raise failures[0]
    return code, stderr.getvalue()


def _client(base_url: str, ca: Path) -> ComputeManagementClient:
    return ComputeManagementClient(
        SimulatorCredential(),
        SUB_A,
        base_url=base_url,
        connection_verify=str(ca),
        polling_interval=0.01,
    )


def test_serve_prints_url_writes_ca_and_log_and_stops_on_sigterm(tmp_path):
    fleet = tmp_path / "fleet.json"
    fleet.write_text(json.dumps(fleet_of(windows_vm("web-01", sim={"assessMinutes": 1}))))
    ca = tmp_path / "ca.pem"
    log = tmp_path / "ops.jsonl"

    def use(base_url: str) -> None:
        assert base_url.startswith("https://127.0.0.1:")
        assert ca.read_text().startswith("-----BEGIN CERTIFICATE-----")
        client = _client(base_url, ca)
        assert client.virtual_machines.get("rg-app", "web-01").name == "web-01"
        result = client.virtual_machines.begin_assess_patches("rg-app", "web-01").result()
        assert result.status == "Succeeded"

    # 1200x: a one-minute assessment takes 50 ms.
    returncode, stderr = serve_in_process(
        ["--fleet", str(fleet), "--ca-cert", str(ca), "--log", str(log), "--clock-speed", "1200"],
        use,
    )
    assert returncode == 0, stderr
    assert "Traceback" not in stderr
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    # Status polls are logged too; the operations themselves once each.
    ops = [line["op"] for line in lines if line["op"] != "operations.get"]
    assert ops == ["virtualMachines.get", "assessPatches"]
    polls = [line for line in lines if line["op"] == "operations.get"]
    assert polls and polls[-1]["status"] == "Succeeded"


def test_serve_takes_a_linux_patch_known_only_by_name(tmp_path):
    # The fleet schema allows a patch with a name and no kbId (Linux packages).
    patch = {"name": "openssl", "classifications": ["Security"], "rebootBehavior": "NeverReboots"}
    fleet = tmp_path / "fleet.json"
    fleet.write_text(json.dumps(fleet_of(linux_vm("db-01", sim={"availablePatches": [patch]}))))
    ca = tmp_path / "ca.pem"

    def use(base_url: str) -> None:
        assert base_url.startswith("https://127.0.0.1:")
        result = _client(base_url, ca).virtual_machines.begin_assess_patches("rg-app", "db-01")
        assert [(p.name, p.kb_id) for p in result.result().available_patches] == [("openssl", None)]

    returncode, stderr = serve_in_process(
        ["--fleet", str(fleet), "--ca-cert", str(ca), "--clock-speed", "1200"], use
    )
    assert returncode == 0, stderr
    assert "Traceback" not in stderr


def test_python_dash_m_fleetsim_serves_until_sigterm(tmp_path):
    fleet = tmp_path / "fleet.json"
    fleet.write_text(json.dumps(fleet_of(windows_vm("web-01"))))
    ca = tmp_path / "ca.pem"
    process = subprocess.Popen(
        [sys.executable, "-m", "fleetsim", "serve", "--fleet", str(fleet), "--ca-cert", str(ca)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("https://127.0.0.1:")
        assert _client(base_url, ca).virtual_machines.get("rg-app", "web-01").name == "web-01"
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr
    assert stderr.startswith("fleetsim: serving 1 VMs; CA certificate ")
    assert "Traceback" not in stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read fleet file"),
        ("{not json", "is not valid JSON"),
        (
            '{"version": 1, "vms": [{"id": "web-01", "location": "eastus", "osType": "Linux",'
            ' "patchMode": "ImageDefault"}]}',
            "vms[0].id",
        ),
        ('{"version": 2, "vms": []}', "version"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, content, message):
    fleet = tmp_path / "fleet.json"
    if content is not None:
        fleet.write_text(content)
    returncode = main(["serve", "--fleet", str(fleet)])
    stdout, stderr = capsys.readouterr()
    assert returncode == 2
    assert stdout == ""
    assert len(stderr.strip().splitlines()) == 1
    assert stderr.startswith("fleetsim: ")
    assert message in stderr
    assert "Traceback" not in stderr

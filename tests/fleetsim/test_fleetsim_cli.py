"""`python -m fleetsim serve` as a process of its own."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from azure.mgmt.compute import ComputeManagementClient
from fleetsim_helpers import SUB_A, fleet_of, linux_vm, windows_vm

from fleetsim import SimulatorCredential

REPO = Path(__file__).resolve().parents[2]


def _serve(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "fleetsim", "serve", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_serve_prints_url_writes_ca_and_log_and_stops_on_sigterm(tmp_path):
    fleet = tmp_path / "fleet.json"
    fleet.write_text(json.dumps(fleet_of(windows_vm("web-01", sim={"assessMinutes": 1}))))
    ca = tmp_path / "ca.pem"
    log = tmp_path / "ops.jsonl"
    # 1200x: a one-minute assessment takes 50 ms.
    process = _serve(
        "--fleet", str(fleet), "--ca-cert", str(ca), "--log", str(log), "--clock-speed", "1200"
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("https://127.0.0.1:")
        assert ca.read_text().startswith("-----BEGIN CERTIFICATE-----")

        client = ComputeManagementClient(
            SimulatorCredential(),
            SUB_A,
            base_url=base_url,
            connection_verify=str(ca),
            polling_interval=0.01,
        )
        assert client.virtual_machines.get("rg-app", "web-01").name == "web-01"
        result = client.virtual_machines.begin_assess_patches("rg-app", "web-01").result()
        assert result.status == "Succeeded"
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr
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
    process = _serve("--fleet", str(fleet), "--ca-cert", str(ca), "--clock-speed", "1200")
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("https://127.0.0.1:"), process.stderr and process.stderr.read()
        client = ComputeManagementClient(
            SimulatorCredential(),
            SUB_A,
            base_url=base_url,
            connection_verify=str(ca),
            polling_interval=0.01,
        )
        result = client.virtual_machines.begin_assess_patches("rg-app", "db-01").result()
        assert [(p.name, p.kb_id) for p in result.available_patches] == [("openssl", None)]
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr
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
def test_bad_input_exits_2_with_one_line(tmp_path, content, message):
    fleet = tmp_path / "fleet.json"
    if content is not None:
        fleet.write_text(content)
    process = _serve("--fleet", str(fleet))
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 2
    assert stdout == ""
    assert len(stderr.strip().splitlines()) == 1
    assert message in stderr
    assert "Traceback" not in stderr

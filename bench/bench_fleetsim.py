"""Fleet simulator throughput: requests per second it serves on loopback.

    .venv/bin/python -m bench.bench_fleetsim [--requests 1000] [--seconds 10] [--vms 200]

Measured with the real `azure-mgmt-compute` client (what the app sees, client cost
included) three ways: through the in-process transport (`open_simulator`: no
socket, no TLS), over HTTPS to a server in the same process (`start_simulator`),
and over HTTPS to a separate `python -m fleetsim serve` process; and with a plain
keep-alive HTTPS client against both servers (the server's own capacity),
sequentially and from a few threads. The same SDK calls run in process and over
HTTPS, and the run ends with their ratio. Each scenario stops at `--requests`
requests or `--seconds` seconds, whichever comes first. The clock runs 10,000x
so that the simulated token buckets never throttle the benchmark.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azure.mgmt.compute import ComputeManagementClient

from fleetsim import ScaledClock, SimulatorCredential, open_simulator, start_simulator

SUBSCRIPTION = "00000001-0000-4000-8000-000000000001"
API = "api-version=2026-04-01"
SDK_CALLS = (
    "SDK virtual_machines.get",
    "SDK instance_view",
    "SDK list_all(statusOnly) page",
    "SDK begin_assess_patches 202",
)
IN_PROCESS = "in-process transport"
SAME_PROCESS = "HTTPS, same process"
OWN_PROCESS = "HTTPS, own process"


@dataclass(frozen=True)
class Measurement:
    scenario: str
    requests: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    @property
    def mean_ms(self) -> float:
        return 1000 * self.seconds / self.requests


def fleet(vms: int) -> dict[str, Any]:
    return {
        "version": 1,
        "vms": [
            {
                "id": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-{i // 50:02d}"
                f"/providers/Microsoft.Compute/virtualMachines/vm-{i:04d}",
                "location": ("eastus", "westus")[i % 2],
                "osType": ("Windows", "Linux")[i % 3 == 0],
                "patchMode": "AutomaticByPlatform",
                "zone": str(1 + i % 3),
            }
            for i in range(vms)
        ],
    }


def vm_path(index: int) -> str:
    return (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-{index // 50:02d}"
        f"/providers/Microsoft.Compute/virtualMachines/vm-{index:04d}"
    )


def timed(scenario: str, limit: int, seconds: float, step: Callable[[int], int]) -> Measurement:
    """Calls step(i) (which returns how many requests it made) until a limit is hit."""
    done = 0
    started = time.perf_counter()
    deadline = started + seconds
    while done < limit and time.perf_counter() < deadline:
        done += step(done)
    return Measurement(scenario, done, time.perf_counter() - started)


def threaded(
    scenario: str,
    threads: int,
    limit: int,
    seconds: float,
    make_step: Callable[[], Callable[[int], int]],
) -> Measurement:
    counts = [0] * threads
    barrier = threading.Barrier(threads + 1)

    def worker(slot: int) -> None:
        step = make_step()
        barrier.wait()
        deadline = time.perf_counter() + seconds
        while counts[slot] < limit // threads and time.perf_counter() < deadline:
            counts[slot] += step(counts[slot])

    workers = [threading.Thread(target=worker, args=(slot,)) for slot in range(threads)]
    for thread in workers:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in workers:
        thread.join()
    return Measurement(scenario, sum(counts), time.perf_counter() - started)


def sdk_client(base_url: str, connection: dict[str, Any]) -> ComputeManagementClient:
    """`connection`: `transport=` (in process) or `connection_verify=` (HTTPS)."""
    return ComputeManagementClient(
        SimulatorCredential(), SUBSCRIPTION, base_url=base_url, polling_interval=0, **connection
    )


def raw_step_factory(
    port: int, ca_path: Path, vms: int, suffix: str
) -> Callable[[], Callable[[int], int]]:
    def make() -> Callable[[int], int]:
        context = ssl.create_default_context(cafile=str(ca_path))
        connection = http.client.HTTPSConnection("127.0.0.1", port, context=context)
        headers = {"Authorization": "Bearer bench"}

        def step(i: int) -> int:
            connection.request("GET", f"{vm_path(i % vms)}{suffix}?{API}", headers=headers)
            answer = connection.getresponse()
            answer.read()
            if answer.status != 200:
                raise RuntimeError(f"unexpected {answer.status}")
            return 1

        return step

    return make


def sdk_scenarios(
    label: str,
    base_url: str,
    connection: dict[str, Any],
    requests: int,
    seconds: float,
    vms: int,
) -> list[Measurement]:
    client = sdk_client(base_url, connection)
    client.virtual_machines.get("rg-00", "vm-0000")  # connection and token set up

    def names(i: int) -> tuple[str, str]:
        return f"rg-{(i % vms) // 50:02d}", f"vm-{i % vms:04d}"

    def get(i: int) -> int:
        client.virtual_machines.get(*names(i))
        return 1

    def instance_view(i: int) -> int:
        client.virtual_machines.instance_view(*names(i))
        return 1

    def list_status(_: int) -> int:
        return len(list(client.virtual_machines.list_all(status_only="true").by_page()))

    def assess(i: int) -> int:
        # polling=False: only the initial POST, no background polling thread.
        client.virtual_machines.begin_assess_patches(*names(i), polling=False)
        return 1

    return [
        timed(f"{label}: {SDK_CALLS[0]}", requests, seconds, get),
        timed(f"{label}: {SDK_CALLS[1]}", requests, seconds, instance_view),
        timed(f"{label}: {SDK_CALLS[2]}", requests // 10, seconds, list_status),
        timed(f"{label}: {SDK_CALLS[3]}", requests, seconds, assess),
    ]


def raw_scenarios(
    label: str, port: int, ca_path: Path, requests: int, seconds: float, vms: int
) -> list[Measurement]:
    return [
        timed(
            f"{label}: raw keep-alive GET VM",
            requests * 3,
            seconds,
            raw_step_factory(port, ca_path, vms, "")(),
        ),
        threaded(
            f"{label}: raw keep-alive GET VM, 4 conns",
            4,
            requests * 3,
            seconds,
            raw_step_factory(port, ca_path, vms, ""),
        ),
        threaded(
            f"{label}: raw keep-alive instanceView, 4 conns",
            4,
            requests * 3,
            seconds,
            raw_step_factory(port, ca_path, vms, "/instanceView"),
        ),
    ]


def run(requests: int, seconds: float, vms: int) -> list[Measurement]:
    results: list[Measurement] = []
    with open_simulator(fleet(vms), clock=ScaledClock(10_000)) as in_process:
        transport = {"transport": in_process.transport}
        results += sdk_scenarios(IN_PROCESS, in_process.base_url, transport, requests, seconds, vms)
    with start_simulator(fleet(vms), clock=ScaledClock(10_000)) as sim:
        verify = {"connection_verify": str(sim.ca_path)}
        results += sdk_scenarios(SAME_PROCESS, sim.base_url, verify, requests, seconds, vms)
        results += raw_scenarios(SAME_PROCESS, sim.port, sim.ca_path, requests, seconds, vms)
    with tempfile.TemporaryDirectory(prefix="bench-fleetsim-") as scratch:
        fleet_file = Path(scratch) / "fleet.json"
        fleet_file.write_text(json.dumps(fleet(vms)))
        ca_path = Path(scratch) / "ca.pem"
        server = subprocess.Popen(
            [
                *(sys.executable, "-m", "fleetsim", "serve", "--fleet", str(fleet_file)),
                *("--ca-cert", str(ca_path), "--clock-speed", "10000"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert server.stdout is not None
            base_url = server.stdout.readline().strip()
            port = int(base_url.rsplit(":", 1)[1])
            results += raw_scenarios(OWN_PROCESS, port, ca_path, requests, seconds, vms)
            verify = {"connection_verify": str(ca_path)}
            results += sdk_scenarios(OWN_PROCESS, base_url, verify, requests, seconds, vms)[:2]
        finally:
            server.terminate()
            server.wait(timeout=10)
    return results


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=1000, help="per scenario (upper bound)")
    parser.add_argument("--seconds", type=float, default=10.0, help="per scenario (upper bound)")
    parser.add_argument("--vms", type=int, default=200)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, {cpu_model()}; fleet of {args.vms} VMs")
    print(f"{'scenario':<56} {'requests':>8} {'seconds':>7} {'req/s':>7} {'ms/req':>6}")
    results = run(args.requests, args.seconds, args.vms)
    for m in results:
        row = f"{m.requests:>8} {m.seconds:>7.2f} {m.per_second:>7.0f} {m.mean_ms:>6.2f}"
        print(f"{m.scenario:<56} {row}")
    by_name = {m.scenario: m for m in results}
    print(f"\n{'same SDK call':<40} {'in process / HTTPS same process (req/s)':>40}")
    for call in SDK_CALLS:
        ratio = (
            by_name[f"{IN_PROCESS}: {call}"].per_second
            / by_name[f"{SAME_PROCESS}: {call}"].per_second
        )
        print(f"{call:<40} {ratio:>39.1f}x")


if __name__ == "__main__":
    main()

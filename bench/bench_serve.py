"""The operator's surface under `patchctl serve`: how long serve takes to start, and each
read route's latency once the fleet is discovered and assessed.

`serving` (what the command runs: Azurite, the fleet simulator over HTTPS, the app on the
local host) on a generated fleet, its clock fast enough that the first hourly timer has
discovered and assessed every VM within seconds; then every read route is called --calls
times with `requests` over one keep-alive session.

    python -m bench.bench_serve [--vms 200] [--calls 50]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import requests

from patchctl.fleetgen import generate_fleet
from patchctl.serve_command import serving


def _wait(check: Callable[[], bool], timeout: float) -> float:
    began = time.perf_counter()
    while not check():
        if time.perf_counter() - began > timeout:
            raise TimeoutError(f"not ready after {timeout:g} s")
        time.sleep(0.2)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--vms", type=int, default=200)
    parser.add_argument("--calls", type=int, default=50)
    arguments = parser.parse_args()
    document = generate_fleet(arguments.vms, seed=7)
    vm = document["vms"][0]["id"]
    subscription = document["subscriptions"][0]["id"]
    began = time.perf_counter()
    with serving(document, clock_speed=3600.0) as served, requests.Session() as session:
        started = time.perf_counter() - began
        session.headers["x-functions-key"] = served.function_key
        api = f"{served.base_url}/api"

        def assessed() -> bool:
            counts = session.get(f"{api}/compliance", timeout=30).json()
            return bool(sum(s["total"] for s in counts["subscriptions"].values()) > 0)

        settled = _wait(assessed, timeout=300)
        path = vm.split("/subscriptions/", 1)[1]
        sub, _, group, *_rest = path.split("/")
        name = path.rsplit("/", 1)[1]
        routes = {
            "GET /vms/{id}": f"{api}/vms/{sub}/{group}/{name}",
            "GET /compliance": f"{api}/compliance?subscription={subscription}",
            "GET /history": f"{api}/history?vm={vm}&days=30",
            "GET /plan": f"{api}/plan?cycle=2027-01",
            "GET /report": f"{api}/report",
        }
        print(f"machine: {platform.machine()}, python {platform.python_version()}")
        print(f"{arguments.vms} VMs: serve started in {started:.1f} s; discovered and assessed")
        print(f"{settled:.1f} s later (clock 3600x)")
        print("| route | calls | p50 ms | p95 ms | max ms | bytes |")
        print("|---|---:|---:|---:|---:|---:|")
        for name_, url in routes.items():
            times, size = [], 0
            for _ in range(arguments.calls):
                at = time.perf_counter()
                answer = session.get(url, timeout=60)
                times.append((time.perf_counter() - at) * 1000)
                answer.raise_for_status()
                size = len(answer.content)
            times.sort()
            p95 = times[max(0, round(0.95 * len(times)) - 1)]
            print(
                f"| {name_} | {len(times)} | {statistics.median(times):.1f} | {p95:.1f} "
                f"| {times[-1]:.1f} | {size:,} |",
                flush=True,
            )


if __name__ == "__main__":
    main()

"""Planner benchmark: plan generated fleets of 1k, 10k and 100k VMs.

For each size, in a fresh process: the time to load the fleet file (read, parse,
schema-check, build targets: what `patchctl plan` does before planning), the
time to plan it, peak memory after each step, and the plan's makespan against
its lower bound. Times are the median of --repeat runs; compare the ratios, the
machine is shared and noisy.

    python -m bench.bench_planner [--sizes 1000 10000 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from patchctl.fleetgen import generate_fleet


def measure(path: Path, cycle: str) -> dict[str, Any]:
    """One load and one plan of the fleet file at `path`, in this process."""
    from patchctl.files import load_fleet
    from patching.calendar import make_cycle
    from patching.planner import plan_cycle

    began = time.perf_counter()
    fleet = load_fleet(path)
    loaded = time.perf_counter()
    rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    plan = plan_cycle(fleet, make_cycle(cycle))
    planned = time.perf_counter()
    rss_planned = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "vms": len(fleet.vms),
        "loadSeconds": loaded - began,
        "planSeconds": planned - loaded,
        "peakMiBAfterLoad": rss_loaded / 1024,
        "peakMiBAfterPlan": rss_planned / 1024,
        "makespanHours": plan.makespan_hours,
        "lowerBoundHours": plan.lower_bound_hours,
        "phases": len(plan.phases),
    }


def _run_child(path: Path, cycle: str) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, "-m", "bench.bench_planner", "--child", str(path), "--cycle", cycle],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, Any] = json.loads(output)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cycle", default="2026-12")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        print(json.dumps(measure(arguments.child, arguments.cycle)))
        return

    machine = platform.processor() or platform.machine()
    print(f"machine: {machine}, python {platform.python_version()}")
    print(
        "| VMs | load s | plan s | plan/load | peak MiB load | peak MiB plan "
        "| makespan h | lower bound h | ratio | phases |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as folder:
        for size in arguments.sizes:
            path = Path(folder) / f"fleet-{size}.json"
            path.write_text(json.dumps(generate_fleet(size, seed=3)), encoding="utf-8")
            runs = [_run_child(path, arguments.cycle) for _ in range(arguments.repeat)]
            load = statistics.median(r["loadSeconds"] for r in runs)
            plan = statistics.median(r["planSeconds"] for r in runs)
            last = runs[-1]
            print(
                f"| {size:,} | {load:.2f} | {plan:.2f} | {plan / load:.2f} "
                f"| {last['peakMiBAfterLoad']:.0f} | {last['peakMiBAfterPlan']:.0f} "
                f"| {last['makespanHours']} | {last['lowerBoundHours']} "
                f"| {last['makespanHours'] / last['lowerBoundHours']:.3f} | {last['phases']} |",
                flush=True,
            )


if __name__ == "__main__":
    main()

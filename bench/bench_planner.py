"""Planner benchmark: plan generated fleets of 1k, 10k and 100k VMs.

For each size, in a fresh process: the time to load the fleet file (read, parse,
schema-check, build targets: what `patchctl plan` does before planning), the
time to plan it, peak memory after each step, and the plan's makespan against
its lower bound. Times are the median of --repeat runs; compare the ratios, the
machine is shared and noisy.

    python -m bench.bench_planner [--sizes 1000 10000 100000] [--repeat 3]
    python -m bench.bench_planner --sweep [--sizes 420 1000 3000] [--seeds 1 2 3 4 5 6]
        [--with-history]

`--sweep` plans each size for each seed once and prints the days from the release to the
last slot's end (the plan's full compliance) against the lower bound's. `--with-history`
gives each VM the `expectedInstallMinutes` the app learns from one month in the fleet
simulator (its default install durations: 15-70 minutes, a hotpatch 3-12).
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
from patching.fleet import parse_fleet
from patching.install_history import InstallKind, install_kind
from patching.models import ReleaseKind


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
    parser.add_argument("--sweep", action="store_true")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6])
    parser.add_argument("--with-history", action="store_true")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        print(json.dumps(measure(arguments.child, arguments.cycle)))
        return
    if arguments.sweep:
        _sweep(arguments.sizes, arguments.seeds, arguments.cycle, arguments.with_history)
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


def with_simulated_history(document: dict[str, Any], kind: ReleaseKind) -> dict[str, Any]:
    """The fleet with each VM's install duration in the simulator as its expected one."""
    from fleetsim.fleet import default_hotpatch_install_minutes, default_install_minutes

    fleet = parse_fleet(document)
    hotpatch = {vm.key for vm in fleet.vms if install_kind(vm, kind) is InstallKind.HOTPATCH}
    vms = [
        {
            **vm,
            "expectedInstallMinutes": (
                default_hotpatch_install_minutes(vm["id"])
                if vm["id"].lower() in hotpatch
                else default_install_minutes(vm["id"])
            ),
        }
        for vm in document["vms"]
    ]
    return {**document, "vms": vms}


def _sweep(sizes: list[int], seeds: list[int], cycle: str, history: bool) -> None:
    """Days to the plan's full compliance for each size and seed, in this process."""
    from patching.calendar import make_cycle
    from patching.planner import plan_cycle

    month = make_cycle(cycle)
    print(
        f"cycle {cycle}{' with history' if history else ''}: days from the release to the "
        "last slot's end (lower bound's)"
    )
    print(f"| VMs | {' | '.join(f'seed {seed}' for seed in seeds)} | worst |")
    print(f"|---:|{'---:|' * (len(seeds) + 1)}")
    for size in sizes:
        cells, worst = [], 0.0
        for seed in seeds:
            document = generate_fleet(size, seed=seed)
            if history:
                document = with_simulated_history(document, month.release.kind)
            plan = plan_cycle(parse_fleet(document), month)
            days = plan.makespan_hours / 24
            worst = max(worst, days)
            cells.append(f"{days:.2f} ({plan.lower_bound_hours / 24:.2f})")
        print(f"| {size:,} | {' | '.join(cells)} | {worst:.2f} |", flush=True)


if __name__ == "__main__":
    main()

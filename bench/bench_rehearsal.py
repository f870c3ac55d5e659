"""Rehearsal benchmark: the month of the example fleet and of a generated large fleet.

Each fleet runs in a fresh process through the same rehearsal as `patchctl simulate
--in-memory-store` (the real app on the local host, the real SDK clients against the
simulator in process, one virtual clock) from the release for --days days. Recorded: wall
time, peak memory, the largest orchestration history, events replayed, ARM requests (all,
then per VM: the cycle's beyond assessments, the assessments', discovery's), rows written to
the store, and the days from the release to full compliance next to the plan's makespan and
lower bound.

    python -m bench.bench_rehearsal [--fleets example large] [--vms 10000]
        [--subscriptions 20] [--region-pairs 6] [--days 35] [--months 2]

With `--months 2` each fleet rehearses a second hotpatch month (2027-02, a fresh simulator
with the same VMs and install durations) on the store the first month left, so it plans
with the first month's install history; each month is a row.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from azure_io.ports import PatchStore
from patchctl.fleetgen import generate_fleet

EXAMPLE_FLEET = Path("examples/fleet-demo.json")
CYCLE = "2026-12"
# The next hotpatch month (January is a planned baseline month by default).
SECOND_CYCLE = "2027-02"

# What each line of the simulator's log is for, by its operation (and, for a status
# request, the kind of operation it asks about).
_INSTALL_REQUESTS = {"installPatches", "virtualMachines.instanceView"}
_ASSESSMENT_REQUESTS = {"assessPatches"}


def request_kind(entry: dict[str, Any]) -> str:
    """`install` (the cycle's: power check, install, its status, health), `assessment`
    (start and status) or `discovery` (lists, locations)."""
    op = entry.get("op")
    if op == "operations.get":
        op = entry.get("operation")
    if op in _INSTALL_REQUESTS:
        return "install"
    if op in _ASSESSMENT_REQUESTS:
        return "assessment"
    return "discovery"


def measure_months(fleet_path: Path, days: int, folder: Path, months: int) -> list[dict[str, Any]]:
    """The fleet's rehearsals, month after month on one store, in this process."""
    from azure_io.memory_store import MemoryPatchStore
    from patching.calendar import make_cycle, next_patch_tuesday

    store = MemoryPatchStore()
    results = []
    for cycle in (CYCLE, SECOND_CYCLE)[:months]:
        # Never into the next month's release, whose cycle would add its own requests.
        released = make_cycle(cycle).release.released_at
        month_days = (next_patch_tuesday(released) - released).days
        results.append(measure(fleet_path, min(days, month_days), folder / cycle, cycle, store))
    return results


def measure(
    fleet_path: Path, days: int, folder: Path, cycle: str, store: PatchStore
) -> dict[str, Any]:
    """One rehearsal of the fleet's `cycle` in this process, its records kept in `store`."""
    import function_app  # noqa: F401  (imported before the clock starts, as a host would)
    from patchctl import simulate_command
    from patchctl.files import load_fleet
    from patchctl.rehearsal import rehearse
    from patching.calendar import make_cycle
    from patching.planner import plan_cycle

    folder.mkdir(parents=True, exist_ok=True)
    spec_of = simulate_command.prepare(
        argparse.Namespace(
            fleet=fleet_path, cycle=cycle, days=days, out=folder / "out", in_memory_store=True
        )
    )
    spec = spec_of(folder / "operations.jsonl")
    plan = plan_cycle(load_fleet(fleet_path), make_cycle(cycle))
    rows_before = store.rows_written
    began = time.perf_counter()
    report = rehearse(spec, store=store)
    wall = time.perf_counter() - began
    kinds: Counter[str] = Counter()
    with spec.log_path.open(encoding="utf-8") as log:
        for line in log:
            kinds[request_kind(json.loads(line))] += 1
    enrolled = report.compliance.enrolled
    vms = len(report.vms)
    return {
        "cycle": cycle,
        "vms": vms,
        "days": days,
        "wallSeconds": wall,
        "peakMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "instances": report.durable.instances,
        "maxHistoryEvents": report.durable.max_history_events,
        "replayedEvents": report.durable.replayed_events,
        "armRequests": report.arm.requests,
        "throttled": report.arm.throttled,
        "installRequestsPerEnrolledVm": kinds["install"] / enrolled if enrolled else 0.0,
        "assessmentRequestsPerVm": kinds["assessment"] / vms,
        "discoveryRequests": kinds["discovery"],
        "tableWrites": report.tables.rows_written - rows_before if report.tables else None,
        "daysToFullCompliance": report.days_to_full_compliance(),
        # The app's own plan (with what the store's history taught it), re-plans included;
        # the bound is the plan file's without history.
        "plannedDays": (max((s.end for s in report.slots), default=spec.start) - spec.start)
        / timedelta(days=1),
        "makespanDays": plan.makespan_hours / 24,
        "lowerBoundDays": plan.lower_bound_hours / 24,
        "compliant": report.compliance.compliant,
        "enrolled": enrolled,
    }


def _run_child(fleet_path: Path, days: int, months: int) -> list[dict[str, Any]]:
    output = subprocess.run(
        [
            *(sys.executable, "-m", "bench.bench_rehearsal"),
            *("--child", str(fleet_path), "--days", str(days), "--months", str(months)),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    results: list[dict[str, Any]] = json.loads(output.splitlines()[-1])
    return results


def _row(name: str, r: dict[str, Any]) -> str:
    full = r["daysToFullCompliance"]
    return (
        f"| {name} | {r['cycle']} | {r['vms']:,} | {r['days']} "
        f"| {r['wallSeconds']:.0f} | {r['peakMiB']:.0f} "
        f"| {r['maxHistoryEvents']} | {r['instances']:,} | {r['replayedEvents']:,} "
        f"| {r['armRequests']:,} | {r['throttled']} | {r['installRequestsPerEnrolledVm']:.2f} "
        f"| {r['assessmentRequestsPerVm']:.1f} | {r['discoveryRequests']:,} "
        f"| {r['tableWrites'] if r['tableWrites'] is not None else '-'} "
        f"| {'not reached' if full is None else f'{full:.1f}'} "
        f"| {r['plannedDays']:.1f} | {r['makespanDays']:.1f} | {r['lowerBoundDays']:.1f} "
        f"| {r['compliant']}/{r['enrolled']} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fleets", nargs="+", choices=["example", "large"])
    parser.add_argument("--vms", type=int, default=10_000)
    parser.add_argument("--subscriptions", type=int, default=20)
    parser.add_argument("--region-pairs", type=int, default=6)
    parser.add_argument("--days", type=int, default=35)
    parser.add_argument("--months", type=int, choices=[1, 2], default=1)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        with tempfile.TemporaryDirectory() as folder:
            results = measure_months(
                arguments.child, arguments.days, Path(folder), arguments.months
            )
            print(json.dumps(results))
        return

    machine = platform.processor() or platform.machine()
    print(f"machine: {machine}, python {platform.python_version()}, cycle {CYCLE}")
    print(
        "| fleet | cycle | VMs | days | wall s | peak MiB | largest history | instances | replayed "
        "| ARM requests | throttled | cycle req/VM | assessment req/VM | discovery req "
        "| table rows written | days to full compliance | app's plan d | plan file d "
        "| plan file bound d "
        "| compliant |"
    )
    print(
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    )
    with tempfile.TemporaryDirectory() as folder:
        for name in arguments.fleets or ["example", "large"]:
            path = EXAMPLE_FLEET
            if name == "large":
                path = Path(folder) / "fleet-large.json"
                document = generate_fleet(
                    arguments.vms,
                    seed=7,
                    region_pairs=arguments.region_pairs,
                    subscription_count=arguments.subscriptions,
                )
                path.write_text(json.dumps(document), encoding="utf-8")
            for result in _run_child(path, arguments.days, arguments.months):
                print(_row(name, result), flush=True)


if __name__ == "__main__":
    main()

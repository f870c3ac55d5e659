"""Table Storage writes, batched versus one by one, against a local Azurite.

    .venv/bin/python -m bench.bench_tables [--vms 10000] [--single-sample N]

Each VM result is one assessment: a history row in PatchAssessments plus the VM's
latest-state row in VmPatchState, so N results are 2N rows (and, both ways, one query per
subscription reading the VMs' current event times). By default both ways write all N
results; ``--single-sample`` writes only that many one by one, for a quicker run, and
extrapolates linearly to N (the output says so).
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

from azure.data.tables import TableServiceClient

from azure_io.patch_results import AssessmentResult, AvailablePatch
from azure_io.table_rows import ALL_TABLES
from azure_io.tables import PatchTables
from devhost.azurite import AzuriteTables

SUBSCRIPTIONS = 4
NOW = datetime(2026, 12, 20, 12, 0, tzinfo=UTC)


def results(count: int) -> list[AssessmentResult]:
    patch = AvailablePatch("5048654", "2026-12 Cumulative Update", ("Security",), "NeverReboots")
    return [
        AssessmentResult(
            vm_id=(
                f"/subscriptions/{index % SUBSCRIPTIONS:08d}-0000-4000-8000-000000000000"
                f"/resourceGroups/rg-{index // 500:03d}"
                f"/providers/Microsoft.Compute/virtualMachines/vm-{index:05d}"
            ),
            status="Succeeded",
            started_at=NOW - timedelta(minutes=index % 600),
            reboot_pending=False,
            critical_and_security_patch_count=1,
            other_patch_count=0,
            available_patches=(patch,),
        )
        for index in range(count)
    ]


def fresh_tables(service: TableServiceClient, *, batched: bool) -> PatchTables:
    for name in ALL_TABLES:
        service.delete_table(name)
    tables = PatchTables(service, batched=batched)
    tables.create_tables()
    return tables


def timed_write(tables: PatchTables, batch: list[AssessmentResult]) -> float:
    start = time.perf_counter()
    tables.record_assessments(batch, recorded_at=NOW)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=10_000)
    parser.add_argument(
        "--single-sample",
        type=int,
        default=None,
        help="write only this many results one by one and extrapolate (default: all)",
    )
    args = parser.parse_args()
    all_results = results(args.vms)
    sample = all_results[: args.single_sample or args.vms]

    with AzuriteTables() as azurite:
        service = TableServiceClient.from_connection_string(azurite.connection_string)
        batched_seconds = timed_write(fresh_tables(service, batched=True), all_results)
        single_sample_seconds = timed_write(fresh_tables(service, batched=False), sample)

    single_seconds = single_sample_seconds * args.vms / len(sample)
    print(f"VM results: {args.vms} ({2 * args.vms} rows: history + latest state)")
    print(
        f"batched (<=100 per transaction): {batched_seconds:.2f} s "
        f"({args.vms / batched_seconds:,.0f} results/s)"
    )
    if len(sample) == args.vms:
        print(f"one by one: {single_seconds:.2f} s ({args.vms / single_seconds:,.0f} results/s)")
    else:
        print(
            f"one by one: {single_sample_seconds:.2f} s for {len(sample)} results, "
            f"extrapolated to {args.vms}: {single_seconds:.2f} s"
        )
    print(f"one by one / batched: {single_seconds / batched_seconds:.1f}x")


if __name__ == "__main__":
    main()

"""Table Storage writes, batched versus one by one, against a local Azurite.

    .venv/bin/python -m bench.bench_tables [--vms 10000] [--single-sample N]

Each VM result is one assessment: a history row in PatchAssessments plus the VM's
latest-state row in VmPatchState, so N results are 2N rows (and, both ways, one query per
subscription reading the VMs' current event times). The batched way is the repository
(``PatchTables``); the other sends the same rows itself, one request per row. By default
both ways write all N results; ``--single-sample`` writes only that many one by one, for
a quicker run, and extrapolates linearly to N (the output says so).
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from azure.core import MatchConditions
from azure.data.tables import TableEntity, TableServiceClient, UpdateMode

from azure_io.patch_results import AssessmentResult, AvailablePatch
from azure_io.table_rows import ALL_TABLES, VM_STATE_TABLE, assessment_rows
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


def write_batched(service: TableServiceClient, batch: list[AssessmentResult]) -> None:
    PatchTables(service).record_assessments(batch, recorded_at=NOW)


def write_one_by_one(service: TableServiceClient, batch: list[AssessmentResult]) -> None:
    """The rows ``PatchTables`` writes for ``batch``, each in a request of its own: the
    history rows, then, after the same read of the VMs' current event times, each VM's
    latest state created, or updated under the ETag it was read with if it is newer."""
    rows = assessment_rows(batch, recorded_at=NOW)
    history = service.get_table_client(rows.history_table)
    for entity in rows.history:
        history.upsert_entity(entity, mode=UpdateMode.MERGE)
    state = service.get_table_client(VM_STATE_TABLE)
    row_keys: dict[str, list[str]] = defaultdict(list)
    for partition, row_key in rows.latest:
        row_keys[partition].append(row_key)
    current: dict[tuple[str, str], TableEntity] = {}
    for partition, partition_rows in row_keys.items():
        for entity in state.query_entities(
            "PartitionKey eq @partition and RowKey ge @low and RowKey le @high",
            parameters={
                "partition": partition,
                "low": min(partition_rows),
                "high": max(partition_rows),
            },
            select=["PartitionKey", "RowKey", rows.time_column],
        ):
            current[(partition, entity["RowKey"])] = entity
    for keys, entity in rows.latest.items():
        existing = current.get(keys)
        if existing is None:
            state.create_entity(entity)
            continue
        seen_at = existing.get(rows.time_column)
        if seen_at is None or seen_at < entity[rows.time_column]:
            state.update_entity(
                entity,
                mode=UpdateMode.MERGE,
                etag=existing.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )


def timed_write(
    service: TableServiceClient,
    write: Callable[[TableServiceClient, list[AssessmentResult]], None],
    batch: list[AssessmentResult],
) -> float:
    """Seconds ``write`` takes to record ``batch`` into freshly created tables."""
    for name in ALL_TABLES:
        service.delete_table(name)
    PatchTables(service).create_tables()
    start = time.perf_counter()
    write(service, batch)
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
        batched_seconds = timed_write(service, write_batched, all_results)
        single_sample_seconds = timed_write(service, write_one_by_one, sample)

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

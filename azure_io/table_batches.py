"""Grouping table writes into the transactions Table Storage accepts.

A transaction (entity group transaction) holds at most 100 operations, all on one table
and one partition, and names each row once. The limit is enforced here: Azurite answers
an oversized transaction with a malformed response instead of a clean error.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from azure_io.table_rows import Entity

MAX_TRANSACTION_OPERATIONS = 100

WriteKind = Literal["upsert", "replace", "delete", "update", "create"]
CONDITIONAL_KINDS: tuple[WriteKind, ...] = ("update", "create")


@dataclass(frozen=True, slots=True)
class TableWrite:
    """One operation of a transaction on a row.

    ``upsert`` merges columns into the row (creating it), ``replace`` upserts the row as
    given (columns not named are gone), ``delete`` removes it. The conditional kinds fail
    when another writer came first: ``update`` merges only while the row still has
    ``etag``, ``create`` inserts only while the row does not exist.
    """

    table: str
    kind: WriteKind
    entity: Entity
    etag: str | None = None

    @property
    def partition_key(self) -> str:
        return str(self.entity["PartitionKey"])

    @property
    def row_key(self) -> str:
        return str(self.entity["RowKey"])

    @property
    def conditional(self) -> bool:
        return self.kind in CONDITIONAL_KINDS


def plan_transactions(writes: Iterable[TableWrite]) -> list[list[TableWrite]]:
    """Groups writes per (table, partition) into transactions of at most 100 operations.

    Rows keep the order of their first write within their partition. Writes to the same
    row collapse into one (the service refuses a transaction that names a row twice):
    merges combine their columns, later values winning; a delete or replace wins over what
    came before it; an upsert after a delete becomes a replace (the row the delete left
    behind has no old columns), and after a replace merges into it. A conditional write
    (update, create) cannot be combined with another write of its row: ValueError.
    """
    rows: dict[tuple[str, str], dict[str, TableWrite]] = defaultdict(dict)
    for write in writes:
        partition_rows = rows[(write.table, write.partition_key)]
        earlier = partition_rows.get(write.row_key)
        if earlier is not None:
            if earlier.conditional or write.conditional:
                raise ValueError(
                    f"a conditional write to {write.table} row {write.row_key!r} "
                    "cannot share a transaction with another write of that row"
                )
            if write.kind == "upsert" and earlier.kind == "delete":
                write = TableWrite(write.table, "replace", write.entity)
            elif write.kind == "upsert":
                write = TableWrite(write.table, earlier.kind, {**earlier.entity, **write.entity})
        partition_rows[write.row_key] = write
    transactions: list[list[TableWrite]] = []
    for partition_rows in rows.values():
        ordered = list(partition_rows.values())
        for start in range(0, len(ordered), MAX_TRANSACTION_OPERATIONS):
            transactions.append(ordered[start : start + MAX_TRANSACTION_OPERATIONS])
    return transactions

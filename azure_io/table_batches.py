"""Grouping table writes into the transactions Table Storage accepts.

A transaction (entity group transaction) holds at most 100 operations and 4 MiB, all on
one table and one partition, and names each row once. The limits are enforced here:
Azurite answers an oversized transaction with a malformed response instead of a clean
error, and it does not count bytes at all.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from azure_io.table_rows import Entity

MAX_TRANSACTION_OPERATIONS = 100
MAX_TRANSACTION_BYTES = 4 * 1024 * 1024
# Room for each operation's part headers and request line around its JSON body.
_OPERATION_OVERHEAD_BYTES = 1024

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
    """Groups writes per (table, partition) into transactions of at most 100 operations
    and 4 MiB (each operation counted as its JSON body plus its headers).

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
        current: list[TableWrite] = []
        current_bytes = 0
        for write in partition_rows.values():
            size = payload_bytes(write)
            if current and (
                len(current) == MAX_TRANSACTION_OPERATIONS
                or current_bytes + size > MAX_TRANSACTION_BYTES
            ):
                transactions.append(current)
                current, current_bytes = [], 0
            current.append(write)
            current_bytes += size
        transactions.append(current)
    return transactions


def payload_bytes(write: TableWrite) -> int:
    """What the operation adds to its transaction's request, about: the SDK sends the
    entity as JSON with non-ASCII characters escaped, so characters are bytes."""
    body = json.dumps(write.entity, default=str) if write.kind != "delete" else ""
    return len(body) + _OPERATION_OVERHEAD_BYTES

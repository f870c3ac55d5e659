"""The patch stores the contract suite runs over: in memory and Table Storage (Azurite)."""

from collections.abc import Callable
from dataclasses import dataclass

from azure.data.tables import TableServiceClient

from azure_io.memory_store import MemoryPatchStore
from azure_io.ports import PatchStore
from azure_io.table_rows import ALL_TABLES
from azure_io.tables import PatchTables

Rows = Callable[[str], list[dict[str, object]]]


@dataclass(frozen=True)
class Backend:
    """A store under test, a reader of its raw rows (sorted by key) and a way to get
    another writer on the same records."""

    store: PatchStore
    rows: Rows
    another_writer: Callable[[], PatchStore]


def memory_backend() -> Backend:
    store = MemoryPatchStore()
    return Backend(store, store.rows, lambda: store)


def azurite_backend(connection_string: str) -> Backend:
    service = TableServiceClient.from_connection_string(connection_string)
    for name in ALL_TABLES:
        service.delete_table(name)

    def rows(table: str) -> list[dict[str, object]]:
        listed = [dict(row) for row in service.get_table_client(table).list_entities()]
        return sorted(listed, key=lambda row: (str(row["PartitionKey"]), str(row["RowKey"])))

    return Backend(
        PatchTables(service),
        rows,
        lambda: PatchTables(TableServiceClient.from_connection_string(connection_string)),
    )


def without_timestamps(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """Rows without the service's own write time, which a rewrite of the same facts moves."""
    return [{key: value for key, value in row.items() if key != "Timestamp"} for row in rows]

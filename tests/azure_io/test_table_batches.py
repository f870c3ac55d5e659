from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rollout_samples import started
from table_samples import vm_id

from azure_io.table_batches import (
    CONDITIONAL_KINDS,
    MAX_TRANSACTION_BYTES,
    TableWrite,
    WriteKind,
    payload_bytes,
    plan_transactions,
)
from azure_io.table_rows import MAX_STRING_PROPERTY_BYTES, OPERATIONS_TABLE, operation_entity

UNCONDITIONAL_KINDS = [kind for kind in get_args(WriteKind) if kind not in CONDITIONAL_KINDS]
Row = tuple[str, str, str]  # table, PartitionKey, RowKey


def write_of(row: Row, kind: WriteKind, columns: dict[str, int]) -> TableWrite:
    table, partition, row_key = row
    entity = {"PartitionKey": partition, "RowKey": row_key}
    if kind != "delete":
        entity |= columns
    return TableWrite(table, kind, entity, etag="W/1" if kind == "update" else None)


row_keys = st.tuples(
    st.sampled_from("TU"),
    st.sampled_from(["p0", "p1", "p2"]),
    st.integers(0, 299).map(lambda number: f"r{number:03}"),
)
columns = st.dictionaries(st.sampled_from("abc"), st.integers(0, 9), max_size=3)


def writes_of(kinds: list[WriteKind]) -> st.SearchStrategy[list[TableWrite]]:
    return st.lists(st.builds(write_of, row_keys, st.sampled_from(kinds), columns), max_size=450)


def row_of(write: TableWrite) -> Row:
    return (write.table, write.partition_key, write.row_key)


def in_order_of_first_write(writes: list[TableWrite]) -> dict[tuple[str, str], list[Row]]:
    order: dict[tuple[str, str], list[Row]] = {}
    for write in writes:
        partition_rows = order.setdefault((write.table, write.partition_key), [])
        if row_of(write) not in partition_rows:
            partition_rows.append(row_of(write))
    return order


def apply(table: dict[Row, dict[str, object]], write: TableWrite) -> None:
    """What one write does to a row, as Table Storage does it."""
    row = row_of(write)
    match write.kind:
        case "delete":
            table.pop(row, None)
        case "replace":
            table[row] = dict(write.entity)
        case "upsert":
            table[row] = {**table.get(row, {}), **write.entity}
        case _:
            raise AssertionError(f"not an unconditional write: {write.kind}")


@given(writes_of(UNCONDITIONAL_KINDS))
def test_each_row_is_in_one_transaction_of_one_table_and_partition_in_order(
    writes: list[TableWrite],
) -> None:
    transactions = plan_transactions(writes)
    assert all(1 <= len(batch) <= 100 for batch in transactions)  # the service's limit
    assert all(len({(w.table, w.partition_key) for w in batch}) == 1 for batch in transactions)
    planned = [row_of(write) for batch in transactions for write in batch]
    assert sorted(planned) == sorted(set(map(row_of, writes)))  # every row exactly once
    by_partition: dict[tuple[str, str], list[Row]] = {}
    for batch in transactions:
        by_partition.setdefault((batch[0].table, batch[0].partition_key), []).extend(
            map(row_of, batch)
        )
    assert by_partition == in_order_of_first_write(writes)


@given(writes_of(UNCONDITIONAL_KINDS))
def test_the_planned_writes_do_what_the_writes_do_one_after_another(
    writes: list[TableWrite],
) -> None:
    one_after_another: dict[Row, dict[str, object]] = {}
    for write in writes:
        apply(one_after_another, write)
    planned: dict[Row, dict[str, object]] = {}
    for batch in plan_transactions(writes):
        for write in batch:
            apply(planned, write)
    assert planned == one_after_another


@given(st.lists(row_keys, unique=True, max_size=250), st.data())
def test_conditional_writes_of_distinct_rows_pass_unchanged(
    distinct_rows: list[Row], data: st.DataObject
) -> None:
    writes = [
        write_of(row, data.draw(st.sampled_from(get_args(WriteKind))), {"a": 1})
        for row in distinct_rows
    ]
    planned = [write for batch in plan_transactions(writes) for write in batch]
    assert sorted(planned, key=row_of) == sorted(writes, key=row_of)


@given(
    row_keys,
    st.sampled_from(CONDITIONAL_KINDS),
    st.sampled_from(get_args(WriteKind)),
    st.booleans(),
    writes_of(UNCONDITIONAL_KINDS),
)
def test_a_conditional_write_never_shares_a_transaction_with_its_row(
    row: Row,
    conditional: WriteKind,
    other: WriteKind,
    conditional_first: bool,
    unrelated: list[TableWrite],
) -> None:
    pair = [write_of(row, conditional, {"a": 1}), write_of(row, other, {"b": 2})]
    if not conditional_first:
        pair.reverse()
    unrelated = [write for write in unrelated if row_of(write) != row]
    with pytest.raises(ValueError, match="conditional"):
        plan_transactions([*unrelated, *pair])


def test_transactions_never_exceed_100_or_mix_partitions() -> None:
    writes = [
        TableWrite("T", "upsert", {"PartitionKey": f"p{index % 3}", "RowKey": f"r{index}"})
        for index in range(750)
    ]
    transactions = plan_transactions(writes)
    assert all(len({write.partition_key for write in batch}) == 1 for batch in transactions)
    assert sorted(len(batch) for batch in transactions) == [50] * 3 + [100] * 6


def test_writes_to_one_row_collapse_in_a_transaction() -> None:
    writes = [
        TableWrite("T", "upsert", {"PartitionKey": "p", "RowKey": "r", "a": 1, "b": 1}),
        TableWrite("T", "upsert", {"PartitionKey": "p", "RowKey": "r", "b": 2}),
    ]
    [[merged]] = plan_transactions(writes)
    assert merged.entity == {"PartitionKey": "p", "RowKey": "r", "a": 1, "b": 2}


def test_a_delete_then_an_upsert_of_one_row_replaces_it() -> None:
    delete = TableWrite("T", "delete", {"PartitionKey": "p", "RowKey": "r"})
    upsert = TableWrite("T", "upsert", {"PartitionKey": "p", "RowKey": "r", "b": 2})
    [[write]] = plan_transactions([delete, upsert])
    assert (write.kind, write.entity) == ("replace", upsert.entity)
    more = TableWrite("T", "upsert", {"PartitionKey": "p", "RowKey": "r", "c": 3})
    [[write]] = plan_transactions([delete, upsert, more])
    assert (write.kind, write.entity) == ("replace", {**upsert.entity, "c": 3})


def test_a_conditional_write_is_never_combined_with_another_write_of_its_row() -> None:
    keys = {"PartitionKey": "p", "RowKey": "r"}
    update = TableWrite("T", "update", {**keys, "a": 1}, etag="W/1")
    with pytest.raises(ValueError, match="conditional"):
        plan_transactions([TableWrite("T", "upsert", {**keys, "b": 1}), update])
    with pytest.raises(ValueError, match="conditional"):
        plan_transactions([TableWrite("T", "create", keys), TableWrite("T", "delete", keys)])


@pytest.mark.parametrize(
    ("character", "transactions"),
    [("t", [100]), ("\N{LATIN SMALL LETTER E WITH ACUTE}", [21, 21, 21, 21, 16])],
    ids=["ascii", "escaped"],
)
def test_a_transaction_stays_within_4_mib_whatever_its_tokens(
    character: str, transactions: list[int]
) -> None:
    # The longest token a row holds (64 KiB in UTF-16); sent as JSON, an accented letter
    # is six bytes (\u00e9).
    token = character * (MAX_STRING_PROPERTY_BYTES // 2)
    writes = [
        TableWrite(
            OPERATIONS_TABLE,
            "replace",
            operation_entity(started(vm_id(f"vm-{index:03}"), token=token)),
        )
        for index in range(100)
    ]
    planned = plan_transactions(writes)
    assert [len(batch) for batch in planned] == transactions
    assert all(sum(map(payload_bytes, batch)) <= MAX_TRANSACTION_BYTES for batch in planned)

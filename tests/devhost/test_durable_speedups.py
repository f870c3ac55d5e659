"""The timestamp shortcut gives exactly what the SDK's own parser gives."""

from __future__ import annotations

from datetime import UTC, datetime

from dateutil.parser import parse
from hypothesis import given
from hypothesis import strategies as st

from devhost.durable.history import timestamp
from devhost.durable.sdk_speedups import engine_format_parser

fast_parse = engine_format_parser(parse)


@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 1, 1)))
def test_engine_timestamps_parse_to_the_same_value_and_zone(moment: datetime) -> None:
    text = timestamp(moment.replace(tzinfo=UTC))
    expected = parse(text)
    got = fast_parse(text)
    assert got == expected
    assert type(got.tzinfo) is type(expected.tzinfo)
    assert got.strftime("%Y-%m-%dT%H:%M:%S.%fZ") == expected.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_other_forms_still_go_to_the_original_parser() -> None:
    for text in ("2026-01-01T00:00:00.1234567Z", "2026-01-01 10:00", "1 Jan 2026"):
        assert fast_parse(text) == parse(text)

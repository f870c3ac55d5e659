"""Shared fixtures: one in-memory Azurite for the whole test session."""

from collections.abc import Iterator

import pytest

from devhost.azurite import AzuriteTables


@pytest.fixture(scope="session")
def azurite_connection_string() -> Iterator[str]:
    with AzuriteTables() as azurite:
        yield azurite.connection_string

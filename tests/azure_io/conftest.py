"""Fixtures of the PatchStore contract suites: each test runs on every store."""

import pytest
from store_backends import Backend, Rows, azurite_backend, memory_backend

from azure_io.ports import PatchStore


@pytest.fixture(params=["memory", "azurite"])
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "memory":
        return memory_backend()
    return azurite_backend(request.getfixturevalue("azurite_connection_string"))


@pytest.fixture
def store(backend: Backend) -> PatchStore:
    backend.store.create_tables()
    return backend.store


@pytest.fixture
def rows(backend: Backend) -> Rows:
    return backend.rows

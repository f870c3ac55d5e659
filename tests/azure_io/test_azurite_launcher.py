import http.client

import pytest
from azure.data.tables import TableServiceClient

from devhost.azurite import AzuriteTables


def test_azurite_serves_in_memory_and_stops_on_exit() -> None:
    with AzuriteTables() as azurite:
        assert f"127.0.0.1:{azurite.port}" in azurite.connection_string
        service = TableServiceClient.from_connection_string(azurite.connection_string)
        service.create_table("Probe")
        assert [table.name for table in service.list_tables()] == ["Probe"]
    connection = http.client.HTTPConnection("127.0.0.1", azurite.port, timeout=1)
    with pytest.raises(OSError):
        connection.request("GET", "/")

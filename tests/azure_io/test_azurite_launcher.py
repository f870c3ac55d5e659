import http.client
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.data.tables import TableServiceClient

import devhost.azurite
from devhost.azurite import START_ATTEMPTS, AzuriteError, AzuriteTables, answers_as_azurite


def test_azurite_serves_in_memory_and_stops_on_exit() -> None:
    with AzuriteTables() as azurite:
        assert f"127.0.0.1:{azurite.port}" in azurite.connection_string
        assert answers_as_azurite("127.0.0.1", azurite.port)
        service = TableServiceClient.from_connection_string(azurite.connection_string)
        service.create_table("Probe")
        assert [table.name for table in service.list_tables()] == ["Probe"]
    connection = http.client.HTTPConnection("127.0.0.1", azurite.port, timeout=1)
    with pytest.raises(OSError):
        connection.request("GET", "/")


@pytest.fixture
def plain_http_port() -> Iterator[int]:
    """A port some other HTTP server (not Azurite) holds: it answers any GET."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_readiness_refuses_a_server_that_is_not_azurite(plain_http_port: int) -> None:
    assert not answers_as_azurite("127.0.0.1", plain_http_port)


def test_a_given_port_another_server_holds_fails_fast_with_azurite_s_error(
    plain_http_port: int,
) -> None:
    with pytest.raises(AzuriteError, match="EADDRINUSE") as raised:
        AzuriteTables(port=plain_http_port, startup_timeout_seconds=15).start()
    assert "1 attempt" in str(raised.value)


def test_a_chosen_port_taken_before_azurite_binds_it_is_replaced(
    plain_http_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The race: the port was free when chosen, then someone else took it.
    chosen = iter([plain_http_port])
    real_free_port = devhost.azurite.free_port
    monkeypatch.setattr(
        devhost.azurite, "free_port", lambda host="127.0.0.1": next(chosen, real_free_port(host))
    )
    with AzuriteTables() as azurite:
        assert azurite.port != plain_http_port
        service = TableServiceClient.from_connection_string(azurite.connection_string)
        service.create_table("Probe")
        assert [table.name for table in service.list_tables()] == ["Probe"]


def test_ports_are_replaced_a_bounded_number_of_times(
    plain_http_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[int] = []

    def always_taken(host: str = "127.0.0.1") -> int:
        asked.append(plain_http_port)
        return plain_http_port

    monkeypatch.setattr(devhost.azurite, "free_port", always_taken)
    with pytest.raises(AzuriteError, match=f"{START_ATTEMPTS} attempt"):
        AzuriteTables().start()
    assert len(asked) == START_ATTEMPTS


def test_an_azurite_that_exits_is_reported_at_once_with_its_stderr(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    broken = tmp_path / "azurite-table"
    broken.write_text(f"#!/bin/sh\necho run >> {runs}\necho 'cannot load config' >&2\nexit 3\n")
    broken.chmod(0o755)
    with pytest.raises(AzuriteError, match="exited at start: cannot load config"):
        AzuriteTables(executable=broken, startup_timeout_seconds=30).start()
    assert runs.read_text().splitlines() == ["run"]  # not retried: the port was not the cause

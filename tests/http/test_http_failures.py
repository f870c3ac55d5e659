"""When what the API stands on fails: Table Storage unreachable is a 503, ARM failing is a
502 and ARM throttling a 503 with Retry-After, each with the error body and no
traceback, and nothing started."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from pathlib import Path

from azure.data.tables import TableServiceClient

from azure_io.memory_store import MemoryPatchStore
from azure_io.tables import PatchTables
from devhost.azurite import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME
from fleetsim.faults import FaultConfig
from tests.http.api_support import SUB, api_host, small_fleet, vm_id

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def unreachable_tables() -> PatchTables:
    """The real Table Storage adapter on an endpoint where nothing listens, without retries."""
    endpoint = f"http://127.0.0.1:{_unused_port()}/{DEV_ACCOUNT_NAME}"
    connection = (
        f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT_NAME};"
        f"AccountKey={DEV_ACCOUNT_KEY};TableEndpoint={endpoint};"
    )
    return PatchTables(TableServiceClient.from_connection_string(connection, retry_total=0))


def assert_failure(answer: object, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text  # type: ignore[attr-defined]
    error = answer.json()["error"]  # type: ignore[attr-defined]
    assert error["code"] == code
    assert "Traceback" not in answer.text  # type: ignore[attr-defined]
    assert "127.0.0.1" not in error["message"]


def test_unreachable_table_storage_is_a_503_on_every_route_that_reads_it(tmp_path: Path) -> None:
    with api_host(small_fleet(), START, tmp_path, store=unreachable_tables()) as api:
        answers = [
            api.call("GET", f"/vms/{SUB}/rg-app/lin-01"),
            api.call("GET", "/compliance"),
            api.call("GET", "/history", params={"vm": vm_id("lin-01")}),
            api.call("GET", "/plan", params={"cycle": "2026-03"}),
            api.call("POST", "/installations", json_body={"vms": [vm_id("lin-01")]}),
            api.call("POST", "/cycles/2026-03/resume", json_body={"reason": "x"}),
        ]
        instances = api.instances()

    for answer in answers:
        assert_failure(answer, 503, "StorageUnavailable")
    assert instances == {}


def test_arm_failing_is_a_502_and_arm_throttling_a_503(tmp_path: Path) -> None:
    fleet = small_fleet()
    failing = FaultConfig(error_rate=1.0, error_statuses=(500,))
    throttled = FaultConfig(error_rate=1.0, error_statuses=(429,))
    with api_host(fleet, START, tmp_path / "500", faults=failing, store=MemoryPatchStore()) as api:
        failed = api.call("GET", "/plan", params={"cycle": "2026-03"})
    with api_host(fleet, START, tmp_path / "429", faults=throttled) as api:
        slowed = api.call("GET", "/plan", params={"cycle": "2026-03"})

    assert_failure(failed, 502, "ArmFailed")
    assert_failure(slowed, 503, "ArmThrottled")
    assert int(slowed.headers["retry-after"]) >= 1

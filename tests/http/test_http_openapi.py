"""docs/openapi.yaml is true of the running app: schemathesis generates requests from it
(valid and invalid ones) for every route and runs its checks on each answer: never a
server error, only documented statuses, content types, headers and bodies, and no
invalid input accepted."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from azure_io.patch_results import AssessmentResult
from tests.http.api_support import KEY, Api, api_host, small_fleet, vm_id

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# Valid and invalid requests, a few of each per route (the coverage phase's boundary cases
# include a 10,000-VM install: too slow for this file); the key goes in the header.
CONFIG = schemathesis.Config.from_dict(
    {
        "phases": {"coverage": {"enabled": False}},
        "generation": {"mode": "all", "with-security-parameters": False},
    }
)
schema = schemathesis.openapi.from_path(ROOT / "docs" / "openapi.yaml", config=CONFIG)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with api_host(small_fleet(), START, tmp_path_factory.mktemp("openapi")) as running:
        running.discover_all()
        at = START - timedelta(days=1)
        running.store.record_assessments(
            [AssessmentResult(vm_id("lin-01"), "Succeeded", at, False, 1, 0)], recorded_at=at
        )
        yield running


def test_the_description_is_a_valid_openapi_3_1_document() -> None:
    assert schema.raw_schema["openapi"] == "3.1.0"
    routes = {
        (path, method) for path, item in schema.raw_schema["paths"].items() for method in item
    }
    assert routes == {
        ("/assessments", "post"),
        ("/installations", "post"),
        ("/vms/{subscriptionId}/{resourceGroup}/{vmName}", "get"),
        ("/compliance", "get"),
        ("/history", "get"),
        ("/plan", "get"),
        ("/cycles/{cycle}/resume", "post"),
        ("/report", "get"),
    }


@schema.parametrize()
@settings(
    max_examples=int(__import__("os").environ.get("HTTP_EXAMPLES", "12")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_route_keeps_to_the_description(case: schemathesis.Case, api: Api) -> None:
    key = {"x-functions-key": KEY}
    if case.method.upper() != case.operation.method.upper():
        # A method the route does not have never reaches the app: the host answers it (404
        # as the Functions host does; its HTTP server has no TRACE at all, 501).
        answer = case.call(base_url=api.base_url, session=api.session, headers=key)
        assert answer.status_code in (404, 405, 501)
        return
    vms = case.body.get("vms") if isinstance(case.body, dict) else None
    if isinstance(vms, list) and _listed_twice(vms):
        # Ids compare case-insensitively, which the schema's uniqueItems cannot say.
        answer = case.call(base_url=api.base_url, session=api.session, headers=key)
        assert answer.status_code == 400
        assert answer.json()["error"]["field"].startswith("vms")
        return
    case.call_and_validate(
        base_url=api.base_url,
        session=api.session,
        headers=key,
        excluded_checks=[schemathesis.checks.unsupported_method],
    )


def _listed_twice(vms: list[object]) -> bool:
    keys = [vm.lower() for vm in vms if isinstance(vm, str)]
    return len(keys) != len(set(keys))

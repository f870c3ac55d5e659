"""docs/openapi.yaml is true of `patchctl serve` (`serving`: the app on the local host, the
fleet simulator over HTTPS, Azurite's tables), called over HTTP: schemathesis generates requests from it
(valid and invalid ones) for every route and runs its checks on each answer: never a
server error, only documented statuses, content types, headers and bodies, and no
invalid input accepted."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from azure_io.patch_results import AssessmentResult
from tests.http.serve_support import ServedApi, fleet_vms, serve_fleet, served_api

ROOT = Path(__file__).resolve().parents[2]
FLEET = serve_fleet()
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
def api() -> Iterator[ServedApi]:
    with served_api(FLEET) as running:
        running.discover_all()
        at = running.now() - timedelta(days=1)
        running.store.record_assessments(
            [AssessmentResult(fleet_vms(FLEET)[0].id, "Succeeded", at, False, 1, 0)],
            recorded_at=at,
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
        ("/hotpatch", "post"),
        ("/vms/{subscriptionId}/{resourceGroup}/{vmName}", "get"),
        ("/compliance", "get"),
        ("/history", "get"),
        ("/plan", "get"),
        ("/cycles/{cycle}/resume", "post"),
        ("/report", "get"),
    }


@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("HTTP_EXAMPLES", "12")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_route_keeps_to_the_description(case: schemathesis.Case, api: ServedApi) -> None:
    key = {"x-functions-key": api.key}
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
        field = answer.json()["error"]["field"]
        if not field.startswith("vms"):
            # A negative case can be wrong in another field too, which is then the one named:
            # it must be wrong on its own, with the ids listed once.
            once = api.session.request(
                case.method,
                api.base_url + case.operation.path,
                headers=key,
                json={**case.body, "vms": _once_each(vms)},
            )
            assert once.status_code == 400
            assert once.json()["error"]["field"] == field
        return
    case.call_and_validate(
        base_url=api.base_url,
        session=api.session,
        headers=key,
        excluded_checks=[schemathesis.checks.unsupported_method],
    )


def _once_each(vms: Sequence[object]) -> list[object]:
    seen: set[object] = set()
    kept: list[object] = []
    for vm in vms:
        key = vm.lower() if isinstance(vm, str) else repr(vm)
        if key not in seen:
            seen.add(key)
            kept.append(vm)
    return kept


def _listed_twice(vms: Sequence[object]) -> bool:
    keys = [vm.lower() for vm in vms if isinstance(vm, str)]
    return len(keys) != len(set(keys))

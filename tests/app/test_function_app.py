"""The function app module imports cleanly and assembles a Durable Functions app."""

from __future__ import annotations

import json
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

ROOT = Path(__file__).resolve().parents[2]


def test_the_app_is_a_durable_functions_app_with_function_keys() -> None:
    import function_app

    assert isinstance(function_app.app, df.DFApp)
    assert function_app.app.auth_level is func.AuthLevel.FUNCTION


def test_host_json_loads_the_durable_extension_bundle() -> None:
    host = json.loads((ROOT / "host.json").read_text(encoding="utf-8"))
    assert host["version"] == "2.0"
    assert host["extensionBundle"]["id"] == "Microsoft.Azure.Functions.ExtensionBundle"
    assert host["extensions"]["http"]["routePrefix"] == "api"
    assert "durableTask" in host["extensions"]


def test_every_blueprint_is_registered_once_and_the_contract_names_are_there() -> None:
    import function_app
    from devhost.app_loader import loaded

    functions = loaded(function_app.app).functions
    names = [spec.name for spec in functions]
    assert len(names) == len(set(names))
    by_type = {spec.name: spec.trigger_type for spec in functions}
    # docs/CONTRACTS.md section 6 names the Event Grid trigger; the orchestrations' names
    # are what the triggers and the HTTP API start.
    assert by_type["release_published"] == "eventGridTrigger"
    assert by_type["assessment_timer"] == "timerTrigger"
    assert by_type["cleanup_timer"] == "timerTrigger"
    for orchestrator in (
        "cycle_orchestrator",
        "assessment_scheduler",
        "assessment_round",
        "ondemand_install",
        "ondemand_hotpatch",
    ):
        assert by_type[orchestrator] == "orchestrationTrigger"
    assert by_type["set_hotpatching"] == "activityTrigger"
    assert by_type["change_hotpatch"] == "httpTrigger"
    assert sum(kind == "activityTrigger" for kind in by_type.values()) >= 10

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

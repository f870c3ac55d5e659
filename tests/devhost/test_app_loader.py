"""Loading a Functions app as the worker indexes it."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func
import pytest

from devhost.app_loader import AppLoadError, load_app, loaded

APP_SOURCE = """
import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
other = df.DFApp()

@app.route(route="orchestrators/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(req, client):
    return func.HttpResponse("ok")

@app.timer_trigger(schedule="0 */5 * * * *", arg_name="timer")
def tick(timer):
    pass

@app.orchestration_trigger(context_name="context")
def hello(context):
    return (yield context.call_activity("say", "x"))

@app.activity_trigger(input_name="text")
def say(text):
    return text

not_an_app = 42
"""


@pytest.fixture
def app_dir(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "loader_sample_app.py").write_text(APP_SOURCE)
    (tmp_path / "host.json").write_text(json.dumps({"version": "2.0", "extensions": {}}))
    yield tmp_path
    for name in [m for m in sys.modules if m == "loader_sample_app"]:
        del sys.modules[name]


def test_an_app_is_described_by_its_triggers_and_bindings(app_dir: Path) -> None:
    app = load_app("loader_sample_app", base_dir=app_dir)
    assert app.host_json == {"version": "2.0", "extensions": {}}
    assert [spec.name for spec in app.functions] == ["start", "tick", "hello", "say"]
    (http,) = app.of_type("httpTrigger")
    assert http.trigger["route"] == "orchestrators/{name}"
    assert http.trigger["methods"] == ["POST"]
    assert http.trigger["authLevel"] == "FUNCTION"
    assert {binding["type"] for binding in http.bindings} == {
        "httpTrigger",
        "durableClient",
        "http",
    }
    (timer,) = app.of_type("timerTrigger")
    assert timer.trigger["schedule"] == "0 */5 * * * *"
    assert app.activity("say").user_function("hi") == "hi"
    assert app.orchestrator("HELLO").name == "hello"
    assert callable(app.orchestrator("hello").user_function)


def test_lookups_name_what_is_missing(app_dir: Path) -> None:
    app = load_app("loader_sample_app:app", base_dir=app_dir)
    with pytest.raises(
        KeyError, match="'say' doesn't exist, is disabled, or is not an orchestrator"
    ):
        app.orchestrator("say")
    with pytest.raises(KeyError, match="'nope'"):
        app.activity("nope")


def test_an_app_object_can_be_described_more_than_once() -> None:
    app = df.DFApp()

    @app.activity_trigger(input_name="x")
    def echo(x: str) -> str:
        return x

    first = loaded(app)
    second = loaded(app, host_json={"version": "2.0"})
    assert first.functions == second.functions
    assert (dict(first.host_json), dict(second.host_json)) == ({}, {"version": "2.0"})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "loader_sample_app:not_an_app",
            "must be an azure.functions.FunctionApp or DFApp, got int",
        ),
        ("loader_sample_app:missing", "has no attribute 'missing'"),
        ("no_such_module_here", "cannot import 'no_such_module_here'"),
        ("bad spec!", "must be MODULE[:ATTR]"),
        ("loader_sample_app:9x", "must be a Python name"),
    ],
)
def test_bad_apps_are_refused_in_one_line(app_dir: Path, spec: str, message: str) -> None:
    with pytest.raises(AppLoadError) as refused:
        load_app(spec, base_dir=app_dir)
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)


def test_entities_are_refused() -> None:
    from tests.devhost.apps import durable_entity

    with pytest.raises(
        AppLoadError, match="'tally' is a durable entity: entities are not supported"
    ):
        loaded(durable_entity.app)


def test_a_broken_host_json_is_refused(app_dir: Path) -> None:
    (app_dir / "host.json").write_text("{not json")
    with pytest.raises(AppLoadError, match=r"host\.json: not valid JSON"):
        load_app("loader_sample_app", base_dir=app_dir)


def test_a_plain_function_app_loads_too() -> None:
    app = func.FunctionApp()

    @app.route(route="ping")
    def ping(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("pong")

    (spec,) = loaded(app).of_type("httpTrigger")
    assert spec.trigger["route"] == "ping"

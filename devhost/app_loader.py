"""Loading a Python v2 Functions app the way the Python worker indexes it.

`load_app("MODULE[:ATTR]")` imports the module, takes its `FunctionApp` (or
`DFApp`) and describes every function by its trigger and bindings as the
worker would report them to the host. `azure.functions` lets an app object
list its functions only once, so the description is cached per app object.
"""

from __future__ import annotations

import importlib
import json
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from azure.functions.decorators.function_app import FunctionRegister

ORCHESTRATION_TRIGGER = "orchestrationTrigger"
ACTIVITY_TRIGGER = "activityTrigger"
ENTITY_TRIGGER = "entityTrigger"


class AppLoadError(Exception):
    """The app cannot be served; the message is one line saying why."""


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    trigger_type: str
    trigger: Mapping[str, Any]
    bindings: tuple[Mapping[str, Any], ...]
    user_function: Callable[..., Any]

    @property
    def trigger_parameter(self) -> str:
        """The parameter of the user function the trigger's value is passed as."""
        return str(self.trigger["name"])


@dataclass(frozen=True)
class LoadedApp:
    functions: tuple[FunctionSpec, ...]
    host_json: Mapping[str, Any]

    def of_type(self, trigger_type: str) -> tuple[FunctionSpec, ...]:
        return tuple(spec for spec in self.functions if spec.trigger_type == trigger_type)

    def function(self, name: str) -> FunctionSpec:
        for spec in self.functions:
            if spec.name == name:
                return spec
        raise UnknownFunctionError(f"the app has no function named {name!r}")

    def orchestrator(self, name: str) -> FunctionSpec:
        return self._of_kind(name, ORCHESTRATION_TRIGGER, "orchestrator")

    def activity(self, name: str) -> FunctionSpec:
        return self._of_kind(name, ACTIVITY_TRIGGER, "activity")

    def _of_kind(self, name: str, trigger_type: str, kind: str) -> FunctionSpec:
        # The Functions host resolves function names case-insensitively.
        for spec in self.of_type(trigger_type):
            if spec.name.casefold() == name.casefold():
                return spec
        raise UnknownFunctionError(
            f"The function '{name}' doesn't exist, is disabled, or is not an {kind} function."
        )


class UnknownFunctionError(KeyError):
    """No function of the asked name and kind; `str()` is the message itself."""

    def __str__(self) -> str:
        return str(self.args[0])


_cache_lock = threading.Lock()
# id(app) -> (app, functions); the app is held so its id cannot be reused.
_functions_by_app: dict[int, tuple[object, tuple[FunctionSpec, ...]]] = {}


def load_app(spec: str, *, base_dir: Path | None = None) -> LoadedApp:
    """Import `MODULE[:ATTR]` (ATTR default `app`) with `base_dir` (default: cwd) on sys.path."""
    module_name, _, attr = spec.partition(":")
    attr = attr or "app"
    if not module_name or not all(part.isidentifier() for part in module_name.split(".")):
        raise AppLoadError(f"--app must be MODULE[:ATTR], got {spec!r}")
    if not attr.isidentifier():
        raise AppLoadError(f"--app attribute must be a Python name, got {attr!r}")
    search_dir = str((base_dir or Path.cwd()).resolve())
    if search_dir not in sys.path:
        sys.path.insert(0, search_dir)
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # any import-time failure of the user's module
        raise AppLoadError(
            f"cannot import {module_name!r}: {type(error).__name__}: {error}"
        ) from error
    try:
        app = getattr(module, attr)
    except AttributeError as error:
        raise AppLoadError(f"module {module_name!r} has no attribute {attr!r}") from error
    module_file = getattr(module, "__file__", None)
    host_json: Mapping[str, Any] = {}
    if module_file is not None:
        host_json = read_host_json(Path(module_file).parent / "host.json")
    return loaded(app, host_json=host_json)


def loaded(app: object, *, host_json: Mapping[str, Any] | None = None) -> LoadedApp:
    """Describe an app object (`func.FunctionApp` or `df.DFApp`)."""
    if not isinstance(app, FunctionRegister):
        raise AppLoadError(
            f"the app must be an azure.functions.FunctionApp or DFApp, got {type(app).__name__}"
        )
    with _cache_lock:
        cached = _functions_by_app.get(id(app))
        if cached is None:
            cached = (app, _describe(app))
            _functions_by_app[id(app)] = cached
    return LoadedApp(functions=cached[1], host_json=MappingProxyType(dict(host_json or {})))


def _describe(app: FunctionRegister) -> tuple[FunctionSpec, ...]:
    try:
        functions = app.get_functions()
    except ValueError as error:
        raise AppLoadError(f"the app's functions cannot be indexed: {error}") from error
    specs: list[FunctionSpec] = []
    for function in functions:
        bindings = tuple(MappingProxyType(json.loads(raw)) for raw in function.get_raw_bindings())
        trigger = function.get_trigger()
        name = function.get_function_name() or function.get_user_function().__name__
        if trigger is None:
            raise AppLoadError(f"function {name!r} has no trigger")
        trigger_type = trigger.get_binding_name()
        if trigger_type == ENTITY_TRIGGER:
            raise AppLoadError(f"function {name!r} is a durable entity: entities are not supported")
        trigger_binding = next(b for b in bindings if b["type"] == trigger_type)
        specs.append(
            FunctionSpec(
                name=name,
                trigger_type=trigger_type,
                trigger=trigger_binding,
                bindings=bindings,
                user_function=function.get_user_function(),
            )
        )
    return tuple(specs)


def read_host_json(path: Path) -> Mapping[str, Any]:
    """The app's host.json beside its module ({} without one); AppLoadError if unreadable."""
    if not path.is_file():
        return {}
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise AppLoadError(f"{path}: not valid JSON ({error})") from error
    if not isinstance(content, dict):
        raise AppLoadError(f"{path}: expected a JSON object, got {type(content).__name__}")
    return content

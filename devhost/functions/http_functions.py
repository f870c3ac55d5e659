"""HTTP triggers: routing under the route prefix, function keys, and the worker's conversions.

The function receives the real `azure.functions.HttpRequest`; what it returns
goes through `azure.functions`' own HTTP output converter, so a function's
`Content-Type` header wins over its `mimetype` exactly as in Azure.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import azure.functions as func
from azure.functions.http import HttpResponseConverter

from devhost.app_loader import AppLoadError, FunctionSpec
from devhost.functions.bindings import HTTP_TRIGGER, Invoke
from devhost.functions.routes import RouteTemplate
from devhost.functions.wire import HostRequest, HostResponse

log = logging.getLogger("devhost.http")

DEFAULT_ROUTE_PREFIX = "api"
_ANONYMOUS = "anonymous"


def route_prefix(host_json: Mapping[str, Any]) -> str:
    prefix = (
        host_json.get("extensions", {}).get("http", {}).get("routePrefix", DEFAULT_ROUTE_PREFIX)
    )
    if not isinstance(prefix, str):
        raise AppLoadError(
            f"host.json extensions.http.routePrefix must be a string, got {prefix!r}"
        )
    return prefix.strip("/")


@dataclass(frozen=True)
class HttpRoute:
    spec: FunctionSpec
    template: RouteTemplate
    methods: frozenset[str] | None  # None: every method
    anonymous: bool

    @classmethod
    def of(cls, spec: FunctionSpec) -> HttpRoute:
        route = spec.trigger.get("route") or spec.name
        try:
            template = RouteTemplate.parse(str(route))
        except ValueError as error:
            raise AppLoadError(f"function {spec.name!r}: {error}") from error
        methods = spec.trigger.get("methods")
        level = str(spec.trigger.get("authLevel") or "function").casefold()
        return cls(
            spec=spec,
            template=template,
            methods=frozenset(str(method).upper() for method in methods) if methods else None,
            anonymous=level == _ANONYMOUS,
        )


class HttpFunctions:
    def __init__(
        self,
        functions: tuple[FunctionSpec, ...],
        *,
        prefix: str,
        function_key: str,
        invoke: Invoke,
    ) -> None:
        """`invoke(spec, request)` calls the function with its bindings and returns its result."""
        routes = [HttpRoute.of(spec) for spec in functions if spec.trigger_type == HTTP_TRIGGER]
        self._routes = sorted(routes, key=lambda route: route.template.precedence)
        self._prefix = [part for part in prefix.split("/") if part]
        self._function_key = function_key
        self._invoke = invoke

    def handle(self, request: HostRequest) -> HostResponse:
        path = [part for part in request.path.split("/") if part]
        if path[: len(self._prefix)] != self._prefix:
            return HostResponse(404)
        path = path[len(self._prefix) :]
        for route in self._routes:
            parameters = route.template.match(path)
            if parameters is None:
                continue
            # The host's routes carry their method as a constraint: another method does not match.
            if route.methods is not None and request.method.upper() not in route.methods:
                continue
            if not route.anonymous and not request.carries_key(self._function_key):
                return HostResponse(401)
            return self._call(route, request, parameters)
        return HostResponse(404)

    def _call(
        self, route: HttpRoute, request: HostRequest, parameters: dict[str, str]
    ) -> HostResponse:
        http_request = func.HttpRequest(
            method=request.method.upper(),
            url=request.url,
            headers=dict(request.headers),
            params=request.query,
            route_params=parameters,
            body=request.body,
        )
        try:
            returned = self._invoke(route.spec, http_request)
            return _wire_response(returned)
        except Exception:  # the function's failure: the host answers 500 with no body
            log.exception("function %r failed", route.spec.name)
            return HostResponse(500)


def _wire_response(returned: Any) -> HostResponse:
    if returned is None:
        return HostResponse(204)
    datum = HttpResponseConverter.encode(returned, expected_type=None)
    if datum.type == "string":
        return HostResponse(
            200, (("Content-Type", "text/plain; charset=utf-8"),), str(datum.value).encode()
        )
    value = datum.value
    headers = [(str(name), str(header.value)) for name, header in value["headers"].items()]
    for cookie in value.get("cookies") or ():
        headers.extend(("Set-Cookie", morsel.OutputString()) for morsel in cookie.values())
    return HostResponse(int(value["status_code"].value), tuple(headers), bytes(value["body"].value))

"""Which ARM operation a request is: its path, its method and its api-version.

The api-versions served are the ones the SDK clients this project runs send:
Compute's (`azure-mgmt-compute`) for the VM and operation-status paths, ARM's
own (`azure-mgmt-resource-subscriptions`) for subscriptions and locations. A
request with another version is refused as ARM refuses it: 400
`NoRegisteredProviderFound` for a Compute path (the resource provider has no
such version), 400 `InvalidApiVersionParameter` for ARM's own paths. An SDK
upgrade that moves to a newer version needs it added here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from fleetsim.errors import (
    ArmError,
    invalid_api_version,
    method_not_allowed,
    missing_api_version,
    unsupported_compute_api_version,
)
from fleetsim.state import ASSESS, INSTALL

UNROUTED = "unknown"  # the op logged for a request to a path the simulator does not serve
OPERATION_STATUS = "operations.get"

COMPUTE_API_VERSIONS = frozenset({"2026-04-01"})
RESOURCES_API_VERSIONS = frozenset({"2022-12-01"})
# Methods some path has; any other (HEAD, OPTIONS, ...) is 405 wherever it is sent.
SERVED_METHODS = frozenset({"GET", "POST", "PATCH", "PUT", "DELETE"})


@dataclass(frozen=True)
class _Route:
    pattern: re.Pattern[str]
    operations: Mapping[str, str]  # HTTP method -> the operation's name, as logged
    compute_type: str | None  # the Compute resource type; None for ARM's own paths


def _route(pattern: str, operations: Mapping[str, str], compute_type: str | None) -> _Route:
    return _Route(re.compile(f"{pattern}/?", re.IGNORECASE), operations, compute_type)


_SUB = r"/subscriptions/(?P<sub>[^/]+)"
_VMS = _SUB + r"/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.Compute/virtualMachines"
_VM = _VMS + r"/(?P<vm>[^/]+)"
_OPERATIONS = r"/providers/Microsoft\.Compute/locations/(?P<loc>[^/]+)/operations/(?P<op>[^/]+)"
_VM_TYPE = "virtualMachines"

_ROUTES = (
    _route(r"/subscriptions", {"GET": "subscriptions.list"}, None),
    _route(_SUB + r"/locations", {"GET": "subscriptions.listLocations"}, None),
    _route(
        _SUB + r"/providers/Microsoft\.Compute/virtualMachines",
        {"GET": "virtualMachines.listAll"},
        _VM_TYPE,
    ),
    _route(_SUB + _OPERATIONS, {"GET": OPERATION_STATUS}, "locations/operations"),
    _route(_VMS, {"GET": "virtualMachines.list"}, _VM_TYPE),
    _route(_VM, {"GET": "virtualMachines.get", "PATCH": "virtualMachines.update"}, _VM_TYPE),
    _route(_VM + r"/instanceView", {"GET": "virtualMachines.instanceView"}, _VM_TYPE),
    _route(_VM + r"/assessPatches", {"POST": ASSESS}, _VM_TYPE),
    _route(_VM + r"/installPatches", {"POST": INSTALL}, _VM_TYPE),
)


@dataclass(frozen=True)
class Routed:
    op: str
    args: dict[str, str]  # sub, rg, vm, loc, op: the path's parts
    compute_type: str | None


def route(method: str, path: str) -> Routed:
    """The operation `method` on `path` is; ArmError 405 or 404 when there is none."""
    if method not in SERVED_METHODS:
        raise method_not_allowed(method, path)
    for candidate in _ROUTES:
        match = candidate.pattern.fullmatch(path)
        if match is None:
            continue
        if method not in candidate.operations:
            raise method_not_allowed(method, path)
        args = {k: v for k, v in match.groupdict().items() if v is not None}
        return Routed(candidate.operations[method], args, candidate.compute_type)
    raise ArmError(
        404,
        "InvalidResourceType",
        f"The resource type for '{path}' could not be found "
        "(the fleet simulator does not serve it).",
    )


def check_api_version(routed: Routed, query: Mapping[str, str]) -> None:
    api_version = query.get("api-version")
    if api_version is None:
        raise missing_api_version()
    if routed.compute_type is None:
        if api_version not in RESOURCES_API_VERSIONS:
            raise invalid_api_version(api_version, RESOURCES_API_VERSIONS)
    elif api_version not in COMPUTE_API_VERSIONS:
        raise unsupported_compute_api_version(
            api_version, routed.compute_type, COMPUTE_API_VERSIONS, routed.args.get("loc")
        )

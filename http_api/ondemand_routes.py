"""POST /assessments, POST /installations and POST /hotpatch: the on-demand
orchestrations, started only for a request checked whole (`http_api.requests`), answered
202 with the Durable status URLs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from activities.store_reads import inventoried
from azure_io.ports import PatchStore
from http_api import requests
from http_api.calls import app_deps, blocking, durable
from http_api.current_cycle import current_cycle
from http_api.errors import ApiError, ErrorCode, Upstream, answered, not_found
from orchestrators.assessment import ASSESSMENT_ROUND
from orchestrators.assessment_payloads import hotpatch_payload, install_payload, scope_payload
from patching.hotpatch_enrollment import enrollment_refusal
from patching.models import OsType, VmTarget
from patching.resource_ids import VmId

bp = df.Blueprint()

ONDEMAND_INSTALL = "ondemand_install"
ONDEMAND_HOTPATCH = "ondemand_hotpatch"


@bp.route(route="assessments", methods=["POST"])  # type: ignore[untyped-decorator]
@bp.durable_client_input(client_name="client")  # type: ignore[untyped-decorator]
@answered
async def start_assessment(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """An assessment round over the scope now, whatever the VMs' last assessment."""
    current = await app_deps()
    scope = requests.assessment_scope(req.get_body(), current.settings.subscriptions)
    return await _started(client, req, ASSESSMENT_ROUND, {"scope": scope_payload(scope)})


@bp.route(route="installations", methods=["POST"])  # type: ignore[untyped-decorator]
@bp.durable_client_input(client_name="client")  # type: ignore[untyped-decorator]
@answered
async def start_installation(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """An install on every VM of the request at once; each VM must have been discovered
    (the orchestration installs what the inventory knows of it)."""
    current = await app_deps()
    request = requests.installation(req.get_body(), current.settings.subscriptions)
    await _discovered(current.store, request.vms)
    return await _started(client, req, ONDEMAND_INSTALL, install_payload(request))


@bp.route(route="hotpatch", methods=["POST"])  # type: ignore[untyped-decorator]
@bp.durable_client_input(client_name="client")  # type: ignore[untyped-decorator]
@answered
async def change_hotpatch(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """Hotpatch turned on or off on discovered VMs. Turning it on is refused (409, nothing
    started) for a VM that cannot have it or while a hotpatch month's cycle is in force
    (`patching.hotpatch_enrollment`); turning it off leaves Linux VMs out."""
    current = await app_deps()
    change = requests.hotpatch_change(req.get_body(), current.settings.subscriptions)
    targets = await _discovered(current.store, change.vms)
    if change.enable:
        cycle = await blocking(
            Upstream.STORAGE, current_cycle, current.store, current.settings, current.clock.now()
        )
        for index, target in enumerate(targets):
            refusal = enrollment_refusal(target, cycle)
            if refusal is not None:
                raise ApiError(
                    409,
                    ErrorCode.HOTPATCH_NOT_ALLOWED,
                    f"vms[{index}]: {refusal}",
                    field=f"vms[{index}]",
                )
    # Hotpatch is Windows-only: a Linux VM never has it to turn off, and its OS never changes.
    windows = [
        vm
        for vm, target in zip(change.vms, targets, strict=True)
        if target.os_type is OsType.WINDOWS
    ]
    payload = {
        **hotpatch_payload(windows, change.enable),
        "notWindows": len(change.vms) - len(windows),
    }
    return await _started(client, req, ONDEMAND_HOTPATCH, payload)


async def _started(
    client: df.DurableOrchestrationClient,
    req: func.HttpRequest,
    orchestrator: str,
    payload: dict[str, Any],
) -> func.HttpResponse:
    """`orchestrator` started on `payload`; 202 with its Durable status URLs."""
    instance_id = await durable(client.start_new(orchestrator, None, payload))
    started: func.HttpResponse = client.create_check_status_response(req, instance_id)
    return started


async def _discovered(store: PatchStore, vms: Sequence[str]) -> list[VmTarget]:
    """The inventory's VM of each id, in order; 404 naming the first never discovered."""
    known = await blocking(Upstream.STORAGE, inventoried, store, vms)
    targets: list[VmTarget] = []
    for index, vm in enumerate(vms):
        target = known.get(VmId.parse(vm).key)
        if target is None:
            raise not_found(
                f"vms[{index}] {vm!r}: no such VM in the discovered inventory",
                field=f"vms[{index}]",
            )
        targets.append(target)
    return targets

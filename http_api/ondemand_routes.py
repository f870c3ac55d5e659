"""POST /assessments and POST /installations: the on-demand orchestrations, started only
for a request checked whole (`http_api.requests`), answered 202 with the Durable status
URLs."""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from activities.store_reads import inventoried
from http_api import requests
from http_api.calls import app_deps, blocking, durable
from http_api.errors import Upstream, answered, not_found
from orchestrators.assessment import ASSESSMENT_ROUND
from orchestrators.assessment_payloads import install_payload, scope_payload
from patching.resource_ids import VmId

bp = df.Blueprint()

ONDEMAND_INSTALL = "ondemand_install"


@bp.route(route="assessments", methods=["POST"])  # type: ignore[untyped-decorator]
@bp.durable_client_input(client_name="client")  # type: ignore[untyped-decorator]
@answered
async def start_assessment(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """An assessment round over the scope now, whatever the VMs' last assessment."""
    current = await app_deps()
    scope = requests.assessment_scope(req.get_body(), current.settings.subscriptions)
    instance_id = await durable(
        client.start_new(ASSESSMENT_ROUND, None, {"scope": scope_payload(scope)})
    )
    started: func.HttpResponse = client.create_check_status_response(req, instance_id)
    return started


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
    known = await blocking(Upstream.STORAGE, inventoried, current.store, request.vms)
    for index, vm in enumerate(request.vms):
        if VmId.parse(vm).key not in known:
            raise not_found(
                f"vms[{index}] {vm!r}: no such VM in the discovered inventory",
                field=f"vms[{index}]",
            )
    instance_id = await durable(client.start_new(ONDEMAND_INSTALL, None, install_payload(request)))
    started: func.HttpResponse = client.create_check_status_response(req, instance_id)
    return started

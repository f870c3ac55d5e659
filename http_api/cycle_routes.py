"""POST /cycles/{cycle}/resume: an operator's answer to a halted cycle.

The cycle orchestration waits for a `resume` event naming the halt it answers
(`{"reason", "halt": n}`, n the `halts` count of its PatchCycles summary), so a resume
raised twice, or late, never resumes a later halt.
"""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from http_api import requests
from http_api.calls import app_deps, blocking, durable
from http_api.errors import ApiError, ErrorCode, Upstream, answered, json_response, not_found
from orchestrators.rollout_payloads import RESUME_EVENT
from patching.releases import cycle_instance_id

bp = df.Blueprint()

HALTED = "halted"
_WAITING = {df.OrchestrationRuntimeStatus.Running, df.OrchestrationRuntimeStatus.Pending}


@bp.route(route="cycles/{cycle}/resume", methods=["POST"])  # type: ignore[untyped-decorator]
@bp.durable_client_input(client_name="client")  # type: ignore[untyped-decorator]
@answered
async def resume_cycle(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """202 once the event is raised; 404 without such a cycle, 409 when it is not halted."""
    current = await app_deps()
    asked = requests.resume(req.route_params.get("cycle", ""), req.get_body())
    record = await blocking(Upstream.STORAGE, current.store.cycle, asked.cycle)
    if record is None:
        raise not_found(f"cycle {asked.cycle}: no such cycle", field="cycle")
    if record.state != HALTED:
        raise _conflict(f"cycle {asked.cycle} is {record.state}, not halted")
    instance_id = cycle_instance_id(asked.cycle)
    status = await durable(client.get_status(instance_id))
    if status.runtime_status not in _WAITING:
        shown = status.runtime_status.value if status.runtime_status else "gone"
        raise _conflict(f"cycle {asked.cycle} is halted but its orchestration is {shown}")
    halt = (record.plan_summary or {}).get("halts")
    event = {"reason": asked.reason, "halt": halt}
    await durable(client.raise_event(instance_id, RESUME_EVENT, event))
    links = client.get_client_response_links(req, instance_id)
    return json_response(
        {"cycle": asked.cycle, "halt": halt, "reason": asked.reason, **links},
        status=202,
        headers={"Location": links["statusQueryGetUri"]},
    )


def _conflict(message: str) -> ApiError:
    return ApiError(409, ErrorCode.CYCLE_NOT_HALTED, message, field="cycle")

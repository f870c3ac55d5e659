"""A Durable app driven over HTTP through the real `DurableOrchestrationClient`."""

from __future__ import annotations

import json
from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)


@app.activity_trigger(input_name="name")
def greet(name: str) -> str:
    return f"hello {name}"


@app.orchestration_trigger(context_name="context")
def greetings(context: df.DurableOrchestrationContext) -> Generator[Any, Any, list[str]]:
    names = context.get_input()
    return (yield context.task_all([context.call_activity("greet", name) for name in names]))


@app.orchestration_trigger(context_name="context")
def approval(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    context.set_custom_status("waiting")
    decision = yield context.wait_for_external_event("decision")
    return {"input": context.get_input(), "decision": decision}


@app.orchestration_trigger(context_name="context")
def doomed(context: df.DurableOrchestrationContext) -> Generator[Any, Any, None]:
    yield context.call_activity("greet", "nobody")
    raise ValueError("doomed from the start")


@app.orchestration_trigger(context_name="context")
def nap(context: df.DurableOrchestrationContext) -> Generator[Any, Any, str]:
    wake = context.current_utc_datetime + timedelta(hours=context.get_input())
    yield context.create_timer(wake)
    return context.current_utc_datetime.isoformat()


@app.route(route="start/{orchestrator}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id = await client.start_new(
        req.route_params["orchestrator"], req.params.get("id"), req.get_json()
    )
    return client.create_check_status_response(req, instance_id)


@app.route(route="manage/{instance_id}/{action}", methods=["POST", "GET"])
@app.durable_client_input(client_name="client")
async def manage(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Each management call of the client, answered as JSON, so tests see what it returned."""
    instance_id = req.route_params["instance_id"]
    action = req.route_params["action"]
    answer: Any
    try:
        if action == "status":
            status = await client.get_status(instance_id, show_history=True)
            answer = {"found": bool(status)}
            if status:
                # The SDK keeps the extension's `historyEvents` as an extra attribute.
                answer |= {**status.to_json(), "historyEvents": status.historyEvents}
        elif action == "raise":
            await client.raise_event(instance_id, "decision", req.get_json())
            answer = "raised"
        elif action == "terminate":
            await client.terminate(instance_id, req.params.get("reason", ""))
            answer = "terminated"
        elif action == "purge":
            answer = {
                "deleted": (await client.purge_instance_history(instance_id)).instances_deleted
            }
        elif action == "links":
            answer = client.create_http_management_payload(instance_id)
        elif action == "list":
            answer = sorted(status.instance_id for status in await client.get_status_all())
        else:
            return func.HttpResponse(status_code=400)
    except Exception as error:  # the client's refusal, shown to the test
        return func.HttpResponse(json.dumps({"error": str(error)}), status_code=409)
    return func.HttpResponse(json.dumps(answer, default=str), mimetype="application/json")

"""One phase of a cycle: its groups' orchestrators side by side, each on its own slots."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from orchestrators.rollout_payloads import GROUP_ORCHESTRATOR, group_instance_id

bp = df.Blueprint()


@bp.orchestration_trigger(context_name="context")  # type: ignore[untyped-decorator]
def rollout_phase(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """Input `{"cycleInstance", "cycle", "kind", "phase", "groups": [group ids]}`."""
    request: dict[str, Any] = context.get_input()
    groups = [
        context.call_sub_orchestrator(
            GROUP_ORCHESTRATOR,
            {"cycle": request["cycle"], "kind": request["kind"], "group": group, "fromBatch": 0},
            group_instance_id(request["cycleInstance"], group),
        )
        for group in request["groups"]
    ]
    if groups:
        yield context.task_all(groups)
    return {"phase": request["phase"], "groups": len(groups)}

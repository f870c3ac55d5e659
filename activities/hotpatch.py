"""The activity of a hotpatch change: one VM update per VM, in order, stopping at a 429.

Setting the flag again to what it already is changes nothing, so a repeated call (the
Durable at-least-once delivery) is harmless. The route refused what Azure or the domain
would (`patching.hotpatch_enrollment`); what ARM still refuses is counted and said.
"""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from activities.deps import deps
from azure_io.compute_outcomes import Throttled, VmUpdateRefused
from azure_io.telemetry import activity_logging, app_logger
from orchestrators.assessment_payloads import parse_hotpatch_change

bp = df.Blueprint()
log = app_logger(__name__)


@bp.activity_trigger(input_name="payload")  # type: ignore[untyped-decorator]
@activity_logging
def set_hotpatching(payload: dict[str, Any]) -> dict[str, Any]:
    """`enableHotpatching` set on each VM of the payload; the VMs not reached because ARM
    throttled come back as `pending`, with `retryAfter`."""
    current = deps()
    change = parse_hotpatch_change(payload, current.settings.subscriptions)
    vms, enable = change.vms, change.enable
    changed = 0
    refused: list[dict[str, str]] = []
    pending: list[str] = []
    retry_after: float | None = None
    for index, vm in enumerate(vms):
        outcome = current.compute.set_hotpatching(vm, enable)
        if isinstance(outcome, Throttled):
            pending, retry_after = list(vms[index:]), outcome.retry_after_seconds
            break
        if isinstance(outcome, VmUpdateRefused):
            log.warning(
                "ARM refused hotpatch %s: %s %s",
                "on" if enable else "off",
                outcome.code,
                outcome.message,
                extra={"vm": vm},
            )
            refused.append({"vm": vm, "code": outcome.code, "message": outcome.message})
        else:
            changed += 1
    log.info("hotpatch %s on %d VMs, %d refused", "on" if enable else "off", changed, len(refused))
    return {"changed": changed, "refused": refused, "pending": pending, "retryAfter": retry_after}

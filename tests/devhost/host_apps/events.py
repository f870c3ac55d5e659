"""An Event Grid function recording what it receives; `{"fail": true}` data makes it fail."""

from __future__ import annotations

from typing import Any

import azure.functions as func

app = func.FunctionApp()

received: list[dict[str, Any]] = []


@app.event_grid_trigger(arg_name="event")
def on_release(event: func.EventGridEvent) -> None:
    if isinstance(event, func.EventGridEvent):
        seen = {"kind": "EventGridEvent", "id": event.id, "type": event.event_type}
    else:
        seen = {"kind": type(event).__name__, "id": event.id, "type": event.type}
    data = event.get_json()
    received.append({**seen, "data": data})
    if isinstance(data, dict) and data.get("fail"):
        raise RuntimeError(f"event {event.id} asked to fail")

"""An app declaring a durable entity, which the local host refuses."""

from __future__ import annotations

import azure.durable_functions as df

app = df.DFApp()


@app.entity_trigger(context_name="context")
def tally(context: df.DurableEntityContext) -> None:
    context.set_state((context.get_state(lambda: 0) or 0) + 1)

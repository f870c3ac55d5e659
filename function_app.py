"""The Azure Functions app (Python v2 programming model) on Durable Functions.

Triggers live in blueprints (`df.Blueprint`) and are registered here, so this
module only assembles the app. Nothing is read from the environment or built at
import time: settings and clients are made when a function first runs.
"""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

# Routes need a function key unless a blueprint deliberately says otherwise.
app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)

# Blueprints are registered here as the orchestration layer lands: assessments,
# the monthly cycle, the HTTP API and the release_published Event Grid trigger.
BLUEPRINTS: tuple[df.Blueprint, ...] = ()

for blueprint in BLUEPRINTS:
    app.register_functions(blueprint)

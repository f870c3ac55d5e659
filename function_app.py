"""The Azure Functions app (Python v2 programming model) on Durable Functions.

Triggers, orchestrators and activities live in blueprints (`df.Blueprint`) and are
registered here, so this module only assembles the app. Nothing is read from the
environment or built at import time: settings and clients are made when an
activity first asks for them (`activities.deps`).
"""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

import triggers
from activities import assessment as assessment_activities
from activities import hotpatch, housekeeping, ondemand, rollout, rollout_installs, rollout_replan
from http_api import cycle_routes, ondemand_routes, read_routes, report_page
from orchestrators import assessment as assessment_orchestrators
from orchestrators import cycle, group, phase
from orchestrators import ondemand as ondemand_orchestrators

# Routes need a function key unless a blueprint deliberately says otherwise.
app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)

BLUEPRINTS: tuple[df.Blueprint, ...] = (
    triggers.bp,
    cycle.bp,
    phase.bp,
    group.bp,
    assessment_orchestrators.bp,
    ondemand_orchestrators.bp,
    rollout.bp,
    rollout_installs.bp,
    rollout_replan.bp,
    assessment_activities.bp,
    ondemand.bp,
    hotpatch.bp,
    housekeeping.bp,
    ondemand_routes.bp,
    read_routes.bp,
    cycle_routes.bp,
    report_page.bp,
)

for blueprint in BLUEPRINTS:
    app.register_functions(blueprint)

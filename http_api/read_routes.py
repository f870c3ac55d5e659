"""The read routes: a VM's view, compliance counts, a VM's history and the plan preview.
Each reads the store (and, for the plan, ARM's region pairs) and answers JSON."""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from activities.store_reads import inventoried
from azure_io.patch_views import VmView
from http_api import requests
from http_api.calls import app_deps, blocking, off_loop
from http_api.errors import Upstream, answered, json_response, not_found
from http_api.plan_preview import preview_plan
from http_api.views import compliance_counts_json, history_json, vm_json

bp = df.Blueprint()


@bp.route(  # type: ignore[untyped-decorator]
    route="vms/{subscriptionId}/{resourceGroup}/{vmName}", methods=["GET"]
)
@answered
async def get_vm(req: func.HttpRequest) -> func.HttpResponse:
    """The VM's latest assessment, last install and compliance (null before the first); 404
    for a VM neither recorded nor discovered."""
    current = await app_deps()
    vm = requests.vm_path(req.route_params, current.settings.subscriptions)
    view = await blocking(Upstream.STORAGE, current.store.vm_view, str(vm))
    if view is None:
        known = await blocking(Upstream.STORAGE, inventoried, current.store, [str(vm)])
        if vm.key not in known:
            raise not_found(f"VM {vm}: neither recorded nor discovered")
        view = VmView(str(known[vm.key].id), None, None, None, None)
    return json_response(vm_json(view))


@bp.route(route="compliance", methods=["GET"])  # type: ignore[untyped-decorator]
@answered
async def get_compliance(req: func.HttpRequest) -> func.HttpResponse:
    """VM counts per compliance state, per managed subscription (or the one asked for)."""
    current = await app_deps()
    subscription = requests.compliance_subscription(req.params, current.settings.subscriptions)
    counts = await blocking(Upstream.STORAGE, current.store.compliance_counts, subscription)
    asked = [subscription] if subscription else [s.lower() for s in current.settings.subscriptions]
    recorded = {s.lower(): states for s, states in counts.items()}
    # Every subscription asked for is answered, one with nothing recorded yet with no VMs.
    return json_response(compliance_counts_json({s: recorded.get(s, {}) for s in asked}))


@bp.route(route="history", methods=["GET"])  # type: ignore[untyped-decorator]
@answered
async def get_history(req: func.HttpRequest) -> func.HttpResponse:
    """The VM's assessments and installs of the last `days` (default 30), newest first; 404
    for a VM neither recorded nor discovered."""
    current = await app_deps()
    vm, days = requests.history_query(req.params, current.settings.subscriptions)
    entries = await blocking(
        Upstream.STORAGE, current.store.history, str(vm), now=current.clock.now(), days=days
    )
    if not entries:
        view = await blocking(Upstream.STORAGE, current.store.vm_view, str(vm))
        known = await blocking(Upstream.STORAGE, inventoried, current.store, [str(vm)])
        if view is None and vm.key not in known:
            raise not_found(f"VM {vm}: neither recorded nor discovered", field="vm")
    return json_response(history_json(str(vm), days, entries))


@bp.route(route="plan", methods=["GET"])  # type: ignore[untyped-decorator]
@answered
async def get_plan(req: func.HttpRequest) -> func.HttpResponse:
    """The plan file of the cycle for the current inventory (docs/CONTRACTS.md section 3)."""
    current = await app_deps()
    cycle_id = requests.plan_cycle_id(req.params)
    # Planning a large fleet takes a while: off the event loop, like the store's calls.
    plan = await off_loop(preview_plan, current, cycle_id)
    return json_response(plan)

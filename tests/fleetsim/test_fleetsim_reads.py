"""SDK round trips for the read and update operations."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from fleetsim_helpers import (
    API,
    SUB_A,
    SUB_B,
    compute,
    fleet_of,
    linux_vm,
    raw_session,
    subscriptions,
    vm_id,
    vm_url,
    windows_vm,
)


def test_subscriptions_and_locations_with_pairs_over_https(serve):
    fleet = fleet_of(windows_vm("web-01"), windows_vm("web-02", location="centraluseuap"))
    fleet["regions"].append({"name": "centraluseuap"})  # a region the built-in table lacks
    sim = serve(fleet)
    client = subscriptions(sim)

    subs = {s.subscription_id: s.display_name for s in client.subscriptions.list()}
    assert subs == {SUB_A: "prod", SUB_B: "test"}

    locations = {loc.name: loc for loc in client.subscriptions.list_locations(SUB_A)}
    eastus = locations["eastus"]
    assert eastus.display_name == "East US"
    assert eastus.metadata.region_type == "Physical"
    assert [(p.name, p.id) for p in eastus.metadata.paired_region] == [
        ("westus", f"/subscriptions/{SUB_A}/locations/westus")
    ]
    # Not in the fleet's regions: the project's built-in table gives the pair.
    assert [p.name for p in locations["northeurope"].metadata.paired_region] == ["westeurope"]
    # A VM's region with no pair in either is still listed, without a pair.
    assert "centraluseuap" in locations


def test_list_all_pages_and_status_only(simulate):
    vms = [windows_vm(f"web-{i:02}") for i in range(7)] + [
        linux_vm("db-01", rg="rg-db"),
        windows_vm("other", sub=SUB_B),
    ]
    sim = simulate(fleet_of(*vms, sim={"pageSize": 3}))
    client = compute(sim)

    pages = list(client.virtual_machines.list_all().by_page())
    assert [len(list(page)) for page in pages] == [3, 3, 2]

    listed = list(client.virtual_machines.list_all(status_only="true"))
    assert len(listed) == 8
    assert all(vm.instance_view.statuses[1].code == "PowerState/running" for vm in listed)
    assert {vm.id for vm in listed} == {vm["id"] for vm in vms[:8]}

    in_group = list(client.virtual_machines.list("rg-db"))
    assert [vm.name for vm in in_group] == ["db-01"]
    assert in_group[0].instance_view is None
    assert len(list(client.virtual_machines.list("rg-app"))) == 7


def test_get_carries_what_discovery_needs(simulate):
    avset = (
        f"/subscriptions/{SUB_A}/resourceGroups/rg-app"
        "/providers/Microsoft.Compute/availabilitySets/as-web"
    )
    sim = simulate(
        fleet_of(
            windows_vm(
                "web-01",
                zone="2",
                availabilitySet=avset,
                updateDomain=3,
                faultDomain=1,
                tags={"patchWindow": "01:00-05:00"},
            ),
            linux_vm("db-01", patchMode="ImageDefault"),
        )
    )
    client = compute(sim)

    vm = client.virtual_machines.get("rg-app", "web-01")
    assert vm.id == vm_id("web-01")
    assert vm.location == "eastus"
    assert vm.zones == ["2"]
    assert vm.availability_set.id == avset
    assert vm.tags == {"patchWindow": "01:00-05:00"}
    assert vm.storage_profile.image_reference.sku == "2022-datacenter-azure-edition-hotpatch"
    windows = vm.os_profile.windows_configuration
    assert windows.time_zone == "Eastern Standard Time"
    assert windows.patch_settings.patch_mode == "AutomaticByPlatform"
    assert windows.patch_settings.enable_hotpatching is True
    assert vm.instance_view is None

    expanded = client.virtual_machines.get("rg-app", "web-01", expand="instanceView")
    assert expanded.instance_view.platform_update_domain == 3
    assert expanded.instance_view.platform_fault_domain == 1

    linux = client.virtual_machines.get("rg-app", "db-01")
    assert linux.os_profile.linux_configuration.patch_settings.patch_mode == "ImageDefault"
    assert linux.os_profile.windows_configuration is None
    assert linux.zones is None
    assert linux.availability_set is None


def test_instance_view_power_agent_and_health(simulate):
    sim = simulate(fleet_of(windows_vm("web-01"), windows_vm("web-02", powerState="deallocated")))
    client = compute(sim)

    running = client.virtual_machines.instance_view("rg-app", "web-01")
    codes = [s.code for s in running.statuses]
    assert codes == ["ProvisioningState/succeeded", "PowerState/running"]
    assert running.vm_agent.statuses[0].display_status == "Ready"
    assert running.vm_health.status.code == "HealthState/healthy"
    assert running.patch_status.available_patch_summary is None

    stopped = client.virtual_machines.instance_view("rg-app", "web-02")
    assert stopped.statuses[1].code == "PowerState/deallocated"
    assert stopped.vm_agent is None


def test_update_turns_hotpatch_off_and_on(simulate):
    plain = windows_vm("plain", imageSku="2022-datacenter", enableHotpatching=False)
    sim = simulate(fleet_of(windows_vm("web-01"), plain))
    client = compute(sim)
    patch_off = {
        "properties": {
            "osProfile": {"windowsConfiguration": {"patchSettings": {"enableHotpatching": False}}}
        }
    }
    updated = client.virtual_machines.begin_update("rg-app", "web-01", patch_off).result()
    assert updated.os_profile.windows_configuration.patch_settings.enable_hotpatching is False
    assert sim.state.vm(vm_id("web-01")).enable_hotpatching is False
    again = client.virtual_machines.get("rg-app", "web-01")
    assert again.os_profile.windows_configuration.patch_settings.enable_hotpatching is False

    patch_on = {
        "properties": {
            "osProfile": {"windowsConfiguration": {"patchSettings": {"enableHotpatching": True}}}
        }
    }
    client.virtual_machines.begin_update("rg-app", "web-01", patch_on).result()
    assert sim.state.vm(vm_id("web-01")).enable_hotpatching is True

    # Hotpatch needs an Azure Edition image, as on Azure.
    with pytest.raises(HttpResponseError) as refused:
        client.virtual_machines.begin_update("rg-app", "plain", patch_on).result()
    assert refused.value.status_code == 400
    assert refused.value.error.code == "InvalidParameter"


def test_unknown_vm_and_subscription_are_404(simulate):
    sim = simulate(fleet_of(windows_vm("web-01")))
    with pytest.raises(ResourceNotFoundError) as missing:
        compute(sim).virtual_machines.get("rg-app", "nope")
    assert missing.value.error.code == "ResourceNotFound"
    with pytest.raises(ResourceNotFoundError):
        list(compute(sim, "33333333-3333-4333-8333-333333333333").virtual_machines.list_all())


def test_bearer_token_and_api_version_are_required(simulate, clock):
    sim = simulate(fleet_of(windows_vm("web-01")))
    url = f"{sim.base_url}/subscriptions/{SUB_A}/providers/Microsoft.Compute/virtualMachines"
    anonymous = raw_session(sim, token=False).get(f"{url}?{API}")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "AuthenticationFailed"
    assert raw_session(sim).get(f"{url}?{API}").status_code == 200
    no_version = raw_session(sim).get(url)
    assert no_version.status_code == 400
    assert no_version.json()["error"]["code"] == "MissingApiVersionParameter"
    clock.advance(timedelta(seconds=1))


def test_arm_paths_are_case_insensitive(simulate):
    sim = simulate(fleet_of(windows_vm("web-01")))
    url = (
        f"{sim.base_url}/SUBSCRIPTIONS/{SUB_A}/resourcegroups/RG-APP/providers/"
        f"microsoft.compute/virtualmachines/WEB-01?{API}"
    )
    answer = raw_session(sim).get(url)
    assert answer.status_code == 200
    assert answer.json()["id"] == vm_id("web-01")


def test_unsupported_method_and_path(simulate):
    sim = simulate(fleet_of(windows_vm("web-01")))
    session = raw_session(sim)
    assert session.delete(f"{vm_url(sim, 'web-01')}?{API}").status_code == 405
    unknown = session.get(f"{sim.base_url}/subscriptions/{SUB_A}/resourceGroups?{API}")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "InvalidResourceType"


def _hotpatch(enabled: object) -> dict[str, Any]:
    settings = {"patchSettings": {"enableHotpatching": enabled}}
    return {"properties": {"osProfile": {"windowsConfiguration": settings}}}


def test_hotpatch_vm_without_image_sku_in_the_fleet_can_be_updated(simulate):
    vm = windows_vm("web-01")
    del vm["imageSku"]  # optional in the fleet file
    sim = simulate(fleet_of(vm))
    client = compute(sim)
    assert client.virtual_machines.get("rg-app", "web-01").storage_profile.image_reference.sku == (
        "2022-datacenter-azure-edition"
    )
    tagged = client.virtual_machines.begin_update(
        "rg-app", "web-01", {"tags": {"team": "web"}}
    ).result()
    assert tagged.tags == {"team": "web"}
    assert tagged.os_profile.windows_configuration.patch_settings.enable_hotpatching is True
    # The default SKU is an Azure Edition one: hotpatch can go off and on again.
    client.virtual_machines.begin_update("rg-app", "web-01", _hotpatch(False)).result()
    client.virtual_machines.begin_update("rg-app", "web-01", _hotpatch(True)).result()
    assert sim.state.vm(vm_id("web-01")).enable_hotpatching is True


def test_the_image_is_checked_only_when_hotpatch_is_turned_on(simulate):
    # A VM the fleet gives hotpatch on a plain image keeps it through other updates ...
    sim = simulate(fleet_of(windows_vm("web-01", imageSku="2022-datacenter")))
    client = compute(sim)
    client.virtual_machines.begin_update("rg-app", "web-01", {"tags": {"a": "b"}}).result()
    client.virtual_machines.begin_update("rg-app", "web-01", _hotpatch(True)).result()
    assert sim.state.vm(vm_id("web-01")).enable_hotpatching is True
    # ... but once off, it cannot turn it back on with that image.
    client.virtual_machines.begin_update("rg-app", "web-01", _hotpatch(False)).result()
    with pytest.raises(HttpResponseError) as refused:
        client.virtual_machines.begin_update("rg-app", "web-01", _hotpatch(True)).result()
    assert refused.value.error.code == "InvalidParameter"
    assert "2022-datacenter" in refused.value.error.message


@pytest.mark.parametrize(
    ("body", "target"),
    [
        ({"properties": {"osProfile": "x"}}, "properties.osProfile"),
        ({"properties": "x"}, "properties"),
        ({"properties": {"osProfile": {"windowsConfiguration": []}}}, None),
        ({"properties": {"osProfile": {"windowsConfiguration": {"patchSettings": 3}}}}, None),
        (
            {
                "properties": {
                    "osProfile": {"windowsConfiguration": {"patchSettings": {"patchMode": 1}}}
                }
            },
            None,
        ),
        (_hotpatch("yes"), None),
        ({"tags": "x"}, "tags"),
        ({"tags": {"team": 1}}, "tags"),
        ([1, 2], None),
    ],
)
def test_malformed_update_bodies_are_400_and_keep_the_connection(serve, body, target):
    sim = serve(fleet_of(windows_vm("web-01")))
    session = raw_session(sim)
    answer = session.patch(f"{vm_url(sim, 'web-01')}?{API}", json=body)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "InvalidRequestContent"
    if target is not None:
        assert error["target"] == target
    # The VM is unchanged, and the same connection still serves.
    assert session.get(f"{vm_url(sim, 'web-01')}?{API}").json()["tags"] == {}
    assert sim.state.vm(vm_id("web-01")).enable_hotpatching is True


def test_an_unknown_patch_mode_is_invalid_parameter(simulate):
    sim = simulate(fleet_of(linux_vm("db-01")))
    body = {
        "properties": {
            "osProfile": {"linuxConfiguration": {"patchSettings": {"patchMode": "AutomaticByOS"}}}
        }
    }
    answer = raw_session(sim).patch(f"{vm_url(sim, 'db-01')}?{API}", json=body)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "InvalidParameter"


def test_an_unexpected_error_is_a_logged_500_not_a_dropped_connection(serve, monkeypatch, tmp_path):
    log = tmp_path / "operations.jsonl"
    sim = serve(fleet_of(windows_vm("web-01")), log_path=log)

    def broken(vm: Any, body: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(sim.state, "update_vm", broken)
    session = raw_session(sim)
    answer = session.patch(f"{vm_url(sim, 'web-01')}?{API}", json={"tags": {}})
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "InternalServerError"
    assert answer.headers["x-ms-request-id"]
    assert session.get(f"{vm_url(sim, 'web-01')}?{API}").status_code == 200
    sim.stop()
    first = json.loads(log.read_text().splitlines()[0])
    assert (first["op"], first["vm"], first["status"], first["httpStatus"], first["error"]) == (
        "virtualMachines.update",
        vm_id("web-01"),
        "Failed",
        500,
        "InternalServerError",
    )
    assert "RuntimeError" in first["exception"]


def test_unknown_resource_group_is_404_resource_group_not_found(simulate):
    sim = simulate(fleet_of(windows_vm("web-01")))
    client = compute(sim)
    with pytest.raises(ResourceNotFoundError) as listing:
        list(client.virtual_machines.list("rg-nope"))
    assert listing.value.error.code == "ResourceGroupNotFound"
    assert "rg-nope" in listing.value.error.message
    with pytest.raises(ResourceNotFoundError) as getting:
        client.virtual_machines.get("rg-nope", "web-01")
    assert getting.value.error.code == "ResourceGroupNotFound"
    # Group names compare case-insensitively, as the rest of ARM paths.
    assert [vm.name for vm in client.virtual_machines.list("RG-APP")] == ["web-01"]

"""What can be checked of infra/ without compiling Bicep: the files it loads, the app
settings it sets, the names it shares with the code, and azd's conventions."""

import json
import re
from pathlib import Path

import yaml

import triggers
from azure_io.app_settings import APP_SETTINGS, PLATFORM_SETTINGS

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"


def bicep(relative: str) -> str:
    return (INFRA / relative).read_text(encoding="utf-8")


def every_bicep_file() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


def object_keys(source: str, variable: str) -> list[str]:
    """The keys of a `var <variable> = { ... }` object literal (one key per line)."""
    match = re.search(rf"^var {variable} = \{{\n(.*?)^\}}", source, re.MULTILINE | re.DOTALL)
    assert match, f"no object variable {variable}"
    return re.findall(r"^\s+([A-Za-z_][A-Za-z0-9_]*)\s*:", match.group(1), re.MULTILINE)


def test_main_loads_the_role_and_the_app_loads_the_settings_list() -> None:
    main = bicep("main.bicep")
    assert "loadJsonContent('role.json')" in main
    assert "permissions: patchRole.permissions" in main
    app = bicep("app/function-app.bicep")
    assert "loadJsonContent('../app-settings.json')" in app
    loaded = [
        (path.parent / relative).resolve()
        for path in every_bicep_file()
        for relative in re.findall(r"loadJsonContent\('([^']+)'\)", path.read_text("utf-8"))
    ]
    assert sorted(loaded) == [INFRA / "app-settings.json", INFRA / "role.json"]
    assert (INFRA / "role.json").is_file() and (INFRA / "app-settings.json").is_file()


def test_every_app_setting_the_deployment_sets_is_on_the_list() -> None:
    app = bicep("app/function-app.bicep")
    listed = {setting.name for setting in (*APP_SETTINGS, *PLATFORM_SETTINGS)}
    deployed = object_keys(app, "deployedSettings")
    assert set(deployed) <= listed, set(deployed) - listed
    # What the app cannot run without in Azure, and the identity-based host storage.
    assert {"PATCH_SUBSCRIPTIONS", "PATCH_TABLES_ACCOUNT_URL"} <= set(deployed)
    assert {setting.name for setting in PLATFORM_SETTINGS} == set(deployed) - {
        s.name for s in APP_SETTINGS
    }
    # The site's settings are only these, the listed defaults and listed overrides.
    assert "properties: union(defaultSettings, overrides, deployedSettings)" in app
    assert "appSettings" not in app, "no second, inline list of settings"
    assert "filter(listed.app, s => contains(appSettingOverrides, s.name))" in app


def test_no_key_or_connection_string_is_used_for_storage() -> None:
    storage = bicep("core/storage.bicep")
    assert "allowSharedKeyAccess: false" in storage
    for path in every_bicep_file():
        text = path.read_text(encoding="utf-8")
        assert "AccountKey" not in text and "listKeys(storage" not in text, path
    # The one key read is the host's Event Grid system key, at deployment time.
    topic = bicep("app/release-topic.bicep")
    assert "systemKeys.eventgrid_extension" in topic
    assert "listKeys('${app.id}/host/default'" in topic
    listed_keys = [p for p in every_bicep_file() if "listKeys(" in p.read_text(encoding="utf-8")]
    assert listed_keys == [INFRA / "app" / "release-topic.bicep"]


def test_the_storage_data_roles_replace_keys() -> None:
    storage = bicep("core/storage.bicep")
    for role_id in (
        "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",  # Storage Blob Data Owner
        "974c5e8b-45b9-4653-ba55-5f855dd0fb88",  # Storage Queue Data Contributor
        "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",  # Storage Table Data Contributor
    ):
        assert role_id in storage


def test_the_event_subscription_reaches_the_apps_release_trigger() -> None:
    topic = bicep("app/release-topic.bicep")
    assert callable(triggers.release_published)
    assert "/runtime/webhooks/eventgrid?functionName=release_published&code=" in topic
    assert f"includedEventTypes: ['{triggers.RELEASE_EVENT_TYPE}']" in topic
    assert "disableLocalAuth: true" in topic


def test_the_role_is_assigned_at_every_target_subscription() -> None:
    main = bicep("main.bicep")
    assert re.search(r"for id in targetSubscriptionIds: \{\n\s+scope: subscription\(id\)", main)
    assert (
        "assignableScopes: union([subscription().id], "
        "map(targetSubscriptionIds, id => '/subscriptions/${id}'))"
    ) in main
    assert "targetScope = 'subscription'" in bicep("security/subscription-role.bicep")


def test_flex_consumption_python_311_with_an_always_ready_durable_instance() -> None:
    app = bicep("app/function-app.bicep")
    assert "tier: 'FlexConsumption'" in app and "kind: 'functionapp,linux'" in app
    assert "runtime: { name: 'python', version: '3.11' }" in app
    assert "alwaysReady: [{ name: 'durable', instanceCount: 1 }]" in app
    assert "'azd-service-name': 'api'" in app


def test_azd_conventions() -> None:
    main = bicep("main.bicep")
    assert "targetScope = 'subscription'" in main
    assert re.search(r"^param environmentName string$", main, re.MULTILINE)
    assert re.search(r"^param location string$", main, re.MULTILINE)
    for output in ("AZURE_LOCATION", "AZURE_TENANT_ID", "AZURE_RESOURCE_GROUP"):
        assert re.search(rf"^output {output} string = ", main, re.MULTILINE)
    parameters = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))
    assert parameters["parameters"]["environmentName"]["value"] == "${AZURE_ENV_NAME}"
    assert parameters["parameters"]["location"]["value"] == "${AZURE_LOCATION}"
    declared = set(re.findall(r"^param (\w+) ", main, re.MULTILINE))
    assert set(parameters["parameters"]) <= declared

    project = yaml.safe_load((ROOT / "azure.yaml").read_text(encoding="utf-8"))
    assert project["infra"] == {"provider": "bicep", "path": "infra", "module": "main"}
    assert project["services"] == {
        "api": {"project": ".", "language": "python", "host": "function"}
    }


def test_modules_exist_and_api_versions_are_dated_and_stable() -> None:
    for path in every_bicep_file():
        text = path.read_text(encoding="utf-8")
        for module in re.findall(r"^module \w+ '([^']+)'", text, re.MULTILINE):
            assert (path.parent / module).is_file(), f"{path.name}: {module}"
        for version in re.findall(r"'[A-Za-z.]+/[A-Za-z/]+@([^']+)'", text):
            assert re.fullmatch(r"20\d\d-\d\d-\d\d", version), f"{path.name}: {version}"

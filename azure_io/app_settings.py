"""The one list of app settings the code reads: name, default and meaning of each.

`azure_io.settings.Settings.from_env` reads exactly these names, and the deployment
(`infra/app-settings.json`, loaded by `infra/app/function-app.bicep`) is rendered from this
list, so the two cannot drift: tests/infra checks both. Regenerate the file with
``python -m azure_io.app_settings > infra/app-settings.json``.

`PLATFORM_SETTINGS` are the few settings the Functions host and the Azure SDK read (not
this code), which the deployment sets beside the app's own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AppSetting:
    name: str
    default: str | None  # the value that means the same as leaving it unset; None: no value
    meaning: str


SUBSCRIPTIONS = AppSetting(
    "PATCH_SUBSCRIPTIONS", None, "subscriptions the app manages, comma-separated GUIDs"
)
ARM_ENDPOINT = AppSetting(
    "PATCH_ARM_ENDPOINT", "https://management.azure.com", "Azure Resource Manager endpoint, https"
)
ARM_CA_BUNDLE = AppSetting(
    "PATCH_ARM_CA_BUNDLE", None, "CA bundle file trusted for ARM (a local stand-in); system trust"
)
ARM_CREDENTIAL = AppSetting(
    "PATCH_ARM_CREDENTIAL",
    "default",
    "default (DefaultAzureCredential, managed identity) or static (a local stand-in)",
)
ARM_RETRY_ATTEMPTS = AppSetting(
    "PATCH_ARM_RETRY_ATTEMPTS", "3", "retries of a transient 5xx/408 answer, 0-10"
)
ARM_RETRY_BACKOFF_SECONDS = AppSetting(
    "PATCH_ARM_RETRY_BACKOFF_SECONDS", "0.5", "first backoff of those retries (doubles), 0-10"
)
TABLES_CONNECTION_STRING = AppSetting(
    "PATCH_TABLES_CONNECTION_STRING",
    None,
    "Table Storage connection string (local only; set it or the account URL, not both)",
)
TABLES_ACCOUNT_URL = AppSetting(
    "PATCH_TABLES_ACCOUNT_URL", None, "Table Storage account URL, reached with managed identity"
)
OFF_PEAK_WINDOW = AppSetting(
    "PATCH_OFF_PEAK_WINDOW",
    "22:00-06:00",
    "off-peak window of VMs without a patchWindow tag, HH:MM-HH:MM, may cross midnight",
)
INSTALL_SLOT_MINUTES = AppSetting(
    "PATCH_INSTALL_SLOT_MINUTES", "90", "install slot of a VM without install history, 30-235"
)
HOTPATCH_SLOT_MINUTES = AppSetting(
    "PATCH_HOTPATCH_SLOT_MINUTES", "30", "that slot for a hotpatch VM in a hotpatch month, 30-235"
)
ASSESSMENT_INTERVAL_HOURS = AppSetting(
    "PATCH_ASSESSMENT_INTERVAL_HOURS", "72", "age after which a VM is assessed again, 1-720"
)
PLANNED_BASELINE_MONTHS = AppSetting(
    "PATCH_PLANNED_BASELINE_MONTHS", "1,4,7,10", "planned baseline months, comma-separated 1-12"
)
HEALTH_GATE_MINUTES = AppSetting(
    "PATCH_HEALTH_GATE_MINUTES", "30", "health watch after a phase, 1-1440"
)
ERROR_BUDGET_PERCENT = AppSetting(
    "PATCH_ERROR_BUDGET_PERCENT", "10", "failed share of a phase that halts the cycle, 0-100"
)

APP_SETTINGS: tuple[AppSetting, ...] = (
    SUBSCRIPTIONS,
    ARM_ENDPOINT,
    ARM_CA_BUNDLE,
    ARM_CREDENTIAL,
    ARM_RETRY_ATTEMPTS,
    ARM_RETRY_BACKOFF_SECONDS,
    TABLES_CONNECTION_STRING,
    TABLES_ACCOUNT_URL,
    OFF_PEAK_WINDOW,
    INSTALL_SLOT_MINUTES,
    HOTPATCH_SLOT_MINUTES,
    ASSESSMENT_INTERVAL_HOURS,
    PLANNED_BASELINE_MONTHS,
    HEALTH_GATE_MINUTES,
    ERROR_BUDGET_PERCENT,
)

# Identity-based connections only: no key or connection string is ever a setting.
PLATFORM_SETTINGS: tuple[AppSetting, ...] = (
    AppSetting(
        "AzureWebJobsStorage__accountName",
        None,
        "the host's storage account (Durable task hub, leases), reached by identity",
    ),
    AppSetting("AzureWebJobsStorage__credential", None, "managedidentity"),
    AppSetting(
        "AzureWebJobsStorage__clientId", None, "client id of the user-assigned identity for it"
    ),
    AppSetting(
        "AZURE_CLIENT_ID", None, "the identity DefaultAzureCredential uses for ARM and tables"
    ),
    AppSetting(
        "FUNCTIONS_WORKER_PROCESS_COUNT",
        "1",
        "Python worker processes per instance (docs/SCALE.md: the Durable limits add up to "
        "processes x threads)",
    ),
    AppSetting("PYTHON_THREADPOOL_THREAD_COUNT", "16", "threads per Python worker (docs/SCALE.md)"),
    AppSetting(
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        None,
        "where telemetry goes (an ingestion address, not a secret with Entra auth)",
    ),
    AppSetting(
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
        None,
        "ClientId=<identity>;Authorization=AAD: telemetry sent with the identity",
    ),
)


def settings_document() -> dict[str, list[dict[str, str | None]]]:
    """The list as `infra/app-settings.json` holds it."""

    def rows(settings: tuple[AppSetting, ...]) -> list[dict[str, str | None]]:
        return [{"name": s.name, "default": s.default, "meaning": s.meaning} for s in settings]

    return {"app": rows(APP_SETTINGS), "platform": rows(PLATFORM_SETTINGS)}


def settings_json() -> str:
    return json.dumps(settings_document(), indent=2) + "\n"


if __name__ == "__main__":
    print(settings_json(), end="")

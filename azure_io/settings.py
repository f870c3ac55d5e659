"""The app's settings: read once from the environment into one frozen, typed object.

The names, defaults and meanings are `azure_io.app_settings`' one list, the one the
deployment sets too. Nothing else in the project reads ``os.environ``; callers get a
``Settings`` and pass it (or the parts they need) down.

| variable | meaning | default |
| --- | --- | --- |
| PATCH_SUBSCRIPTIONS | subscriptions the app manages, comma-separated GUIDs | none |
| PATCH_ARM_ENDPOINT | Azure Resource Manager endpoint, https | https://management.azure.com |
| PATCH_ARM_CA_BUNDLE | CA bundle file trusted for ARM (a local stand-in) | system trust |
| PATCH_ARM_CREDENTIAL | default (DefaultAzureCredential) or static (stand-in) | default |
| PATCH_ARM_RETRY_ATTEMPTS | retries of a transient 5xx/408 answer, 0-10 | 3 |
| PATCH_ARM_RETRY_BACKOFF_SECONDS | first backoff of those retries (doubles), 0-10 | 0.5 |
| PATCH_TABLES_CONNECTION_STRING | Table Storage connection string | none |
| PATCH_TABLES_ACCOUNT_URL | Table Storage account URL (managed identity) | none |
| PATCH_OFF_PEAK_WINDOW | default off-peak window HH:MM-HH:MM, may cross midnight | 22:00-06:00 |
| PATCH_INSTALL_SLOT_MINUTES | install slot of a VM without install history, 30-235 | 90 |
| PATCH_HOTPATCH_SLOT_MINUTES | that slot for a hotpatch VM in a hotpatch month, 30-235 | 30 |
| PATCH_ASSESSMENT_INTERVAL_HOURS | age after which a VM is assessed again, 1-720 | 72 |
| PATCH_PLANNED_BASELINE_MONTHS | planned baseline months, comma-separated 1-12 | 1,4,7,10 |
| PATCH_HEALTH_GATE_MINUTES | health watch after a phase, 1-1440 | 30 |
| PATCH_ERROR_BUDGET_PERCENT | failed share of a phase that halts the cycle, 0-100 | 10 |

The planning defaults and their bounds are the domain's (`patching.defaults`), and the
window syntax is `OffPeakWindow.parse`'s; settings hold those domain types.

Set at most one of the two table variables; with neither, the app has no table storage
(fine for commands that only plan) and ``Settings.require_table_storage`` refuses.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from azure_io import app_settings as names
from azure_io.errors import AzureIoError
from patching import defaults
from patching.defaults import Bounds
from patching.windows import OffPeakWindow, WindowError

_T = TypeVar("_T")

DEFAULT_ARM_ENDPOINT = "https://management.azure.com"


class SettingsError(AzureIoError, ValueError):
    """A setting has a value the app cannot use; the message names the variable."""


class ArmCredentialKind(StrEnum):
    DEFAULT = "default"
    STATIC = "static"


@dataclass(frozen=True, slots=True)
class TableStorage:
    """Where the tables live: a connection string, or an account URL for managed identity."""

    connection_string: str | None = None
    account_url: str | None = None


@dataclass(frozen=True, slots=True)
class Settings:
    subscriptions: tuple[str, ...] = ()
    arm_endpoint: str = DEFAULT_ARM_ENDPOINT
    arm_ca_bundle: Path | None = None
    arm_credential: ArmCredentialKind = ArmCredentialKind.DEFAULT
    arm_retry_attempts: int = 3
    arm_retry_backoff_seconds: float = 0.5
    table_storage: TableStorage | None = None
    off_peak_window: OffPeakWindow = defaults.DEFAULT_WINDOW
    install_slot_minutes: int = defaults.SLOT_MINUTES
    hotpatch_slot_minutes: int = defaults.HOTPATCH_SLOT_MINUTES
    assessment_interval_hours: int = defaults.ASSESSMENT_INTERVAL_HOURS
    planned_baseline_months: tuple[int, ...] = defaults.PLANNED_BASELINE_MONTHS
    health_gate_minutes: int = defaults.HEALTH_GATE_MINUTES
    error_budget_percent: float = defaults.ERROR_BUDGET_PERCENT

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Reads and validates every setting; ``environ`` defaults to the process environment."""
        env = os.environ if environ is None else environ
        built = cls()

        def read(name: str, parse: Callable[[str, str], _T], default: _T) -> _T:
            raw = env.get(name, "").strip()
            return parse(name, raw) if raw else default

        return cls(
            subscriptions=read(names.SUBSCRIPTIONS.name, _subscriptions, built.subscriptions),
            arm_endpoint=read(names.ARM_ENDPOINT.name, _https_url, built.arm_endpoint),
            arm_ca_bundle=read(names.ARM_CA_BUNDLE.name, _existing_file, built.arm_ca_bundle),
            arm_credential=read(names.ARM_CREDENTIAL.name, _credential_kind, built.arm_credential),
            arm_retry_attempts=read(
                names.ARM_RETRY_ATTEMPTS.name, _int_in(Bounds(0, 10)), built.arm_retry_attempts
            ),
            arm_retry_backoff_seconds=read(
                names.ARM_RETRY_BACKOFF_SECONDS.name,
                _number_in(Bounds(0, 10)),
                built.arm_retry_backoff_seconds,
            ),
            table_storage=_table_storage(env),
            off_peak_window=read(names.OFF_PEAK_WINDOW.name, _window, built.off_peak_window),
            install_slot_minutes=read(
                names.INSTALL_SLOT_MINUTES.name,
                _int_in(defaults.SLOT_MINUTES_BOUNDS),
                built.install_slot_minutes,
            ),
            hotpatch_slot_minutes=read(
                names.HOTPATCH_SLOT_MINUTES.name,
                _int_in(defaults.SLOT_MINUTES_BOUNDS),
                built.hotpatch_slot_minutes,
            ),
            assessment_interval_hours=read(
                names.ASSESSMENT_INTERVAL_HOURS.name,
                _int_in(defaults.ASSESSMENT_INTERVAL_HOURS_BOUNDS),
                built.assessment_interval_hours,
            ),
            planned_baseline_months=read(
                names.PLANNED_BASELINE_MONTHS.name, _months, built.planned_baseline_months
            ),
            health_gate_minutes=read(
                names.HEALTH_GATE_MINUTES.name,
                _int_in(defaults.HEALTH_GATE_MINUTES_BOUNDS),
                built.health_gate_minutes,
            ),
            error_budget_percent=read(
                names.ERROR_BUDGET_PERCENT.name,
                _number_in(defaults.ERROR_BUDGET_PERCENT_BOUNDS),
                built.error_budget_percent,
            ),
        )

    def require_table_storage(self) -> TableStorage:
        if self.table_storage is None:
            raise SettingsError(
                "PATCH_TABLES_CONNECTION_STRING or PATCH_TABLES_ACCOUNT_URL must be set "
                "to use Table Storage"
            )
        return self.table_storage

    def manages(self, subscription_id: str) -> bool:
        return subscription_id.lower() in self.subscriptions


def _subscriptions(name: str, raw: str) -> tuple[str, ...]:
    ids: list[str] = []
    for part in raw.split(","):
        text = part.strip()
        try:
            canonical = str(uuid.UUID(text))
        except ValueError as error:
            raise SettingsError(
                f"{name}: {text!r} is not a subscription GUID "
                "(expected comma-separated GUIDs like 11111111-1111-1111-1111-111111111111)"
            ) from error
        if len(text) != 36:
            raise SettingsError(f"{name}: {text!r} is not in the 8-4-4-4-12 GUID form")
        if canonical not in ids:
            ids.append(canonical)
    return tuple(ids)


def _https_url(name: str, raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme != "https" or not parts.netloc:
        raise SettingsError(f"{name}: {raw!r} is not an https URL (expected https://host[:port])")
    return raw.rstrip("/")


def _existing_file(name: str, raw: str) -> Path:
    path = Path(raw)
    if not path.is_file():
        raise SettingsError(f"{name}: {raw!r} is not an existing file (expected a PEM CA bundle)")
    return path


def _credential_kind(name: str, raw: str) -> ArmCredentialKind:
    try:
        return ArmCredentialKind(raw.lower())
    except ValueError as error:
        allowed = ", ".join(kind.value for kind in ArmCredentialKind)
        raise SettingsError(f"{name}: {raw!r} is not one of {allowed}") from error


def _int_in(bounds: Bounds) -> Callable[[str, str], int]:
    def parse(name: str, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError as error:
            raise SettingsError(f"{name}: {raw!r} is not a whole number from {bounds}") from error
        if value not in bounds:
            raise SettingsError(f"{name}: {value} is outside {bounds}")
        return value

    return parse


def _number_in(bounds: Bounds) -> Callable[[str, str], float]:
    def parse(name: str, raw: str) -> float:
        try:
            value = float(raw)
        except ValueError as error:
            raise SettingsError(f"{name}: {raw!r} is not a number from {bounds}") from error
        if value not in bounds:  # also refuses nan
            raise SettingsError(f"{name}: {raw} is outside {bounds}")
        return value

    return parse


def _window(name: str, raw: str) -> OffPeakWindow:
    try:
        return OffPeakWindow.parse(raw)
    except WindowError as error:
        raise SettingsError(f"{name}: {error} (e.g. 22:00-06:00)") from error


def _months(name: str, raw: str) -> tuple[int, ...]:
    months: set[int] = set()
    for part in raw.split(","):
        text = part.strip()
        if not text.isdigit() or not 1 <= int(text) <= 12:
            raise SettingsError(
                f"{name}: {text!r} is not a month (expected numbers 1 to 12, e.g. 1,4,7,10)"
            )
        months.add(int(text))
    return tuple(sorted(months))


def _table_storage(env: Mapping[str, str]) -> TableStorage | None:
    connection_string = env.get(names.TABLES_CONNECTION_STRING.name, "").strip()
    account_url = env.get(names.TABLES_ACCOUNT_URL.name, "").strip()
    if connection_string and account_url:
        raise SettingsError(
            "PATCH_TABLES_ACCOUNT_URL: set either it or PATCH_TABLES_CONNECTION_STRING, not both"
        )
    if connection_string:
        if "=" not in connection_string:
            raise SettingsError(
                "PATCH_TABLES_CONNECTION_STRING: expected key=value pairs separated by ';'"
            )
        return TableStorage(connection_string=connection_string)
    if account_url:
        parts = urlsplit(account_url)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise SettingsError(
                f"PATCH_TABLES_ACCOUNT_URL: {account_url!r} is not a URL "
                "(expected https://ACCOUNT.table.core.windows.net)"
            )
        return TableStorage(account_url=account_url.rstrip("/"))
    return None

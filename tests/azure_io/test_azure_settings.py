from pathlib import Path

import pytest

from azure_io.compute_outcomes import ArmCallError, ArmThrottledError
from azure_io.credentials import StaticTokenCredential, credential_from_settings
from azure_io.errors import AzureIoError
from azure_io.settings import ArmCredentialKind, Settings, SettingsError, TableStorage
from azure_io.tables import TableWriteError
from patching.windows import OffPeakWindow

SUB = "11111111-1111-1111-1111-111111111111"


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.subscriptions == ()
    assert settings.arm_endpoint == "https://management.azure.com"
    assert settings.arm_ca_bundle is None
    assert settings.arm_credential is ArmCredentialKind.DEFAULT
    assert settings.table_storage is None
    assert settings.off_peak_window == OffPeakWindow.parse("22:00-06:00")
    assert settings.install_slot_minutes == 90
    assert settings.hotpatch_slot_minutes == 30
    assert settings.assessment_interval_hours == 72
    assert settings.planned_baseline_months == (1, 4, 7, 10)
    assert settings.health_gate_minutes == 30
    assert settings.error_budget_percent == 10.0
    with pytest.raises(SettingsError, match="PATCH_TABLES_CONNECTION_STRING"):
        settings.require_table_storage()


def test_every_setting_is_read(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = Settings.from_env(
        {
            "PATCH_SUBSCRIPTIONS": f" {SUB.upper()} , 22222222-2222-2222-2222-222222222222,{SUB}",
            "PATCH_ARM_ENDPOINT": "https://127.0.0.1:8443/",
            "PATCH_ARM_CA_BUNDLE": str(ca),
            "PATCH_ARM_CREDENTIAL": "Static",
            "PATCH_ARM_RETRY_ATTEMPTS": "1",
            "PATCH_ARM_RETRY_BACKOFF_SECONDS": "0",
            "PATCH_TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true",
            "PATCH_OFF_PEAK_WINDOW": "01:00-05:30",
            "PATCH_INSTALL_SLOT_MINUTES": "120",
            "PATCH_HOTPATCH_SLOT_MINUTES": "45",
            "PATCH_ASSESSMENT_INTERVAL_HOURS": "24",
            "PATCH_PLANNED_BASELINE_MONTHS": "10,1",
            "PATCH_HEALTH_GATE_MINUTES": "1",
            "PATCH_ERROR_BUDGET_PERCENT": "2.5",
        }
    )
    assert settings == Settings(
        subscriptions=(SUB, "22222222-2222-2222-2222-222222222222"),
        arm_endpoint="https://127.0.0.1:8443",
        arm_ca_bundle=ca,
        arm_credential=ArmCredentialKind.STATIC,
        arm_retry_attempts=1,
        arm_retry_backoff_seconds=0.0,
        table_storage=TableStorage(connection_string="UseDevelopmentStorage=true"),
        off_peak_window=OffPeakWindow.parse("01:00-05:30"),
        install_slot_minutes=120,
        hotpatch_slot_minutes=45,
        assessment_interval_hours=24,
        planned_baseline_months=(1, 10),
        health_gate_minutes=1,
        error_budget_percent=2.5,
    )
    assert settings.manages(SUB.upper())
    assert not settings.manages("33333333-3333-3333-3333-333333333333")
    assert isinstance(credential_from_settings(settings), StaticTokenCredential)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("PATCH_SUBSCRIPTIONS", "prod", "not a subscription GUID"),
        ("PATCH_SUBSCRIPTIONS", f"{SUB},", "not a subscription GUID"),
        ("PATCH_SUBSCRIPTIONS", SUB.replace("-", ""), "8-4-4-4-12"),
        ("PATCH_ARM_ENDPOINT", "http://management.azure.com", "not an https URL"),
        ("PATCH_ARM_CA_BUNDLE", "/nonexistent/ca.pem", "not an existing file"),
        ("PATCH_ARM_CREDENTIAL", "password", "not one of default, static"),
        ("PATCH_ARM_RETRY_ATTEMPTS", "many", "not a whole number"),
        ("PATCH_ARM_RETRY_BACKOFF_SECONDS", "11", "outside 0 to 10"),
        ("PATCH_TABLES_CONNECTION_STRING", "just-a-name", "key=value"),
        ("PATCH_TABLES_ACCOUNT_URL", "account.table.core.windows.net", "not a URL"),
        ("PATCH_OFF_PEAK_WINDOW", "22-06", "HH:MM-HH:MM"),
        ("PATCH_OFF_PEAK_WINDOW", "24:00-06:00", "HH:MM-HH:MM"),
        ("PATCH_OFF_PEAK_WINDOW", "02:00-02:00", "same time"),
        ("PATCH_INSTALL_SLOT_MINUTES", "10", "outside 30 to 235"),
        ("PATCH_INSTALL_SLOT_MINUTES", "29", "outside 30 to 235"),
        ("PATCH_INSTALL_SLOT_MINUTES", "240", "outside 30 to 235"),
        ("PATCH_HOTPATCH_SLOT_MINUTES", "15", "outside 30 to 235"),
        ("PATCH_HOTPATCH_SLOT_MINUTES", "236", "outside 30 to 235"),
        ("PATCH_HOTPATCH_SLOT_MINUTES", "half", "not a whole number"),
        ("PATCH_INSTALL_SLOT_MINUTES", "1.5", "not a whole number"),
        ("PATCH_ASSESSMENT_INTERVAL_HOURS", "0", "outside 1 to 720"),
        ("PATCH_PLANNED_BASELINE_MONTHS", "1,13", "not a month"),
        ("PATCH_PLANNED_BASELINE_MONTHS", "jan", "not a month"),
        ("PATCH_HEALTH_GATE_MINUTES", "-5", "outside 1 to 1440"),
        ("PATCH_HEALTH_GATE_MINUTES", "0", "outside 1 to 1440"),
        ("PATCH_HEALTH_GATE_MINUTES", "1441", "outside 1 to 1440"),
        ("PATCH_OFF_PEAK_WINDOW", "22:00-06:00\x00", "HH:MM-HH:MM"),
        ("PATCH_ERROR_BUDGET_PERCENT", "150", "outside 0 to 100"),
        ("PATCH_ERROR_BUDGET_PERCENT", "nan", "outside 0 to 100"),
        ("PATCH_ERROR_BUDGET_PERCENT", "ten", "not a number"),
    ],
)
def test_bad_values_name_the_variable(variable: str, value: str, expected: str) -> None:
    with pytest.raises(SettingsError, match=expected) as raised:
        Settings.from_env({variable: value})
    assert str(raised.value).startswith(f"{variable}:")
    assert isinstance(raised.value, AzureIoError)


def test_the_window_setting_reads_as_the_domain_reads_a_window() -> None:
    for text in ("23:30-00:15", "00:00-23:59", "6:00-07:00", "07:00-6:00"):
        try:
            expected: OffPeakWindow | None = OffPeakWindow.parse(text)
        except ValueError:
            expected = None
        try:
            read: OffPeakWindow | None = Settings.from_env(
                {"PATCH_OFF_PEAK_WINDOW": text}
            ).off_peak_window
        except SettingsError:
            read = None
        assert read == expected


def test_both_table_settings_are_refused() -> None:
    with pytest.raises(SettingsError, match="PATCH_TABLES_ACCOUNT_URL"):
        Settings.from_env(
            {
                "PATCH_TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true",
                "PATCH_TABLES_ACCOUNT_URL": "https://acct.table.core.windows.net",
            }
        )


def test_account_url_storage() -> None:
    settings = Settings.from_env(
        {"PATCH_TABLES_ACCOUNT_URL": "https://acct.table.core.windows.net/"}
    )
    assert settings.require_table_storage() == TableStorage(
        account_url="https://acct.table.core.windows.net"
    )


def test_the_adapters_errors_derive_from_one_base() -> None:
    for error in (SettingsError, ArmCallError, ArmThrottledError, TableWriteError):
        assert issubclass(error, AzureIoError)

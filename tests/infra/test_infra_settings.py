"""One list of app settings: what Settings.from_env reads, what the deployment sets."""

import json
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from azure_io.app_settings import APP_SETTINGS, PLATFORM_SETTINGS, AppSetting, settings_json
from azure_io.settings import Settings

SETTINGS_FILE = Path(__file__).resolve().parents[2] / "infra" / "app-settings.json"


class RecordingEnviron(Mapping[str, str]):
    """An empty environment that remembers every name it is asked for."""

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self._values = dict(values or {})
        self.asked: list[str] = []

    def __getitem__(self, name: str) -> str:
        self.asked.append(name)
        return self._values[name]

    def get(self, name: str, default: object = None) -> object:  # type: ignore[override]
        self.asked.append(name)
        return self._values.get(name, default)

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("the settings must ask for names, not walk the environment")

    def __len__(self) -> int:
        return len(self._values)


def test_the_parser_reads_exactly_the_listed_names() -> None:
    environ = RecordingEnviron()
    Settings.from_env(environ)
    assert sorted(set(environ.asked)) == sorted(setting.name for setting in APP_SETTINGS)


def test_names_are_unique_across_the_app_and_platform_lists() -> None:
    names = [setting.name for setting in (*APP_SETTINGS, *PLATFORM_SETTINGS)]
    assert len(names) == len(set(names))
    assert all(setting.name.startswith("PATCH_") for setting in APP_SETTINGS)
    assert not any(setting.name.startswith("PATCH_") for setting in PLATFORM_SETTINGS)
    assert all(setting.meaning for setting in (*APP_SETTINGS, *PLATFORM_SETTINGS))


@pytest.mark.parametrize(
    "setting", [s for s in APP_SETTINGS if s.default is not None], ids=lambda s: s.name
)
def test_each_listed_default_means_what_leaving_it_unset_means(setting: AppSetting) -> None:
    # The deployment writes these defaults out; they must not change what the app does.
    written = Settings.from_env({setting.name: setting.default})
    assert written == Settings.from_env({})


def test_the_infra_file_is_the_list_rendered() -> None:
    assert SETTINGS_FILE.read_text(encoding="utf-8") == settings_json(), (
        "regenerate: python -m azure_io.app_settings > infra/app-settings.json"
    )
    document = json.loads(SETTINGS_FILE.read_text(encoding="utf-8"))
    assert [row["name"] for row in document["app"]] == [s.name for s in APP_SETTINGS]


def test_no_setting_is_a_key_or_a_connection_string_in_the_deployment() -> None:
    for setting in PLATFORM_SETTINGS:
        assert "ConnectionString" not in setting.name or setting.name.startswith(
            "APPLICATIONINSIGHTS_"
        )
        assert "key" not in setting.name.lower()

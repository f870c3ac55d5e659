"""The operator's pages exist, their links lead to files in the repository, and
docs/configure.md lists every setting the code reads with the default the code documents."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from azure_io import settings as settings_module
from azure_io.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PAGES = ("SCALE.md", "deploy.md", "configure.md", "operate.md", "design.md")
CONFIGURE = ROOT / "docs" / "configure.md"
# [text](target): inline links, not images' alt text or code.
_LINK = re.compile(r"(?<!!)\[[^\]]+\]\(([^)\s]+)\)")
_FENCE = re.compile(r"```.*?```", re.DOTALL)


class _RecordingEnvironment(dict[str, str]):
    """An empty environment that notes every name the settings ask it for."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[str] = set()

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.asked.add(key)
        return super().__contains__(key)


def _names_the_code_reads() -> set[str]:
    environment = _RecordingEnvironment()
    Settings.from_env(environment)
    return environment.asked


def _table_cells(text: str) -> Iterator[list[str]]:
    for line in text.splitlines():
        if line.startswith("|") and not set(line) <= set("|-: "):
            yield [cell.strip() for cell in line.strip().strip("|").split("|")]


def _plain(cell: str) -> str:
    return cell.replace("`", "").strip()


def _documented_defaults() -> dict[str, str]:
    """settings.py's docstring table: | variable | meaning | default |."""
    docstring = settings_module.__doc__ or ""
    return {
        _plain(cells[0]): _plain(cells[2])
        for cells in _table_cells(docstring)
        if len(cells) == 3 and _plain(cells[0]).startswith("PATCH_")
    }


def _configure_rows() -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for cells in _table_cells(CONFIGURE.read_text(encoding="utf-8")):
        rows[_plain(cells[0])] = [_plain(cell) for cell in cells[1:]]
    return rows


def test_the_code_reads_patch_settings() -> None:
    names = _names_the_code_reads()
    assert "PATCH_SUBSCRIPTIONS" in names
    assert all(name.startswith("PATCH_") for name in names)


@pytest.mark.parametrize("name", sorted(_names_the_code_reads()))
def test_configure_md_lists_each_setting_with_its_default(name: str) -> None:
    rows = _configure_rows()
    assert name in rows, f"docs/configure.md has no row for {name}"
    defaults = _documented_defaults()
    assert name in defaults, f"azure_io/settings.py's docstring does not document {name}"
    default, meaning = rows[name][0], rows[name][1]
    assert default == defaults[name], f"{name}: configure.md says {default!r}"
    assert meaning, f"{name}: configure.md gives no meaning"


def test_configure_md_lists_no_setting_the_code_does_not_read() -> None:
    listed = {name for name in _configure_rows() if name.startswith("PATCH_")}
    assert listed == _names_the_code_reads()


@pytest.mark.parametrize("page", PAGES)
def test_each_page_exists_with_a_title(page: str) -> None:
    path = ROOT / "docs" / page
    assert path.is_file(), f"docs/{page} is missing"
    assert path.read_text(encoding="utf-8").startswith("# ")


def _local_links(page: str) -> list[str]:
    text = _FENCE.sub("", (ROOT / "docs" / page).read_text(encoding="utf-8"))
    return [
        target
        for target in _LINK.findall(text)
        if not re.match(r"^[a-z]+:", target) and not target.startswith("#")
    ]


@pytest.mark.parametrize("page", PAGES)
def test_each_pages_links_resolve_to_files_in_the_repository(page: str) -> None:
    links = _local_links(page)
    assert links, f"docs/{page} links nowhere"
    for target in links:
        resolved = (ROOT / "docs" / target.split("#", 1)[0]).resolve()
        assert resolved.is_relative_to(ROOT), f"docs/{page}: {target} leaves the repository"
        assert resolved.exists(), f"docs/{page}: {target} does not exist"


def test_the_link_pattern_skips_images() -> None:
    assert _LINK.findall("see [x](missing.md) and ![img](a.png) and [web](https://a.b)") == [
        "missing.md",
        "https://a.b",
    ]

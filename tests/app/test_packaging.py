"""What a deployment carries (`.funcignore`): the app and its runtime packages, nothing else.

The file is read two ways: as git reads an ignore file (what zip-deploy tooling follows), and
as Core Tools' publish does (a leading "/" dropped, each pattern matched against the start of
a file's relative path, "!" lines winning). A line that differs between the two breaks a test.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from modulefinder import ModuleFinder
from pathlib import Path

import pathspec
import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_PACKAGES = (
    "function_app.py",
    "triggers.py",
    "orchestrators",
    "activities",
    "patching",
    "azure_io",
    "reporting",
)
APP_FILES = ("function_app.py", "host.json", "requirements.txt")
DEV_ONLY_FOLDERS = ("fleetsim", "devhost", "patchctl", "tests", "bench", "scripts", "examples")
DEV_ONLY_FILES = (
    "local.settings.json",
    "requirements-dev.txt",
    "docs/CONTRACTS.md",
    ".venv/bin/python",
    "node_modules/azurite/package.json",
    ".import_linter_cache/patching.meta.json",
    "__pycache__/function_app.cpython-311.pyc",
    "patching/__pycache__/planner.cpython-311.pyc",
)

Excludes = Callable[[str], bool]


def _patterns() -> list[str]:
    return (ROOT / ".funcignore").read_text(encoding="utf-8").splitlines()


def _git_excludes(lines: list[str]) -> Excludes:
    return pathspec.GitIgnoreSpec.from_lines(lines).match_file


def _publish_excludes(lines: list[str]) -> Excludes:
    excluding: list[re.Pattern[str]] = []
    keeping: list[re.Pattern[str]] = []
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        glob = line.removeprefix("!").removeprefix("/")
        pieces = re.split(r"(\*\*|\*)", glob)
        body = "".join(
            ".+" if piece == "**" else "[^/]+" if piece == "*" else re.escape(piece)
            for piece in pieces
        )
        # re.match anchors at the start only: publish's prefix match.
        (keeping if negated else excluding).append(re.compile(body))

    def excludes(path: str) -> bool:
        if any(pattern.match(path) for pattern in keeping):
            return False
        return any(pattern.match(path) for pattern in excluding)

    return excludes


READERS = pytest.mark.parametrize(
    "reader", [_git_excludes, _publish_excludes], ids=["git", "func-publish"]
)


def _files_under(relative: str) -> Iterator[str]:
    path = ROOT / relative
    if path.is_file():
        yield relative
        return
    for file in sorted(path.rglob("*")):
        if file.is_file():
            yield file.relative_to(ROOT).as_posix()


def _source_files(relative: str) -> list[str]:
    return [file for file in _files_under(relative) if "__pycache__" not in file]


def _files_requirements_txt_pulls_in() -> list[str]:
    pulled = []
    for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        option, _, target = line.strip().partition(" ")
        if option in ("-r", "-c", "--requirement", "--constraint"):
            pulled.append(target.strip())
    return pulled


def _project_modules_imported_by(script: str) -> set[str]:
    # Searching only the repository keeps the walk to the project's own modules; the
    # third-party packages come from requirements.txt at deployment, not from the tree.
    finder = ModuleFinder(path=[str(ROOT)])
    finder.run_script(str(ROOT / script))
    files = {module.__file__ for module in finder.modules.values() if module.__file__}
    return {Path(file).resolve().relative_to(ROOT).as_posix() for file in files}


@READERS
def test_the_app_and_its_runtime_packages_are_deployed(reader: Callable[..., Excludes]) -> None:
    excludes = reader(_patterns())
    wanted = [*APP_FILES, *_files_requirements_txt_pulls_in()]
    for package in RUNTIME_PACKAGES:
        sources = _source_files(package)
        assert sources, f"{package} has no source files"
        wanted.extend(sources)

    assert [path for path in wanted if excludes(path)] == []


@READERS
def test_dev_tools_tests_and_local_files_stay_behind(reader: Callable[..., Excludes]) -> None:
    excludes = reader(_patterns())
    unwanted = list(DEV_ONLY_FILES)
    for folder in DEV_ONLY_FOLDERS:
        unwanted.append(f"{folder}/__init__.py")
        unwanted.extend(_files_under(folder))

    assert [path for path in unwanted if not excludes(path)] == []


@READERS
def test_every_project_module_the_app_imports_is_deployed(reader: Callable[..., Excludes]) -> None:
    excludes = reader(_patterns())
    imported = _project_modules_imported_by("function_app.py")

    assert "function_app.py" in imported
    assert sorted(path for path in imported if excludes(path)) == []


def test_the_import_walk_follows_the_project_imports_transitively() -> None:
    # The command line reaches the planner through its plan command: a walk that stopped
    # at the first level would miss it, and the check above would pass an app it should not.
    imported = _project_modules_imported_by("patchctl/__main__.py")

    assert {"patchctl/cli.py", "patching/planner.py", "patching/models.py"} <= imported
    assert _publish_excludes(_patterns())("patchctl/cli.py")

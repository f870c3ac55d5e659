"""The renderer is pure: it imports the domain and a few standard modules, reads no clock and
opens nothing, so the command line and the function app render the same page."""

from __future__ import annotations

import ast
from pathlib import Path

import reporting

ALLOWED = {
    "__future__",
    "collections",
    "dataclasses",
    "datetime",
    "enum",
    "html",
    "math",
    "re",
    "types",
    "typing",
    "patching",
    "reporting",
}
# The `time` module is refused as an import; `time` alone is a history entry's field.
CLOCK_AND_IO = {"now", "utcnow", "today", "open", "environ", "getenv", "print", "monotonic"}


def test_reporting_imports_only_the_domain_and_pure_standard_modules() -> None:
    package = Path(reporting.__file__).parent
    modules = sorted(package.glob("*.py"))
    assert len(modules) >= 5
    for module in modules:
        tree = ast.parse(module.read_text(), str(module))
        imported = {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        } | {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert {name.split(".")[0] for name in imported} <= ALLOWED, module.name
        used = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
        used |= {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        assert not used & CLOCK_AND_IO, (module.name, used & CLOCK_AND_IO)

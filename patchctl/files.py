"""Reading and writing the command line's JSON files, with errors a person can act on."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from patchctl.errors import UsageError
from patching.fleet import Fleet, FleetError, parse_fleet


def read_json(path: Path, what: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot read {what} {path}: {error.strerror or error}") from error
    except UnicodeDecodeError as error:
        raise UsageError(f"{what} {path} is not UTF-8 text") from error
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(
            f"{what} {path} is not valid JSON: {error.msg} "
            f"at line {error.lineno} column {error.colno}"
        ) from error


def load_fleet(path: Path) -> Fleet:
    document = read_json(path, "fleet file")
    try:
        return parse_fleet(document)
    except FleetError as error:
        raise UsageError(f"fleet file {path}: {error}") from error


def write_json(path: Path, document: Any) -> None:
    """Write whole or not at all: a temporary file beside the target, then a rename."""
    try:
        _write_json_atomically(path, document)
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror or error}") from error


def _write_json_atomically(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(document, stream, indent=2)
            stream.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise

"""Reading and writing the command lines' files: refusals a person can act on, nothing lost.

Shared by `patchctl` and `fleetsim`. JSON is read strictly (no NaN or Infinity, no
number too large for a float or too long to be an id, no nesting Python cannot
follow); an output never replaces an input, nor anything but a regular file the
user may write, and is written whole or not at all.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import secrets
import stat
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

from patching.errors import BadInput
from patching.fleet import Fleet, FleetError, parse_fleet

# Far more than any count or index a fleet file holds; shorter than Python's own
# limit on converting digits, whose error would name an interpreter setting.
_MAX_INTEGER_DIGITS = 100


def read_json(path: Path, what: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise BadInput(f"cannot read {what} {path}: {error.strerror or error}") from error
    except UnicodeDecodeError as error:
        raise BadInput(f"{what} {path} is not UTF-8 text") from error

    def refuse_constant(name: str) -> Any:
        raise BadInput(f"{what} {path}: {name} is not a JSON number")

    def finite_float(digits: str) -> float:
        value = float(digits)
        if not math.isfinite(value):
            raise BadInput(f"{what} {path}: {digits} is too large a number")
        return value

    def bounded_int(digits: str) -> int:
        if len(digits.lstrip("-")) > _MAX_INTEGER_DIGITS:
            raise BadInput(
                f"{what} {path}: a number of {len(digits)} digits; "
                f"expected at most {_MAX_INTEGER_DIGITS}"
            )
        return int(digits)

    try:
        return json.loads(
            text, parse_constant=refuse_constant, parse_float=finite_float, parse_int=bounded_int
        )
    except json.JSONDecodeError as error:
        raise BadInput(
            f"{what} {path} is not valid JSON: {error.msg} "
            f"at line {error.lineno} column {error.colno}"
        ) from error
    except RecursionError as error:
        raise BadInput(f"{what} {path} nests arrays or objects too deeply") from error


def load_fleet(path: Path) -> Fleet:
    document = read_json(path, "fleet file")
    try:
        return parse_fleet(document)
    except FleetError as error:
        raise BadInput(f"fleet file {path}: {error}") from error
    except RecursionError as error:
        raise BadInput(f"fleet file {path} nests arrays or objects too deeply") from error


def refuse_same_files(paths: Mapping[str, Path | None]) -> None:
    """Refuse two flags naming one file, however spelt (relative, symlink, hard link)."""
    named = [(flag, path) for flag, path in paths.items() if path is not None]
    for (flag, path), (other_flag, other) in itertools.combinations(named, 2):
        if _same_file(path, other):
            raise BadInput(f"{other_flag} {other} is the same file as {flag} {path}")


def _same_file(path: Path, other: Path) -> bool:
    try:
        return os.path.samefile(path, other)
    except OSError:  # one of them does not exist (yet): compare where they would be
        pass
    try:
        return path.resolve() == other.resolve()
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop
        return False


def write_file(path: Path, text: str, *, flag: str, inputs: Mapping[str, Path]) -> None:
    """Write `text` to `path` whole or not at all: a temporary file beside it, then a rename.

    A new file's mode follows the umask; a replaced file keeps its own. A stop
    (SIGTERM, turned into an exception by the command line) removes the temporary file.
    """
    existing = refuse_to_overwrite(path, flag=flag, inputs=inputs)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            if existing is not None:
                os.fchmod(descriptor, stat.S_IMODE(existing.st_mode))
            stream.write(text)
        os.replace(temporary, path)
    except OSError as error:
        raise BadInput(f"{flag}: cannot write {path}: {error.strerror or error}") from error
    finally:
        with suppress(OSError):  # gone: renamed, or never created
            temporary.unlink()


def refuse_to_overwrite(
    path: Path, *, flag: str, inputs: Mapping[str, Path]
) -> os.stat_result | None:
    """Refuse an output that is one of `inputs`, or that exists and is not a regular file
    the user may write (a directory, device, FIFO, symlink, or a read-only file, which a
    rename would silently replace). What is there now, if anything, is returned.
    """
    refuse_same_files({**inputs, flag: path})
    try:
        existing = path.lstat()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise BadInput(f"{flag}: cannot write {path}: {error.strerror or error}") from error
    if not stat.S_ISREG(existing.st_mode):
        raise BadInput(f"{flag}: {path} exists and is {_kind(existing.st_mode)}")
    if not existing.st_mode & stat.S_IWUSR or not os.access(path, os.W_OK):
        raise BadInput(f"{flag}: {path} is read-only; not replacing it")
    return existing


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def write_json(path: Path, document: Any, *, flag: str, inputs: Mapping[str, Path]) -> None:
    write_file(path, json.dumps(document, indent=2) + "\n", flag=flag, inputs=inputs)

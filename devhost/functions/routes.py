"""HTTP trigger route templates, as the Functions host (ASP.NET routing) reads them.

A segment is literal text (matched case-insensitively), `{name}`,
`{name:constraint}`, `{name?}` (optional, only at the end) or `{*name}`
(the rest of the path). Templates mixing text and a parameter inside one
segment are refused: this host does not match them.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import unquote

_PARAMETER = re.compile(
    r"^\{(?P<star>\*)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<constraint>[a-z]+))?(?P<optional>\?)?\}$"
)


def _is_int(text: str) -> bool:
    return re.fullmatch(r"-?[0-9]+", text) is not None


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _is_guid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


_CONSTRAINTS: dict[str, Callable[[str], bool]] = {
    "int": _is_int,
    "long": _is_int,
    "alpha": lambda text: re.fullmatch(r"[A-Za-z]+", text) is not None,
    "bool": lambda text: text.lower() in ("true", "false"),
    "guid": _is_guid,
    "double": _is_number,
    "float": _is_number,
    "decimal": _is_number,
}


@dataclass(frozen=True)
class Segment:
    literal: str | None = None
    parameter: str | None = None
    constraint: str | None = None
    optional: bool = False
    rest: bool = False

    def accepts(self, text: str) -> bool:
        if self.literal is not None:
            return text.casefold() == self.literal.casefold()
        return self.constraint is None or _CONSTRAINTS[self.constraint](text)


@dataclass(frozen=True)
class RouteTemplate:
    text: str
    segments: tuple[Segment, ...]

    @classmethod
    def parse(cls, text: str) -> RouteTemplate:
        """Raise ValueError naming what is wrong with the template."""
        parts = [part for part in text.strip("/").split("/")] if text.strip("/") else []
        segments: list[Segment] = []
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if not part:
                raise ValueError(f"route {text!r} has an empty segment")
            if "{" not in part and "}" not in part:
                segments.append(Segment(literal=part))
                continue
            found = _PARAMETER.match(part)
            if found is None:
                raise ValueError(
                    f"route {text!r}: segment {part!r} must be literal text or one whole "
                    "parameter ({name}, {name:constraint}, {name?}, {*name})"
                )
            constraint = found["constraint"]
            if constraint is not None and constraint not in _CONSTRAINTS:
                raise ValueError(
                    f"route {text!r}: unknown constraint {constraint!r} "
                    f"(expected one of {', '.join(sorted(_CONSTRAINTS))})"
                )
            segment = Segment(
                parameter=found["name"],
                constraint=constraint,
                optional=found["optional"] is not None,
                rest=found["star"] is not None,
            )
            if (segment.rest or segment.optional) and not last:
                raise ValueError(f"route {text!r}: {part!r} may only be the last segment")
            segments.append(segment)
        return cls(text, tuple(segments))

    @property
    def precedence(self) -> tuple[int, int, int]:
        """Sort key, most specific first: literals, then constrained, then open parameters."""
        literals = sum(1 for segment in self.segments if segment.literal is not None)
        constrained = sum(1 for segment in self.segments if segment.constraint is not None)
        return (-literals, -constrained, -len(self.segments))

    def match(self, path: Sequence[str]) -> dict[str, str] | None:
        """The route parameters if the (still percent-encoded) path segments fit."""
        values: dict[str, str] = {}
        for index, segment in enumerate(self.segments):
            if segment.rest:
                if path[index:]:
                    assert segment.parameter is not None
                    values[segment.parameter] = unquote("/".join(path[index:]))
                return values
            if index >= len(path):
                return values if segment.optional else None
            text = unquote(path[index])
            if not segment.accepts(text):
                return None
            if segment.parameter is not None:
                values[segment.parameter] = text
        return values if len(path) == len(self.segments) else None

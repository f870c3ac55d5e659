"""VM resource ids: the one parser and builder of the app's side.

A VM id is `/subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.Compute/virtualMachines/{n}`.
ARM compares ids without regard to case; the parsed values keep the case they were
written in, and `key` (the lowercased id) is what equality and hashing use.

The parser is strict and total: segment names in any case, but no trailing slash, no
trailing newline, no whitespace or control character in a value, no empty segment, no
extra or missing segment; anything else raises `ResourceIdError` naming the form expected.

Where ARM differs: it tolerates a trailing slash in a request path, and it is stricter
about the values themselves (a resource group is 1-90 letters, digits and `._-()`, not
ending in `.`; a VM name is 1-64 characters, 15 for a Windows computer name, without
most punctuation; a subscription id is a GUID). The app checks only what it needs to
round-trip an id through a URL, a table key and a plan file, so it accepts values ARM
would refuse at creation; the fleet simulator's parser (`fleetsim.vm_ids`) agrees with
this one on every case in tests/test_vm_id_cases.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from patching.errors import BadInput

# A value: anything but a slash, whitespace or a control character (C0, DEL, C1).
_VALUE = r"[^/\s\x00-\x1f\x7f-\x9f]+"


def _any_case(literal: str) -> str:
    """`literal` as a pattern that matches it in any case, without a flag (JSON Schema has none)."""
    return "".join(
        f"[{ch.lower()}{ch.upper()}]" if ch.isalpha() else re.escape(ch) for ch in literal
    )


VM_ID_PATTERN = (
    f"^/{_any_case('subscriptions')}/(?P<subscription>{_VALUE})"
    f"/{_any_case('resourceGroups')}/(?P<group>{_VALUE})"
    f"/{_any_case('providers')}/{_any_case('Microsoft.Compute')}/{_any_case('virtualMachines')}"
    f"/(?P<name>{_VALUE})$"
)
"""The VM id as a JSON Schema pattern (the fleet file's); `VmId.parse` uses the same one."""

_VM_ID_FORM = "/subscriptions/S/resourceGroups/G/providers/Microsoft.Compute/virtualMachines/NAME"


class ResourceIdError(BadInput):
    """Text that is not the resource id expected."""


def _fullmatch(pattern: str) -> re.Pattern[str]:
    # `$` would match before a final newline; fullmatch of the body anchors at the true end.
    return re.compile(pattern.removeprefix("^").removesuffix("$"))


_VM_ID = _fullmatch(VM_ID_PATTERN)
_VALUE_ONLY = re.compile(_VALUE)


def _parsed(text: object) -> tuple[str, str, str]:
    match = _VM_ID.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ResourceIdError(
            f"{text!r} is not a VM id (expected {_VM_ID_FORM}, with no whitespace, control "
            "character, empty segment or trailing slash)"
        )
    return match["subscription"], match["group"], match["name"]


@dataclass(frozen=True, slots=True)
class VmId:
    """A VM's resource id; equal to another when the ids match without regard to case."""

    subscription_id: str = field(compare=False)
    resource_group: str = field(compare=False)
    name: str = field(compare=False)
    key: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for label, value in (
            ("subscription id", self.subscription_id),
            ("resource group", self.resource_group),
            ("name", self.name),
        ):
            if not isinstance(value, str) or _VALUE_ONLY.fullmatch(value) is None:
                raise ResourceIdError(
                    f"VM id {label} {value!r}: expected a non-empty value with no slash, "
                    "whitespace or control character"
                )
        object.__setattr__(self, "key", str(self).lower())

    @classmethod
    def parse(cls, text: str) -> VmId:
        return cls(*_parsed(text))

    @classmethod
    def build(cls, subscription_id: str, resource_group: str, name: str) -> VmId:
        return cls(subscription_id, resource_group, name)

    def __str__(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Compute/virtualMachines/{self.name}"
        )

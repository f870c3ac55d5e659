"""What the assessment and on-demand orchestrations pass around, and the checks of their input.

Names of the activities (orchestrators call them by name) and the request parsers the
HTTP API and the activities share: the assessment scope, the on-demand install body and
the hotpatch change (docs/CONTRACTS.md section 5). Each refuses bad input with a
`BadInput` naming the field, before anything starts.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from patching.errors import BadInput
from patching.models import Classification, RebootSetting
from patching.resource_ids import ResourceIdError, VmId

ASSESSMENT_SCOPE = "assessment_scope"
DISCOVER_SUBSCRIPTION = "discover_subscription"
SELECT_ASSESSMENT_WAVES = "select_assessment_waves"
START_ASSESSMENTS = "start_assessments"
CHECK_ASSESSMENTS = "check_assessments"
ASSESSMENT_WAVE = "assessment_wave"
VALIDATE_ONDEMAND_INSTALL = "validate_ondemand_install"
ONDEMAND_INSTALL_GROUP = "ondemand_install_group"
START_ONDEMAND_INSTALLS = "start_ondemand_installs"
CHECK_ONDEMAND_INSTALLS = "check_ondemand_installs"
SET_HOTPATCHING = "set_hotpatching"

ONDEMAND_CYCLE = "ondemand"
MAX_INSTALL_DURATION = timedelta(hours=4)
_DURATION = re.compile(r"PT(?:(\d{1,3})H)?(?:(\d{1,4})M)?", re.ASCII)
_SUBSCRIPTION = re.compile(r"(?:/subscriptions/)?([0-9A-Fa-f-]{36})", re.IGNORECASE)
_RESOURCE_GROUP = re.compile(r"/subscriptions/([0-9A-Fa-f-]{36})/resourceGroups/([^/\s]+)", re.I)
_KB_NUMBER = re.compile(r"\d{1,10}", re.ASCII)


class RequestError(BadInput):
    """An assessment scope or install request refused: the message names the field."""


class ForeignSubscription(RequestError):
    """An id outside the configured subscriptions (the HTTP API answers 403)."""


@dataclass(frozen=True, slots=True)
class Scope:
    """What an on-demand assessment covers: whole subscriptions, resource groups
    (subscription, lowercased group) and single VMs (lowercased ids), all lowercase."""

    subscriptions: frozenset[str] = frozenset()
    resource_groups: frozenset[tuple[str, str]] = frozenset()
    vms: frozenset[str] = frozenset()

    @property
    def touched_subscriptions(self) -> frozenset[str]:
        return (
            self.subscriptions
            | {subscription for subscription, _ in self.resource_groups}
            | {VmId.parse(vm).subscription_id.lower() for vm in self.vms}
        )

    def covers(self, vm: VmId) -> bool:
        subscription = vm.subscription_id.lower()
        return (
            subscription in self.subscriptions
            or (subscription, vm.resource_group.lower()) in self.resource_groups
            or vm.key in self.vms
        )


def parse_scope(items: Any, configured: Collection[str]) -> Scope | None:
    """None (the periodic round over every configured subscription) or the scope given."""
    if items is None:
        return None
    if not isinstance(items, list) or not items:
        raise RequestError(f"scope is {items!r}; expected a non-empty list of ids, or null")
    managed = {subscription.lower() for subscription in configured}
    subscriptions: set[str] = set()
    groups: set[tuple[str, str]] = set()
    vms: set[str] = set()
    for index, item in enumerate(items):
        field = f"scope[{index}]"
        if not isinstance(item, str):
            raise RequestError(f"{field} is {item!r}; expected an id string")
        subscription = _scope_item(field, item, subscriptions, groups, vms)
        if subscription not in managed:
            raise ForeignSubscription(
                f"{field} {item!r}: subscription {subscription} is not one the app manages"
            )
    return Scope(frozenset(subscriptions), frozenset(groups), frozenset(vms))


def _scope_item(
    field: str, item: str, subscriptions: set[str], groups: set[tuple[str, str]], vms: set[str]
) -> str:
    """Adds `item` to the set of its kind and returns its subscription, lowercased."""
    if "/providers/" in item.lower():
        try:
            vm = VmId.parse(item)
        except ResourceIdError as error:
            raise RequestError(f"{field}: {error}") from error
        vms.add(vm.key)
        return vm.subscription_id.lower()
    group = _RESOURCE_GROUP.fullmatch(item)
    if group is not None:
        groups.add((group[1].lower(), group[2].lower()))
        return group[1].lower()
    subscription = _SUBSCRIPTION.fullmatch(item)
    if subscription is None:
        raise RequestError(
            f"{field} {item!r}: expected a subscription id, /subscriptions/S/resourceGroups/G "
            "or a VM id"
        )
    subscriptions.add(subscription[1].lower())
    return subscription[1].lower()


def scope_payload(scope: Scope | None) -> list[str] | None:
    """The scope as the orchestration input carries it (ids a parse gives back)."""
    if scope is None:
        return None
    return sorted(
        [
            *scope.subscriptions,
            *(f"/subscriptions/{s}/resourceGroups/{g}" for s, g in scope.resource_groups),
            *scope.vms,
        ]
    )


@dataclass(frozen=True, slots=True)
class OnDemandInstall:
    """A checked POST /installations body: what every VM of `vms` installs."""

    vms: tuple[str, ...]
    classifications: tuple[Classification, ...]
    kb_numbers_to_include: tuple[str, ...]
    kb_numbers_to_exclude: tuple[str, ...]
    reboot_setting: RebootSetting
    maximum_duration: timedelta


def parse_ondemand_install(body: Any, configured: Collection[str]) -> OnDemandInstall:
    """The body of POST /installations, every field checked; RequestError names the first
    bad one."""
    if not isinstance(body, dict):
        raise RequestError(f"the request is {type(body).__name__}; expected a JSON object")
    unknown = sorted(set(body) - _INSTALL_FIELDS)
    if unknown:
        raise RequestError(f"{unknown[0]}: unknown field; expected only {sorted(_INSTALL_FIELDS)}")
    return OnDemandInstall(
        vms=_managed_vms(body, configured),
        classifications=_classifications(body),
        kb_numbers_to_include=_kb_numbers(body, "kbNumbersToInclude"),
        kb_numbers_to_exclude=_kb_numbers(body, "kbNumbersToExclude"),
        reboot_setting=_reboot_setting(body),
        maximum_duration=parse_install_duration(body.get("maximumDuration", "PT2H")),
    )


def hotpatch_payload(vms: Sequence[str], enable: bool) -> dict[str, Any]:
    """The input of each `set_hotpatching` call (and, with `notWindows`, of
    `ondemand_hotpatch`)."""
    return {"vms": list(vms), "enableHotpatching": enable}


@dataclass(frozen=True, slots=True)
class HotpatchChange:
    """A checked POST /hotpatch body (and `set_hotpatching` input): the flag for `vms`."""

    vms: tuple[str, ...]
    enable: bool


def parse_hotpatch_change(body: Any, configured: Collection[str]) -> HotpatchChange:
    """`hotpatch_payload` read back: the VMs (each once, each of a managed subscription)
    and the flag; RequestError names the first bad field."""
    if not isinstance(body, dict) or set(body) != {"vms", "enableHotpatching"}:
        raise RequestError("expected an object of exactly vms and enableHotpatching")
    enable = body["enableHotpatching"]
    if not isinstance(enable, bool):
        raise RequestError(f"enableHotpatching is {enable!r}; expected true or false")
    return HotpatchChange(_managed_vms(body, configured), enable)


def _managed_vms(body: dict[str, Any], configured: Collection[str]) -> tuple[str, ...]:
    vms = _strings(body, "vms", required=True)
    if not vms:
        raise RequestError("vms is []; expected at least one VM id")
    managed = {subscription.lower() for subscription in configured}
    seen: dict[str, str] = {}
    for index, text in enumerate(vms):
        try:
            vm = VmId.parse(text)
        except ResourceIdError as error:
            raise RequestError(f"vms[{index}]: {error}") from error
        if vm.subscription_id.lower() not in managed:
            raise ForeignSubscription(
                f"vms[{index}] {text!r}: subscription {vm.subscription_id} is not one the "
                "app manages"
            )
        if vm.key in seen:
            raise RequestError(f"vms[{index}] {text!r}: the VM is listed twice")
        seen[vm.key] = text
    return tuple(seen.values())


def parse_install_duration(text: Any) -> timedelta:
    """An ISO 8601 duration of hours and minutes, e.g. PT2H or PT1H30M, up to PT4H."""
    match = _DURATION.fullmatch(text) if isinstance(text, str) else None
    if match is None or not (match[1] or match[2]):
        raise RequestError(f"maximumDuration {text!r}: expected an ISO 8601 duration like PT2H")
    duration = timedelta(hours=int(match[1] or 0), minutes=int(match[2] or 0))
    if not timedelta(minutes=30) <= duration <= MAX_INSTALL_DURATION:
        raise RequestError(f"maximumDuration {text!r}: expected from PT30M to PT4H")
    return duration


def install_payload(request: OnDemandInstall) -> dict[str, Any]:
    """The request as the orchestration input carries it (what a parse gives back)."""
    minutes = int(request.maximum_duration.total_seconds() // 60)
    return {
        "vms": list(request.vms),
        "classifications": [c.value for c in request.classifications],
        "kbNumbersToInclude": list(request.kb_numbers_to_include),
        "kbNumbersToExclude": list(request.kb_numbers_to_exclude),
        "rebootSetting": request.reboot_setting.value,
        "maximumDuration": f"PT{minutes // 60}H{minutes % 60}M",
    }


_INSTALL_FIELDS = {
    "vms",
    "classifications",
    "kbNumbersToInclude",
    "kbNumbersToExclude",
    "rebootSetting",
    "maximumDuration",
}


def _strings(body: dict[str, Any], name: str, *, required: bool = False) -> tuple[str, ...]:
    if name not in body and not required:
        return ()
    value = body.get(name)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise RequestError(f"{name} is {value!r}; expected a list of strings")
    return tuple(value)


def _classifications(body: dict[str, Any]) -> tuple[Classification, ...]:
    texts = _strings(body, "classifications") or ("Critical", "Security")
    chosen: list[Classification] = []
    for text in texts:
        try:
            chosen.append(Classification(text))
        except ValueError as error:
            expected = ", ".join(c.value for c in Classification)
            raise RequestError(f"classifications: {text!r} is not one of {expected}") from error
    return tuple(dict.fromkeys(chosen))


def _kb_numbers(body: dict[str, Any], name: str) -> tuple[str, ...]:
    numbers = _strings(body, name)
    for kb in numbers:
        if not _KB_NUMBER.fullmatch(kb):
            raise RequestError(f"{name}: {kb!r} is not a KB number (digits, e.g. 5048654)")
    return numbers


def _reboot_setting(body: dict[str, Any]) -> RebootSetting:
    text = body.get("rebootSetting", RebootSetting.IF_REQUIRED.value)
    try:
        return RebootSetting(text)
    except ValueError as error:
        expected = ", ".join(r.value for r in RebootSetting)
        raise RequestError(f"rebootSetting {text!r}: expected one of {expected}") from error

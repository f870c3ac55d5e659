"""Every route's input, checked once, here: bodies and queries by pydantic models whose
values follow the domain's own rules (`VmId`, `Classification`, `RebootSetting`,
`parse_install_duration`, `parse_scope`, the calendar's cycle ids), then the configured
subscriptions. Bad input is an `ApiError` 400 naming the field; an id outside the
subscriptions the app manages is a 403. What comes out is what the orchestrations take,
so a request accepted here is never refused after it started something.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from http_api.errors import ApiError, ErrorCode, bad_field, not_managed
from orchestrators.assessment_payloads import (
    ForeignSubscription,
    HotpatchChange,
    OnDemandInstall,
    RequestError,
    Scope,
    parse_hotpatch_change,
    parse_install_duration,
    parse_ondemand_install,
    parse_scope,
)
from patching.calendar import CalendarError, parse_cycle_id
from patching.errors import BadInput
from patching.models import Classification, RebootSetting
from patching.resource_ids import VmId

MAX_SCOPE_ITEMS = 1000
MAX_INSTALL_VMS = 10_000
MAX_HOTPATCH_VMS = 1000
MAX_REASON_CHARS = 500
HISTORY_MAX_DAYS = 30
# A cycle's store id: the month, or the month's unplanned baseline that replaced it.
# docs/openapi.yaml carries these patterns (tests/http checks they are the same).
CYCLE_ID_PATTERN = r"^2[0-9]{3}-(?:0[1-9]|1[0-2])(?:-baseline)?$"
# maximumDuration from PT30M to PT4H, written as hours (1-4) and minutes (0-59), or as
# minutes alone (30-240): a form the orchestration's parser reads the same way.
INSTALL_DURATION_PATTERN = (
    r"^PT(?:4H(?:0{1,2}M)?|[1-3]H(?:[0-5]?[0-9]M)?|(?:0H)?[3-5][0-9]M"
    r"|(?:[6-9][0-9]|1[0-9]{2}|2[0-3][0-9]|240)M)$"
)
KB_NUMBER_PATTERN = r"^[0-9]{1,10}$"
_CYCLE_ID = re.compile(CYCLE_ID_PATTERN.removeprefix("^").removesuffix("$"), re.ASCII)
_INSTALL_DURATION = re.compile(
    INSTALL_DURATION_PATTERN.removeprefix("^").removesuffix("$"), re.ASCII
)
_DAYS = re.compile(r"[0-9]{1,9}", re.ASCII)
# Where a scope item names its subscription, whatever form it has (checked by parse_scope).
_SCOPE_SUBSCRIPTION = re.compile(r"(?:/subscriptions/)?([^/]*)", re.IGNORECASE)
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

_Model = TypeVar("_Model", bound=BaseModel)
_Parsed = TypeVar("_Parsed")


def _refused(kind: str, error: Exception) -> PydanticCustomError:
    return PydanticCustomError(kind, "{reason}", {"reason": str(error)})


def _vm_id(text: str) -> str:
    try:
        VmId.parse(text)
    except BadInput as error:
        raise _refused("vm_id", error) from error
    return text


def _duration(text: str) -> str:
    if not _INSTALL_DURATION.fullmatch(text):
        raise PydanticCustomError(
            "duration",
            "{reason}",
            {"reason": f"{text!r} is not an ISO 8601 duration from PT30M to PT4H (PT2H, PT1H30M)"},
        )
    try:
        parse_install_duration(text)
    except RequestError as error:
        raise _refused("duration", error) from error
    return text


def _reason(text: str) -> str:
    if not text.strip():
        raise PydanticCustomError("reason", "expected a reason, not blank text")
    if _CONTROL.search(text):
        raise PydanticCustomError("reason", "a control character is not allowed")
    return text


def _cycle_id(text: str) -> str:
    if not _CYCLE_ID.fullmatch(text):
        raise PydanticCustomError("cycle", "{reason}", {"reason": f"{text!r} is not YYYY-MM"})
    try:
        parse_cycle_id(text[:7])
    except CalendarError as error:
        raise _refused("cycle", error) from error
    return text


def _whole_days(value: object) -> object:
    """A query's days as digits only (not `+5`, ` 5` or `1_0`, which int() would take)."""
    if isinstance(value, str) and not _DAYS.fullmatch(value):
        raise PydanticCustomError(
            "days", "{reason}", {"reason": f"{value!r} is not a whole number of days"}
        )
    return value


def _subscription_id(text: str) -> str:
    if not _GUID.fullmatch(text):
        raise PydanticCustomError(
            "subscription", "{reason}", {"reason": f"{text!r} is not a subscription id (a GUID)"}
        )
    return text.lower()


VmIdText = Annotated[str, AfterValidator(_vm_id)]
KbNumber = Annotated[str, StringConstraints(pattern=KB_NUMBER_PATTERN)]
Duration = Annotated[str, AfterValidator(_duration)]
CycleId = Annotated[str, AfterValidator(_cycle_id)]
SubscriptionId = Annotated[str, AfterValidator(_subscription_id)]


class _Body(BaseModel):
    # JSON as written: no coercion of 5 to "5", no field the contract does not name.
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class _Query(BaseModel):
    # Query values are text; `code` (the function key) and others are not the route's.
    model_config = ConfigDict(extra="ignore", frozen=True)


class AssessmentBody(_Body):
    scope: Annotated[list[str], Field(min_length=1, max_length=MAX_SCOPE_ITEMS)]


class InstallationBody(_Body):
    vms: Annotated[list[VmIdText], Field(min_length=1, max_length=MAX_INSTALL_VMS)]
    classifications: list[Classification] = [Classification.CRITICAL, Classification.SECURITY]
    # Field names are the contract's JSON names.
    kbNumbersToInclude: list[KbNumber] = []
    kbNumbersToExclude: list[KbNumber] = []
    rebootSetting: RebootSetting = RebootSetting.IF_REQUIRED
    maximumDuration: Duration = "PT2H"


class HotpatchBody(_Body):
    vms: Annotated[list[VmIdText], Field(min_length=1, max_length=MAX_HOTPATCH_VMS)]
    enableHotpatching: bool


class ResumeBody(_Body):
    reason: Annotated[
        str, StringConstraints(min_length=1, max_length=MAX_REASON_CHARS), AfterValidator(_reason)
    ]


class ComplianceQuery(_Query):
    subscription: SubscriptionId | None = None


class HistoryQuery(_Query):
    vm: VmIdText
    days: Annotated[int, BeforeValidator(_whole_days), Field(ge=1, le=HISTORY_MAX_DAYS)] = (
        HISTORY_MAX_DAYS
    )


class PlanQuery(_Query):
    cycle: CycleId


class CyclePath(_Query):
    cycle: CycleId


@dataclass(frozen=True, slots=True)
class Resume:
    cycle: str
    reason: str


# ----- what each route takes -----


def assessment_scope(body: bytes, managed: Collection[str]) -> Scope:
    """POST /assessments: the scope, every item a subscription, resource group or VM id of
    a subscription the app manages."""
    items = _body(AssessmentBody, body).scope
    named = {_scope_subscription(item) for item in items}
    try:
        parse_scope(items, named)  # the syntax alone: every subscription named counts here
    except RequestError as error:
        raise _domain_refusal(error, "scope") from error
    for index, item in enumerate(items):
        if _scope_subscription(item) not in _lowered(managed):
            raise not_managed(
                f"scope[{index}]",
                f"scope[{index}] {item!r}: subscription {_scope_subscription(item)} is not one "
                "the app manages",
            )
    scope = parse_scope(items, managed)
    if scope is None:  # only a null scope is the periodic round; pydantic refused that
        raise bad_field("scope", "scope: expected a non-empty list of ids")
    return scope


def installation(body: bytes, managed: Collection[str]) -> OnDemandInstall:
    """POST /installations: the request as `ondemand_install` takes it."""
    checked = _body(InstallationBody, body)
    _check_vm_list(checked.vms, managed)
    return _as_the_activity_takes(parse_ondemand_install, checked, managed)


def hotpatch_change(body: bytes, managed: Collection[str]) -> HotpatchChange:
    """POST /hotpatch: distinct VM ids of managed subscriptions and the flag to set."""
    checked = _body(HotpatchBody, body)
    _check_vm_list(checked.vms, managed)
    return _as_the_activity_takes(parse_hotpatch_change, checked, managed)


def _as_the_activity_takes(
    parse: Callable[[Any, Collection[str]], _Parsed], checked: BaseModel, managed: Collection[str]
) -> _Parsed:
    """The orchestration's own check of the body, so that what is accepted here it accepts
    too."""
    try:
        return parse(checked.model_dump(mode="json"), managed)
    except ForeignSubscription as error:
        raise not_managed("vms", str(error)) from error
    except RequestError as error:
        raise _domain_refusal(error, "body") from error


def _check_vm_list(vms: list[str], managed: Collection[str]) -> None:
    """Each VM once (ids compare case-insensitively), each of a managed subscription."""
    seen: set[str] = set()
    for index, text in enumerate(vms):
        key = VmId.parse(text).key
        if key in seen:
            raise bad_field(f"vms[{index}]", f"vms[{index}] {text!r}: the VM is listed twice")
        seen.add(key)
    for index, text in enumerate(vms):
        if not _manages(managed, VmId.parse(text).subscription_id):
            raise not_managed(
                f"vms[{index}]",
                f"vms[{index}] {text!r}: subscription {VmId.parse(text).subscription_id} is not "
                "one the app manages",
            )


def resume(cycle: str, body: bytes) -> Resume:
    """POST /cycles/{cycle}/resume."""
    path = _query(CyclePath, {"cycle": cycle}, where="cycle")
    return Resume(path.cycle, _body(ResumeBody, body).reason)


def vm_path(route: Mapping[str, str], managed: Collection[str]) -> VmId:
    """GET /vms/{subscriptionId}/{resourceGroup}/{vmName}."""
    parts = {name: route.get(name, "") for name in ("subscriptionId", "resourceGroup", "vmName")}
    for position, (name, value) in enumerate(parts.items()):
        placed = ["s", "g", "n"]
        placed[position] = value
        try:
            VmId.build(*placed)
        except BadInput as error:
            raise bad_field(name, f"{name} {value!r}: {_after_colon(error)}") from error
    vm = VmId.build(parts["subscriptionId"], parts["resourceGroup"], parts["vmName"])
    if not _manages(managed, vm.subscription_id):
        raise not_managed(
            "subscriptionId",
            f"subscriptionId {vm.subscription_id!r} is not a subscription the app manages",
        )
    return vm


def compliance_subscription(query: Mapping[str, str], managed: Collection[str]) -> str | None:
    """GET /compliance?subscription=: one managed subscription, or None for all of them."""
    subscription = _query(ComplianceQuery, query).subscription
    if subscription is not None and not _manages(managed, subscription):
        raise not_managed("subscription", f"subscription {subscription} is not one the app manages")
    return subscription


def history_query(query: Mapping[str, str], managed: Collection[str]) -> tuple[VmId, int]:
    """GET /history?vm=&days=: a managed VM and 1 to 30 days."""
    checked = _query(HistoryQuery, query)
    vm = VmId.parse(checked.vm)
    if not _manages(managed, vm.subscription_id):
        raise not_managed(
            "vm", f"vm {checked.vm!r}: subscription {vm.subscription_id} is not one the app manages"
        )
    return vm, checked.days


def plan_cycle_id(query: Mapping[str, str]) -> str:
    """GET /plan?cycle=YYYY-MM."""
    return _query(PlanQuery, query).cycle


# ----- the one translation of pydantic's errors -----


def _body(model: type[_Model], body: bytes) -> _Model:
    try:
        return model.model_validate_json(body or b"")
    except ValidationError as error:
        raise _first_error(error, where="body") from error


def _query(model: type[_Model], query: Mapping[str, str], *, where: str | None = None) -> _Model:
    try:
        return model.model_validate(dict(query))
    except ValidationError as error:
        raise _first_error(error, where=where or "query") from error


def _first_error(error: ValidationError, *, where: str) -> ApiError:
    detail = error.errors(include_url=False)[0]
    field = _field_name(detail) or where
    kind = detail["type"]
    if kind == "json_invalid":
        reason = f"{where}: not valid JSON ({detail['msg']})"
        return bad_field(where, reason, ErrorCode.INVALID_JSON)
    if kind == "missing":
        return bad_field(field, f"{field}: required", ErrorCode.MISSING_FIELD)
    if kind == "extra_forbidden":
        return bad_field(field, f"{field}: unknown field", ErrorCode.UNKNOWN_FIELD)
    if kind == "model_type":
        return bad_field(where, f"{where}: expected a JSON object")
    return bad_field(field, detail["msg"])


def _field_name(detail: ErrorDetails) -> str:
    """pydantic's location as the field is written: `vms[1]`, `maximumDuration`."""
    name = ""
    for part in detail["loc"]:
        if isinstance(part, int):
            name += f"[{part}]"
        elif not (name and part in {"str", "int"}):
            name += f".{part}" if name else str(part)
    return name


def _domain_refusal(error: BadInput, default_field: str) -> ApiError:
    """A domain parser's refusal; its message starts with the field it names."""
    text = str(error)
    field = re.match(r"[A-Za-z]+(?:\[\d+\])?", text)
    return bad_field(field[0] if field else default_field, text)


def _scope_subscription(item: str) -> str:
    match = _SCOPE_SUBSCRIPTION.match(item)
    return match[1].lower() if match else ""


def _lowered(subscriptions: Collection[str]) -> set[str]:
    return {subscription.lower() for subscription in subscriptions}


def _manages(managed: Collection[str], subscription: str) -> bool:
    return subscription.lower() in _lowered(managed)


def _after_colon(error: BadInput) -> str:
    return str(error).split(": ", 1)[-1]

"""One table of VM id cases, and the two parsers that must agree on it: the app's
(`patching.resource_ids.VmId.parse`) and the fleet simulator's (`fleetsim.vm_ids.parse_vm_id`),
which stands in for Azure and keeps its own.

Where ARM differs: ARM tolerates a trailing slash on a request path and compares segment
values without case, but is stricter about the values themselves (resource group names are
letters, digits and `._-()`; VM names have no spaces and little punctuation; subscription
ids are GUIDs). Both parsers check only what an id needs to round-trip through a URL, a
table key and a plan file, so some rows below accept values ARM would refuse at creation
(the unicode and punctuation rows).
"""

from __future__ import annotations

from typing import NamedTuple

import fastjsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleetsim.vm_ids import VmIdParts, parse_vm_id
from patching.errors import BadInput
from patching.fleet import FLEET_SCHEMA
from patching.resource_ids import VmId

SUB = "11111111-1111-4111-8111-111111111111"
GOOD = (
    f"/subscriptions/{SUB}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/web-01"
)


class Case(NamedTuple):
    label: str
    text: str
    parts: tuple[str, str, str] | None  # (subscription, resource group, name), None: refused


CASES = [
    Case("valid", GOOD, (SUB, "rg-app", "web-01")),
    Case(
        "segment names in any case",
        GOOD.replace("/subscriptions/", "/SUBSCRIPTIONS/")
        .replace("/resourceGroups/", "/resourcegroups/")
        .replace("/providers/", "/Providers/")
        .replace("Microsoft.Compute/virtualMachines", "microsoft.compute/VIRTUALMACHINES"),
        (SUB, "rg-app", "web-01"),
    ),
    Case("values keep their case", GOOD.replace("rg-app", "RG-App"), (SUB, "RG-App", "web-01")),
    Case(
        "punctuation ARM allows",
        GOOD.replace("rg-app", "rg_app.(1)"),
        (SUB, "rg_app.(1)", "web-01"),
    ),
    Case("unicode names", GOOD.replace("web-01", "wéb-日本"), (SUB, "rg-app", "wéb-日本")),
    Case("trailing slash", GOOD + "/", None),
    Case("trailing newline", GOOD + "\n", None),
    Case("trailing carriage return", GOOD + "\r", None),
    Case("leading space", " " + GOOD, None),
    Case("space in a name", GOOD.replace("web-01", "web 01"), None),
    Case("tab in a name", GOOD.replace("web-01", "web\t01"), None),
    Case("no-break space in a name", GOOD.replace("web-01", "web\u00a001"), None),
    Case("NUL in a name", GOOD.replace("web-01", "web\x0001"), None),
    Case("DEL in a resource group", GOOD.replace("rg-app", "rg\x7fapp"), None),
    Case("C1 control in a name", GOOD.replace("web-01", "web\x8501"), None),
    Case("empty subscription", GOOD.replace(SUB, ""), None),
    Case("empty resource group", GOOD.replace("rg-app", ""), None),
    Case("empty name", GOOD.replace("web-01", ""), None),
    Case("doubled slash", GOOD.replace("/providers/", "//providers/"), None),
    Case("wrong provider", GOOD.replace("Microsoft.Compute", "Microsoft.Network"), None),
    Case("dot is not a wildcard", GOOD.replace("Microsoft.Compute", "MicrosoftXCompute"), None),
    Case("wrong type", GOOD.replace("virtualMachines", "virtualMachineScaleSets"), None),
    Case(
        "availability set id",
        GOOD.replace("virtualMachines/web-01", "availabilitySets/as-web"),
        None,
    ),
    Case("extra segments", GOOD + "/extensions/agent", None),
    Case("missing leading slash", GOOD.removeprefix("/"), None),
    Case("missing resource group", GOOD.replace("/resourceGroups/rg-app", ""), None),
    Case("missing name", GOOD.removesuffix("/web-01"), None),
    Case("empty", "", None),
]


@pytest.mark.parametrize("case", CASES, ids=[case.label for case in CASES])
def test_the_app_parses_the_table(case: Case) -> None:
    if case.parts is None:
        with pytest.raises(BadInput, match="is not a VM id"):
            VmId.parse(case.text)
        return
    parsed = VmId.parse(case.text)
    assert (parsed.subscription_id, parsed.resource_group, parsed.name) == case.parts
    assert VmId.parse(str(parsed)) == parsed


@pytest.mark.parametrize("case", CASES, ids=[case.label for case in CASES])
def test_the_simulator_parses_the_table(case: Case) -> None:
    expected = VmIdParts(*case.parts) if case.parts is not None else None
    assert parse_vm_id(case.text) == expected


@pytest.mark.parametrize("case", CASES, ids=[case.label for case in CASES])
def test_the_fleet_schema_agrees_with_the_table(case: Case) -> None:
    check = fastjsonschema.compile(FLEET_SCHEMA["properties"]["vms"]["items"]["properties"]["id"])
    try:
        check(case.text)
        accepted = True
    except fastjsonschema.JsonSchemaValueException:
        accepted = False
    assert accepted is (case.parts is not None)


def test_ids_compare_and_hash_without_case() -> None:
    shouting = VmId.parse(GOOD.upper())
    quiet = VmId.parse(GOOD.lower())
    assert shouting == quiet
    assert len({shouting, quiet}) == 1
    assert shouting.key == GOOD.lower()
    assert shouting.name == "WEB-01"
    assert VmId.parse(GOOD) != VmId.parse(GOOD.replace("web-01", "web-02"))


def test_build_refuses_what_parse_refuses() -> None:
    assert str(VmId.build(SUB, "rg-app", "web-01")) == GOOD
    for subscription, group, name in [
        (SUB, "", "web-01"),
        (SUB, "rg/app", "web-01"),
        (SUB, "rg-app", "web\n"),
    ]:
        with pytest.raises(BadInput, match="expected a non-empty value"):
            VmId.build(subscription, group, name)


value = st.text(
    st.characters(blacklist_categories=("Cs",)),
    min_size=0,
    max_size=12,
)


@given(value, value, value)
def test_both_parsers_agree_on_any_built_text(subscription: str, group: str, name: str) -> None:
    text = (
        f"/subscriptions/{subscription}/resourceGroups/{group}"
        f"/providers/Microsoft.Compute/virtualMachines/{name}"
    )
    simulator = parse_vm_id(text)
    try:
        app: VmIdParts | None = VmIdParts(*_parts(VmId.parse(text)))
    except BadInput:
        app = None
    assert app == simulator


def _parts(vm_id: VmId) -> tuple[str, str, str]:
    return vm_id.subscription_id, vm_id.resource_group, vm_id.name


segment = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zs", "Zl", "Zp"), blacklist_characters="/"),
    min_size=1,
    max_size=20,
).filter(lambda text: not any(ch.isspace() for ch in text))


@given(segment, segment, segment)
def test_build_and_parse_invert_each_other(subscription: str, group: str, name: str) -> None:
    built = VmId.build(subscription, group, name)
    parsed = VmId.parse(str(built))
    assert _parts(parsed) == (subscription, group, name)
    assert parsed == built
    assert parse_vm_id(str(built)) == VmIdParts(subscription, group, name)

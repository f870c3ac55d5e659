"""The command lines' whole contract, on random damage to valid fleet files and arguments.

`patchctl plan` either exits 0 with a plan file that keeps every rule, or exits 2
with one line on stderr and no plan file; `fleetsim serve`, given a port already
taken, always exits 2 with one line and writes nothing. Nothing else, ever.
"""

from __future__ import annotations

import copy
import io
import json
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from fleetsim.cli import main as fleetsim_main
from patchctl.cli import main as patchctl_main
from patchctl.fleetgen import generate_fleet
from patching.defaults import HEALTH_GATE_MINUTES_BOUNDS, SLOT_MINUTES_BOUNDS
from tests.planner.contract_checks import check_plan

EXAMPLE = Path(__file__).resolve().parents[1] / "domain" / "data" / "fleet-small.json"
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Raw JSON that `json.dumps` cannot produce, spliced in where a marker string stands.
RAW_LITERALS = (
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "-1" + "0" * 5000,
    "9" * 5000,
    "[" * 5000 + "]" * 5000,
    '{"a":' * 3000 + "1" + "}" * 3000,
)
ODD_VALUES = (
    None,
    True,
    0,
    -1,
    10**30,
    -(10**30),
    2.5,
    "",
    " ",
    [],
    {},
    ["eastus"],
    "AutomaticByPlatform",
    "eastus",
    "25:00-03:00",
    "22:00-06:00",
    "Mars/Olympus",
    "Pacific Standard Time",
)


ODD_WINDOWS_AND_ZONES = (
    "24:00-06:00",
    "22:00-22:00",
    "22:00-06:00 ",
    "2200-0600",
    "22:00-06:60",
    "Europe/Atlantis",
    "../../etc/passwd",
    "UTC+1",
    "Etc/GMT+14",
    "Pacific/Kiritimati",
    "Asia/Kathmandu",
    "Dateline Standard Time",
)


@st.composite
def base_fleets(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        return json.loads(EXAMPLE.read_text(encoding="utf-8"))
    return generate_fleet(draw(st.integers(2, 25)), seed=draw(st.integers(0, 1000)))


def _containers(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every dict and list in the document, with the keys that lead to it."""
    if isinstance(node, dict | list):
        yield path, node
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in items:
            yield from _containers(child, (*path, key))


def _misspelt(key: str, draw: st.DrawFn) -> str:
    return draw(
        st.sampled_from(
            [key + "s", key.upper(), key[:-1], key.capitalize(), " " + key, key + "\u200b"]
        )
    )


@st.composite
def damaged_fleet_texts(draw: st.DrawFn) -> str:
    """A valid fleet file, damaged in up to three ways, as the text of a file."""
    document = copy.deepcopy(draw(base_fleets()))
    raw: dict[str, str] = {}
    for _ in range(draw(st.sampled_from([0, 0, 1, 2, 3]))):
        containers = list(_containers(document))
        _, target = draw(st.sampled_from(containers))
        keys = list(target) if isinstance(target, dict) else list(range(len(target)))
        damage = draw(
            st.sampled_from(
                [
                    "drop",
                    "misspell",
                    "odd value",
                    "text",
                    "raw",
                    "duplicate id",
                    "bad pair",
                    "bad window or zone",
                ]
            )
        )
        vms = document.get("vms")
        named = [
            vm
            for vm in (vms if isinstance(vms, list) else [])
            if isinstance(vm, dict) and isinstance(vm.get("id"), str)
        ]
        if damage == "duplicate id" and len(named) > 1:
            first, second = draw(st.permutations(named))[:2]
            second["id"] = first["id"].upper()
        elif damage == "bad window or zone" and named:
            vm = draw(st.sampled_from(named))
            odd = draw(st.one_of(st.sampled_from(ODD_WINDOWS_AND_ZONES), st.text(max_size=12)))
            field = draw(st.sampled_from(["patchWindow", "timeZone", "vm timeZone"]))
            if field == "vm timeZone":
                vm["timeZone"] = odd
            else:
                vm["tags"] = {field: odd}
        elif damage == "bad pair":
            region = {"name": draw(st.sampled_from(["eastus", "lab-x", ""])), "timeZone": "UTC"}
            region["pairedRegion"] = draw(st.sampled_from([region["name"], "nowhere", "westus"]))
            regions = document.get("regions")
            document["regions"] = [*regions, region] if isinstance(regions, list) else [region]
        elif not keys:
            continue
        elif damage == "drop":
            del target[draw(st.sampled_from(keys))]
        elif damage == "misspell" and isinstance(target, dict):
            key = draw(st.sampled_from(keys))
            target[_misspelt(key, draw)] = target.pop(key)
        elif damage == "odd value":
            target[draw(st.sampled_from(keys))] = draw(st.sampled_from(ODD_VALUES))
        elif damage == "text":
            target[draw(st.sampled_from(keys))] = draw(st.text(max_size=12))
        elif damage == "raw":
            marker = f"@raw{len(raw)}@"
            raw[f'"{marker}"'] = draw(st.sampled_from(RAW_LITERALS))
            target[draw(st.sampled_from(keys))] = marker
    text = json.dumps(document, ensure_ascii=draw(st.booleans()))
    for marker, literal in raw.items():
        text = text.replace(marker, literal)
    return text


ODD_TIMES = st.one_of(
    st.sampled_from(
        [
            "9999-12-25T00:00:00Z",
            "9999-12-31T23:59:59-14:00",
            "0001-01-01T00:00:00+01:00",
            "0001-01-01T00:00:00Z",
            "2026-12-10T00:00:00",
            "2026-12-10 00:00",
            "yesterday",
            "",
        ]
    ),
    st.datetimes(timezones=st.just(UTC)).map(lambda moment: moment.isoformat()),
    st.text(max_size=25),
)
NEAR_TIMES = st.datetimes(
    min_value=datetime(2026, 11, 1),
    max_value=datetime(2027, 3, 1),
    timezones=st.sampled_from([UTC, ZoneInfo("Asia/Kathmandu")]),
).map(lambda moment: moment.isoformat())
ODD_NUMBERS = st.one_of(
    st.integers(-(10**15), 10**15).map(str),
    st.sampled_from(["", "1.5", "NaN", "inf", "-0", "1_0", "9" * 5000, "14", "241", "1441"]),
)


@st.composite
def plan_arguments(draw: st.DrawFn) -> dict[str, str | None]:
    """Usual arguments, but for at most one odd one, so that some examples plan."""
    kinds = st.sampled_from(["hotpatch", "plannedBaseline", "unplannedBaseline"])
    gates = st.integers(*HEALTH_GATE_MINUTES_BOUNDS).map(str)
    usual_and_odd = {
        "--cycle": (
            st.sampled_from(["2026-12", "2027-01", "2026-11"]),
            st.one_of(
                st.sampled_from(["9999-12", "9999-11", "0000-01", "0001-01", "2026-13", "26-12"]),
                st.text(max_size=8),
            ),
        ),
        "--kind": (st.one_of(st.none(), kinds), st.text(max_size=10)),
        "--released-at": (st.none(), st.one_of(NEAR_TIMES, ODD_TIMES)),
        "--now": (st.one_of(st.none(), NEAR_TIMES), ODD_TIMES),
        "--slot-minutes": (
            st.one_of(st.none(), st.integers(*SLOT_MINUTES_BOUNDS).map(str)),
            ODD_NUMBERS,
        ),
        "--health-gate-minutes": (st.one_of(st.none(), gates), ODD_NUMBERS),
        "--default-window": (
            st.sampled_from([None, "22:00-06:00", "01:00-05:00", "20:00-04:00"]),
            st.sampled_from(["00:00-00:00", "10pm-6am", "24:00-01:00", ""]),
        ),
    }
    odd_flag = draw(st.sampled_from([None, *usual_and_odd]))
    return {
        flag: draw(odd if flag == odd_flag else usual)
        for flag, (usual, odd) in usual_and_odd.items()
    }


@contextmanager
def captured() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    stdout, stderr = io.StringIO(), io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        yield stdout, stderr


@pytest.fixture(autouse=True)
def _no_planning_settings_from_the_environment(monkeypatch):
    for name in (
        "PATCH_OFF_PEAK_WINDOW",
        "PATCH_INSTALL_SLOT_MINUTES",
        "PATCH_HEALTH_GATE_MINUTES",
    ):
        monkeypatch.delenv(name, raising=False)


@SETTINGS
@given(fleet_text=damaged_fleet_texts(), arguments=plan_arguments(), out_is_fleet=st.booleans())
def test_patchctl_plan_exits_0_with_a_good_plan_or_2_with_one_line(
    fleet_text, arguments, out_is_fleet
):
    with tempfile.TemporaryDirectory() as directory:
        fleet = Path(directory) / "fleet.json"
        fleet.write_text(fleet_text, encoding="utf-8")
        out = fleet if out_is_fleet else Path(directory) / "plans" / "plan.json"
        argv = ["plan", "--fleet", str(fleet), "--out", str(out)]
        argv += [
            item for flag, value in arguments.items() if value is not None for item in (flag, value)
        ]
        with captured() as (stdout, stderr):
            code = patchctl_main(argv)
        lines = stderr.getvalue().splitlines()
        event(f"exit {code}")
        assert code in (0, 2), stderr.getvalue()
        if code == 2:
            assert len(lines) == 1 and lines[0].startswith("error: "), stderr.getvalue()
            assert stdout.getvalue() == ""
            assert fleet.read_text(encoding="utf-8") == fleet_text
            assert sorted(p.name for p in Path(directory).iterdir()) == ["fleet.json"]
            return
        assert not out_is_fleet
        assert [p.name for p in out.parent.iterdir()] == ["plan.json"]
        late = len(lines) == 1 and lines[0].startswith("warning: ")
        assert lines == [] or late, stderr.getvalue()
        check_plan(
            json.loads(fleet_text),
            json.loads(out.read_text(encoding="utf-8")),
            default_window=arguments["--default-window"] or "22:00-06:00",
            expect_deadline=not late,
        )


@contextmanager
def a_taken_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


FLEETSIM_FLAGS = st.fixed_dictionaries(
    {},
    optional={
        "--clock-speed": st.one_of(
            st.floats(allow_nan=True, allow_infinity=True).map(repr),
            st.sampled_from(["", "fast", "1e9", "-0", "1200"]),
        ),
        "--port": st.sampled_from(["-1", "65536", "http", "9" * 5000]),
    },
)


@settings(max_examples=25, deadline=None)
@given(fleet_text=damaged_fleet_texts(), flags=FLEETSIM_FLAGS, ca_is_fleet=st.booleans())
def test_fleetsim_serve_refuses_with_one_line_and_writes_nothing(fleet_text, flags, ca_is_fleet):
    with tempfile.TemporaryDirectory() as directory, a_taken_port() as port:
        fleet = Path(directory) / "fleet.json"
        fleet.write_text(fleet_text, encoding="utf-8")
        ca = fleet if ca_is_fleet else Path(directory) / "ca.pem"
        argv = ["serve", "--fleet", str(fleet), "--ca-cert", str(ca), "--port", str(port)]
        argv += [item for pair in flags.items() for item in pair]
        with captured() as (stdout, stderr):
            code = fleetsim_main(argv)
        lines = stderr.getvalue().splitlines()
        assert code == 2, stderr.getvalue()
        assert len(lines) == 1 and lines[0].startswith("fleetsim: "), stderr.getvalue()
        assert stdout.getvalue() == ""
        assert fleet.read_text(encoding="utf-8") == fleet_text
        assert sorted(p.name for p in Path(directory).iterdir()) == ["fleet.json"]


def test_the_damage_reaches_every_kind_of_refusal_and_leaves_some_fleets_valid():
    """The property above is only as good as its inputs: they must both plan and fail."""
    outcomes: set[int] = set()

    @SETTINGS
    @given(fleet_text=damaged_fleet_texts())
    def plan_one(fleet_text):
        with tempfile.TemporaryDirectory() as directory:
            fleet = Path(directory) / "fleet.json"
            fleet.write_text(fleet_text, encoding="utf-8")
            out = Path(directory) / "plan.json"
            with captured():
                outcomes.add(
                    patchctl_main(
                        ["plan", "--fleet", str(fleet), "--cycle", "2026-12", "--out", str(out)]
                    )
                )

    plan_one()
    assert outcomes == {0, 2}

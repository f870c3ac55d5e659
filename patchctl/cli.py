"""`python -m patchctl`: argument parsing and dispatch; each command lives in its own module."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from patchctl import plan_command
from patchctl.console import RefusingParser, int_between, path_argument, run_refusing
from patching.defaults import HEALTH_GATE_MINUTES_BOUNDS, SLOT_MINUTES_BOUNDS
from patching.models import ReleaseKind
from patching.timefmt import parse_time


def _release_kind(text: str) -> ReleaseKind:
    try:
        return ReleaseKind(text)
    except ValueError as error:
        kinds = ", ".join(k.value for k in ReleaseKind)
        raise argparse.ArgumentTypeError(
            f"unknown kind {text!r}; expected one of {kinds}"
        ) from error


def _utc_time(text: str) -> datetime:
    try:
        return parse_time(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def build_parser() -> argparse.ArgumentParser:
    parser = RefusingParser(
        prog="patchctl", description="Plan and rehearse availability-first patching."
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=RefusingParser)

    plan = commands.add_parser(
        "plan", help="the availability-first plan of a cycle, touching nothing"
    )
    plan.add_argument("--fleet", type=path_argument, required=True, help="fleet file (version 1)")
    plan.add_argument("--cycle", required=True, help="YYYY-MM")
    plan.add_argument(
        "--kind", type=_release_kind, help="hotpatch, plannedBaseline or unplannedBaseline"
    )
    plan.add_argument(
        "--released-at", type=_utc_time, help="default: Patch Tuesday 10:00 US Pacific"
    )
    plan.add_argument("--now", type=_utc_time, help="plan from this time on (default: the release)")
    plan.add_argument("--out", type=path_argument, required=True, help="plan file to write")
    plan.add_argument(
        "--slot-minutes",
        type=int_between(*SLOT_MINUTES_BOUNDS),
        help="install slot length (PATCH_INSTALL_SLOT_MINUTES, 90)",
    )
    plan.add_argument(
        "--default-window", help="window without a patchWindow tag (PATCH_OFF_PEAK_WINDOW)"
    )
    plan.add_argument(
        "--health-gate-minutes",
        type=int_between(*HEALTH_GATE_MINUTES_BOUNDS),
        help="pause between phases (PATCH_HEALTH_GATE_MINUTES)",
    )
    plan.set_defaults(run=plan_command.run)

    demo = commands.add_parser(
        "demo", help="plan the example fleet's current cycle and summarise it"
    )
    demo.add_argument("--fleet", type=path_argument, default=Path("examples/fleet-demo.json"))
    demo.add_argument("--out", type=path_argument, default=Path("out/demo-plan.json"))
    demo.set_defaults(run=plan_command.run_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    def command() -> int:
        arguments = build_parser().parse_args(argv)
        return int(arguments.run(arguments))

    return run_refusing("error: ", command)

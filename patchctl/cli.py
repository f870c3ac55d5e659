"""`python -m patchctl`: argument parsing and dispatch; each command lives in its own module."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from patchctl import export_command, plan_command, serve_command, simulate_command
from patchctl.console import (
    RefusingParser,
    int_between,
    path_argument,
    positive_number_up_to,
    run_refusing,
)
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


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from error
    if not 0.0 <= value <= 1.0:  # NaN fails this too
        raise argparse.ArgumentTypeError(f"{text} is out of range; expected 0 to 1")
    return value


def _non_empty(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a connection string, got an empty one")
    return text


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

    simulate = commands.add_parser(
        "simulate", help="rehearse a cycle end to end on a virtual clock, touching nothing real"
    )
    simulate.add_argument(
        "--fleet", type=path_argument, required=True, help="fleet file (version 1)"
    )
    simulate.add_argument("--cycle", required=True, help="YYYY-MM")
    simulate.add_argument(
        "--kind", type=_release_kind, help="hotpatch, plannedBaseline or unplannedBaseline"
    )
    simulate.add_argument(
        "--days",
        type=int_between(*simulate_command.DAYS_BOUNDS),
        help=f"days from the release to run (default {simulate_command.DEFAULT_DAYS})",
    )
    simulate.add_argument(
        "--events", type=path_argument, help="Event Grid events to deliver at their eventTime"
    )
    simulate.add_argument(
        "--duplicate-activities",
        type=_probability,
        help="probability that an activity runs a second time (0 to 1)",
    )
    storage = simulate.add_mutually_exclusive_group()
    storage.add_argument(
        "--storage-connection-string",
        type=_non_empty,
        help="Table Storage for the results (default: Azurite, started and stopped)",
    )
    storage.add_argument(
        "--in-memory-store",
        action="store_true",
        help="keep the results in memory only (faster; no tables)",
    )
    simulate.add_argument(
        "--out", type=path_argument, required=True, help="directory for the run's output"
    )
    simulate.set_defaults(run=simulate_command.run)

    demo = commands.add_parser(
        "demo", help="plan and rehearse the example fleet's current cycle, and summarise both"
    )
    demo.add_argument("--fleet", type=path_argument, default=Path("examples/fleet-demo.json"))
    demo.add_argument("--out", type=path_argument, default=Path("out/demo-plan.json"))
    demo.add_argument(
        "--report-dir",
        type=path_argument,
        help="the rehearsal's output (default: rehearsal/ beside the plan file)",
    )
    demo.set_defaults(run=plan_command.run_demo)

    serve = commands.add_parser(
        "serve",
        help="run the function app on this machine against the fleet simulator and Azurite",
    )
    serve.add_argument("--fleet", type=path_argument, required=True, help="fleet file (version 1)")
    serve.add_argument(
        "--port", type=int_between(0, 65535), default=0, help="port (default: any free one)"
    )
    serve.add_argument(
        "--clock-speed",
        type=positive_number_up_to(serve_command.MAX_CLOCK_SPEED),
        default=1.0,
        help="the clock runs this many times faster than real time (default 1)",
    )
    serve.add_argument(
        "--function-key",
        type=serve_command.function_key_argument,
        help="the function key to require (default: random, printed)",
    )
    serve.set_defaults(run=serve_command.run)

    export = commands.add_parser(
        "export-fleet", help="write a fleet file from real subscriptions, to plan and rehearse"
    )
    export.add_argument(
        "--subscription",
        type=export_command.subscription_argument,
        action="append",
        required=True,
        help="a subscription GUID (repeat for more)",
    )
    export.add_argument("--out", type=path_argument, required=True, help="fleet file to write")
    export.set_defaults(run=export_command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    def command() -> int:
        arguments = build_parser().parse_args(argv)
        return int(arguments.run(arguments))

    return run_refusing("error: ", command)

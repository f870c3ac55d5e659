"""`python -m patchctl`: argument parsing and dispatch; each command lives in its own module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import NoReturn

from patchctl import plan_command
from patchctl.errors import UsageError
from patching.models import ReleaseKind
from patching.planfile import parse_time


class _Parser(argparse.ArgumentParser):
    """argparse, but a refusal is one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


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
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time with a zone, such as 2026-12-08T18:00:00Z"
        ) from error


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="patchctl", description="Plan and rehearse availability-first patching.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    plan = commands.add_parser(
        "plan", help="the availability-first plan of a cycle, touching nothing"
    )
    plan.add_argument("--fleet", type=Path, required=True, help="fleet file (version 1)")
    plan.add_argument("--cycle", required=True, help="YYYY-MM")
    plan.add_argument(
        "--kind", type=_release_kind, help="hotpatch, plannedBaseline or unplannedBaseline"
    )
    plan.add_argument(
        "--released-at", type=_utc_time, help="default: Patch Tuesday 10:00 US Pacific"
    )
    plan.add_argument("--now", type=_utc_time, help="plan from this time on (default: the release)")
    plan.add_argument("--out", type=Path, required=True, help="plan file to write")
    plan.add_argument(
        "--slot-minutes", type=int, help="install slot length (PATCH_INSTALL_SLOT_MINUTES, 90)"
    )
    plan.add_argument(
        "--default-window", help="window without a patchWindow tag (PATCH_OFF_PEAK_WINDOW)"
    )
    plan.add_argument(
        "--health-gate-minutes", type=int, help="pause between phases (PATCH_HEALTH_GATE_MINUTES)"
    )
    plan.set_defaults(run=plan_command.run)

    demo = commands.add_parser(
        "demo", help="plan the example fleet's current cycle and summarise it"
    )
    demo.add_argument("--fleet", type=Path, default=Path("examples/fleet-demo.json"))
    demo.add_argument("--out", type=Path, default=Path("out/demo-plan.json"))
    demo.set_defaults(run=plan_command.run_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        arguments = build_parser().parse_args(argv)
        return int(arguments.run(arguments))
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130

"""`python -m fleetsim serve`: the simulator as a process of its own."""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from fleetsim.clock import ScaledClock
from fleetsim.fleet import FleetError
from fleetsim.server import start_simulator

EXIT_BAD_INPUT = 2


class BadInput(Exception):
    """Reported as one line on stderr, exit status 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fleetsim", description="ARM compute API simulator for a fleet file."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the fleet over HTTPS on 127.0.0.1")
    serve.add_argument("--fleet", required=True, type=Path, help="fleet file (JSON, version 1)")
    serve.add_argument("--port", type=int, default=0, help="port (default: any free one)")
    serve.add_argument("--ca-cert", type=Path, help="write the CA certificate (PEM) here")
    serve.add_argument(
        "--clock-speed", type=float, default=1.0, help="virtual clock speed (x real time)"
    )
    serve.add_argument("--log", type=Path, help="append the operations log (JSON lines) here")
    return parser


def _load_fleet(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read fleet file {path}: {exc}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(f"fleet file {path} is not valid JSON: {exc}") from exc


def _serve(args: argparse.Namespace) -> int:
    fleet = _load_fleet(args.fleet)
    if not args.clock_speed > 0:
        raise BadInput(f"--clock-speed must be positive, got {args.clock_speed}")
    if not 0 <= args.port <= 65535:
        raise BadInput(f"--port must be between 0 and 65535, got {args.port}")
    if args.log is not None and not args.log.parent.is_dir():
        raise BadInput(f"cannot write the log: no directory {args.log.parent}")
    try:
        simulator = start_simulator(
            fleet, clock=ScaledClock(args.clock_speed), log_path=args.log, port=args.port
        )
    except FleetError as exc:
        raise BadInput(f"invalid fleet file {args.fleet}: {exc}") from exc
    except OSError as exc:
        raise BadInput(f"cannot serve on 127.0.0.1:{args.port}: {exc}") from exc
    with simulator:
        ca_path = simulator.ca_path
        if args.ca_cert is not None:
            try:
                shutil.copyfile(simulator.ca_path, args.ca_cert)
            except OSError as exc:
                raise BadInput(f"cannot write the CA certificate to {args.ca_cert}: {exc}") from exc
            ca_path = args.ca_cert
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        print(simulator.base_url, flush=True)
        print(
            f"fleetsim: serving {len(simulator.state.vm_ids())} VMs; CA certificate {ca_path}",
            file=sys.stderr,
            flush=True,
        )
        # A bounded wait keeps the main thread responsive to signals.
        while not stop.wait(0.5):
            pass
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _serve(args)
    except BadInput as exc:
        print(f"fleetsim: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT

"""`python -m fleetsim serve`: the simulator as a process of its own."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from fleetsim.clock import ScaledClock
from fleetsim.fleet import FleetError
from fleetsim.server import start_simulator
from patchctl.console import (
    RefusingParser,
    int_between,
    path_argument,
    positive_number_up_to,
    run_refusing,
    until_stopped,
)
from patchctl.files import read_json, refuse_same_files, refuse_to_overwrite, write_file
from patching.errors import BadInput

# Past this, a minute of the virtual clock lasts under a millisecond of real time.
MAX_CLOCK_SPEED = 100_000.0


def _parser() -> argparse.ArgumentParser:
    parser = RefusingParser(
        prog="python -m fleetsim", description="ARM compute API simulator for a fleet file."
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=RefusingParser)
    serve = commands.add_parser("serve", help="serve the fleet over HTTPS on 127.0.0.1")
    serve.add_argument(
        "--fleet", required=True, type=path_argument, help="fleet file (JSON, version 1)"
    )
    serve.add_argument(
        "--port", type=int_between(0, 65535), default=0, help="port (default: any free one)"
    )
    serve.add_argument("--ca-cert", type=path_argument, help="write the CA certificate (PEM) here")
    serve.add_argument(
        "--clock-speed",
        type=positive_number_up_to(MAX_CLOCK_SPEED),
        default=1.0,
        help=f"virtual clock speed (x real time, at most {MAX_CLOCK_SPEED:g})",
    )
    serve.add_argument(
        "--log", type=path_argument, help="append the operations log (JSON lines) here"
    )
    return parser


def _serve(args: argparse.Namespace) -> int:
    refuse_same_files({"--fleet": args.fleet, "--ca-cert": args.ca_cert, "--log": args.log})
    if args.ca_cert is not None:
        refuse_to_overwrite(args.ca_cert, flag="--ca-cert", inputs={"--fleet": args.fleet})
    fleet = read_json(args.fleet, "fleet file")
    if args.log is not None and not args.log.parent.is_dir():
        raise BadInput(f"cannot write the log: no directory {args.log.parent}")
    try:
        simulator = start_simulator(
            fleet, clock=ScaledClock(args.clock_speed), log_path=args.log, port=args.port
        )
    except (FleetError, RecursionError) as exc:
        raise BadInput(f"invalid fleet file {args.fleet}: {exc}") from exc
    except OSError as exc:
        if args.log is not None and exc.filename == str(args.log):
            raise BadInput(f"--log: cannot append to {args.log}: {exc.strerror}") from exc
        raise BadInput(f"cannot serve on 127.0.0.1:{args.port}: {exc}") from exc
    with simulator:
        ca_path = simulator.ca_path
        if args.ca_cert is not None:
            write_file(
                args.ca_cert, ca_path.read_text(), flag="--ca-cert", inputs={"--fleet": args.fleet}
            )
            ca_path = args.ca_cert
        with until_stopped() as wait:
            print(simulator.base_url, flush=True)
            print(
                f"fleetsim: serving {len(simulator.state.vm_ids())} VMs; CA certificate {ca_path}",
                file=sys.stderr,
                flush=True,
            )
            wait()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_refusing("fleetsim: ", lambda: _serve(_parser().parse_args(argv)))

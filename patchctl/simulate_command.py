"""`patchctl simulate`: rehearse a cycle end to end (docs/CONTRACTS.md sections 1 and 4), and
the summary it prints. `patchctl demo` runs it on the example fleet's current month."""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from azure_io.settings import Settings, SettingsError
from patchctl.files import read_json, refuse_same_files, refuse_to_overwrite, write_file
from patchctl.rehearsal_spec import Progress, RehearsalSpec, TimedEvent, parse_events
from patching.calendar import make_cycle, parse_cycle_id
from patching.errors import BadInput
from patching.fleet import FleetError, parse_fleet
from patching.models import ReleaseKind
from patching.slots import SHORTEST_SLOT_MINUTES
from patching.timefmt import format_time
from reporting import render_html, to_report_json
from reporting.model import Report

DEFAULT_DAYS = 35
DAYS_BOUNDS = (1, 62)
OUTPUTS = ("operations.jsonl", "report.json", "report.html")


def run(arguments: argparse.Namespace) -> int:
    spec_of = prepare(arguments)
    report = rehearsed(arguments.out, spec_of, _inputs(arguments))
    print(summarise(report, arguments.out))
    return 0


def prepare(arguments: argparse.Namespace) -> Callable[[Path], RehearsalSpec]:
    """Every input checked before anything starts; the spec, once told where the log goes."""
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        raise BadInput(str(error)) from error
    given = _inputs(arguments)
    refuse_same_files(given)
    out: Path = arguments.out
    if out.exists() and not out.is_dir():
        raise BadInput(f"--out: {out} exists and is not a directory")
    for name in OUTPUTS:
        refuse_to_overwrite(out / name, flag="--out", inputs=given)
    document = read_json(arguments.fleet, "fleet file")
    try:
        fleet = parse_fleet(document)
    except FleetError as error:
        raise BadInput(f"fleet file {arguments.fleet}: {error}") from error
    try:
        parse_cycle_id(arguments.cycle)
        cycle = make_cycle(
            arguments.cycle,
            kind=getattr(arguments, "kind", None),
            baseline_months=settings.planned_baseline_months,
        )
    except (ValueError, OverflowError) as error:
        raise BadInput(f"--cycle: {error}") from error
    events = _events(arguments)
    if not events and cycle.release.kind is ReleaseKind.UNPLANNED_BASELINE:
        # The calendar never schedules an unplanned baseline: only its event opens one.
        released_at = cycle.release.released_at
        events = (TimedEvent(released_at, _release_event(cycle.release.kind, released_at)),)
    days: int = arguments.days if getattr(arguments, "days", None) is not None else DEFAULT_DAYS
    end = cycle.release.released_at + timedelta(days=days)
    late = sum(1 for event in events if event.at > end)
    if late:
        print(
            f"warning: {late} events come after the run ends ({format_time(end)}); "
            "they will not be delivered",
            file=sys.stderr,
        )

    def spec(log_path: Path) -> RehearsalSpec:
        return RehearsalSpec(
            fleet_document=document,
            fleet=fleet,
            cycle=cycle,
            days=days,
            settings=settings,
            log_path=log_path,
            events=events,
            duplicate_activities=getattr(arguments, "duplicate_activities", None) or 0.0,
            storage_connection_string=getattr(arguments, "storage_connection_string", None),
            in_memory_store=bool(getattr(arguments, "in_memory_store", False)),
        )

    return spec


def _inputs(arguments: argparse.Namespace) -> dict[str, Path]:
    inputs = {"--fleet": arguments.fleet, "--events": getattr(arguments, "events", None)}
    return {flag: path for flag, path in inputs.items() if path is not None}


def _events(arguments: argparse.Namespace) -> tuple[TimedEvent, ...]:
    path: Path | None = getattr(arguments, "events", None)
    if path is None:
        return ()
    return parse_events(read_json(path, "events file"), where=f"--events {path}")


def _release_event(kind: ReleaseKind, released_at: datetime) -> dict[str, Any]:
    moment = format_time(released_at)
    return {
        "id": f"rehearsal-{moment}",
        "subject": "releases",
        "eventType": "Patching.ReleasePublished",
        "eventTime": moment,
        "dataVersion": "1.0",
        "data": {
            "releaseId": f"{released_at:%Y-%m}-rehearsal",
            "kind": kind.value,
            "releasedAt": moment,
            "kbNumbers": [],
            "classifications": ["Critical", "Security"],
        },
    }


def rehearsed(
    out: Path, spec_of: Callable[[Path], RehearsalSpec], inputs: dict[str, Path]
) -> Report:
    """Run the rehearsal; the three outputs appear whole at the end, or none of them."""
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BadInput(f"--out: cannot create {out}: {error.strerror or error}") from error
    log = out / f".operations.jsonl.{secrets.token_hex(4)}.tmp"
    # The app, the SDKs and the local host load only once a rehearsal runs.
    from patchctl.rehearsal import rehearse

    try:
        with _progress_line() as progress:
            report = rehearse(spec_of(log), progress=progress)
        write_file(
            out / "report.json",
            json.dumps(to_report_json(report), indent=2) + "\n",
            flag="--out",
            inputs=inputs,
        )
        write_file(out / "report.html", render_html(report), flag="--out", inputs=inputs)
        os.replace(log, out / "operations.jsonl")
        return report
    finally:
        with suppress(OSError):
            log.unlink()
        if created:
            with suppress(OSError):  # only an empty one: something was written otherwise
                out.rmdir()


@contextmanager
def _progress_line() -> Iterator[Callable[[Progress], None] | None]:
    """The simulated day and the installs done, rewritten in place; only for a terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    start: list[datetime] = []

    def show(progress: Progress) -> None:
        start[:] = start or [progress.now]
        day = (progress.now - start[0]).total_seconds() / 86400
        print(f"\rday {day:5.1f}: {progress.installs_done} installs done", end="", file=sys.stderr)

    try:
        yield show
    finally:
        print(file=sys.stderr)


def summarise(report: Report, out: Path) -> str:
    counts = report.compliance
    release = report.cycle.release.released_at
    lines = [
        f"Cycle {report.cycle.id} ({report.cycle.release.kind.value}), "
        f"released {format_time(release)}",
        f"{counts.enrolled} enrolled: {counts.compliant} compliant, {counts.pending} pending, "
        f"{counts.failed} failed; {counts.skipped} skipped",
    ]
    if report.short_window_skips:
        lines.append(
            f"{report.short_window_skips} of the skipped are enrolled VMs whose off-peak window "
            f"is under {SHORTEST_SLOT_MINUTES} minutes, too short for an install"
        )
    if report.halt is not None:
        lines.append(f"halted: {report.halt.reason}")
    lines.append(f"full compliance: {_full_compliance(report)}")
    per_vm = report.arm.requests / len(report.vms) if report.vms else 0.0
    lines += [
        f"largest history: {report.durable.max_history_events} events "
        f"({report.durable.instances} instances)",
        f"ARM requests: {report.arm.requests} ({per_vm:.1f} per VM), "
        f"{report.arm.throttled} throttled",
    ]
    if report.tables is not None:
        lines.append(f"table rows written: {report.tables.rows_written}")
    lines.append(f"report: {out / 'report.html'}")
    return "\n".join(lines)


def _full_compliance(report: Report) -> str:
    days = report.days_to_full_compliance()
    if days is None:
        return "not reached"
    if days == 0.0:
        return "already at the release"
    return f"{math.ceil(days * 10) / 10:.1f} days after the release"

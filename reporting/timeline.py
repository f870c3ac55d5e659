"""The rollout timeline as one inline SVG: x is time from the release to the deadline.

One band per phase, labelled with its regions; in it one row per VM (its planned slot as
a light bar, what really ran as a solid bar over it, a failure as a red hatched bar with
a cross), or, past `PER_VM_LIMIT` VMs, one lane per region of the phase with the slots
and runs merged, so the picture stays the same size for any fleet.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from patching.resource_ids import VmId
from patching.timefmt import format_time
from reporting.model import Attempt, PlannedSlot, Report
from reporting.page_text import text

PER_VM_LIMIT = 200

WIDTH = 1000
PLOT_LEFT = 200
PLOT_RIGHT = 980
AXIS_HEIGHT = 48
BAND_HEIGHT = 22
VM_ROW = 14
LANE_ROW = 32
LABEL_CHARS = 20
MINOR_TICK_DAYS = 62
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


Span = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class _Row:
    label: str
    title: str
    planned: tuple[Span, ...]
    ran: tuple[Span, ...]
    failed: tuple[Span, ...]
    running: tuple[datetime, ...]  # attempts that have not ended
    merged: bool = False
    detail: str = ""  # a merged lane's counts, on a line under its label


@dataclass(frozen=True, slots=True)
class _Band:
    label: str
    span: tuple[datetime, datetime] | None
    rows: tuple[_Row, ...]


class _Scale:
    def __init__(self, start: datetime, end: datetime) -> None:
        self.start = start
        self.seconds = max((end - start).total_seconds(), 3600.0)

    def x(self, moment: datetime) -> float:
        share = (moment - self.start).total_seconds() / self.seconds
        return round(PLOT_LEFT + share * (PLOT_RIGHT - PLOT_LEFT), 1)


def aggregates(report: Report) -> bool:
    """Whether the timeline merges VMs into region lanes: past `PER_VM_LIMIT` VMs drawn."""
    drawn = {slot.vm.lower() for slot in report.slots} | {run.vm.lower() for run in report.runs}
    return len(drawn) > PER_VM_LIMIT


def render_timeline(report: Report) -> str:
    attempts = {run.vm.lower(): run.attempts for run in report.runs}
    aggregated = aggregates(report)
    bands = _bands(report, attempts, aggregated)
    scale = _Scale(*_time_range(report))
    height = AXIS_HEIGHT + sum(BAND_HEIGHT + len(b.rows) * _row_height(aggregated) for b in bands)
    height += 8
    release = format_time(report.cycle.release.released_at)
    deadline = format_time(report.cycle.deadline)
    how = "one lane per region, slots merged" if aggregated else "one row per VM"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'role="img" aria-labelledby="tl-title tl-desc" class="timeline">',
        '<title id="tl-title">Rollout timeline</title>',
        f'<desc id="tl-desc">From the release at {release} to the deadline at {deadline}: '
        f"{len(bands)} phase bands, {how}. Light bars are planned slots, solid bars what ran, "
        "red hatched bars with a cross are failures.</desc>",
        _DEFS,
        *_axis(scale, report.cycle.release.released_at, height),
    ]
    top = AXIS_HEIGHT
    for band in bands:
        parts.append(_band_svg(band, scale, top, aggregated))
        top += BAND_HEIGHT + len(band.rows) * _row_height(aggregated)
    parts.append(_marker_line(scale.x(report.cycle.deadline), height, "deadline-line", "deadline"))
    if report.halt and report.halt.at is not None:
        parts.append(_marker_line(scale.x(report.halt.at), height, "halt-line", "halted"))
    parts.append("</svg>")
    return "\n".join(parts)


_DEFS = (
    '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
    'patternTransform="rotate(45)"><rect width="6" height="6" fill="#c62828"/>'
    '<line x1="0" y1="0" x2="0" y2="6" stroke="#fff" stroke-width="2"/></pattern></defs>'
)


def _row_height(aggregated: bool) -> int:
    return LANE_ROW if aggregated else VM_ROW


def _time_range(report: Report) -> tuple[datetime, datetime]:
    moments = [report.cycle.release.released_at, report.cycle.deadline]
    moments += [t for s in report.slots for t in (s.start, s.end)]
    moments += [t for p in report.phases for t in (p.start, p.end)]
    moments += [t for run in report.runs for a in run.attempts for t in (a.start, a.end) if t]
    if report.halt and report.halt.at:
        moments.append(report.halt.at)
    return min(moments), max(moments)


def _bands(
    report: Report, attempts: dict[str, tuple[Attempt, ...]], aggregated: bool
) -> list[_Band]:
    by_phase: dict[int, list[PlannedSlot]] = {}
    for slot in report.slots:
        by_phase.setdefault(slot.phase, []).append(slot)
    phases = {phase.index: phase for phase in report.phases}
    bands = []
    for index in sorted(set(phases) | set(by_phase)):
        slots = by_phase.get(index, [])
        phase = phases.get(index)
        regions = phase.regions if phase else tuple(sorted({s.region for s in slots}))
        retry = " (retry)" if phase and phase.retry else ""
        label = f"Phase {index}{retry}: {', '.join(regions) or 'no regions'}"
        rows = _lanes(slots, attempts) if aggregated else _vm_rows(slots, attempts)
        bands.append(_Band(label, (phase.start, phase.end) if phase else None, tuple(rows)))
    planned = {slot.vm.lower() for slot in report.slots}
    unplanned = [run for run in report.runs if run.vm.lower() not in planned and run.attempts]
    if unplanned:
        rows = [_vm_row(run.vm, (), run.attempts) for run in unplanned]
        if aggregated:
            merged = [a for run in unplanned for a in run.attempts]
            rows = [_merged("not in the plan", len(unplanned), (), merged)]
        bands.append(_Band("Ran without a planned slot", None, tuple(rows)))
    return bands


def _vm_rows(slots: Sequence[PlannedSlot], attempts: dict[str, tuple[Attempt, ...]]) -> list[_Row]:
    ordered = sorted(slots, key=lambda s: (s.region, s.start, s.vm))
    return [
        _vm_row(s.vm, ((s.start, s.end),), attempts.get(s.vm.lower(), ()), s.region)
        for s in ordered
    ]


def _vm_row(
    vm: str, planned: tuple[Span, ...], attempts: tuple[Attempt, ...], region: str = ""
) -> _Row:
    said = [f"planned {_span_text(start, end)}" for start, end in planned]
    said += [f"ran {_span_text(a.start, a.end)} {a.status}{_flags(a)}" for a in attempts]
    return _Row(
        label=_clip(VmId.parse(vm).name) + (f" \u00b7 {_clip(region, 14)}" if region else ""),
        title=f"{vm}: {'; '.join(said) or 'no slot'}",
        planned=planned,
        ran=tuple((a.start, a.end) for a in attempts if a.end and not a.failed),
        failed=tuple((a.start, a.end or a.start) for a in attempts if a.failed),
        running=tuple(a.start for a in attempts if a.end is None and not a.failed),
    )


def _flags(attempt: Attempt) -> str:
    flags = [
        name
        for name, on in (
            ("failed", attempt.failed),
            ("unhealthy", attempt.unhealthy),
            ("rebooted", attempt.rebooted),
            ("maintenance window exceeded", attempt.maintenance_window_exceeded),
        )
        if on
    ]
    return f" ({', '.join(flags)})" if flags else ""


def _lanes(slots: Sequence[PlannedSlot], attempts: dict[str, tuple[Attempt, ...]]) -> list[_Row]:
    by_region: dict[str, list[PlannedSlot]] = {}
    for slot in slots:
        by_region.setdefault(slot.region, []).append(slot)
    return [
        _merged(
            region,
            len(lane),
            [(s.start, s.end) for s in lane],
            [a for s in lane for a in attempts.get(s.vm.lower(), ())],
        )
        for region, lane in sorted(by_region.items())
    ]


def _merged(lane: str, vms: int, planned: Iterable[Span], attempts: Sequence[Attempt]) -> _Row:
    failed = [(a.start, a.end or a.start) for a in attempts if a.failed]
    detail = f"{vms:,} VMs, {len(failed):,} failed installs"
    return _Row(
        label=_clip(lane, LABEL_CHARS + 8),
        title=f"{lane}: {detail}",
        planned=tuple(_union(planned)),
        ran=tuple(_union((a.start, a.end) for a in attempts if a.end and not a.failed)),
        failed=tuple(failed),
        running=tuple(sorted({a.start for a in attempts if a.end is None and not a.failed})),
        merged=True,
        detail=detail,
    )


def _union(spans: Iterable[Span]) -> list[Span]:
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _clip(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _span_text(start: datetime, end: datetime | None) -> str:
    return f"{format_time(start)} to {format_time(end) if end else 'still running'}"


# Drawing.


def _axis(scale: _Scale, released_at: datetime, height: int) -> list[str]:
    days = scale.seconds / 86400
    every = max(1, math.ceil(days * 56 / (PLOT_RIGHT - PLOT_LEFT)))  # labels 56 units apart
    # A tick each day while days are wide enough to see; past that, only the labelled ones.
    step = 1 if days <= MINOR_TICK_DAYS else every
    first = datetime(released_at.year, released_at.month, released_at.day, tzinfo=UTC)
    parts = ['<g class="axis">']
    for day in range(0, math.ceil(days) + 2, step):
        moment = first + timedelta(days=day)
        x = scale.x(moment)
        if not PLOT_LEFT <= x <= PLOT_RIGHT:
            continue
        labelled = day % every == 0
        parts.append(
            f'<line x1="{x}" y1="{AXIS_HEIGHT - (10 if labelled else 5)}" x2="{x}" '
            f'y2="{height}" class="{"tick major" if labelled else "tick"}"/>'
        )
        if labelled:
            label = f"{_MONTHS[moment.month - 1]} {moment.day}"
            if days > 300:
                label += f" {moment.year}"
            parts.append(f'<text x="{x}" y="{AXIS_HEIGHT - 20}" class="day">{label}</text>')
    parts.append(
        f'<text x="{PLOT_LEFT - 8}" y="{AXIS_HEIGHT - 20}" class="axis-label">UTC</text></g>'
    )
    return parts


def _band_svg(band: _Band, scale: _Scale, top: int, aggregated: bool) -> str:
    row_height = _row_height(aggregated)
    bottom = top + BAND_HEIGHT + len(band.rows) * row_height
    parts = [f'<g class="band" role="group" aria-label="{text(band.label)}">']
    if band.span:
        x0, x1 = scale.x(band.span[0]), scale.x(band.span[1])
        parts.append(
            f'<rect x="{x0}" y="{top}" width="{max(x1 - x0, 1)}" height="{bottom - top}" '
            'class="phase-span"/>'
        )
    parts.append(f'<line x1="0" y1="{top}" x2="{WIDTH}" y2="{top}" class="band-rule"/>')
    parts.append(f'<text x="4" y="{top + 15}" class="band-label">{text(band.label)}</text>')
    for i, row in enumerate(band.rows):
        parts.append(_row_svg(row, scale, top + BAND_HEIGHT + i * row_height, row_height))
    parts.append("</g>")
    return "\n".join(parts)


def _row_svg(row: _Row, scale: _Scale, top: int, height: int) -> str:
    # A merged lane keeps its bottom strip for failure marks, so many never hide the bars.
    strip = 10 if row.merged else 0
    bar_top, bar_height = top + 2, height - 4 - strip
    parts = [f"<g><title>{text(row.title)}</title>"]
    label_y = top + 12 if row.detail else bar_top + bar_height - 2
    parts.append(
        f'<text x="{PLOT_LEFT - 6}" y="{label_y}" class="row-label">{text(row.label)}</text>'
    )
    if row.detail:
        parts.append(
            f'<text x="{PLOT_LEFT - 6}" y="{label_y + 12}" class="row-detail">'
            f"{text(row.detail)}</text>"
        )
    kinds = [("plan", row.planned), ("ran", row.ran)]
    if not row.merged:
        kinds.append(("fail", row.failed))
    for css, spans in kinds:
        parts += _bars(css, spans, scale, bar_top, bar_height)
    for x in sorted({round(scale.x(start)) for start in row.running}):
        parts.append(
            f'<rect x="{x}" y="{bar_top}" width="3" height="{bar_height}" class="running"/>'
        )
    failures = sorted({round(scale.x(end) / 4) * 4 for _, end in row.failed})
    for x in failures:
        if row.merged:
            parts.append(_triangle(x, top + height - 2))
        else:
            parts.append(_cross(x, top + height / 2, min(height / 2 - 1, 5)))
    parts.append("</g>")
    return "".join(parts)


def _bars(css: str, spans: Iterable[Span], scale: _Scale, top: int, height: int) -> list[str]:
    drawn: dict[int, float] = {}  # at most one bar per pixel column start: enough to see
    for start, end in spans:
        x0, x1 = scale.x(start), scale.x(end)
        drawn[round(x0)] = max(drawn.get(round(x0), 0.0), x1 - x0)
    return [
        f'<rect x="{x}" y="{top}" width="{max(width, 1.5):.1f}" height="{height}" class="{css}"/>'
        for x, width in sorted(drawn.items())
    ]


def _cross(x: float, y: float, size: float) -> str:
    return (
        f'<path d="M{x - size},{y - size}L{x + size},{y + size}M{x - size},{y + size}'
        f'L{x + size},{y - size}" class="fail-mark"/>'
    )


def _triangle(x: float, base: float) -> str:
    return f'<path d="M{x - 4},{base}L{x},{base - 7}L{x + 4},{base}Z" class="fail-mark filled"/>'


def _marker_line(x: float, height: int, css: str, label: str) -> str:
    return (
        f'<g class="{css}"><line x1="{x}" y1="{AXIS_HEIGHT - 4}" x2="{x}" y2="{height}"/>'
        f'<text x="{x - 4}" y="{AXIS_HEIGHT - 2}" class="marker-label">{label}</text></g>'
    )

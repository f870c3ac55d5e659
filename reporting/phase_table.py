"""The timeline in words: one row per phase with its regions, its span and what its VMs
came to, so the rollout reads without the picture (a screen reader, a narrow phone)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from patching.models import Phase
from reporting.model import Attempt, PlannedSlot, Report
from reporting.page_text import text, time_html


@dataclass(frozen=True, slots=True)
class _PhaseRow:
    index: int
    phase: Phase | None
    slots: tuple[PlannedSlot, ...]


def render_phase_table(report: Report) -> str:
    rows = _phase_rows(report)
    head = (
        '<section aria-labelledby="phases-h"><h2 id="phases-h">Phases</h2>'
        '<p class="note">Each phase of the plan, its regions and slots, and what its VMs\' '
        "installs came to (each VM counted by its last install).</p>"
    )
    if not rows:
        return f'{head}<p class="note">No phase is planned in this report.</p></section>'
    attempts = {run.vm.lower(): run.attempts for run in report.runs}
    halted_phase = report.halt.phase if report.halt else None
    body = "".join(_row_html(row, attempts, halted_phase) for row in rows)
    columns = ("phase", "regions", "from", "to", "VMs", "installed", "failed", "not yet run")
    header = "".join(f'<th scope="col">{name}</th>' for name in columns)
    return (
        f'{head}<div class="scroll" role="region" aria-labelledby="phases-h" tabindex="0">'
        f'<table class="phases"><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>'
        "</div></section>"
    )


def _phase_rows(report: Report) -> list[_PhaseRow]:
    by_phase: dict[int, list[PlannedSlot]] = defaultdict(list)
    for slot in report.slots:
        by_phase[slot.phase].append(slot)
    phases = {phase.index: phase for phase in report.phases}
    return [
        _PhaseRow(index, phases.get(index), tuple(by_phase.get(index, ())))
        for index in sorted(set(phases) | set(by_phase))
    ]


def _row_html(
    row: _PhaseRow, attempts: dict[str, tuple[Attempt, ...]], halted_phase: int | None
) -> str:
    last = [attempts[s.vm.lower()][-1] for s in row.slots if attempts.get(s.vm.lower())]
    failed = sum(a.failed for a in last)
    installed = sum(not a.failed and a.end is not None for a in last)
    waiting = len(row.slots) - len(last)
    regions = row.phase.regions if row.phase else tuple(sorted({s.region for s in row.slots}))
    start, end = _span(row)
    notes = []
    if row.phase is not None and row.phase.retry:
        notes.append("retry")
    if halted_phase == row.index:
        notes.append('<strong class="s-halted">halted after it</strong>')
    said = f" ({', '.join(notes)})" if notes else ""
    cells = (
        f"{row.index}{said}",
        text(", ".join(regions)) or "\u2013",
        time_html(start),
        time_html(end),
        f"{len(row.slots):,}",
        f"{installed:,}",
        f'<span class="s-failed">{failed:,}</span>' if failed else "0",
        f"{waiting:,}",
    )
    numeric = {4, 5, 6, 7}
    return "<tr>" + "".join(_cell(i in numeric, c) for i, c in enumerate(cells)) + "</tr>"


def _cell(numeric: bool, content: str) -> str:
    return f'<td class="num">{content}</td>' if numeric else f'<td class="when">{content}</td>'


def _span(row: _PhaseRow) -> tuple[datetime | None, datetime | None]:
    if row.phase is not None:
        return row.phase.start, row.phase.end
    if not row.slots:
        return None, None
    return min(s.start for s in row.slots), max(s.end for s in row.slots)

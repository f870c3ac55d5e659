"""The report as one self-contained HTML page: inline CSS and SVG, no script, no URL.

Every text that comes from the fleet or the run (VM ids, regions, reasons, statuses) goes
through `page_text.text`; the page reads the same offline, at phone width and with a keyboard.
Its content security policy forbids every fetch, so a browser proves it loads nothing.
The rehearsal's report.html and `GET /api/report` are this one page.
"""

from __future__ import annotations

from collections import Counter

from patching.models import ReleaseKind
from patching.outcomes import VmState
from patching.slots import SHORTEST_SLOT_MINUTES
from reporting.history_table import render_history
from reporting.model import ComplianceCounts, Report, Snapshot
from reporting.page_css import PAGE_CSS
from reporting.page_text import STATE_LABELS, text, time_html
from reporting.phase_table import render_phase_table
from reporting.timeline import PER_VM_LIMIT, aggregates, render_timeline
from reporting.vm_table import render_vm_table

SUBSCRIPTION_LIMIT = 100

# Nothing may be fetched: styles are inline, the SVG is inline, there is no script.
CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'"

_SECTIONS = (
    ("compliance-h", "Compliance"),
    ("timeline-h", "Timeline"),
    ("phases-h", "Phases"),
    ("vms-h", "VMs"),
    ("history-h", "Last 30 days"),
)

_RELEASE_KINDS = {
    ReleaseKind.HOTPATCH: "hotpatch",
    ReleaseKind.PLANNED_BASELINE: "planned baseline",
    ReleaseKind.UNPLANNED_BASELINE: "unplanned baseline",
}


def render_html(report: Report) -> str:
    cycle = text(report.cycle.id)
    kind = _RELEASE_KINDS[report.cycle.release.kind]
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            '<head><meta charset="utf-8"/>',
            f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}"/>',
            '<meta name="viewport" content="width=device-width, initial-scale=1"/>',
            f"<title>Patch report: cycle {cycle} ({kind})</title>",
            f"<style>{PAGE_CSS}</style></head>",
            "<body>",
            '<a class="skip" href="#main">Skip to the report</a>',
            f"<header><h1>Patch report: cycle {cycle}</h1>{_release_line(report, kind)}",
            _snapshot_line(report.snapshot),
            _contents(report),
            "</header>",
            '<main id="main" tabindex="-1">',
            _halt_banner(report),
            _compliance(report),
            _timeline(report),
            render_phase_table(report),
            render_vm_table(report),
            render_history(report),
            "" if report.snapshot else _run_counters(report),
            "</main>",
            "</body>",
            "</html>",
        ]
    )


def _release_line(report: Report, kind: str) -> str:
    release = report.cycle.release
    named = f" {text(release.release_id)}" if release.release_id else ""
    return (
        f'<p class="meta">{kind.capitalize()} release{named}, released '
        f"{time_html(release.released_at)}; deadline {time_html(report.cycle.deadline)}.</p>"
    )


_CYCLE_STATES = {
    "running": "is running",
    "halted": "is halted",
    "completed": "has completed",
    "superseded": "was superseded by an unplanned baseline",
}


def _snapshot_line(snapshot: Snapshot | None) -> str:
    if snapshot is None:
        return ""
    if snapshot.cycle_state is None:
        said = "no cycle is recorded yet: this is the calendar's cycle, VMs as last judged"
    else:
        state = snapshot.cycle_state
        said = f"the cycle {_CYCLE_STATES.get(state, f'is {text(state)}')}"
    return (
        f'<p class="meta snapshot">From the app\'s tables at {time_html(snapshot.taken_at)}; '
        f"{said}.</p>"
    )


def _contents(report: Report) -> str:
    shown = list(_SECTIONS)
    if report.halt is not None:
        shown.insert(0, ("halt-h", "Why it halted"))
    links = "".join(f'<li><a href="#{anchor}">{name}</a></li>' for anchor, name in shown)
    return f'<nav class="contents" aria-label="Sections"><ul>{links}</ul></nav>'


def _halt_banner(report: Report) -> str:
    if report.halt is None:
        return ""
    where = []
    if report.halt.phase is not None:
        where.append(f"in phase {report.halt.phase}")
    if report.halt.at is not None:
        where.append(f"at {time_html(report.halt.at)}")
    held = report.compliance.halted
    return (
        '<section class="halt" role="alert" aria-labelledby="halt-h">'
        f'<h2 id="halt-h">\u26a0 Cycle halted{" " + " ".join(where) if where else ""}</h2>'
        f'<p class="halt-reason">Reason: {text(report.halt.reason)}</p>'
        f"<p>{held:,} VMs wait for the cycle to resume.</p></section>"
    )


def _compliance(report: Report) -> str:
    counts = report.compliance
    parts = [
        '<section aria-labelledby="compliance-h"><h2 id="compliance-h">Compliance</h2>',
        f'<p class="meta"><span class="enrolled">{counts.enrolled:,}</span> enrolled of '
        f"{counts.total:,} VMs.</p>",
        _state_bars(counts),
        _short_windows(report),
        _deferred(report),
        _by_subscription(report),
        "</section>",
    ]
    return "\n".join(parts)


def _state_bars(counts: ComplianceCounts) -> str:
    items = []
    for state in (VmState.COMPLIANT, VmState.PENDING, VmState.FAILED, VmState.SKIPPED):
        value = getattr(counts, state.value)
        share = 100 * value / counts.total if counts.total else 0.0
        items.append(
            f'<li data-state="{state.value}"><span class="state s-{state.value}">'
            f"{STATE_LABELS[state]}</span>"
            f'<span class="num">{value:,}</span>'
            f'<span class="bar" role="presentation"><span class="b-{state.value}" '
            f'style="width:{share:.1f}%"></span></span><span class="pct">{share:.1f}%</span></li>'
        )
    halted = (
        f'<p class="note">Pending includes <span class="halted-count">{counts.halted:,}</span> '
        "VMs held back by the halt.</p>"
        if counts.halted
        else ""
    )
    return f'<ul class="states" aria-label="VMs per state">{"".join(items)}</ul>{halted}'


def _short_windows(report: Report) -> str:
    count = report.short_window_skips
    if not count:
        return ""
    return (
        f'<p class="note">Skipped includes <span class="short-window-count">{count:,}</span> '
        f"enrolled VMs whose off-peak window is shorter than {SHORTEST_SLOT_MINUTES} minutes, "
        "too short for any install: widen their <code>patchWindow</code>.</p>"
    )


def _deferred(report: Report) -> str:
    if not report.deferred:
        return ""
    vms = Counter(d.until_cycle for d in report.deferred)
    patches = Counter[str | None]()
    for case in report.deferred:
        patches[case.until_cycle] += case.reboot_patches
    lines = [
        f'<p class="deferred"><span class="deferred-count">{count:,}</span> VMs are compliant '
        f"for this hotpatch month with {patches[until]:,} reboot-needing patches deferred to "
        f"the next baseline{f' ({text(until)})' if until else ''}.</p>"
        for until, count in sorted(vms.items(), key=lambda item: item[0] or "")
    ]
    return "\n".join(lines)


def _by_subscription(report: Report) -> str:
    per_sub = report.compliance_by_subscription()
    if not per_sub:
        return ""
    shown = list(per_sub.items())[:SUBSCRIPTION_LIMIT]
    rows = []
    for sub, c in shown:
        cells = "".join(
            f'<td class="num">{getattr(c, name):,}</td>'
            for name in ("enrolled", "compliant", "pending", "failed", "skipped")
        )
        rows.append(f'<tr><th scope="row">{text(sub)}</th>{cells}<td>{_stack(c)}</td></tr>')
    hidden = len(per_sub) - len(shown)
    note = f'<p class="note">{hidden:,} more subscriptions not shown.</p>' if hidden else ""
    return (
        '<h3 id="subs-h">By subscription</h3>'
        '<div class="scroll" role="region" aria-labelledby="subs-h" tabindex="0"><table>'
        '<thead><tr><th scope="col">subscription</th><th scope="col">enrolled</th>'
        '<th scope="col">compliant</th><th scope="col">pending</th><th scope="col">failed</th>'
        '<th scope="col">skipped</th><th scope="col">share</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>{note}"
    )


def _stack(counts: ComplianceCounts) -> str:
    """A subscription's VMs as one bar of its states, said in words for a screen reader."""
    total = counts.total or 1
    names = ("compliant", "pending", "failed", "skipped")
    said = ", ".join(f"{getattr(counts, name):,} {name}" for name in names)
    parts = "".join(
        f'<span class="b-{name}" style="width:{100 * getattr(counts, name) / total:.1f}%"></span>'
        for name in names
    )
    return f'<span class="stack" role="img" aria-label="{said}">{parts}</span>'


def _timeline(report: Report) -> str:
    if not report.slots and not report.runs:
        return (
            '<section aria-labelledby="timeline-h"><h2 id="timeline-h">Rollout timeline</h2>'
            '<p class="note">No plan or install in this report.</p></section>'
        )
    aggregated = aggregates(report)
    how = (
        f"More than {PER_VM_LIMIT} VMs: one lane per region of each phase, slots and runs merged."
        if aggregated
        else "One row per VM; the VM table below has each slot and what ran."
    )
    mark = "\u25b2" if aggregated else "\u2715"
    return (
        '<section aria-labelledby="timeline-h"><h2 id="timeline-h">Rollout timeline</h2>'
        f'<p class="note">{how}</p>'
        '<ul class="legend"><li><span class="key k-plan"></span>planned slot</li>'
        '<li><span class="key k-ran"></span>ran</li>'
        f'<li><span class="key k-fail"></span>{mark} failed</li>'
        '<li><span class="key k-halt"></span>halt</li>'
        '<li><span class="key k-deadline"></span>deadline</li></ul>'
        '<figure class="scroll" role="region" aria-labelledby="timeline-h" tabindex="0">'
        f"{render_timeline(report)}</figure></section>"
    )


def _run_counters(report: Report) -> str:
    items = (
        ("ARM requests", report.arm.requests),
        ("ARM requests throttled", report.arm.throttled),
        ("Durable instances", report.durable.instances),
        ("Most history events in one instance", report.durable.max_history_events),
        ("Replayed events", report.durable.replayed_events),
    )
    body = "".join(f"<dt>{name}</dt><dd>{value:,}</dd>" for name, value in items)
    return (
        '<section aria-labelledby="run-h"><h2 id="run-h">The run</h2>'
        f'<dl class="run">{body}</dl></section>'
    )

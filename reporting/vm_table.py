"""The per-VM table: state, planned slot, what ran, reason; the ones that need a look first
(each VM's 30-day history is its own section, `reporting.history_table`).

Past `TABLE_LIMIT` VMs the table shows the failed, halted and pending ones first and says
how many of each state it leaves out.
"""

from __future__ import annotations

from collections import Counter

from patching.outcomes import VmState
from reporting.model import Attempt, DeferredHotpatch, PlannedSlot, Report, VmRow
from reporting.page_text import STATE_LABELS, text, time_html

TABLE_LIMIT = 500

# Failed, halted and pending first: the VMs that need a look.
STATE_ORDER = {
    VmState.FAILED: 0,
    VmState.HALTED: 1,
    VmState.PENDING: 2,
    VmState.COMPLIANT: 3,
    VmState.SKIPPED: 4,
}


def render_vm_table(report: Report) -> str:
    ordered = sorted(report.vms, key=lambda row: (STATE_ORDER[row.state], row.vm_id.key))
    shown, hidden = ordered[:TABLE_LIMIT], ordered[TABLE_LIMIT:]
    slots = {slot.vm.lower(): slot for slot in report.slots}
    runs = {run.vm.lower(): run.attempts for run in report.runs}
    deferred = {d.vm.lower(): d for d in report.deferred}
    rows = []
    for row in shown:
        key = row.vm_id.key
        reason = text(row.reason) if row.reason else ""
        if key in deferred:
            reason += _deferred_text(deferred[key])
        cells = [
            _vm_cell(row),
            f'<td class="state s-{row.state.value}">{STATE_LABELS[row.state]}</td>',
            _slot_cell(slots.get(key)),
            _ran_cell(runs.get(key, ())),
            f'<td class="reason">{reason.strip()}</td>',
        ]
        rows.append(f'<tr data-state="{row.state.value}">{"".join(cells)}</tr>')
    headers = ["VM", "state", "planned slot", "what ran", "reason"]
    head = "".join(f'<th scope="col">{name}</th>' for name in headers)
    return (
        '<section aria-labelledby="vms-h"><h2 id="vms-h">VMs</h2>'
        f"{_cap_note(len(report.vms), hidden)}"
        '<div class="scroll" role="region" aria-labelledby="vms-h" tabindex="0">'
        f'<table class="vms"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div></section>"
    )


def _cap_note(total: int, hidden: list[VmRow]) -> str:
    if not hidden:
        return f'<p class="note">All {total:,} VMs, failed, halted and pending first.</p>'
    left_out = Counter(row.state for row in hidden)
    said = ", ".join(
        f"{left_out[state]:,} {state.value}"
        for state in sorted(left_out, key=STATE_ORDER.__getitem__)
    )
    return (
        f'<p class="note cap">Showing {total - len(hidden):,} of {total:,} VMs, failed, halted '
        f'and pending first; <span class="not-shown">{len(hidden):,}</span> not shown '
        f"({said}).</p>"
    )


def _vm_cell(row: VmRow) -> str:
    vm = row.vm_id
    return (
        f'<td class="vm"><span class="name">{text(vm.name)}</span>'
        f'<span class="id">{text(vm.resource_group)} \u00b7 '
        f"{text(vm.subscription_id)}</span></td>"
    )


def _deferred_text(case: DeferredHotpatch) -> str:
    until = f" ({text(case.until_cycle)})" if case.until_cycle else ""
    return f" {case.reboot_patches:,} reboot-needing patches deferred to the next baseline{until}."


def _slot_cell(slot: PlannedSlot | None) -> str:
    if slot is None:
        return "<td>\u2013</td>"
    return (
        f'<td class="when">phase {slot.phase} \u00b7 {text(slot.region)}<br/>'
        f"{time_html(slot.start)} to {time_html(slot.end)}"
        f"<br/>reboot {text(slot.reboot_setting.value)}</td>"
    )


def _ran_cell(attempts: tuple[Attempt, ...]) -> str:
    if not attempts:
        return "<td>\u2013</td>"
    items = []
    for attempt in attempts:
        flags = [
            word
            for word, on in (
                ("unhealthy", attempt.unhealthy),
                ("rebooted", attempt.rebooted),
                ("window exceeded", attempt.maintenance_window_exceeded),
            )
            if on
        ]
        mark = '<strong class="s-failed">\u2715 </strong>' if attempt.failed else ""
        end = time_html(attempt.end) if attempt.end else "still running"
        extra = f" ({', '.join(flags)})" if flags else ""
        items.append(
            f'<li class="{"failed" if attempt.failed else "ran"}">{mark}{text(attempt.status)}'
            f"{extra}<br/>{time_html(attempt.start)} to {end}</li>"
        )
    return f'<td class="when"><ul class="attempts">{"".join(items)}</ul></td>'

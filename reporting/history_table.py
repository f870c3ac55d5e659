"""Each VM's last 30 days: its assessments and installs, newest first, one group of rows
per VM in the VM table's order (the ones that need a look first), within a bound."""

from __future__ import annotations

from patching.resource_ids import VmId
from reporting.model import HistoryEntry, HistoryKind, Report, VmHistory
from reporting.page_text import text, time_html
from reporting.vm_table import STATE_ORDER, TABLE_LIMIT

HISTORY_VM_LIMIT = TABLE_LIMIT
HISTORY_ROW_LIMIT = 5_000
_KIND_WORDS = {HistoryKind.ASSESSMENT: "assessment", HistoryKind.INSTALL: "install"}


def render_history(report: Report) -> str:
    head = (
        '<section aria-labelledby="history-h"><h2 id="history-h">Last 30 days</h2>'
        '<p class="note">Each VM\'s assessments and installs of the last 30 days, newest first; '
        "failed, halted and pending VMs first.</p>"
    )
    histories = _ordered(report)
    if not histories:
        return f'{head}<p class="note">No assessment or install in this report.</p></section>'
    groups, rows_left = [], HISTORY_ROW_LIMIT
    for history in histories[:HISTORY_VM_LIMIT]:
        if rows_left <= 0:
            break
        entries = sorted(history.entries, key=lambda e: e.time, reverse=True)[:rows_left]
        rows_left -= len(entries)
        groups.append(_group(history.vm, entries))
    note = ""
    if len(groups) < len(histories):
        note = (
            f'<p class="note cap">Showing the history of {len(groups):,} of '
            f"{len(histories):,} VMs.</p>"
        )
    columns = ("VM", "when", "what", "status", "details")
    header = "".join(f'<th scope="col">{name}</th>' for name in columns)
    return (
        f"{head}{note}"
        '<div class="scroll" role="region" aria-labelledby="history-h" tabindex="0">'
        f'<table class="history"><thead><tr>{header}</tr></thead>{"".join(groups)}</table>'
        "</div></section>"
    )


def _ordered(report: Report) -> list[VmHistory]:
    states = {row.vm_id.key: row.state for row in report.vms}
    with_entries = [h for h in report.history if h.entries]
    return sorted(with_entries, key=lambda h: (STATE_ORDER[states[_key(h.vm)]], _key(h.vm)))


def _key(vm: str) -> str:
    return VmId.parse(vm).key


def _group(vm: str, entries: list[HistoryEntry]) -> str:
    vm_id = VmId.parse(vm)
    name = (
        f'<td class="vm" rowspan="{len(entries)}"><span class="name">{text(vm_id.name)}</span>'
        f'<span class="id">{text(vm_id.resource_group)} \u00b7 {text(vm_id.subscription_id)}'
        "</span></td>"
    )
    rows = []
    for i, entry in enumerate(entries):
        cells = [
            name if i == 0 else "",
            f'<td class="when">{time_html(entry.time)}</td>',
            f"<td>{_KIND_WORDS[entry.kind]}</td>",
            f"<td>{text(entry.status)}</td>",
            f"<td>{_details(entry)}</td>",
        ]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return f'<tbody class="vm-history">{"".join(rows)}</tbody>'


def _details(entry: HistoryEntry) -> str:
    said = [f"{name} {count:,}" for name, count in sorted(entry.counts.items())]
    if entry.detail:
        said.append(entry.detail)
    return text("; ".join(said)) if said else "\u2013"

"""Words and times as the page shows them."""

from __future__ import annotations

import re
from datetime import datetime
from html import escape

from patching.outcomes import VmState
from patching.timefmt import format_time

# A symbol with each word, so a state reads without its colour.
STATE_LABELS = {
    VmState.COMPLIANT: "\u2713 compliant",
    VmState.PENDING: "\u2026 pending",
    VmState.FAILED: "\u2715 failed",
    VmState.SKIPPED: "\u2013 skipped",
    VmState.HALTED: "\u2016 halted",
}


def time_html(moment: datetime | None) -> str:
    """A `<time>` with the ISO 8601 UTC value, shown to the minute; a dash for none."""
    if moment is None:
        return "\u2013"
    iso = format_time(moment)
    return f'<time datetime="{iso}">{iso[:10]} {iso[11:16]} UTC</time>'


# What neither HTML nor the SVG's XML may carry: C0 and C1 controls but tab, newline and
# return, DEL, lone surrogates and the two noncharacters XML forbids.
_UNSHOWABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def text(value: str) -> str:
    """`value` safe as element text or as a quoted attribute, in the page and in its SVG."""
    return escape(_UNSHOWABLE.sub("\ufffd", value), quote=True)

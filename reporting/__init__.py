"""A cycle's report: its model, report.json (docs/CONTRACTS.md section 4) and the HTML page.

Pure: it imports `patching` only, reads no clock and does no I/O, so `patchctl simulate`
and the function app's `GET /api/report` render the same page from the same values.
"""

from reporting.html import render_html
from reporting.report_json import from_report_json, to_report_json

__all__ = ["from_report_json", "render_html", "to_report_json"]

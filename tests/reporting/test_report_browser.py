"""The report page in a real headless browser (Debian's chromium, which `make setup`
installs, driven by Playwright): it loads from a file with no console error and no request
at all, shows its key elements, is usable with the keyboard, does not scroll sideways at
phone width, and leaves screenshots in out/test-screenshots/."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, sync_playwright
from report_samples import month_report

from reporting import render_html
from reporting.model import Report

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "out" / "test-screenshots"
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail(
            "chromium is not installed: `make setup` installs Debian's chromium "
            "(apt-get install chromium), which this test drives with Playwright"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Loaded:
    page: Page
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


Opener = Callable[[Report, dict[str, int], str], Loaded]


@pytest.fixture
def open_report(browser: Browser, tmp_path: Path) -> Iterator[Opener]:
    contexts = []

    def load(report: Report, viewport: dict[str, int], name: str) -> Loaded:
        path = tmp_path / f"{name}.html"
        path.write_text(render_html(report), encoding="utf-8")
        context = browser.new_context(
            viewport={"width": viewport["width"], "height": viewport["height"]}
        )
        contexts.append(context)
        loaded = Loaded(context.new_page())

        def on_console(message: ConsoleMessage) -> None:
            if message.type in {"error", "warning"}:
                loaded.errors.append(f"{message.type}: {message.text}")

        def on_request(request: Request) -> None:
            if request.url != path.as_uri():
                loaded.requests.append(request.url)

        loaded.page.on("console", on_console)
        loaded.page.on("pageerror", lambda error: loaded.errors.append(f"page: {error}"))
        loaded.page.on("request", on_request)
        loaded.page.goto(path.as_uri(), wait_until="load")
        return loaded

    yield load
    for context in contexts:
        context.close()


def _screenshot(page: Page, name: str, *, full_page: bool) -> Path:
    """A PNG of the page (whole, or what the screen shows: a long page takes seconds)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(target), full_page=full_page)
    assert target.stat().st_size > 10_000
    return target


def test_the_page_loads_clean_and_shows_its_key_elements(open_report: Opener) -> None:
    report = month_report(60, halted=True, subscriptions=3)
    loaded = open_report(report, DESKTOP, "report-desktop")
    page = loaded.page
    assert loaded.errors == [] and loaded.requests == []
    assert page.title().startswith("Patch report: cycle 2026-12")
    headings = page.locator("h2").all_inner_texts()
    for expected in ("Compliance", "Rollout timeline", "Phases", "VMs", "Last 30 days"):
        assert any(h.endswith(expected) for h in headings), (expected, headings)
    assert page.locator(".halt[role=alert]").is_visible()
    counts = report.compliance
    for state in ("compliant", "pending", "failed", "skipped"):
        shown = page.locator(f"li[data-state={state}] .num").inner_text()
        assert int(shown.replace(",", "")) == getattr(counts, state)
    timeline = page.locator("svg.timeline")
    assert timeline.is_visible() and timeline.bounding_box()["width"] > 600  # type: ignore[index]
    assert page.locator("svg.timeline .band-label").count() == len(report.phases)
    assert page.locator("table.vms tbody tr").count() == len(report.vms)
    history = page.locator("table.history")
    assert history.is_visible()
    assert page.locator("table.history tbody.vm-history").count() == len(report.history)
    assert page.locator("table.phases tbody tr").count() == len(report.phases)
    _screenshot(page, "report-desktop", full_page=True)


def test_the_keyboard_reaches_every_control_and_shows_where_it_is(open_report: Opener) -> None:
    loaded = open_report(month_report(60, halted=True), DESKTOP, "report-keyboard")
    page = loaded.page
    page.keyboard.press("Tab")
    first = page.evaluate(
        "() => { const e = document.activeElement; const box = e.getBoundingClientRect();"
        " return {cls: e.className, left: box.left, outline: getComputedStyle(e).outlineStyle}; }"
    )
    assert first["cls"] == "skip" and first["left"] >= 0 and first["outline"] != "none"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    page.evaluate("() => { document.activeElement.blur(); window.scrollTo(0, 0); }")
    focusable = page.evaluate(
        '() => [...document.querySelectorAll(\'a[href], [tabindex]:not([tabindex="-1"]),'
        " summary, button, input')].length"
    )
    reached = []
    for _ in range(focusable + 2):
        page.keyboard.press("Tab")
        reached.append(
            page.evaluate(
                "() => { const e = document.activeElement;"
                " return [e.tagName, e.getAttribute('href') || e.getAttribute('aria-labelledby')"
                " || '', getComputedStyle(e).outlineStyle]; }"
            )
        )
    names = {(tag, what) for tag, what, _ in reached}
    for anchor in ("#compliance-h", "#timeline-h", "#phases-h", "#vms-h", "#history-h"):
        assert ("A", anchor) in names, anchor
    for region in ("timeline-h", "vms-h", "history-h", "phases-h", "subs-h"):
        assert any(what == region for _, what in names), region
    assert all(outline != "none" for tag, _, outline in reached if tag != "BODY")
    # A link of the contents moves the reader to its section.
    page.locator('.contents a[href="#history-h"]').focus()
    page.keyboard.press("Enter")
    assert page.evaluate("() => location.hash") == "#history-h"
    assert loaded.errors == []


@pytest.mark.parametrize("vm_count", [120, 2_000])
def test_at_phone_width_only_the_wide_parts_scroll_inside_their_own_box(
    open_report: Opener, vm_count: int
) -> None:
    report = month_report(vm_count, halted=True, subscriptions=4)
    loaded = open_report(report, PHONE, f"report-phone-{vm_count}")
    page = loaded.page
    assert loaded.errors == [] and loaded.requests == []
    widths = page.evaluate(
        "() => ({page: document.documentElement.scrollWidth,"
        " view: document.documentElement.clientWidth, body: document.body.scrollWidth})"
    )
    assert widths["view"] == PHONE["width"]
    assert widths["page"] <= widths["view"] and widths["body"] <= widths["view"], widths
    boxes = page.evaluate(
        "() => [...document.querySelectorAll('.scroll')].map(e =>"
        " ({id: e.getAttribute('aria-labelledby'), width: e.clientWidth,"
        " inner: e.scrollWidth, overflow: getComputedStyle(e).overflowX}))"
    )
    assert boxes and all(box["width"] <= PHONE["width"] for box in boxes)
    scrolling = {box["id"] for box in boxes if box["inner"] > box["width"]}
    assert {"timeline-h", "vms-h"} <= scrolling
    assert all(box["overflow"] == "auto" for box in boxes)
    # Nothing outside those boxes is wider than the screen.
    stray = page.evaluate(
        "() => [...document.querySelectorAll('body *')].filter(e => !e.closest('.scroll')"
        " && !e.classList.contains('skip')"
        " && e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)"
        ".map(e => e.tagName + '.' + e.className)"
    )
    assert stray == []
    _screenshot(page, f"report-phone-{vm_count}", full_page=False)

"""The page's one inline style sheet: readable at phone width, no web fonts, no URLs."""

PAGE_CSS = """
:root { --ink: #1b1f24; --muted: #57606a; --line: #d0d7de; --ok: #1a7f37; --pend: #9a6700;
  --fail: #c62828; --skip: #6e7781; --halt: #bc4c00; --plan: #c9dcf5; --ran: #1f5fbf; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--ink); background: #fff; }
header, main { max-width: 72rem; margin: 0 auto; padding: 0 1rem; }
header { padding-top: 1rem; }
h1 { font-size: 1.5rem; margin: 0.5rem 0; overflow-wrap: anywhere; }
h2 { font-size: 1.2rem; margin: 1.75rem 0 0.5rem; border-bottom: 1px solid var(--line); }
h3 { font-size: 1rem; margin: 1.25rem 0 0.5rem; }
.meta { color: var(--muted); margin: 0; }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 1rem; top: 0.5rem; background: #fff; padding: 0.25rem 0.5rem; z-index: 2; }
:focus-visible { outline: 3px solid #0969da; outline-offset: 2px; }
a { color: #0550ae; }
main:focus { outline: none; }
.contents ul { list-style: none; padding: 0; margin: 0.6rem 0 0; display: flex; flex-wrap: wrap;
  gap: 0.3rem 1rem; font-size: 0.95rem; }
.contents a { display: inline-block; padding: 0.2rem 0; }
.scroll:focus-visible { outline-offset: -3px; }
.halt { border: 2px solid var(--halt); border-left-width: 8px; background: #fff4e5;
  padding: 0.5rem 1rem; margin: 1rem 0; }
.halt h2 { border: 0; margin: 0.25rem 0; color: var(--halt); }
.states { list-style: none; padding: 0; margin: 0; display: grid; gap: 0.4rem; }
.states li { display: grid; grid-template-columns: 8.5rem 4.5rem 1fr 4rem; gap: 0.5rem;
  align-items: center; }
.states .num, .pct, td.num { text-align: right; font-variant-numeric: tabular-nums; }
.bar { display: block; height: 1rem; background: #f0f2f4; border: 1px solid var(--line); }
.bar span { display: block; height: 100%; }
.stack { display: flex; width: 8rem; height: 0.9rem; background: #f0f2f4;
  border: 1px solid var(--line); }
.stack span { display: block; height: 100%; }
.note { color: var(--muted); font-size: 0.9rem; margin: 0.25rem 0; }
.b-compliant { background: var(--ok); }
.b-pending { background: repeating-linear-gradient(45deg, var(--pend) 0 4px, #e3b341 4px 8px); }
.b-failed { background: repeating-linear-gradient(-45deg, var(--fail) 0 3px, #fff 3px 5px); }
.b-skipped { background: repeating-linear-gradient(90deg, var(--skip) 0 2px, #d8dee4 2px 5px); }
.state { white-space: nowrap; font-weight: 600; }
.s-compliant { color: var(--ok); } .s-pending { color: var(--pend); }
.s-failed { color: var(--fail); } .s-skipped { color: var(--skip); }
.s-halted { color: var(--halt); }
.scroll { overflow-x: auto; max-width: 100%; border: 1px solid var(--line); margin: 0.5rem 0; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { text-align: left; padding: 0.3rem 0.5rem; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { background: #f6f8fa; position: sticky; top: 0; }
td.vm { overflow-wrap: anywhere; min-width: 10rem; }
td.when, thead th, tbody th { white-space: nowrap; }
td.reason { min-width: 12rem; }
.id { display: block; color: var(--muted); font-size: 0.8rem; }
ul.attempts { margin: 0; padding: 0; list-style: none; }
table.history tbody.vm-history { border-top: 2px solid var(--line); }
table.history td.vm { min-width: 9rem; }
.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 0.4rem 1.2rem;
  font-size: 0.9rem; margin: 0.25rem 0; }
.key { display: inline-block; width: 1.6rem; height: 0.8rem; vertical-align: middle;
  margin-right: 0.3rem; border: 1px solid var(--line); }
.k-plan { background: var(--plan); } .k-ran { background: var(--ran); }
.k-fail { background: repeating-linear-gradient(45deg, var(--fail) 0 4px, #fff 4px 6px); }
.k-halt { border: 0; border-left: 3px dashed var(--halt); width: 0.6rem; }
.k-deadline { border: 0; border-left: 3px solid var(--ink); width: 0.6rem; }
figure { margin: 0.5rem 0; }
svg.timeline { display: block; width: 100%; min-width: 40rem; height: auto;
  font-family: system-ui, sans-serif; }
svg .day { font-size: 11px; fill: var(--muted); text-anchor: middle; }
svg .marker-label { font-size: 11px; text-anchor: end; }
svg .axis-label { font-size: 11px; fill: var(--muted); text-anchor: end; }
svg .tick { stroke: #eaeef2; stroke-width: 1; } svg .tick.major { stroke: #d0d7de; }
svg .phase-span { fill: #f3f7fc; }
svg .band-rule { stroke: var(--line); }
svg .band-label { font-size: 12px; font-weight: 600; fill: var(--ink); }
svg .row-label { font-size: 10px; fill: var(--ink); text-anchor: end; }
svg .row-detail { font-size: 9px; fill: var(--muted); text-anchor: end; }
svg .plan { fill: var(--plan); } svg .ran { fill: var(--ran); }
svg .fail { fill: url(#hatch); stroke: var(--fail); stroke-width: 0.5; }
svg .running { fill: var(--ran); opacity: 0.6; }
svg .fail-mark { stroke: var(--fail); stroke-width: 2; fill: none; }
svg .fail-mark.filled { fill: var(--fail); stroke-width: 0.5; stroke: #fff; }
svg .deadline-line line { stroke: var(--ink); stroke-width: 2; }
svg .halt-line line { stroke: var(--halt); stroke-width: 2; stroke-dasharray: 6 3; }
svg .halt-line text { fill: var(--halt); font-weight: 600; }
dl.run { display: grid; grid-template-columns: max-content auto; gap: 0.2rem 1rem; }
dl.run dt { color: var(--muted); } dl.run dd { margin: 0; font-variant-numeric: tabular-nums; }
@media (max-width: 40rem) {
  body { font-size: 15px; }
  .states li { grid-template-columns: 6.5rem 3.5rem 1fr; }
  .states .pct { display: none; }
  tbody th { white-space: normal; overflow-wrap: anywhere; min-width: 7rem; font-size: 0.8rem; }
}
"""

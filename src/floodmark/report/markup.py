"""HTML building blocks for the fleet report: page, sections, tables, embedded figures.

The page is one self-contained file: inline CSS, plotly.js inlined once in the
head, every figure a ``div`` plus a small ``Plotly.newPlot`` call. Nothing is
fetched from the network, so it opens offline and from a ticket attachment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from html import escape

import plotly.graph_objects as go
import polars as pl

from floodmark.report.style import PLOTLY_CONFIG, fmt_number

Formatter = Callable[[object], str]

_CSS = """
:root { --ink: #1d2733; --muted: #5b6773; --line: #d9dee4; --bg: #f6f7f9; --accent: #1f3b73; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans",
       sans-serif; color: var(--ink); background: var(--bg); }
header { background: var(--accent); color: white; padding: 18px 32px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; opacity: .85; }
nav { padding: 8px 32px; background: white; border-bottom: 1px solid var(--line);
      position: sticky; top: 0; z-index: 10; }
nav a { margin-right: 18px; color: var(--accent); text-decoration: none; white-space: nowrap; }
main { padding: 8px 32px 48px; max-width: 1500px; }
section { background: white; border: 1px solid var(--line); border-radius: 6px;
          padding: 8px 20px 16px; margin: 18px 0; }
h2 { font-size: 18px; margin: 10px 0 6px; }
h3 { font-size: 15px; margin: 18px 0 4px; }
p.note { color: var(--muted); margin: 4px 0 10px; }
p.empty { color: var(--muted); font-style: italic; padding: 10px 0; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 8px 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; min-width: 150px; }
.card b { display: block; font-size: 20px; }
.card span { color: var(--muted); font-size: 12px; }
table { border-collapse: collapse; margin: 6px 0 10px; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: right; }
th { background: #eef1f5; font-weight: 600; position: sticky; top: 37px; }
td.text, th.text { text-align: left; }
td.text { white-space: nowrap; }
td.wrap { white-space: normal; max-width: 520px; }
tr:hover td { background: #f3f6fb; }
code { font-size: 12px; background: #eef1f5; padding: 1px 4px; border-radius: 3px; }
.figure { width: 100%; margin: 4px 0 12px; }
.worst { border-top: 1px solid var(--line); padding-top: 6px; }
"""


def page(title: str, subtitle: str, nav: Sequence[tuple[str, str]], body: str) -> str:
    """The whole document, with plotly.js inlined once."""
    from plotly.offline import get_plotlyjs

    links = "".join(f'<a href="#{escape(anchor)}">{escape(text)}</a>' for anchor, text in nav)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{_CSS}</style>\n"
        f'<script type="text/javascript">{get_plotlyjs()}</script>\n</head>\n<body>\n'
        f"<header><h1>{escape(title)}</h1><p>{escape(subtitle)}</p></header>\n"
        f"<nav>{links}</nav>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def section(anchor: str, title: str, *parts: str) -> str:
    return (
        f'<section id="{escape(anchor)}">\n<h2>{escape(title)}</h2>\n'
        + "\n".join(parts)
        + ("\n</section>")
    )


def note(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'


def empty(text: str) -> str:
    """Said instead of drawing an empty chart."""
    return f'<p class="empty">{escape(text)}</p>'


def cards(items: Sequence[tuple[str, str]]) -> str:
    inner = "".join(
        f'<div class="card"><b>{escape(v)}</b><span>{escape(k)}</span></div>' for k, v in items
    )
    return f'<div class="cards">{inner}</div>'


def table(
    df: pl.DataFrame,
    *,
    formats: Mapping[str, Formatter] | None = None,
    headers: Mapping[str, str] | None = None,
    shade: Mapping[str, float] | None = None,
    wrap: Sequence[str] = ("meaning", "example", "basis", "fallback", "detail"),
) -> str:
    """An HTML table; numbers right-aligned, text left, missing shown as ``–``.

    shade: ``{column: max}`` tints numeric cells by value / max (a table heatmap).
    """
    formats = formats or {}
    headers = headers or {}
    shade = shade or {}
    text_cols = {c for c, t in df.schema.items() if not t.is_numeric()}
    head = "".join(
        f'<th class="{"text" if c in text_cols else ""}">{escape(headers.get(c, c))}</th>'
        for c in df.columns
    )
    rows = []
    for row in df.iter_rows(named=True):
        cells = []
        for c in df.columns:
            value = row[c]
            text = formats[c](value) if c in formats else fmt_number(value)
            style = ""
            top = shade.get(c)
            if top and isinstance(value, int | float) and value == value and value > 0:
                alpha = 0.08 + 0.5 * min(float(value) / top, 1.0)
                style = f' style="background: rgba(31, 59, 115, {alpha:.2f})"'
            cls = ""
            if c in text_cols:
                cls = ' class="text wrap"' if c in wrap else ' class="text"'
            cells.append(f"<td{cls}{style}>{escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def figure(fig: go.Figure, div_id: str) -> str:
    """A figure as a div and its script, without plotly.js (the page carries it once)."""
    inner = fig.to_html(
        full_html=False, include_plotlyjs=False, div_id=div_id, config=PLOTLY_CONFIG
    )
    return f'<div class="figure">{inner}</div>'

"""Colours and number formats shared by every figure and table (layout only)."""

from __future__ import annotations

import math

#: One colour per level, most sensitive (green) to least (red); expert lines reuse it dashed.
LEVEL_COLORS: dict[str, str] = {
    "ss": "#2ca02c",
    "sc": "#17becf",
    "nw": "#ff7f0e",
    "rl": "#d62728",
}
LEVEL_NAMES: dict[str, str] = {
    "ss": "ss (most sensitive)",
    "sc": "sc",
    "nw": "nw",
    "rl": "rl (least sensitive)",
}
METHOD_COLORS: tuple[str, ...] = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
)
METRIC_UNITS: dict[str, str] = {"PPS": "packets/s", "BW": "bandwidth"}

RAW_COLOR = "#8fa9c9"
DAILY_MAX_COLOR = "#e7298a"
DAILY_Q90_COLOR = "#a6761d"
CALM_COLOR = "#1f3b73"
ATTACK_FILL = "rgba(214, 39, 40, 0.2)"
ATTACK_LEGEND = "rgba(214, 39, 40, 0.45)"
SUPER_PEAK_COLOR = "#9b0000"

#: Plotly options for every figure: no Plotly logo, no cloud links, PNG button at report size.
PLOTLY_CONFIG: dict[str, object] = {
    "displaylogo": False,
    "responsive": True,
    "toImageButtonOptions": {"format": "png", "scale": 2},
}
TEMPLATE = "plotly_white"


def fmt_number(value: object, digits: int = 4) -> str:
    """A short human number: ``12.4``, ``3.1e+06``; ``–`` for missing or NaN."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        size = abs(value)
        for limit, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M")):
            if size >= limit:
                # Engineers read 3.2M pps or 1.5G bandwidth faster than 3.2e+06.
                return f"{value / limit:.{digits}g}{suffix}"
        if size >= 1e3:
            return f"{value:,.0f}"
        if value != 0 and size < 1e-3:
            return f"{value:.{max(digits - 1, 1)}e}"
        return f"{value:.{digits}g}"
    return str(value)


def fmt_percent(value: object, digits: int = 1) -> str:
    """A 0–1 fraction as a percentage; ``–`` when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{float(value) * 100:.{digits}f} %"


def method_color(methods: list[str], method: str) -> str:
    """A stable colour per method name within one report."""
    return METHOD_COLORS[sorted(methods).index(method) % len(METHOD_COLORS)]

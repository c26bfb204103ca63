"""Plots and the fleet report: they read results and render them.

They compute only what a figure shows: a plotted series' daily maxima and attack
periods, recommended-vs-expert pairs, and (``report.inputs``, when no features table
is given) the features of the one series being plotted.

>>> from floodmark.report import series_figure, write_figure, write_report  # doctest: +SKIP
>>> fig = series_figure(store.read_series("ab12", "PT_SYN", "PPS"))  # doctest: +SKIP
>>> write_figure(fig, "syn.html")  # or "syn.png" (needs a Chromium)  # doctest: +SKIP
>>> write_report("report.html", store, features, thresholds, backtest=result)  # doctest: +SKIP
"""

from floodmark.report.export import write_figure
from floodmark.report.fleet import build_report, write_report
from floodmark.report.series import series_figure

__all__ = ["build_report", "series_figure", "write_figure", "write_report"]  # sorted

"""Write figures: self-contained HTML, or PNG through kaleido and a local Chromium.

Kaleido 1.x renders images in a headless Chromium it drives through
``choreographer``. The browser is looked up, in order: the ``browser`` argument;
``choreographer``'s own search, which honours the ``BROWSER_PATH`` environment
variable, a copy fetched with ``kaleido_get_chrome``, then ``chromium``,
``google-chrome`` … on ``PATH`` and their usual install paths (Debian's
``/usr/bin/chromium`` included).
"""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go

from floodmark.errors import FloodmarkError
from floodmark.io.atomic import atomic_path
from floodmark.report.style import PLOTLY_CONFIG

FIGURE_SUFFIXES = (".html", ".png")
INSTALL_HINT = (
    "PNG export needs a Chromium-based browser: install chromium "
    "(Debian/Ubuntu: apt-get install chromium), or point BROWSER_PATH or --browser at one"
)


def find_browser(path: str | Path | None = None) -> str:
    """The Chromium executable kaleido will drive; FloodmarkError when there is none."""
    if path is None:
        from choreographer.browsers.chromium import Chromium

        path = Chromium.find_browser(skip_local=False)
        if path is None:
            raise FloodmarkError(f"no browser found. {INSTALL_HINT}")
    if not Path(path).is_file():
        raise FloodmarkError(f"no browser at {str(path)!r}. {INSTALL_HINT}", file=path)
    return str(path)


def figure_html(fig: go.Figure, *, title: str | None = None) -> str:
    """A complete HTML page for ``fig`` with plotly.js inlined (works offline)."""
    html = fig.to_html(full_html=True, include_plotlyjs=True, config=PLOTLY_CONFIG)
    if title:
        from html import escape

        html = html.replace("<head>", f"<head><title>{escape(title)}</title>", 1)
    return html


def figure_png(
    fig: go.Figure,
    *,
    browser: str | Path | None = None,
    width: int = 1400,
    height: int | None = None,
    scale: float = 1.0,
    timeout: float = 60.0,
) -> bytes:
    """Render ``fig`` as PNG bytes in a headless Chromium (never fetches from the network)."""
    import kaleido
    from kaleido.errors import BrowserFailedError, ChromeNotFoundError, KaleidoError

    exe = find_browser(browser)
    static = fig.to_dict()
    # Buttons do nothing in a picture.
    static["layout"].pop("updatemenus", None)
    layout_height = static["layout"].get("height")
    opts = {
        "format": "png",
        "width": width,
        "height": height or layout_height or 600,
        "scale": scale,
    }
    # mathjax=False: kaleido's default loads MathJax from a CDN; plotly.js comes
    # from the installed plotly package.
    kopts = {"path": exe, "mathjax": False, "timeout": timeout}
    try:
        return kaleido.calc_fig_sync(static, opts=opts, kopts=kopts)
    except ChromeNotFoundError:
        raise FloodmarkError(f"no usable browser at {exe!r}. {INSTALL_HINT}") from None
    except (BrowserFailedError, KaleidoError, TimeoutError, RuntimeError) as exc:
        raise FloodmarkError(
            f"PNG export failed in the browser {exe!r}: {type(exc).__name__}: {exc}"
        ) from exc


def write_figure(
    fig: go.Figure,
    path: str | Path,
    *,
    browser: str | Path | None = None,
    width: int = 1400,
    height: int | None = None,
    scale: float = 1.0,
) -> Path:
    """Write ``fig`` atomically as ``.html`` (interactive, offline) or ``.png`` (static)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FIGURE_SUFFIXES:
        raise FloodmarkError(
            f"unsupported figure extension {suffix!r}; use one of {', '.join(FIGURE_SUFFIXES)}",
            file=path,
        )
    if suffix == ".png":
        data = figure_png(fig, browser=browser, width=width, height=height, scale=scale)
    else:
        title = fig.layout.title.text if fig.layout.title else None
        data = figure_html(fig, title=title).encode("utf-8")
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path

"""Chart geometry for the site's inline SVG pictures, computed at build time.

Functions here turn numbers into plain, rounded coordinates; ``site_templates/_charts.html`` draws
them (so every label goes through Jinja's autoescape). Rounding to two decimals keeps the output
byte-identical across runs and platforms.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Width of every chart, in SVG user units. Charts are drawn at this size (not scaled down), so
#: their 11 px text stays readable on a 390 px phone screen.
WIDTH = 340
_ROW = 18
_LABEL = 150
_VALUE = 64
_HIST_WIDTH = 320
_HIST_HEIGHT = 60
_HIST_BINS = 24
_LABEL_CHARS = 22


@dataclass(frozen=True)
class Bar:
    """One rectangle of a chart, with the text that explains it (a ``<title>`` tooltip)."""

    x: float
    y: float
    width: float
    height: float
    label: str
    value: str
    short: str = ""
    text_y: float = 0.0
    value_x: float = 0.0


@dataclass(frozen=True)
class BarChart:
    """A horizontal bar chart: one labelled row per item."""

    width: int
    height: int
    label_width: int
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class Histogram:
    """A histogram of values: ``bars`` over ``[low, high]``, with counts as tooltips."""

    width: int
    height: int
    bars: tuple[Bar, ...]
    low: str
    high: str
    count: int
    nonfinite: int
    axis_y: int = _HIST_HEIGHT + 13


#: Numbers at least this large (in magnitude) and below :data:`_PLAIN_BELOW` are written whole, with
#: thousands separators (``1,883``): three significant digits would write them ``1.88e+03``.
_WHOLE_FROM = 100
_PLAIN_BELOW = 999_999.5


def number(value: float) -> str:
    """A short, stable text for a number: three significant digits (``0.0123``, ``45.1``), whole numbers
    from 100 up to a million (``1,883``), scientific notation only for very small or large ones
    (``1.2e-05``, ``1.5e+06``)."""
    if _WHOLE_FROM <= abs(value) < _PLAIN_BELOW:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else "…" + text[-(limit - 1):]


def _r(value: float) -> float:
    return round(float(value), 2)


def bar_chart(items: Sequence[tuple[str, int]], *, value_text: Sequence[str] | None = None) -> BarChart:
    """Horizontal bars for ``(label, value)`` pairs, in the given order, scaled to the largest value."""
    top = max((v for _, v in items), default=0) or 1
    span = WIDTH - _LABEL - _VALUE
    texts = value_text or [f"{v:,}" for _, v in items]
    bars = []
    for i, ((label, value), text) in enumerate(zip(items, texts)):
        width = _r(max(value / top * span, 1 if value else 0))
        bars.append(Bar(x=_LABEL, y=i * _ROW + 2, width=width, height=_ROW - 4, label=label, value=text,
                        short=_shorten(label, _LABEL_CHARS), text_y=i * _ROW + _ROW - 5,
                        value_x=_r(_LABEL + width + 4)))
    return BarChart(width=WIDTH, height=max(len(items), 1) * _ROW, label_width=_LABEL - 6, bars=tuple(bars))


def histogram(values: np.ndarray, *, bins: int = _HIST_BINS) -> Histogram | None:
    """A histogram of the finite *values* (``None`` when there are none); non-finite ones are counted."""
    data = np.asarray(values, dtype=np.float64).ravel()
    finite = data[np.isfinite(data)]
    if not finite.size:
        return None
    low, high = float(finite.min()), float(finite.max())
    edges = (low - 0.5, high + 0.5) if low == high else (low, high)
    counts, bounds = np.histogram(finite, bins=bins, range=edges)
    top = int(counts.max())
    step = _HIST_WIDTH / bins
    bars = tuple(Bar(x=_r(i * step), y=_r(_HIST_HEIGHT - c / top * _HIST_HEIGHT), width=_r(step - 1),
                     height=_r(c / top * _HIST_HEIGHT), label=f"{number(bounds[i])} to {number(bounds[i + 1])}",
                     value=f"{int(c):,}") for i, c in enumerate(counts))
    return Histogram(width=_HIST_WIDTH, height=_HIST_HEIGHT + 16, bars=bars, low=number(low), high=number(high),
                     count=int(finite.size), nonfinite=int(data.size - finite.size))

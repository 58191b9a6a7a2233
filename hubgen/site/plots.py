"""Geometry of the model pages' evaluation charts, computed at build time (drawn by ``_plots.html``).

* :func:`parity`: predicted against measured values of a held-out set, one point per molecule;
* :func:`roc`: ROC curves, one per task (for a few tasks);
* :func:`auc_bars`: one bar per task's ROC-AUC, with the dashed 0.5 line of a random ranking, labelled
  at its foot (for many);
* :func:`labelled_histogram`: a histogram with an axis title (training-set molecular weight, logP).

Every chart is at most :data:`WIDTH` user units wide and is drawn at that size, so its 11 px text
stays 11 px on a 390 px phone screen. Coordinates are rounded to two decimals (deterministic output).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hubgen.site.svg import Histogram, histogram, number

WIDTH = 320
HEIGHT = 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 46, 10, 10, 40
#: A ROC curve keeps at most this many points (evenly spread along the curve).
MAX_CURVE_POINTS = 120
#: At most this many ROC curves are drawn; more tasks get :func:`auc_bars`.
MAX_CURVES = 4
_BAR_ROW = 20
_BAR_LABEL = 104
_BAR_VALUE = 44
#: Below the bars: the label of the dashed chance line.
_BAR_LEGEND = 18
#: What the dashed line of :func:`auc_bars` marks (also its tooltip).
CHANCE_LABEL = "ROC-AUC 0.5: a random ranking"


def _r(value: float) -> float:
    return round(float(value), 2)


@dataclass(frozen=True)
class Tick:
    """An axis tick: its position (along the axis, in user units) and its label."""

    at: float
    label: str


@dataclass(frozen=True)
class Point:
    """One molecule of a parity plot."""

    x: float
    y: float
    title: str


@dataclass(frozen=True)
class Frame:
    """The plotting area and its axes."""

    width: int
    height: int
    left: int
    top: int
    right: int
    bottom: int
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    x_title: str
    y_title: str

    @property
    def x_title_x(self) -> float:
        """Where the x axis title is centred."""
        return _r((self.left + self.right) / 2)

    @property
    def y_title_y(self) -> float:
        """Where the y axis title is centred (it is rotated)."""
        return _r((self.top + self.bottom) / 2)


@dataclass(frozen=True)
class Parity:
    """A parity plot: points, the ``y = x`` diagonal, axes."""

    frame: Frame
    points: tuple[Point, ...]
    diagonal: tuple[float, float, float, float]


@dataclass(frozen=True)
class Curve:
    """One ROC curve: an SVG ``points`` string, its task and its AUC."""

    task: str
    auc: str
    points: str
    series: int
    legend_y: float


@dataclass(frozen=True)
class Roc:
    """ROC curves of a few tasks on one frame, with the chance diagonal."""

    frame: Frame
    curves: tuple[Curve, ...]
    diagonal: tuple[float, float, float, float]


@dataclass(frozen=True)
class AucBar:
    """A task's ROC-AUC bar; ``below_chance`` when it ranks worse than random (AUC < 0.5)."""

    task: str
    value: str
    y: float
    width: float
    text_y: float
    value_x: float
    below_chance: bool
    labelled: int


@dataclass(frozen=True)
class AucBars:
    """One ROC-AUC bar per task, on a 0-1 scale, with the 0.5 line labelled ``chance_label`` at ``legend_y``."""

    width: int
    height: int
    label_width: int
    bar_left: int
    bar_span: int
    chance_x: float
    bars: tuple[AucBar, ...]
    legend_y: float = 0.0
    chance_label: str = CHANCE_LABEL


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering ``[low, high]``."""
    span = high - low or 1.0
    raw = span / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step - 1e-9) * step
    return [first + i * step for i in range(count + 2) if first + i * step <= high + 1e-9]


def _frame(low: float, high: float, x_title: str, y_title: str, *, width: int = WIDTH,
           height: int = HEIGHT) -> tuple[Frame, callable, callable]:
    right, bottom = width - _RIGHT, height - _BOTTOM

    def sx(v: float) -> float:
        return _r(_LEFT + (v - low) / (high - low) * (right - _LEFT))

    def sy(v: float) -> float:
        return _r(bottom - (v - low) / (high - low) * (bottom - _TOP))

    values = _ticks(low, high)
    frame = Frame(width, height, _LEFT, _TOP, right, bottom, tuple(Tick(sx(v), number(v)) for v in values),
                  tuple(Tick(sy(v), number(v)) for v in values), x_title, y_title)
    return frame, sx, sy


def parity(measured: Sequence[float], predicted: Sequence[float], labels: Sequence[str], *,
           unit: str = "") -> Parity | None:
    """Predicted against measured, on equal axes; None without a finite pair."""
    pairs = [(float(m), float(p), str(s)) for m, p, s in zip(measured, predicted, labels)
             if m is not None and p is not None and math.isfinite(float(m)) and math.isfinite(float(p))]
    if not pairs:
        return None
    values = [v for m, p, _ in pairs for v in (m, p)]
    pad = (max(values) - min(values)) * 0.04 or 0.5
    low, high = min(values) - pad, max(values) + pad
    suffix = f" ({unit})" if unit else ""
    frame, sx, sy = _frame(low, high, f"measured{suffix}", f"predicted{suffix}")
    points = tuple(Point(sx(m), sy(p), f"{s}: measured {number(m)}, predicted {number(p)}") for m, p, s in pairs)
    return Parity(frame, points, (sx(low), sy(low), sx(high), sy(high)))


def roc_curve(y_true: Sequence[float], score: Sequence[float]) -> tuple[np.ndarray, np.ndarray, float]:
    """``(false positive rates, true positive rates, AUC)`` of the labelled pairs (both classes needed)."""
    from sklearn.metrics import roc_auc_score
    from sklearn.metrics import roc_curve as sk_roc_curve

    y, s = np.asarray(y_true, np.float64), np.asarray(score, np.float64)
    fpr, tpr, _ = sk_roc_curve(y, s)
    return fpr, tpr, float(roc_auc_score(y, s))


def _thin(fpr: np.ndarray, tpr: np.ndarray) -> list[tuple[float, float]]:
    if len(fpr) <= MAX_CURVE_POINTS:
        return list(zip(fpr, tpr))
    keep = np.unique(np.linspace(0, len(fpr) - 1, MAX_CURVE_POINTS).round().astype(int))
    return [(fpr[i], tpr[i]) for i in keep]


def roc(tasks: Sequence[tuple[str, Sequence[float], Sequence[float]]]) -> Roc | None:
    """ROC curves for ``(task, labels, scores)``; tasks lacking either class are left out."""
    frame, sx, sy = _frame(0.0, 1.0, "false positive rate", "true positive rate")
    curves = []
    for name, labels, scores in tasks:
        if len(set(labels)) < 2:
            continue
        fpr, tpr, auc = roc_curve(labels, scores)
        points = " ".join(f"{sx(x)},{sy(y)}" for x, y in _thin(fpr, tpr))
        curves.append(Curve(name, f"{auc:.3f}", points, len(curves), _r(frame.bottom - 8 - 14 * len(curves))))
    if not curves:
        return None
    return Roc(frame, tuple(curves), (sx(0), sy(0), sx(1), sy(1)))


def auc_bars(aucs: Sequence[tuple[str, float, int]]) -> AucBars:
    """A bar per ``(task, ROC-AUC, labelled molecules)`` on a 0-1 scale."""
    span = WIDTH - _BAR_LABEL - _BAR_VALUE
    bars = tuple(AucBar(task=task, value=f"{auc:.3f}", y=i * _BAR_ROW + 3, width=_r(max(auc, 0) * span),
                        text_y=i * _BAR_ROW + _BAR_ROW - 6, value_x=_r(_BAR_LABEL + max(auc, 0) * span + 4),
                        below_chance=auc < 0.5, labelled=n)
                 for i, (task, auc, n) in enumerate(aucs))
    rows = max(len(bars), 1) * _BAR_ROW + 4
    return AucBars(width=WIDTH, height=rows + _BAR_LEGEND, label_width=_BAR_LABEL - 6, bar_left=_BAR_LABEL,
                   bar_span=span, chance_x=_r(_BAR_LABEL + 0.5 * span), bars=bars, legend_y=rows + 12)


def labelled_histogram(values: Sequence[float], bins: int = 24) -> Histogram | None:
    """:func:`hubgen.site.svg.histogram` of *values* (None when none is finite)."""
    return histogram(np.asarray([v for v in values if v is not None], dtype=np.float64), bins=bins)


__all__ = ["Parity", "Roc", "AucBars", "parity", "roc", "auc_bars", "roc_curve", "labelled_histogram", "MAX_CURVES"]

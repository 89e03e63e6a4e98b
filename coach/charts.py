"""Small server-side SVG charts for the admin dashboard: no JavaScript, no CDN, a tooltip on every mark."""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

PALETTE = ("#2f6fb0", "#e07b39", "#3a9b5c", "#8e5bb5", "#c0392b", "#159a8c", "#7f8c8d", "#c9a30c")
WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 14, 30
LEGEND = 22
MAX_X_LABELS = 10


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    color: str


def series_colors(names: Sequence[str]) -> dict[str, str]:
    return {name: PALETTE[index % len(PALETTE)] for index, name in enumerate(names)}


def nice_ticks(maximum: float, count: int = 4, *, whole: bool = False) -> list[float]:
    """0 and round steps (1, 2, 2.5 or 5 x 10^n; whole numbers only for counts) up to at least maximum."""
    if maximum <= 0:
        return [0, 1]
    raw = maximum / count
    if whole:
        raw = max(raw, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    steps = (1, 2, 5, 10) if whole else (1, 2, 2.5, 5, 10)
    step = next(m * magnitude for m in steps if m * magnitude >= raw)
    ticks = [0.0]
    while ticks[-1] < maximum - 1e-12:
        ticks.append(round(ticks[-1] + step, 12))
    return ticks


def _svg(kind: str, title: str, body: list[str], height: int) -> SafeString:
    label = escape(title)
    return mark_safe(  # noqa: S308 - every text inside went through escape()
        f'<svg class="chart" data-chart="{escape(kind)}" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'role="img" aria-label="{label}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{label}</title>{''.join(body)}</svg>"
    )


def _empty(kind: str, title: str) -> SafeString:
    return _svg(
        kind,
        title,
        [
            f'<text class="empty" x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" '
            f'fill="currentColor" opacity="0.6">{escape(gettext("No data for this range"))}</text>'
        ],
        HEIGHT,
    )


def _axes(ticks: list[float], fmt: Callable[[float], str], plot_h: float) -> list[str]:
    parts = []
    top = ticks[-1]
    for tick in ticks:
        y = TOP + plot_h - plot_h * tick / top
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="currentColor" '
            f'stroke-opacity="{0.35 if tick == 0 else 0.12}"/>'
            f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="currentColor">{escape(fmt(tick))}</text>'
        )
    return parts


def _x_labels(labels: Sequence[str], slot: float, plot_h: float) -> list[str]:
    every = max(1, math.ceil(len(labels) / MAX_X_LABELS))
    return [
        f'<text class="xlabel" x="{LEFT + slot * (i + 0.5):.1f}" y="{TOP + plot_h + 16:.1f}" '
        f'text-anchor="middle" font-size="11" fill="currentColor">{escape(label)}</text>'
        for i, label in enumerate(labels)
        if i % every == 0
    ]


def _text_width(text: str) -> int:
    """About how wide text is at font-size 11: Hangul and other wide characters take twice a Latin one."""
    return sum(11 if unicodedata.east_asian_width(char) in "WF" else 7 for char in text)


def _legend(series: Sequence[Series], y: float) -> list[str]:
    parts, x = [], LEFT
    for item in series:
        parts.append(
            f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{item.color}"/>'
            f'<text class="legend" x="{x + 14}" y="{y}" font-size="11" fill="currentColor">{escape(item.name)}</text>'
        )
        x += 24 + _text_width(item.name)
    return parts


def bar_chart(
    *, kind: str, title: str, labels: Sequence[str], series: Sequence[Series], fmt: Callable[[float], str] = str,
    stacked: bool = True, whole: bool = False, axis_fmt: Callable[[float], str] | None = None,
) -> SafeString:  # fmt: skip
    """Bars per label, the series stacked (or side by side); a tooltip per bar says label, series and value."""
    totals = [
        sum(s.values[i] or 0 for s in series) if stacked else max((s.values[i] or 0 for s in series), default=0)
        for i in range(len(labels))
    ]
    if not labels or not any(totals):
        return _empty(kind, title)
    height = HEIGHT + (LEGEND if len(series) > 1 else 0)
    plot_h = HEIGHT - TOP - BOTTOM
    ticks = nice_ticks(max(totals), whole=whole)
    slot = (WIDTH - LEFT - RIGHT) / len(labels)
    body = _axes(ticks, axis_fmt or fmt, plot_h)
    width = slot * 0.72 / (1 if stacked else len(series))
    for i, label in enumerate(labels):
        base = 0.0
        for n, item in enumerate(series):
            value = item.values[i] or 0
            if not value:
                continue
            bar_h = plot_h * value / ticks[-1]
            x = LEFT + slot * i + slot * 0.14 + (0 if stacked else n * width)
            y = TOP + plot_h - plot_h * base / ticks[-1] - bar_h
            tip = f"{label} · {item.name}: {fmt(value)}" if len(series) > 1 else f"{label}: {fmt(value)}"
            body.append(
                f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{bar_h:.1f}" '
                f'fill="{item.color}"><title>{escape(tip)}</title></rect>'
            )
            if stacked:
                base += value
    body += _x_labels(labels, slot, plot_h)
    if len(series) > 1:
        body += _legend(series, HEIGHT + 10)
    return _svg(kind, title, body, height)


def line_chart(
    *, kind: str, title: str, labels: Sequence[str], series: Sequence[Series], fmt: Callable[[float], str] = str,
    maximum: float | None = None, whole: bool = False, axis_fmt: Callable[[float], str] | None = None,
) -> SafeString:  # fmt: skip
    """Lines through the values per label; a missing value (None) breaks the line."""
    values = [v for s in series for v in s.values if v is not None]
    if not labels or not values:
        return _empty(kind, title)
    height = HEIGHT + (LEGEND if len(series) > 1 else 0)
    plot_h = HEIGHT - TOP - BOTTOM
    ticks = nice_ticks(maximum if maximum is not None else max(values), whole=whole)
    slot = (WIDTH - LEFT - RIGHT) / len(labels)
    body = _axes(ticks, axis_fmt or fmt, plot_h)
    for item in series:
        segments: list[list[str]] = [[]]
        points = []
        for i, value in enumerate(item.values):
            if value is None:
                segments.append([])
                continue
            x, y = LEFT + slot * (i + 0.5), TOP + plot_h - plot_h * value / ticks[-1]
            segments[-1].append(f"{x:.1f},{y:.1f}")
            tip = f"{labels[i]} · {item.name}: {fmt(value)}"
            points.append(
                f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{item.color}">'
                f"<title>{escape(tip)}</title></circle>"
            )
        for segment in segments:
            if len(segment) > 1:
                body.append(
                    f'<polyline class="line" points="{" ".join(segment)}" fill="none" stroke="{item.color}" '
                    'stroke-width="2"/>'
                )
        body += points
    body += _x_labels(labels, slot, plot_h)
    if len(series) > 1:
        body += _legend(series, HEIGHT + 10)
    return _svg(kind, title, body, height)


def hbar_chart(
    *, kind: str, title: str, items: Sequence[tuple[str, float]], fmt: Callable[[float], str] = str,
    color: str = PALETTE[0],
) -> SafeString:  # fmt: skip
    """One horizontal bar per (label, value), largest first as given, the value written at its end."""
    if not items or not any(value for _, value in items):
        return _empty(kind, title)
    row, label_w = 26, 150
    height = TOP + row * len(items) + 8
    top = max(value for _, value in items)
    span = WIDTH - RIGHT - label_w - 90
    body = []
    for i, (label, value) in enumerate(items):
        y = TOP + row * i
        bar_w = span * value / top if top else 0
        body.append(
            f'<text class="ylabel" x="{label_w - 8}" y="{y + 15}" text-anchor="end" font-size="12" '
            f'fill="currentColor">{escape(label[:24])}</text>'
            f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{max(bar_w, 1):.1f}" height="16" fill="{color}">'
            f"<title>{escape(f'{label}: {fmt(value)}')}</title></rect>"
            f'<text class="value" x="{label_w + bar_w + 6:.1f}" y="{y + 15}" font-size="12" '
            f'fill="currentColor">{escape(fmt(value))}</text>'
        )
    return _svg(kind, title, body, height)

"""A dependency-free SVG line plot of the loss curves, for the HTML pages."""

from __future__ import annotations

import math
from html import escape

# Okabe and Ito's palette, told apart with colour blindness too (its yellow left out: too pale on white)
COLOURS = ("#0072b2", "#e69f00", "#009e73", "#d55e00", "#cc79a7", "#56b4e9", "#000000")
DASHES = {"A": "", "B": "6,3"}  # a loss of direction A solid, of B dashed


def styles(names: list[str]) -> dict[str, tuple[str, str]]:
    """The colour and dash of each series: ``G_A`` and ``G_B`` share a colour (one per kind of loss), A solid, B dashed."""
    kinds: list[str] = []
    found = {}
    for name in names:
        kind, _, domain = name.rpartition("_") if name[-2:] in ("_A", "_B") else (name, "", "")
        if kind not in kinds:
            kinds.append(kind)
        found[name] = (COLOURS[kinds.index(kind) % len(COLOURS)], DASHES.get(domain, ""))
    return found


def legend_entry(x: float, y: float, name: str, colour: str, pattern: str = "") -> str:
    """A legend's entry: a short stroke of the line's colour and dash (``pattern``: its stroke-dasharray attribute)
    from ``x``, and the name after it, on the baseline ``y``."""
    return (f'<line x1="{x}" y1="{y - 4}" x2="{x + 22}" y2="{y - 4}" stroke="{colour}" stroke-width="2"{pattern}/>'
            f'<text x="{x + 28}" y="{y}">{escape(name)}</text>')


def whole_ticks(lo: float, hi: float, most: int = 10) -> list[int]:
    """Integer ticks from ``lo`` to ``hi`` at a step of 1, 2 or 5 times a power of ten, at most ``most`` + 1 of them."""
    k, step = 0, 1
    while (hi - lo) / step > most:
        k += 1
        step = (1, 2, 5)[k % 3] * 10 ** (k // 3)
    return list(range(math.ceil(lo / step) * step, math.floor(hi) + 1, step))


def loss_curves_svg(x: list[float], series: dict[str, list[float]], width: int = 600, height: int = 280,
                    x_range: tuple[float, float] | None = None, title: str = "") -> str:  # fmt: skip
    """An inline SVG: one polyline per series over ``x`` (epochs done, fractional), with whole-epoch ticks over
    ``x_range`` (default: the whole epochs around ``x``), y ticks, a title and a legend."""
    if not x or not series:
        return "<p>No losses logged yet.</p>"
    return line_plot_svg({name: (x, ys) for name, ys in series.items()}, width, height, x_range, title)


def line_plot_svg(lines: dict[str, tuple[list[float], list[float]]], width: int = 600, height: int = 280,
                  x_range: tuple[float, float] | None = None, title: str = "", x_label: str = "epochs done",
                  points: bool = False, faint: dict[str, list[tuple[list[float], list[float]]]] | None = None,
                  legend: bool = True, looks: dict[str, tuple[str, str]] | None = None) -> str:  # fmt: skip
    """An inline SVG: one polyline per named line (its x and y values; ``points``: a dot at each), with whole ticks
    over ``x_range`` (default: the whole numbers around every x), y ticks from 0 or below, a title and a legend on the
    right (``legend=False``: none, for figures that draw one legend for several plots). ``faint``: further lines of a
    named line (e.g. its seeds, where it is their mean), drawn thin in its colour, without a legend entry. ``looks``:
    the colour and dash of each name (default: ``styles`` of the lines drawn), the same in every plot of a figure."""
    faint = faint or {}
    every = [*lines.values(), *(line for extra in faint.values() for line in extra)]
    xs = [v for x, _ in every for v in x]
    left, top, bottom = 50, 22, 32
    right = 130 if legend else 16
    values = [v for _, ys in every for v in ys]
    y_min, y_max = min(values + [0.0]), max(values)
    if y_max <= y_min:
        y_max = y_min + 1.0
    x_min, x_max = x_range or (math.floor(min(xs)), math.ceil(max(xs)))
    if x_max <= x_min:
        x_max = x_min + 1.0

    def sx(v: float) -> float:
        return left + (v - x_min) / (x_max - x_min) * (width - left - right)

    def sy(v: float) -> float:
        return top + (1 - (v - y_min) / (y_max - y_min)) * (height - top - bottom)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
             'font-size="11">']  # fmt: skip
    if title:
        parts.append(f'<text x="{left}" y="{top - 8}" font-weight="bold">{escape(title)}</text>')
    parts.append(
        f'<rect x="{left}" y="{top}" width="{width - left - right}" height="{height - top - bottom}" fill="none" stroke="#999"/>'
    )
    for i in range(5):
        yv = y_min + (y_max - y_min) * i / 4
        parts.append(f'<text x="{left - 4}" y="{sy(yv) + 4:.1f}" text-anchor="end">{yv:.3g}</text>')
    for tick in whole_ticks(x_min, x_max):
        parts.append(f'<line x1="{sx(tick):.1f}" y1="{top}" x2="{sx(tick):.1f}" y2="{height - bottom}" stroke="#eee"/>')
        parts.append(f'<text x="{sx(tick):.1f}" y="{height - bottom + 14}" text-anchor="middle">{tick}</text>')
    parts.append(f'<text x="{(left + width - right) / 2}" y="{height - 4}" text-anchor="middle">{escape(x_label)}</text>')
    def polyline(xs: list[float], values: list[float], stroke: str) -> str:
        coords = " ".join(f"{sx(a):.1f},{sy(b):.1f}" for a, b in zip(xs, values))
        return f'<polyline fill="none" {stroke} points="{coords}"/>'

    looks = looks or styles(list(lines))
    for i, name in enumerate(lines):
        (colour, dash), (x, ys) = looks[name], lines[name]
        pattern = f' stroke-dasharray="{dash}"' if dash else ""
        thin = f'stroke="{colour}" stroke-width="1" stroke-opacity="0.4"{pattern}'
        parts += [polyline(fx, fys, thin) for fx, fys in faint.get(name, [])]
        parts.append(polyline(x, ys, f'stroke="{colour}" stroke-width="{2 if faint.get(name) else 1.5}"{pattern}'))
        if points:
            parts += [f'<circle cx="{sx(a):.1f}" cy="{sy(b):.1f}" r="2.5" fill="{colour}"/>' for a, b in zip(x, ys)]
        if legend:
            parts.append(legend_entry(width - right + 10, top + 14 * i + 10, name, colour, pattern))
    parts.append("</svg>")
    return "".join(parts)

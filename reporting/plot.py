"""A dependency-free SVG line plot of the loss curves, for the HTML pages."""

from __future__ import annotations

from html import escape

COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def loss_curves_svg(x: list[float], series: dict[str, list[float]], width: int = 760, height: int = 300) -> str:
    """An inline SVG: one polyline per series over x (epochs), with axes, ticks and a legend."""
    if not x or not series:
        return "<p>No losses logged yet.</p>"
    left, right, top, bottom = 50, 150, 10, 30
    values = [v for ys in series.values() for v in ys]
    y_min, y_max = min(values + [0.0]), max(values)
    if y_max <= y_min:
        y_max = y_min + 1.0
    x_min, x_max = min(x), max(x)
    if x_max <= x_min:
        x_max = x_min + 1.0

    def sx(v: float) -> float:
        return left + (v - x_min) / (x_max - x_min) * (width - left - right)

    def sy(v: float) -> float:
        return top + (1 - (v - y_min) / (y_max - y_min)) * (height - top - bottom)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-size="11">']
    parts.append(
        f'<rect x="{left}" y="{top}" width="{width - left - right}" height="{height - top - bottom}" fill="none" stroke="#999"/>'
    )
    for i in range(5):
        yv = y_min + (y_max - y_min) * i / 4
        parts.append(f'<text x="{left - 4}" y="{sy(yv) + 4:.1f}" text-anchor="end">{yv:.3g}</text>')
        xv = x_min + (x_max - x_min) * i / 4
        parts.append(f'<text x="{sx(xv):.1f}" y="{height - bottom + 14}" text-anchor="middle">{xv:.3g}</text>')
    parts.append(f'<text x="{(left + width - right) / 2}" y="{height - 2}" text-anchor="middle">epoch</text>')
    for i, (name, ys) in enumerate(series.items()):
        colour = COLOURS[i % len(COLOURS)]
        points = " ".join(f"{sx(a):.1f},{sy(b):.1f}" for a, b in zip(x, ys))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{points}"/>')
        ly = top + 14 * i + 10
        x0 = width - right + 10
        parts.append(f'<line x1="{x0}" y1="{ly - 4}" x2="{x0 + 18}" y2="{ly - 4}" stroke="{colour}" stroke-width="2"/>')
        parts.append(f'<text x="{width - right + 32}" y="{ly}">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)

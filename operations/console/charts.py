"""Charts as inline SVG, drawn on the server: no script, no CDN, readable without a browser
plug-in (the console is served on machines without internet)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT, PAD = 640, 180, 28


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]
    colour: str


def _scale(top: float) -> float:
    return top if top > 0 else 1.0


def bars(labels: Sequence[str], series: Sequence[Series], title: str) -> str:
    """Grouped bars, one group per label; the largest value is printed on the axis."""
    top = _scale(max((v for s in series for v in s.values), default=0))
    groups = max(len(labels), 1)
    slot = (WIDTH - 2 * PAD) / groups
    bar = max(slot / (len(series) + 1), 1.0)
    parts = [f'<svg class="chart" role="img" aria-label="{escape(title)}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}">',
             f"<title>{escape(title)}</title>",
             f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" '
             'stroke="#888"/>',
             f'<text x="2" y="{PAD - 6}" font-size="10">{_number(top)}</text>']
    for g, label in enumerate(labels):
        for i, s in enumerate(series):
            value = s.values[g] if g < len(s.values) else 0
            h = (HEIGHT - 2 * PAD) * value / top
            x = PAD + g * slot + i * bar
            parts.append(f'<rect x="{x:.1f}" y="{HEIGHT - PAD - h:.1f}" width="{bar:.1f}" '
                         f'height="{h:.1f}" fill="{s.colour}"><title>{escape(label)} '
                         f'{escape(s.name)}: {_number(value)}</title></rect>')
        if groups <= 12 or g % max(groups // 8, 1) == 0:
            parts.append(f'<text x="{PAD + g * slot:.1f}" y="{HEIGHT - 8}" font-size="9">'
                         f"{escape(label)}</text>")
    for i, s in enumerate(series):
        parts.append(f'<rect x="{WIDTH - 150}" y="{6 + i * 14}" width="10" height="10" '
                     f'fill="{s.colour}"/><text x="{WIDTH - 136}" y="{15 + i * 14}" '
                     f'font-size="10">{escape(s.name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def band(value: float, lower: float, upper: float, title: str, flagged: bool) -> str:
    """A value against its expected band (mean ± kσ): the band grey, the value a dot, red
    when flagged (outside a band drawn from enough history)."""
    top = _scale(max(value, upper) * 1.1)
    w, h = 240, 18

    def x(v: float) -> float:
        return 4 + (w - 8) * max(v, 0) / top

    return (f'<svg class="band" role="img" aria-label="{escape(title)}" viewBox="0 0 {w} {h}"'
            f' width="{w}" height="{h}"><title>{escape(title)}</title>'
            f'<rect x="{x(lower):.1f}" y="5" width="{max(x(upper) - x(lower), 1):.1f}" '
            f'height="8" fill="#ccc"/><circle cx="{x(value):.1f}" cy="9" r="5" '
            f'fill="{"#c0392b" if flagged else "#2e7d32"}"/></svg>')


def _number(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"

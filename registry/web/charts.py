"""Small charts drawn on the server as inline SVG: nothing to download, readable on a phone, printable."""

from __future__ import annotations

import math

from markupsafe import Markup, escape

WIDTH = 360
BLUE, RED, GREEN, GREY, INK, MUTED = "#0b63c5", "#c62828", "#1a7f37", "#e6eaef", "#1d2733", "#5b6675"


def _svg(height: int, body: str, label: str) -> Markup:
    return Markup(
        f'<svg viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(label)}" '
        f'xmlns="http://www.w3.org/2000/svg" font-size="13">{body}</svg>'
    )


def _fit(text: str, limit: int = 26) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bars(rows: list[tuple[str, float]], label: str, *, total: float | None = None, suffix: str = "",
         color: str = BLUE) -> Markup:
    """Draw horizontal bars, one per ``(label, value)``: the label above its bar, the value at its end."""
    rows = list(rows)
    top = total if total else max((v for _, v in rows), default=0) or 1
    step = 38
    parts = []
    for i, (name, value) in enumerate(rows):
        y = i * step
        width = 0 if not top else max(2.0, (WIDTH - 60) * value / top) if value else 0
        shown = f"{value:g}{suffix}" if isinstance(value, (int, float)) else str(value)
        parts.append(
            f'<text x="0" y="{y + 13}" fill="{INK}">{escape(_fit(name))}</text>'
            f'<rect x="0" y="{y + 18}" width="{WIDTH - 60}" height="12" rx="3" fill="{GREY}"/>'
            f'<rect x="0" y="{y + 18}" width="{width:.1f}" height="12" rx="3" fill="{color}"/>'
            f'<text x="{WIDTH}" y="{y + 29}" text-anchor="end" fill="{MUTED}">{escape(shown)}</text>'
        )
    return _svg(max(step * len(rows), 10), "".join(parts), label)


def columns(rows: list[tuple[str, float]], label: str, color: str = BLUE) -> Markup:
    """Draw a column per ``(label, value)`` (e.g. months), with the value above each column."""
    rows = list(rows)
    height, base, top_pad = 170, 140, 18
    n = max(len(rows), 1)
    slot = WIDTH / n
    top = max((v for _, v in rows), default=0) or 1
    parts = [f'<line x1="0" y1="{base}" x2="{WIDTH}" y2="{base}" stroke="{GREY}"/>']
    for i, (name, value) in enumerate(rows):
        h = (base - top_pad) * value / top
        x = i * slot + slot * 0.18
        w = slot * 0.64
        cx = i * slot + slot / 2
        parts.append(
            f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{w:.1f}" height="{h:.1f}" rx="2" fill="{color}"/>'
            f'<text x="{cx:.1f}" y="{base - h - 4:.1f}" text-anchor="middle" font-size="11" fill="{INK}">{escape(f"{value:g}")}</text>'
            f'<text x="{cx:.1f}" y="{base + 16}" text-anchor="middle" font-size="11" fill="{MUTED}">{escape(name)}</text>'
        )
    return _svg(height, "".join(parts), label)


def ring(rate: float | None, caption: str, label: str) -> Markup:
    """Draw a ring filled to *rate* (0–1) with the percentage in the middle; an empty ring for no data."""
    r, cx, cy = 52, WIDTH / 2, 66
    circumference = 2 * math.pi * r
    filled = 0 if rate is None else circumference * max(0.0, min(1.0, rate))
    color = GREEN if (rate or 0) >= 0.8 else (BLUE if (rate or 0) >= 0.5 else RED)
    text = "—" if rate is None else f"{rate * 100:.0f}%"
    body = (
        f'<circle cx="{cx}" cy="{cy}" r="{r}" fill="none" stroke="{GREY}" stroke-width="14"/>'
        f'<circle cx="{cx}" cy="{cy}" r="{r}" fill="none" stroke="{color}" stroke-width="14" '
        f'stroke-dasharray="{filled:.1f} {circumference:.1f}" transform="rotate(-90 {cx} {cy})"/>'
        f'<text x="{cx}" y="{cy + 9}" text-anchor="middle" font-size="26" font-weight="700" fill="{INK}">{escape(text)}</text>'
        f'<text x="{cx}" y="{cy + r + 30}" text-anchor="middle" fill="{MUTED}">{escape(caption)}</text>'
    )
    return _svg(cy + r + 40, body, label)

"""Charts drawn on the server as inline SVG: no JavaScript, no build step."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from metastore.catalog.crawlers import CrawlerRun

COLORS = {"SUCCEEDED": "#2e7d32", "FAILED": "#c62828", "CANCELLED": "#9e9e9e", "RUNNING": "#1565c0"}
JOB_COLORS = {"SUCCEEDED": "#2e7d32", "FAILED": "#c62828", "ERROR": "#8e24aa", "TIMEOUT": "#ef6c00",
              "STOPPED": "#9e9e9e", "RUNNING": "#1565c0", "STARTING": "#64b5f6", "WAITING": "#fbc02d"}  # fmt: skip


def _start(r) -> int:
    """When a run started; a job run not taken yet counts from its creation."""
    return r.started_at if r.started_at is not None else r.created_at


def run_chart(runs: list[CrawlerRun], width: int = 720, height: int = 180, colors: dict | None = None) -> str:
    """Bars of run durations (crawler or job runs), oldest on the left, coloured by outcome; each bar's
    tooltip tells the run. Runs still going are drawn up to now."""
    if not runs:
        return '<p class="muted">No runs yet.</p>'
    colors = colors or COLORS
    now = int(datetime.now(UTC).timestamp() * 1000)
    durations = [(r.ended_at or max(now, _start(r))) - _start(r) for r in runs]
    top = max(max(durations), 1)
    left, bottom, right, top_pad = 56, 24, 8, 10
    plot_w, plot_h = width - left - right, height - bottom - top_pad
    step = plot_w / len(runs)
    bar = min(40.0, max(2.0, step * 0.7))
    parts = [f'<svg class="chart" role="img" aria-label="Run durations and outcomes" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">']  # fmt: skip
    for frac in (0, 0.5, 1):
        y = top_pad + plot_h * (1 - frac)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="10">{_seconds(top * frac)}</text>'
        )
    for i, (r, d) in enumerate(zip(runs, durations, strict=True)):
        h = max(1.0, plot_h * d / top)
        x = left + i * step + (step - bar) / 2
        y = top_pad + plot_h - h
        when = datetime.fromtimestamp(_start(r) / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
        tip = escape(f"run {r.id}: {r.state}, {_seconds(d)}, started {when} UTC")
        parts.append(f'<rect class="run {r.state.lower()}" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                     f'fill="{colors.get(r.state, "#555")}"><title>{tip}</title></rect>')  # fmt: skip
    first = datetime.fromtimestamp(_start(runs[0]) / 1000, UTC).strftime("%Y-%m-%d %H:%M")
    last = datetime.fromtimestamp(_start(runs[-1]) / 1000, UTC).strftime("%Y-%m-%d %H:%M")
    parts.append(f'<text x="{left}" y="{height - 6}" font-size="10">{first}</text>')
    parts.append(f'<text x="{width - right}" y="{height - 6}" font-size="10" text-anchor="end">{last}</text>')
    parts.append("</svg>")
    legend = " ".join(
        f'<span class="legend"><svg width="10" height="10" aria-hidden="true"><rect width="10" height="10" '
        f'fill="{c}"/></svg>{s.lower()}</span>'
        for s, c in colors.items()
    )
    return "".join(parts) + f'<div class="legend-row">{legend}</div>'


def _seconds(ms: float) -> str:
    s = ms / 1000
    return f"{s:.0f} s" if s >= 10 or s == 0 else f"{s:.1f} s"

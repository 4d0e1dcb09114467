"""The dashboard's charts, drawn on the server as inline SVG: readable without JavaScript, no image files.

Each chart comes with the same numbers as a table (for screen readers and for
copying), so the picture is never the only way to read them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from markupsafe import escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import REQUEST_STATUSES, Campaign, Request, StatusEvent

SHOWN = tuple(s for s in REQUEST_STATUSES if s != "duplicate")  # merged requests count on the one they joined
# One colour per status, readable on white and distinct for common colour blindness (Okabe-Ito based).
COLOURS = {
    "received": "#E69F00", "under_review": "#F0C05A", "accepted": "#56B4E9", "in_progress": "#0072B2",
    "published": "#009E73", "already_available": "#7FCDBB", "out_of_scope": "#999999", "declined": "#CC79A7",
}
MONTHS = 12  # the time chart's span


@dataclass(frozen=True)
class Series:
    """Rows of counts per status: one row per month or per campaign."""

    labels: list[str]
    counts: list[dict[str, int]]

    @property
    def statuses(self) -> list[str]:
        return [s for s in SHOWN if any(row.get(s) for row in self.counts)]

    @property
    def biggest(self) -> int:
        return max((sum(row.values()) for row in self.counts), default=0)


def _month(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


def status_over_time(db: Session, *, now: datetime) -> Series:
    """For each of the last months: how many requests were in each status at its end (from the status events)."""
    months, year, month = [], now.year, now.month
    for _ in range(MONTHS):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    months.reverse()
    merged = select(Request.id).where(Request.status == "duplicate")
    status_at: dict[int, str] = {}
    per_month: dict[str, Counter] = {}
    rows = db.execute(
        select(StatusEvent.request_id, StatusEvent.status, StatusEvent.created_at)
        .where(StatusEvent.request_id.not_in(merged)).order_by(StatusEvent.created_at, StatusEvent.id)
    )
    index = 0
    for request_id, status, created_at in rows:
        label = _month(created_at)
        while index < len(months) and months[index] < label:  # close the months before this event
            per_month[months[index]] = Counter(status_at.values())
            index += 1
        status_at[request_id] = status
    while index < len(months):
        per_month[months[index]] = Counter(status_at.values())
        index += 1
    return Series(months, [{s: n for s, n in per_month[m].items() if s in SHOWN} for m in months])


def status_per_campaign(db: Session) -> Series:
    rows = db.execute(
        select(Campaign.slug, Request.status, Request.id)
        .join(Request, Request.campaign_id == Campaign.id).where(Request.status != "duplicate")
        .order_by(Campaign.slug)
    )
    counts: dict[str, Counter] = {}
    for slug, status, _ in rows:
        counts.setdefault(slug, Counter())[status] += 1
    labels = sorted(counts)
    return Series(labels, [dict(counts[label]) for label in labels])


def stacked_bars_svg(series: Series, *, title: str, status_label, horizontal: bool = False) -> str:
    """Stacked bars, one per row of the series, with a legend; sized by its viewBox so it shrinks on a phone."""
    bar, gap, label_space = 22, 8, 90
    length = 440 if horizontal else 200  # the bars' longest extent
    n = max(len(series.labels), 1)
    top = max(series.biggest, 1)
    parts = []
    for i, (label, row) in enumerate(zip(series.labels, series.counts, strict=False)):
        offset = 0.0
        for status in series.statuses:
            value = row.get(status, 0)
            if not value:
                continue
            size = value / top * length
            tip = f"{label}: {status_label(status)} {value}"
            x: float
            y: float
            w: float
            h: float
            if horizontal:
                x, y, w, h = label_space + offset, i * (bar + gap), size, bar
            else:
                x, y, w, h = i * (bar + gap) + 40, length - offset - size, bar, size
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{COLOURS[status]}">'
                         f"<title>{escape(tip)}</title></rect>")
            offset += size
        if horizontal:
            parts.append(f'<text x="{label_space - 6}" y="{i * (bar + gap) + bar * 0.7:.1f}" text-anchor="end">'
                         f"{escape(label)}</text>")
            parts.append(f'<text x="{label_space + offset + 4:.1f}" y="{i * (bar + gap) + bar * 0.7:.1f}">'
                         f"{sum(row.values())}</text>")
        else:
            parts.append(f'<text x="{i * (bar + gap) + 40 + bar / 2:.1f}" y="{length + 16}" text-anchor="middle" '
                         f'font-size="10">{escape(label[5:] if len(label) == 7 else label)}</text>')
    if horizontal:
        width, height = label_space + length + 40, n * (bar + gap)
    else:
        width, height = 40 + n * (bar + gap), length + 24
        parts.append(f'<text x="0" y="12" font-size="11">{top}</text><text x="0" y="{length}" font-size="11">0</text>')
    legend_y = height + 10
    for j, status in enumerate(series.statuses):
        x, y = (j % 3) * 190, legend_y + (j // 3) * 22
        parts.append(f'<rect x="{x}" y="{y}" width="14" height="14" fill="{COLOURS[status]}"/>'
                     f'<text x="{x + 20}" y="{y + 12}">{escape(status_label(status))}</text>')
    height = legend_y + ((len(series.statuses) + 2) // 3) * 22
    width = max(width, 570)
    return (f'<svg class="chart" viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
            f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg" font-size="13" '
            f'font-family="system-ui, sans-serif">{"".join(parts)}</svg>')

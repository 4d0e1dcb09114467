"""The note's charts, drawn by matplotlib as SVG text.

matplotlib is imported on first need (it is slow to import and only the note
uses it) with the Agg backend, so no display is ever needed. The SVGs keep
their text as text (`svg.fonttype = none`) and carry no date or random id, so
the same data gives the same file.
"""

from __future__ import annotations

import io
import statistics
from datetime import timedelta
from functools import cache
from typing import Any

from bot.report.compute import NoteData

WIDTH, HEIGHT = 7.5, 3.2
PALETTE = ["#1f5f8b", "#c8553d", "#2a9d8f", "#8a5a83", "#e9a03b", "#5c6b73"]
POST_COLOURS = {"call": "#1f5f8b", "reminder": "#5c6b73", "survey": "#8a5a83", "note": "#2a9d8f"}

LABELS: dict[str, dict[str, Any]] = {  # a value is a text, or the texts of a chart's bars
    "fr": {
        "messages_title": "Messages reçus par jour et par réseau",
        "messages_y": "messages",
        "posts": "publications",
        "funnel_title": "Des messages aux publications",
        "funnel": {"messages": "messages", "requests": "demandes", "accepted": "acceptées", "published": "publiées"},
        "statuses_title": "Statut des demandes",
        "answer_title": "Délai de première réponse",
        "answer_x": "jours",
        "answer_y": "demandes",
        "median": "médiane {value} j",
        "supported_title": "Demandes les plus soutenues",
        "supporters": "soutiens",
        "feedback_title": "Retours de réutilisation",
        "feedback": {"asked": "questions envoyées", "answers": "réponses", "requests": "demandes commentées"},
    },
    "en": {
        "messages_title": "Messages received per day and network",
        "messages_y": "messages",
        "posts": "posts",
        "funnel_title": "From messages to publications",
        "funnel": {"messages": "messages", "requests": "requests", "accepted": "accepted", "published": "published"},
        "statuses_title": "Request statuses",
        "answer_title": "Time to first answer",
        "answer_x": "days",
        "answer_y": "requests",
        "median": "median {value} d",
        "supported_title": "Most supported requests",
        "supporters": "supporters",
        "feedback_title": "Reuse feedback",
        "feedback": {"asked": "questions sent", "answers": "answers", "requests": "requests with feedback"},
    },
}


@cache
def _pyplot():
    import matplotlib  # noqa: PLC0415 - lazily: only the note draws

    matplotlib.use("Agg", force=True)
    matplotlib.rcParams.update({
        "svg.fonttype": "none",
        "svg.hashsalt": "datacall",
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
    })
    import matplotlib.pyplot as plt  # noqa: PLC0415 - after matplotlib.use(): the backend must be set first

    return plt


def _svg(figure) -> str:
    plt = _pyplot()
    buffer = io.StringIO()
    figure.tight_layout()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": "datacall"})
    plt.close(figure)
    return buffer.getvalue()


def _figure(height: float = HEIGHT):
    return _pyplot().subplots(figsize=(WIDTH, height))


def _whole_numbers(axis) -> None:
    """Counts have no fractions: ticks on integers only."""
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415 - after the backend

    axis.set_major_locator(MaxNLocator(integer=True))


def messages_per_day(note: NoteData, status_label=None) -> str:
    """One line per network over the campaign's days, the posts as dashed vertical lines."""
    text = LABELS.get(note.lang, LABELS["en"])
    figure, axes = _figure()
    if note.first_day and note.last_day:
        days = [note.first_day + timedelta(days=n) for n in range((note.last_day - note.first_day).days + 1)]
        for index, (network, counts) in enumerate(note.messages_per_day.items()):
            axes.plot(days, [counts.get(day, 0) for day in days], label=network,
                      color=PALETTE[index % len(PALETTE)], marker="o", markersize=2.5, linewidth=1.4)
        for index, post in enumerate(note.posts):
            axes.axvline(post.posted_at.date(), color=POST_COLOURS.get(post.kind, "#999999"), linestyle="--",
                         linewidth=0.8, label=text["posts"] if index == 0 else None)
            axes.annotate(f"{post.kind} ({post.network})", (post.posted_at.date(), 1),
                          xycoords=("data", "axes fraction"), rotation=90, va="top", ha="right", fontsize=6,
                          color="#444444")
        axes.legend(loc="upper right", fontsize=7, frameon=False)
        # A day of margin: a one-day campaign must not stretch the axis over years.
        axes.set_xlim(days[0] - timedelta(days=1), days[-1] + timedelta(days=1))
        from matplotlib.dates import AutoDateLocator, ConciseDateFormatter  # noqa: PLC0415 - after the backend

        locator = AutoDateLocator(minticks=2, maxticks=10)
        axes.xaxis.set_major_locator(locator)
        axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    axes.set_title(text["messages_title"])
    axes.set_ylabel(text["messages_y"])
    axes.set_ylim(bottom=0)
    _whole_numbers(axes.yaxis)
    return _svg(figure)


def funnel(note: NoteData, status_label=None) -> str:
    text = LABELS.get(note.lang, LABELS["en"])
    figure, axes = _figure(2.4)
    names = list(note.funnel)
    values = [note.funnel[name] for name in names]
    bars = axes.barh([text["funnel"][name] for name in names], values, color=PALETTE[: len(names)])
    axes.invert_yaxis()
    axes.bar_label(bars, padding=3)
    _whole_numbers(axes.xaxis)
    axes.set_title(text["funnel_title"])
    return _svg(figure)


def statuses(note: NoteData, status_label=lambda status: status) -> str:
    text = LABELS.get(note.lang, LABELS["en"])
    figure, axes = _figure(max(1.6, 0.35 * len(note.statuses) + 0.9))
    names = list(note.statuses)
    bars = axes.barh([status_label(name) for name in names], [note.statuses[n] for n in names], color=PALETTE[0])
    axes.invert_yaxis()
    if names:
        axes.bar_label(bars, padding=3)
    _whole_numbers(axes.xaxis)
    axes.set_title(text["statuses_title"])
    return _svg(figure)


def time_to_answer(note: NoteData, status_label=None) -> str:
    """A histogram of the days to first answer, with the median marked."""
    text = LABELS.get(note.lang, LABELS["en"])
    figure, axes = _figure(2.6)
    if note.answer_days:
        top = max(note.answer_days)
        bins = max(1, min(20, int(top) + 1))
        axes.hist(note.answer_days, bins=bins, range=(0, max(top, 1.0)), color=PALETTE[2])
        median = statistics.median(note.answer_days)
        axes.axvline(median, color=PALETTE[1], linestyle="--", linewidth=1,
                     label=text["median"].format(value=_number(median, note.lang)))
        axes.legend(frameon=False, fontsize=7)
    _whole_numbers(axes.yaxis)
    axes.set_xlabel(text["answer_x"])
    axes.set_ylabel(text["answer_y"])
    axes.set_title(text["answer_title"])
    return _svg(figure)


def most_supported(note: NoteData, status_label=None) -> str:
    text = LABELS.get(note.lang, LABELS["en"])
    lines = note.most_supported
    figure, axes = _figure(max(1.6, 0.3 * len(lines) + 0.9))
    bars = axes.barh([line.title for line in lines], [line.supporters for line in lines], color=PALETTE[3])
    axes.invert_yaxis()
    if lines:
        axes.bar_label(bars, padding=3)
    _whole_numbers(axes.xaxis)
    axes.set_xlabel(text["supporters"])
    axes.set_title(text["supported_title"])
    return _svg(figure)


def reuse_feedback(note: NoteData, status_label=None) -> str:
    text = LABELS.get(note.lang, LABELS["en"])
    figure, axes = _figure(1.9)
    values = {"asked": note.followed_up, "answers": note.feedback_answers, "requests": note.feedback_requests}
    bars = axes.barh([text["feedback"][k] for k in values], list(values.values()), color=PALETTE[4])
    axes.invert_yaxis()
    axes.bar_label(bars, padding=3)
    _whole_numbers(axes.xaxis)
    axes.set_title(text["feedback_title"])
    return _svg(figure)


CHARTS = {
    "messages": messages_per_day,
    "funnel": funnel,
    "statuses": statuses,
    "time-to-answer": time_to_answer,
    "most-supported": most_supported,
    "reuse-feedback": reuse_feedback,
}


def draw_all(note: NoteData, status_label=lambda status: status) -> dict[str, str]:
    """Every chart of the note: file name (without .svg) -> SVG text."""
    return {name: draw(note, status_label) for name, draw in CHARTS.items()}


def _number(value: float, lang: str) -> str:
    text = f"{value:.1f}"
    return text.replace(".", ",") if lang == "fr" else text

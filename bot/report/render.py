"""The note as HTML and Markdown (Jinja2 templates), and the files `datacall report` writes.

The HTML body (`note_body.html`) is the same in the written file and on the
public web app at /campaigns/SLUG; charts are separate SVG files that the
page shows as images, so the page needs no inline script or style.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from bot.report.compute import NoteData

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)

MARKDOWN_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>|"})


def markdown_text(value: object) -> str:
    """Officers' answers and titles as inert Markdown: one line, no markup, no table break."""
    return " ".join(str(value or "").split()).translate(MARKDOWN_SPECIAL)


TEMPLATES.filters["md"] = markdown_text

TEXT = {
    "fr": {
        "note": "Note de publication",
        "period": "Du {first} au {last}",
        "summary": "{messages} messages reçus, {requests} demandes de données, {accepted} acceptées, "
                   "{published} publiées.",
        "merged": {"one": "{n} demande en double a rejoint une autre demande ; ses soutiens y sont comptés.",
                   "other": "{n} demandes en double ont rejoint une autre demande ; leurs soutiens y sont comptés."},
        "messages_h": "Messages reçus",
        "posts_h": "Nos publications et ce qu'elles ont apporté",
        "post": "Publication", "network": "Réseau", "date": "Date", "replies": "Réponses", "requests": "Demandes",
        "funnel_h": "Des messages aux publications",
        "statuses_h": "Statut des demandes",
        "answer_h": "Délai de première réponse",
        "answer_text": {"one": "Médiane : {median} jours ({n} demande ayant reçu une décision ; {waiting} en attente).",
                        "other": "Médiane : {median} jours ({n} demandes ayant reçu une décision ; "
                                 "{waiting} en attente)."},
        "answer_none": "Aucune demande n'a encore reçu de décision.",
        "supported_h": "Demandes les plus soutenues",
        "supporters": "Soutiens",
        "feedback_h": "Retours de réutilisation",
        "feedback_text": "{asked} questions envoyées quelques semaines après publication ; "
                         "{answers} réponses sur {requests} demandes.",
        "all_h": "Toutes les demandes",
        "request": "Demande", "status": "Statut", "answer": "Réponse", "link": "Lien", "feedback": "Retours",
        "dataset": "jeu de données",
        "colon": " : ",
        "none": "Aucune demande pour cette campagne.",
        "method": "Les chiffres sont calculés à partir de la base de données de datacall. "
                  "Les demandes en double sont comptées une fois. Aucun pseudonyme ni texte de message n'est publié.",
    },
    "en": {
        "note": "Publication note",
        "period": "From {first} to {last}",
        "summary": "{messages} messages received, {requests} data requests, {accepted} accepted, "
                   "{published} published.",
        "merged": {"one": "{n} duplicate request joined another request; its supporters are counted there.",
                   "other": "{n} duplicate requests joined another request; their supporters are counted there."},
        "messages_h": "Messages received",
        "posts_h": "Our posts and what they brought",
        "post": "Post", "network": "Network", "date": "Date", "replies": "Replies", "requests": "Requests",
        "funnel_h": "From messages to publications",
        "statuses_h": "Request statuses",
        "answer_h": "Time to first answer",
        "answer_text": {"one": "Median: {median} days ({n} request with a decision; {waiting} waiting).",
                        "other": "Median: {median} days ({n} requests with a decision; {waiting} waiting)."},
        "answer_none": "No request has had a decision yet.",
        "supported_h": "Most supported requests",
        "supporters": "Supporters",
        "feedback_h": "Reuse feedback",
        "feedback_text": "{asked} questions sent some weeks after publication; "
                         "{answers} answers on {requests} requests.",
        "all_h": "Every request",
        "request": "Request", "status": "Status", "answer": "Answer", "link": "Link", "feedback": "Feedback",
        "dataset": "dataset",
        "colon": ": ",
        "none": "No request for this campaign.",
        "method": "Numbers are computed from datacall's database. Duplicate requests are counted once. "
                  "No handle or message text is published.",
    },
}
STATUS = {
    "fr": {"received": "Reçue", "under_review": "À l'étude", "accepted": "Acceptée", "in_progress": "En préparation",
           "published": "Publiée", "already_available": "Déjà disponible", "out_of_scope": "Hors compétence",
           "declined": "Refusée", "duplicate": "Doublon"},
    "en": {"received": "Received", "under_review": "Under review", "accepted": "Accepted",
           "in_progress": "In progress", "published": "Published", "already_available": "Already available",
           "out_of_scope": "Out of scope", "declined": "Declined", "duplicate": "Duplicate"},
}


def plural(text: str | dict[str, str], **values: object) -> str:
    """A text, or its {"one", "other"} forms picked by `n`, with the values filled in."""
    if isinstance(text, dict):
        text = text["one"] if values.get("n") == 1 else text["other"]
    return text.format(**values)


def status_label(lang: str) -> Callable[[str], str]:
    return lambda status: STATUS.get(lang, STATUS["en"]).get(status, status)


def _context(note: NoteData, chart_url: Callable[[str], str]) -> dict:
    lang = note.lang if note.lang in TEXT else "en"
    median = note.median_answer_days
    return {
        "note": note,
        "t": TEXT[lang],
        "lang": lang,
        "status_label": status_label(lang),
        "chart_url": chart_url,
        "median": "" if median is None else (f"{median:.1f}".replace(".", ",") if lang == "fr" else f"{median:.1f}"),
        "safe_href": _safe_href,
        "plural": plural,
    }


def _safe_href(url: str | None) -> str | None:
    """Only http(s) links are clickable (a `javascript:` answer link would run)."""
    return url if url and url.split(":", 1)[0].lower() in ("http", "https") else None


def note_body_html(note: NoteData, chart_url: Callable[[str], str]) -> str:
    """The note's HTML body (no <html>), for the web app's page and the written file."""
    return TEMPLATES.get_template("note_body.html").render(**_context(note, chart_url))


def note_page_html(note: NoteData, chart_url: Callable[[str], str]) -> str:
    """A whole HTML document, readable offline next to its SVG files."""
    context = _context(note, chart_url)
    return TEMPLATES.get_template("note_page.html").render(body=note_body_html(note, chart_url), **context)


def note_markdown(note: NoteData, chart_url: Callable[[str], str]) -> str:
    return TEMPLATES.get_template("note.md").render(**_context(note, chart_url))

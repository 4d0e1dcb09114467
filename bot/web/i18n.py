"""The interface in French and English: one dict of strings per language.

The language comes from `?lang=` (remembered in a cookie), else the cookie,
else the browser's Accept-Language, else the deployment's default language.
A value may be a dict {"one", "other"}: picked by the `n` placeholder.
"""

from __future__ import annotations

from http.cookies import SimpleCookie

from starlette.datastructures import MutableHeaders, QueryParams
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.web.i18n_classifier import CLASSIFIER_STRINGS
from bot.web.i18n_triage import TRIAGE_STRINGS

LANGUAGES = ("fr", "en")
COOKIE = "lang"

Text = str | dict[str, str]  # a dict holds the "one" and "other" forms

# Overdue flags, expected dates and reuse feedback (requests followed after their answer).
_FOLLOW_UP_FR: dict[str, Text] = {
    "overdue": "En retard",
    "overdue.received": "Sans réponse depuis plus de {n} jours ouvrés",
    "overdue.accepted": "Date prévue dépassée",
    "dash.overdue": {"one": "{n} demande en retard", "other": "{n} demandes en retard"},
    "request.expected": "Date de publication prévue (acceptée)",
    "request.expected_on": "Publication prévue le {date}",
    "request.feedback_h": "Retours de réutilisation",
    "request.feedback_none": "Aucun retour pour l'instant.",
    "error.bad_date": "Date invalide : {value} (format AAAA-MM-JJ).",
}
_FOLLOW_UP_EN: dict[str, Text] = {
    "overdue": "Overdue",
    "overdue.received": "No answer for more than {n} working days",
    "overdue.accepted": "Expected date passed",
    "dash.overdue": {"one": "{n} overdue request", "other": "{n} overdue requests"},
    "request.expected": "Expected publication date (accepted)",
    "request.expected_on": "Publication expected on {date}",
    "request.feedback_h": "Reuse feedback",
    "request.feedback_none": "No feedback yet.",
    "error.bad_date": "Invalid date: {value} (format YYYY-MM-DD).",
}

_STATUS_FR = {
    "received": "Reçue", "under_review": "À l'étude", "accepted": "Acceptée", "in_progress": "En préparation",
    "published": "Publiée", "already_available": "Déjà disponible", "out_of_scope": "Hors compétence",
    "declined": "Refusée", "duplicate": "Doublon", "none": "Sans demande",
}
_STATUS_EN = {
    "received": "Received", "under_review": "Under review", "accepted": "Accepted", "in_progress": "In progress",
    "published": "Published", "already_available": "Already available", "out_of_scope": "Out of scope",
    "declined": "Declined", "duplicate": "Duplicate", "none": "No request",
}

STRINGS: dict[str, dict[str, Text]] = {
    "fr": {
        "app.name": "datacall",
        "nav.skip": "Aller au contenu",
        "nav.label": "Navigation principale",
        "nav.dashboard": "Tableau de bord",
        "nav.queue": "File de décision",
        "nav.login": "Connexion",
        "nav.logout": "Se déconnecter ({name})",
        "footer.text": "Les demandes de données ouvertes reçues par l'équipe open data, et leurs réponses.",
        "pager.label": "Pages",
        "pager.prev": "Précédente",
        "pager.next": "Suivante",
        "pager.page": "Page {n}",
        "error.title": "Impossible",
        "error.home": "Retour au tableau de bord",
        "error.csrf": "Formulaire expiré ou invalide : rechargez la page et recommencez.",
        "error.read_only": "Votre compte est en lecture seule.",
        "error.not_found": "Cette page n'existe pas.",
        "error.generic": "Cette page ne peut pas être affichée.",
        "error.no_message": "Pas de message n°{id}.",
        "error.no_request": "Pas de demande n°{id}.",
        "error.no_reply": "Pas de réponse n°{id} pour cette demande.",
        "error.off_topic_decided": "La demande n°{id} est déjà traitée ({status}) : changez plutôt son statut.",
        "error.unknown_status": "Statut inconnu : {status}.",
        "error.needs_url": "Demande n°{id} : le statut {status} demande le lien du jeu de données.",
        "error.bad_url": "Le lien doit commencer par http:// ou https:// : {url}",
        "error.needs_answer": "Demande n°{id} : le statut {status} demande une réponse "
                              "(la raison, ou à qui s'adresser).",
        "error.needs_target": "Demande n°{id} : indiquez le numéro de la demande à rejoindre.",
        "error.status": "Rien n'a été changé : {reason}",
        "error.nothing_selected": "Sélectionnez au moins un message.",
        "error.no_request_selected": "Aucun des messages sélectionnés n'a de demande.",
        "error.unknown_action": "Action inconnue.",
        "login.title": "Connexion des agents",
        "login.name": "Nom",
        "login.password": "Mot de passe",
        "login.submit": "Se connecter",
        "login.failed": "Nom ou mot de passe incorrect, ou compte bloqué 5 minutes après trop d'essais.",
        "login.too_many": "Trop d'essais depuis cette adresse : réessayez dans quelques minutes.",
        "queue.title": "File de décision",
        "queue.todo": {"one": "{n} élément attend une décision.", "other": "{n} éléments attendent une décision."},
        "queue.empty": "Rien ici pour ces filtres.",
        "filters.legend": "Filtres",
        "filters.scope": "Afficher",
        "filters.todo": "À décider",
        "filters.all": "Tout",
        "filters.campaign": "Campagne",
        "filters.network": "Réseau",
        "filters.language": "Langue",
        "filters.label": "Classement",
        "filters.status": "Statut",
        "filters.any": "Tous",
        "filters.q": "Rechercher dans le texte",
        "filters.apply": "Filtrer",
        "filters.reset": "Réinitialiser",
        "label.data_request": "Demande de données",
        "label.off_topic": "Hors sujet",
        "message.heading": "Message n°{id}",
        "message.needs_review": "À vérifier",
        "message.spot_check": "Contrôle au hasard",
        "message.spot_check_why": "Le modèle aurait décidé seul ; tiré au hasard pour mesurer ses décisions "
                                  "automatiques.",
        "message.score": "score",
        "message.from": "De",
        "message.original": "Message d'origine",
        "message.request": "Demande",
        "message.no_request": "Aucune demande ouverte pour ce message.",
        "bulk.legend": "Pour les messages cochés (ou leurs demandes)",
        "bulk.action": "Action",
        "bulk.status": "Changer le statut",
        "bulk.off_topic": "Classer hors sujet",
        "bulk.confirm": "Confirmer comme demandes",
        "bulk.merge": "Fusionner dans la cible",
        "bulk.target": "Cible n°",
        "bulk.apply": "Appliquer",
        "bulk.select": "Sélectionner le message n°{id}",
        "action.confirm": "Confirmer comme demande",
        "action.off_topic": "Hors sujet",
        "action.more": "Fusionner ou changer le statut de la demande n°{id}",
        "action.merge_into": "Fusionner la demande n°{id} dans la demande n°",
        "action.merge": "Fusionner",
        "action.new_status": "Nouveau statut",
        "action.answer": "Réponse publique",
        "action.url": "Lien du jeu de données",
        "action.set_status": "Changer le statut",
        "action.preview_link": "Voir les réponses avant d'envoyer",
        "done.confirmed": "Message n°{id} confirmé : demande n°{request}.",
        "done.off_topic": "Message n°{id} classé hors sujet.",
        "done.off_topic_labelled": "",
        "done.off_topic_detached": "Il ne soutient plus sa demande.",
        "done.off_topic_declined": "Sa demande est refusée et son auteur prévenu.",
        "done.bulk_confirmed": {"one": "{n} message confirmé.", "other": "{n} messages confirmés."},
        "done.bulk_off_topic": {"one": "{n} message classé hors sujet.", "other": "{n} messages classés hors sujet."},
        "done.bulk_merged": {"one": "{n} demande fusionnée dans la n°{target}.",
                             "other": "{n} demandes fusionnées dans la n°{target}."},
        "done.bulk_status": {"one": "{n} demande passe au statut {status}.",
                             "other": "{n} demandes passent au statut {status}."},
        "done.status": "Demande n°{id} : {status} ; {n} réponse(s) en attente d'envoi.",
        "done.merged": "Demande n°{id} fusionnée dans la n°{target} ; {n} réponse(s) en attente d'envoi.",
        "done.renamed": "Titre public de la demande n°{id} : {title}",
        "done.title_cleared": "La demande n°{id} n'a plus de titre public : le public voit un titre neutre.",
        "done.retry": "La réponse n°{id} sera renvoyée au prochain passage.",
        "request.created": "reçue le {when}",
        "request.public_page": "Page publique",
        "request.duplicate_of": "Doublon de la demande",
        "request.answer": "Réponse :",
        "request.dataset": "Jeu de données :",
        "request.merged_from": "Demandes fusionnées ici :",
        "request.title_h": "Titre public",
        "request.title_label": "Titre montré au public",
        "request.title_hint": "Écrit ou approuvé par vous, il est le seul texte de la demande montré au public. "
                              "Vide : le public voit un titre neutre.",
        "request.draft_title": "Titre proposé (tiré du premier message, visible des agents seulement) :",
        "request.title_approved": "Le public voit le titre approuvé ci-dessous.",
        "request.title_neutral": "Aucun titre approuvé : le public voit « {title} ».",
        "request.approve_draft": "Approuver le titre proposé",
        "request.confirm_reopen": "Je confirme : cette demande publiée repart en arrière, "
                                  "ses soutiens en sont prévenus.",
        "request.save_title": "Enregistrer le titre",
        "request.merge_h": "Doublon",
        "request.merge_hint": "Ses soutiens rejoignent l'autre demande et en sont prévenus.",
        "request.status_h": "Changer le statut",
        "request.of": "Pour un doublon : demande n°",
        "request.preview": "Prévisualiser les réponses",
        "request.preview_h": "Réponses pour le statut {status}",
        "request.recipients": {"one": "{n} personne sera prévenue.", "other": "{n} personnes seront prévenues."},
        "request.confirm_status": "Passer au statut {status} et envoyer {n} réponse(s)",
        "request.messages_h": {"one": "{n} message en soutien", "other": "{n} messages en soutien"},
        "request.history_h": "Historique",
        "request.replies_h": "Réponses envoyées",
        "request.no_replies": "Aucune réponse pour l'instant.",
        "lang.fr": "En français",
        "lang.en": "En anglais",
        "col.network": "Réseau",
        "col.from": "De",
        "col.to": "À",
        "col.lang": "Langue",
        "col.label": "Classement",
        "col.text": "Texte",
        "col.received": "Reçu",
        "col.when": "Date",
        "col.status": "Statut",
        "col.by": "Par",
        "col.answer": "Réponse",
        "col.delivery": "Envoi",
        "col.actions": "Actions",
        "delivery.pending": "en attente",
        "delivery.sending": "en cours",
        "delivery.sent": "envoyée",
        "delivery.failed": "échec, nouvel essai prévu",
        "delivery.dead": "abandonnée",
        "delivery.unknown": "envoyée ? à vérifier sur le réseau",
        "reply.mark_sent": "Marquer envoyée",
        "done.marked_sent": "La réponse n°{id} est marquée envoyée ; elle ne sera pas renvoyée.",
        "error.reply": "Rien n'a été changé : {reason}",
        "reply.attempts": {"one": "{n} essai", "other": "{n} essais"},
        "reply.retry": "Renvoyer",
        "reply.retry_hint": "Avant de renvoyer une réponse abandonnée, vérifiez sur le réseau qu'elle n'est pas "
                            "déjà partie : personne ne doit la recevoir deux fois.",
        "dash.title": "Demandes de données",
        "dash.intro": "Chaque demande de données reçue sur les réseaux sociaux, son statut et notre réponse.",
        "dash.counts": "Chiffres",
        "dash.by_status": "Par statut",
        "dash.by_campaign": "Par campagne",
        "dash.by_network": "Par réseau",
        "dash.requests": {"one": "{n} demande", "other": "{n} demandes"},
        "dash.filtered": "Liste filtrée.",
        "dash.show_all": "Tout afficher",
        "dash.supporters": {"one": "{n} soutien", "other": "{n} soutiens"},
        "dash.dataset": "Voir le jeu de données",
        "dash.empty": "Aucune demande pour l'instant.",
        "public.networks": {"one": "{n} réseau", "other": "{n} réseaux"},
        "public.named": "Ce qu'en disent celles et ceux qui ont accepté d'être cités",
        "answer.not_a_request": "Ce message ne demande pas de données publiques ; pour un signalement, "
                                "contactez le service concerné.",
        **{f"status.{key}": value for key, value in _STATUS_FR.items()},
        **_FOLLOW_UP_FR,
    },
    "en": {
        "app.name": "datacall",
        "nav.skip": "Skip to content",
        "nav.label": "Main navigation",
        "nav.dashboard": "Dashboard",
        "nav.queue": "Decision queue",
        "nav.login": "Log in",
        "nav.logout": "Log out ({name})",
        "footer.text": "The open-data requests received by the open data team, and their answers.",
        "pager.label": "Pages",
        "pager.prev": "Previous",
        "pager.next": "Next",
        "pager.page": "Page {n}",
        "error.title": "Not possible",
        "error.home": "Back to the dashboard",
        "error.csrf": "This form expired or is invalid: reload the page and try again.",
        "error.read_only": "Your account is read-only.",
        "error.not_found": "This page does not exist.",
        "error.generic": "This page cannot be shown.",
        "error.no_message": "No message #{id}.",
        "error.no_request": "No request #{id}.",
        "error.no_reply": "No reply #{id} for this request.",
        "error.off_topic_decided": "Request #{id} is already decided ({status}): change its status instead.",
        "error.unknown_status": "Unknown status: {status}.",
        "error.needs_url": "Request #{id}: status {status} needs the dataset's link.",
        "error.bad_url": "The link must start with http:// or https://: {url}",
        "error.needs_answer": "Request #{id}: status {status} needs an answer (the reason, or who to ask).",
        "error.needs_target": "Request #{id}: give the number of the request it joins.",
        "error.status": "Nothing was changed: {reason}",
        "error.nothing_selected": "Select at least one message.",
        "error.no_request_selected": "None of the selected messages has a request.",
        "error.unknown_action": "Unknown action.",
        "login.title": "Officers' login",
        "login.name": "Name",
        "login.password": "Password",
        "login.submit": "Log in",
        "login.failed": "Wrong name or password, or the account is locked for 5 minutes after too many attempts.",
        "login.too_many": "Too many attempts from this address: try again in a few minutes.",
        "queue.title": "Decision queue",
        "queue.todo": {"one": "{n} item waits for a decision.", "other": "{n} items wait for a decision."},
        "queue.empty": "Nothing here for these filters.",
        "filters.legend": "Filters",
        "filters.scope": "Show",
        "filters.todo": "To decide",
        "filters.all": "Everything",
        "filters.campaign": "Campaign",
        "filters.network": "Network",
        "filters.language": "Language",
        "filters.label": "Label",
        "filters.status": "Status",
        "filters.any": "Any",
        "filters.q": "Search the text",
        "filters.apply": "Filter",
        "filters.reset": "Reset",
        "label.data_request": "Data request",
        "label.off_topic": "Off-topic",
        "message.heading": "Message #{id}",
        "message.needs_review": "Needs review",
        "message.spot_check": "Spot check",
        "message.spot_check_why": "The model would have decided alone; drawn at random to measure its automatic "
                                  "decisions.",
        "message.score": "score",
        "message.from": "From",
        "message.original": "Original post",
        "message.request": "Request",
        "message.no_request": "No request opened for this message.",
        "bulk.legend": "For the selected messages (or their requests)",
        "bulk.action": "Action",
        "bulk.status": "Set the status",
        "bulk.off_topic": "Mark off-topic",
        "bulk.confirm": "Confirm as requests",
        "bulk.merge": "Merge into the target",
        "bulk.target": "Target #",
        "bulk.apply": "Apply",
        "bulk.select": "Select message #{id}",
        "action.confirm": "Confirm as request",
        "action.off_topic": "Off-topic",
        "action.more": "Merge or set the status of request #{id}",
        "action.merge_into": "Merge request #{id} into request #",
        "action.merge": "Merge",
        "action.new_status": "New status",
        "action.answer": "Public answer",
        "action.url": "Dataset link",
        "action.set_status": "Set status",
        "action.preview_link": "Preview the replies first",
        "done.confirmed": "Message #{id} confirmed: request #{request}.",
        "done.off_topic": "Message #{id} marked off-topic.",
        "done.off_topic_labelled": "",
        "done.off_topic_detached": "It no longer supports its request.",
        "done.off_topic_declined": "Its request is declined and its author told.",
        "done.bulk_confirmed": {"one": "{n} message confirmed.", "other": "{n} messages confirmed."},
        "done.bulk_off_topic": {"one": "{n} message marked off-topic.", "other": "{n} messages marked off-topic."},
        "done.bulk_merged": {"one": "{n} request merged into #{target}.",
                             "other": "{n} requests merged into #{target}."},
        "done.bulk_status": {"one": "{n} request is now {status}.", "other": "{n} requests are now {status}."},
        "done.status": "Request #{id} is now {status}; {n} reply(ies) queued.",
        "done.merged": "Request #{id} merged into #{target}; {n} reply(ies) queued.",
        "done.renamed": "Public title of request #{id}: {title}",
        "done.title_cleared": "Request #{id} has no public title any more: the public sees a neutral one.",
        "done.retry": "Reply #{id} will be sent again on the next pass.",
        "request.created": "received {when}",
        "request.public_page": "Public page",
        "request.duplicate_of": "Duplicate of request",
        "request.answer": "Answer:",
        "request.dataset": "Dataset:",
        "request.merged_from": "Requests merged here:",
        "request.title_h": "Public title",
        "request.title_label": "Title shown to the public",
        "request.title_hint": "Written or approved by you, it is the only text of the request the public sees. "
                              "Empty: the public sees a neutral title.",
        "request.draft_title": "Draft title (from the first message, seen by officers only):",
        "request.title_approved": "The public sees the approved title below.",
        "request.title_neutral": "No approved title: the public sees \u201c{title}\u201d.",
        "request.approve_draft": "Approve the draft title",
        "request.confirm_reopen": "I confirm: this published request goes back, and its supporters are told.",
        "request.save_title": "Save the title",
        "request.merge_h": "Duplicate",
        "request.merge_hint": "Its supporters join the other request and are told so.",
        "request.status_h": "Set the status",
        "request.of": "For a duplicate: request #",
        "request.preview": "Preview the replies",
        "request.preview_h": "Replies for status {status}",
        "request.recipients": {"one": "{n} person will be told.", "other": "{n} people will be told."},
        "request.confirm_status": "Set status {status} and send {n} reply(ies)",
        "request.messages_h": {"one": "{n} supporting message", "other": "{n} supporting messages"},
        "request.history_h": "History",
        "request.replies_h": "Replies",
        "request.no_replies": "No replies yet.",
        "lang.fr": "In French",
        "lang.en": "In English",
        "col.network": "Network",
        "col.from": "From",
        "col.to": "To",
        "col.lang": "Language",
        "col.label": "Label",
        "col.text": "Text",
        "col.received": "Received",
        "col.when": "When",
        "col.status": "Status",
        "col.by": "By",
        "col.answer": "Answer",
        "col.delivery": "Delivery",
        "col.actions": "Actions",
        "delivery.pending": "pending",
        "delivery.sending": "sending",
        "delivery.sent": "sent",
        "delivery.failed": "failed, will retry",
        "delivery.dead": "dead",
        "delivery.unknown": "sent? check on the network",
        "reply.mark_sent": "Mark sent",
        "done.marked_sent": "Reply #{id} is marked sent; it will not be sent again.",
        "error.reply": "Nothing was changed: {reason}",
        "reply.attempts": {"one": "{n} attempt", "other": "{n} attempts"},
        "reply.retry": "Retry",
        "reply.retry_hint": "Before retrying a dead reply, check on the network that it did not go out: "
                            "nobody may get it twice.",
        "dash.title": "Data requests",
        "dash.intro": "Every data request received on social networks, its status and our answer.",
        "dash.counts": "Figures",
        "dash.by_status": "By status",
        "dash.by_campaign": "By campaign",
        "dash.by_network": "By network",
        "dash.requests": {"one": "{n} request", "other": "{n} requests"},
        "dash.filtered": "Filtered list.",
        "dash.show_all": "Show all",
        "dash.supporters": {"one": "{n} supporter", "other": "{n} supporters"},
        "dash.dataset": "See the dataset",
        "dash.empty": "No requests yet.",
        "public.networks": {"one": "{n} network", "other": "{n} networks"},
        "public.named": "What those who agreed to be quoted said",
        "answer.not_a_request": "This message does not ask for public data; to report a problem, "
                                "please contact the service concerned.",
        **{f"status.{key}": value for key, value in _STATUS_EN.items()},
        **_FOLLOW_UP_EN,
    },
}

for _strings in (TRIAGE_STRINGS, CLASSIFIER_STRINGS):
    for _lang, _extra in _strings.items():
        STRINGS[_lang].update(_extra)


def translate(lang: str, key: str, **values: object) -> str:
    """The text for `key`, in `lang` (English if missing there, the key itself if missing everywhere)."""
    text = STRINGS.get(lang, {}).get(key) or STRINGS["en"].get(key, key)
    if isinstance(text, dict):
        text = text["one"] if values.get("n") == 1 else text["other"]
    return text.format(**values) if values else text


def from_accept_language(header: str) -> str | None:
    """The preferred language among ours, honouring q-values ("fr-CA,fr;q=0.9,en;q=0.8")."""
    best, best_q = None, 0.0
    for part in header.split(","):
        code, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        lang = code.strip().lower()[:2]
        if lang in LANGUAGES and q > best_q:
            best, best_q = lang, q
    return best


class LanguageMiddleware:
    """Puts the chosen language in `request.state.lang`; remembers a `?lang=` choice in a cookie."""

    def __init__(self, app: ASGIApp, default: str = "fr") -> None:
        self.app = app
        self.default = default if default in LANGUAGES else "fr"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        asked = QueryParams(scope.get("query_string", b"").decode("latin-1")).get("lang")
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # noqa: BLE001 - a malformed cookie header only loses the preference
            cookie = SimpleCookie()
        remembered = cookie[COOKIE].value if COOKIE in cookie else None
        if asked in LANGUAGES:
            lang = asked
        elif remembered in LANGUAGES:
            lang = remembered
        else:
            lang = from_accept_language(headers.get("accept-language", "")) or self.default
        scope.setdefault("state", {})["lang"] = lang
        remember = asked in LANGUAGES and asked != remembered

        async def send_with_cookie(message: Message) -> None:
            if remember and message["type"] == "http.response.start":
                MutableHeaders(scope=message).append(
                    "set-cookie", f"{COOKIE}={lang}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax"
                )
            await send(message)

        await self.app(scope, receive, send_with_cookie)

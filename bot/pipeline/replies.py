"""Queue replies in the outbox: one row per (status event, supporter), never two."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial

from sqlalchemy.orm import Session

from bot.networks.base import Connector
from bot.replies.render import Templates
from storage import queries
from storage.models import Message, Reply, Request, Requester, StatusEvent
from storage.public_titles import title_for


@dataclass(frozen=True)
class ReplyWriter:
    """Writes reply rows with this deployment's templates, length limits and languages."""

    templates: Templates
    # The enabled networks: only their pure rules are used here (length limit, counting, mention).
    networks: Mapping[str, Connector]
    default_language: str
    public_url: str = ""

    def language(self, requester: Requester) -> str:
        return self.language_of(requester.lang)

    def language_of(self, requester_lang: str | None) -> str:
        """The reply language for a requester whose language is `requester_lang`."""
        return requester_lang if requester_lang in ("fr", "en") else self.default_language

    def reaches(self, requester: Requester) -> bool:
        """The requester's network is enabled: a reply can go there."""
        return requester.network in self.networks

    def render(self, name: str, lang: str, requester: Requester, **values: object) -> str:
        """Template `name` fitted once to the requester's network, counted as the outbox will send it.

        The connector counts the text with the mention it adds in `reply` (`Connector.addressed`),
        so the free-text parts give way here and nothing is cut again at sending.
        """
        return self._fitted(name, lang, requester.network, requester.handle, **values)

    def _fitted(self, name: str, lang: str, network: str, handle: str | None, **values: object) -> str:
        connector = self.networks[network]
        return self.templates.render(
            name, lang, max_length=connector.max_length, length=partial(connector.reply_length, handle or ""),
            **values,
        )

    def queue_status_replies(
        self,
        session: Session,
        *,
        event: StatusEvent,
        request: Request,
        supporters: list[tuple[Requester, Message]] | None = None,
    ) -> list[Reply]:
        """Tell every supporter about `event`, in their language, on their network.

        `supporters` saves the query when the caller knows them (a new request has one).
        """
        queued = []
        if supporters is None:
            supporters = queries.supporters(session, request_id=request.id)
        for requester, message in supporters:
            if requester.opted_out or not self.reaches(requester):
                continue  # opted out, or a network no longer enabled: nobody to tell there
            lang = self.language(requester)
            text = self.status_text(
                event.status, lang, network=requester.network, handle=requester.handle, request_id=request.id,
                # Their own words if the draft is theirs; otherwise only what the public may read.
                title=title_for(session, request, requester_id=requester.id, lang=lang),
                answer=event.answer, url=event.url, duplicate_of=event.duplicate_of_id,
            )
            queued.append(
                self._add(session, requester, message, text, lang, key=f"datacall-{event.id}-{requester.id}",
                          event_id=event.id)
            )
        session.flush()
        return queued

    def status_text(
        self, status: str, lang: str, *, network: str, handle: str | None, request_id: int, title: str,
        answer: str | None = None, url: str | None = None, duplicate_of: int | None = None,
    ) -> str:
        """The text telling a supporter (`handle` on `network`) about a status; no database needed (routing
        renders a batch's acknowledgements before its write transaction)."""
        return self._fitted(
            status,
            lang,
            network,
            handle,
            id=request_id,
            title=title,
            answer=answer,
            url=url,
            duplicate_of=duplicate_of,
            link=self._link(request_id, lang),
        )

    def queue_answer(self, session: Session, *, message: Message, template: str, **values: object) -> Reply | None:
        """A one-off answer to `message` (a command such as /status), at most one per message."""
        requester = message.requester
        if not self.reaches(requester):
            return None
        lang = self.language(requester)
        text = self.render(template, lang, requester, **values)
        reply = self._add(session, requester, message, text, lang, key=f"datacall-answer-{message.id}")
        session.flush()
        return reply

    def _link(self, request_id: int, lang: str) -> str:
        if not self.public_url:
            return ""
        label = "Suivi :" if lang == "fr" else "Follow it:"
        return f" {label} {self.public_url.rstrip('/')}/requests/{request_id}"

    @staticmethod
    def _add(session, requester, message, text, lang, *, key, event_id=None) -> Reply:
        reply = Reply(
            status_event_id=event_id,
            requester_id=requester.id,
            message_id=message.id,
            network=requester.network,
            idempotency_key=key,
            lang=lang,
            text=text,
            state="pending",
            attempts=0,
        )
        session.add(reply)
        return reply

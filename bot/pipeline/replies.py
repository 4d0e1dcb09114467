"""Queue replies in the outbox: one row per (status event, supporter), never two."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from bot.replies.render import Templates
from storage import queries
from storage.models import Message, Reply, Request, Requester, StatusEvent
from storage.public_titles import title_for


@dataclass(frozen=True)
class ReplyWriter:
    """Writes reply rows with this deployment's templates, length limits and languages."""

    templates: Templates
    max_length: dict[str, int]  # per enabled network
    default_language: str
    public_url: str = ""
    # Per network, how it counts a text's length (default: characters).
    measure: dict[str, Callable[[str], int]] = field(default_factory=dict)

    def language(self, requester: Requester) -> str:
        return self.language_of(requester.lang)

    def language_of(self, requester_lang: str | None) -> str:
        """The reply language for a requester whose language is `requester_lang`."""
        return requester_lang if requester_lang in ("fr", "en") else self.default_language

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
            if requester.opted_out or requester.network not in self.max_length:
                continue  # opted out, or a network no longer enabled: nobody to tell there
            lang = self.language(requester)
            text = self.status_text(
                event.status, lang, network=requester.network, request_id=request.id,
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
        self, status: str, lang: str, *, network: str, request_id: int, title: str,
        answer: str | None = None, url: str | None = None, duplicate_of: int | None = None,
    ) -> str:
        """The text telling a supporter on `network` about a status; no database needed (routing renders
        a batch's acknowledgements before its write transaction)."""
        return self.templates.render(
            status,
            lang,
            max_length=self.max_length[network],
            length=self.measure.get(network, len),
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
        if message.network not in self.max_length:
            return None
        lang = self.language(requester)
        text = self.templates.render(
            template, lang, max_length=self.max_length[message.network],
            length=self.measure.get(message.network, len), **values,
        )
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

"""Everything a job needs, built once per process from the config."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

import classifiers
from bot.campaigns.publishing import Publisher
from bot.campaigns.texts import CampaignTexts, load_campaign_texts
from bot.config import Config
from bot.networks.base import Connector
from bot.networks.registry import build_connectors
from bot.paths import configured_model_path
from bot.paths import resolve as _resolve
from bot.pipeline.outbox import Claims
from bot.pipeline.replies import ReplyWriter
from bot.replies.render import Templates, load_templates
from bot.worker import worker_name
from storage.database import make_engine, make_session_factory


@dataclass
class Runtime:
    config: Config
    engine: Engine
    sessions: sessionmaker[Session]
    templates: Templates
    connectors: dict[str, Connector]
    campaign_texts: CampaignTexts = field(default_factory=load_campaign_texts)
    say: Callable[[str], None] = field(default=print)
    # Set on SIGTERM: a job working through a batch stops taking new rows.
    stopping: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def from_config(cls, config: Config, *, say: Callable[[str], None] = print) -> Runtime:
        engine = make_engine(database_url(config))
        sessions = make_session_factory(engine)
        templates_path = _resolve(config, config.replies.templates) if config.replies.templates else None
        return cls(
            config=config,
            engine=engine,
            sessions=sessions,
            templates=load_templates(templates_path),
            connectors=build_connectors(config, sessions),
            campaign_texts=load_campaign_texts(
                _resolve(config, config.campaigns.templates) if config.campaigns.templates else None
            ),
            say=say,
        )

    @cached_property
    def classifier(self) -> classifiers.TextClassifier:
        """Loaded on first need, once per process; trained first if there is none yet."""
        path = configured_model_path(self.config)
        return classifiers.load(classifiers.ensure_model(path, on_train=self.say))

    @cached_property
    def claims(self) -> Claims:
        """This process's name on the rows it claims, and the lease after which a silent worker's are taken."""
        return Claims(worker=worker_name(self.config), lease_seconds=self.config.scheduler.claim_lease_seconds)

    def publisher(self) -> Publisher:
        """How the `post` job publishes a campaign's scheduled posts in this deployment."""
        return Publisher(
            texts=self.campaign_texts,
            public_url=self.config.web.public_url,
            survey_size=self.config.campaigns.survey_size,
            max_length={name: self.max_length(name) for name in self.connectors},
        )

    def reply_writer(self) -> ReplyWriter:
        """How replies are written in this deployment: its templates, networks and language."""
        return ReplyWriter(
            templates=self.templates,
            networks=self.connectors,
            default_language=self.config.campaigns.default_language,
            public_url=self.config.web.public_url,
        )

    def max_length(self, network: str) -> int:
        return self.connectors[network].max_length

    def close(self) -> None:
        for connector in self.connectors.values():
            connector.close()
        self.engine.dispose()


def database_url(config: Config) -> str:
    """A relative SQLite path is relative to the config file, like every other path in it."""
    url = make_url(config.database.url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        url = url.set(database=str(_resolve(config, url.database)))
    return url.render_as_string(hide_password=False)

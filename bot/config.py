"""The TOML configuration: schema, defaults and one-line errors.

The defaults here are the values of `config.example.toml` (a test keeps them
equal). A `[networks.NAME]` table is checked by the model its connector module
declares (`bot/networks/`). Secrets never live in the file: each `*_env` key
names an environment variable, read when the network is enabled.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Collection, Mapping
from datetime import date, time
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    SerializeAsAny,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError, PydanticUndefined

from bot.networks.installed import NetworkUnavailable, connector_class, installed

DEFAULT_CONFIG_PATH = Path("datacall.toml")


class ConfigError(Exception):
    """One line naming the file and the key; the CLI prints it and exits with 2."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class DatabaseConfig(Section):
    url: str = "sqlite:///datacall.db"

    @field_validator("url")
    @classmethod
    def _supported(cls, url: str) -> str:
        if url == cls.model_fields["url"].default:
            return url  # known good: commands that never open the database (classify) need not import SQLAlchemy
        from storage.database import DatabaseError, check_url  # storage owns what a database URL may be

        try:
            check_url(url)
        except DatabaseError as exc:
            raise ValueError(str(exc)) from None
        return url


class NetworkConfig(Section):
    """What every `[networks.NAME]` table has; each connector's own model adds its keys."""

    enabled: bool = False
    # Longest text the network accepts in one post; replies are fitted to it.
    max_length: Annotated[int, Field(ge=50)] = 500

    def secret_keys(self) -> dict[str, str]:
        """`*_env` key -> environment variable name, for the secrets this network needs."""
        return {
            name: value
            for name, value in self.model_dump().items()
            if name.endswith("_env") and value
        }

    def missing_secrets(self, environ: Mapping[str, str]) -> dict[str, str]:
        """The `*_env` keys whose variable `environ` lacks; a network needing only some of them says which."""
        return {key: variable for key, variable in self.secret_keys().items() if not environ.get(variable)}


# With no table of its own, the sandbox runs with its defaults: it needs nothing installed or set.
DEFAULT_TABLES: dict[str, dict] = {"sandbox": {}}


class NetworksConfig(RootModel[dict[str, SerializeAsAny[NetworkConfig]]]):
    """The `[networks.NAME]` tables, each checked by the model its connector declares.

    NAME is an installed `datacall.networks` entry point (`bot.networks.installed`); only the
    networks the file names are imported. A network without a table is off, except the sandbox.
    """

    model_config = ConfigDict(frozen=True)
    root: dict[str, SerializeAsAny[NetworkConfig]]

    @model_validator(mode="before")
    @classmethod
    def _each_by_its_connector(cls, tables: object) -> dict[str, NetworkConfig]:
        if tables is PydanticUndefined:  # NetworksConfig(): no table at all
            tables = {}
        if not isinstance(tables, dict):
            raise ValueError("must be a table of networks, such as [networks.sandbox]")
        networks = installed()
        validated: dict[str, NetworkConfig] = {}
        errors: list[InitErrorDetails] = []
        for name, table in {**DEFAULT_TABLES, **tables}.items():
            try:
                model = connector_class(name, networks).config_model
            except NetworkUnavailable as exc:
                errors.append({"type": PydanticCustomError("network", str(exc)), "loc": (name,), "input": name})
                continue
            try:
                validated[name] = model.model_validate(table)
            except ValidationError as exc:  # its errors, placed under the network's name
                errors += [{**error, "loc": (name, *error["loc"])} for error in exc.errors()]  # type: ignore[typeddict-unknown-key]  # ErrorDetails re-raised as InitErrorDetails
        if errors:
            raise ValidationError.from_exception_data(cls.__name__, errors)
        return validated

    def enabled(self) -> dict[str, NetworkConfig]:
        return {name: table for name, table in self.root.items() if table.enabled}

    def table(self, name: str) -> NetworkConfig:
        """The `[networks.NAME]` table, or the network's defaults when the file has none."""
        if name in self.root:
            return self.root[name]
        try:
            return connector_class(name).config_model()
        except NetworkUnavailable as exc:
            raise AttributeError(f"networks.{name}: {exc}") from None

    def __getattr__(self, name: str) -> NetworkConfig:
        """`config.networks.mastodon`, as for any other section."""
        if name.startswith("_"):
            return super().__getattr__(name)  # type: ignore[misc]  # pydantic's private attributes
        return self.table(name)


class ClassifierConfig(Section):
    # Empty: the model trained from the packaged corpus, cached per user.
    model_path: str = ""
    threshold: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5
    batch_size: Annotated[int, Field(ge=1)] = 256
    # [low, high]: scores in between go to officers, with no automatic reply.
    # Empty: the band the model measured on its dev split, if it has one.
    review_band: list[Annotated[float, Field(ge=0.0, le=1.0)]] = []
    # Share of the automatic decisions (score outside the band, French or English) drawn at random
    # for an officer to check, so that their precision on this deployment's messages is measured.
    spot_check_share: Annotated[float, Field(ge=0.0, le=0.5)] = 0.05

    @field_validator("review_band")
    @classmethod
    def _band_is_a_range(cls, band: list[float]) -> list[float]:
        if band and (len(band) != 2 or band[0] > band[1]):
            raise ValueError("must be empty or two scores [low, high] with low <= high")
        return band


class CampaignsConfig(Section):
    # Language of calls and of replies to requesters whose language is unknown.
    default_language: Literal["fr", "en"] = "fr"
    # A request still `received` after this many working days is overdue.
    answer_within_working_days: Annotated[int, Field(ge=1, le=365)] = 20
    # Public holidays that are not working days: a country code of the `holidays` library ("" for none).
    holidays_country: str = "FR"
    # More days off (YYYY-MM-DD), e.g. a closure between Christmas and New Year.
    extra_holidays: list[date] = []
    # Days after a request is published before each supporter is asked what they did with the data.
    follow_up_after_days: Annotated[int, Field(ge=1, le=365)] = 28

    @field_validator("holidays_country")
    @classmethod
    def _known_country(cls, country: str) -> str:
        if country:
            import holidays  # noqa: PLC0415 - only to check the code

            if country.upper() not in holidays.list_supported_countries():
                raise ValueError(f"unknown country code {country!r} for public holidays")
        return country.upper()

    # The calendar of `campaign create --start`: dates and times are read in this zone.
    timezone: str = "Europe/Paris"
    # Weeks of the call, sorting, research and note phases.
    phase_weeks: Annotated[list[Annotated[int, Field(ge=1, le=26)]], Field(min_length=4, max_length=4)] = [2, 2, 5, 3]
    # Days after the call's start when a reminder is posted (within the call phase).
    reminder_days: list[Annotated[int, Field(ge=1)]] = [4, 9]
    # Local time of day when scheduled posts go out, HH:MM.
    post_time: str = "09:30"
    # Requests offered in the relevance survey (the most supported open ones).
    survey_size: Annotated[int, Field(ge=1, le=40)] = 8
    # Empty: the packaged bot/campaigns/templates.toml. Copy it to edit the campaign posts.
    templates: str = ""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown time zone, use an IANA name such as Europe/Paris") from None
        return name

    @field_validator("post_time")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        try:
            time.fromisoformat(value)
        except ValueError:
            raise ValueError("must be a time of day HH:MM") from None
        return value

    @model_validator(mode="after")
    def _reminders_within_call(self):
        call_days = self.phase_weeks[0] * 7
        late = [day for day in self.reminder_days if day >= call_days]
        if late:
            raise ValueError(f"reminder_days must fall within the call phase ({call_days} days): {late}")
        return self


class RepliesConfig(Section):
    # Empty: the packaged bot/replies/templates.toml. Copy it to edit the texts.
    templates: str = ""
    max_attempts: Annotated[int, Field(ge=1)] = 8
    # First retry delay; doubles at each failure, with jitter.
    retry_base_seconds: Annotated[float, Field(gt=0)] = 30.0


class SchedulerConfig(Section):
    poll_interval_seconds: Annotated[float, Field(gt=0)] = 60.0
    max_pages_per_poll: Annotated[int, Field(ge=1, le=1000)] = 20
    classify_interval_seconds: Annotated[float, Field(gt=0)] = 10.0
    send_interval_seconds: Annotated[float, Field(gt=0)] = 10.0
    post_interval_seconds: Annotated[float, Field(gt=0)] = 30.0
    # After SIGTERM, how long running jobs may take to finish. Below the kill delay of the usual
    # service managers (Kubernetes 30 s, systemd 90 s), so datacall stops itself before being killed.
    stop_timeout_seconds: Annotated[float, Field(gt=0)] = 20.0
    # This worker's stable name, recorded on each row it claims ("": the host name). Unique per live process.
    worker_name: Annotated[str, Field(max_length=100, pattern=r"^[A-Za-z0-9._:@-]*$")] = ""
    # A claim of a worker whose heartbeat is older than this is taken back by the others.
    claim_lease_seconds: Annotated[float, Field(ge=3, le=3600)] = 30.0
    # A suggestion pass starts no new batch after this many seconds (0: no limit); the next pass goes on.
    suggest_seconds_per_pass: Annotated[float, Field(ge=0)] = 10.0


class WebConfig(Section):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    # Public address of the dashboard, quoted in replies when set.
    public_url: str = ""
    # Hours an officer stays signed in after logging in, however active (then the login page again).
    session_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 12.0
    # Addresses or networks of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed.
    trusted_proxies: list[str] = ["127.0.0.1", "::1"]

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, proxies: list[str]) -> list[str]:
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(f"{proxy!r} is not an IP address or network (like 10.0.0.0/8)") from None
        return proxies


class DigestConfig(Section):
    """The officers' daily digest: always a log line; an e-mail too when a server and recipients are set."""

    # smtp://host:port (plain, STARTTLS if offered) or smtps://host:port (TLS). Empty: log line only.
    smtp_url: str = ""
    username: str = ""
    # Environment variable holding the SMTP password (read only when username is set).
    password_env: str = "DATACALL_DIGEST_PASSWORD"
    sender: str = "datacall@localhost"
    recipients: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")]] = []

    @field_validator("smtp_url")
    @classmethod
    def _smtp_scheme(cls, url: str) -> str:
        if url and not (url.startswith(("smtp://", "smtps://")) and len(url.split("://", 1)[1]) > 0):
            raise ValueError("must be smtp://host:port or smtps://host:port")
        return url


class CatalogueSource(Section):
    """A catalogue re-imported on a schedule, as `datacall catalogue import` would."""

    source: Annotated[str, Field(min_length=1)]
    format: Literal["auto", "ckan", "udata", "opendatasoft"] = "auto"
    name: str = ""
    base_url: str = ""


class CatalogueConfig(Section):
    # Catalogues `datacall run` re-imports; none by default.
    sources: list[CatalogueSource] = []
    import_interval_hours: Annotated[float, Field(gt=0)] = 24.0


class ScopeRule(Section):
    """Requests on a subject another body publishes: the answer to suggest, in both languages."""

    name: Annotated[str, Field(min_length=1, max_length=150)]
    # Matched as whole words or phrases, ignoring case, accents and plurals.
    keywords: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    answer_fr: Annotated[str, Field(min_length=1)]
    answer_en: Annotated[str, Field(min_length=1)]


class ScopeConfig(Section):
    rules: list[ScopeRule] = []

    @field_validator("rules")
    @classmethod
    def _names_are_unique(cls, rules: list[ScopeRule]) -> list[ScopeRule]:
        names = [rule.name for rule in rules]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"rule names must be unique: {', '.join(duplicates)}")
        return rules


class Config(Section):
    database: DatabaseConfig = DatabaseConfig()
    networks: NetworksConfig = Field(default_factory=NetworksConfig)
    classifier: ClassifierConfig = ClassifierConfig()
    campaigns: CampaignsConfig = CampaignsConfig()
    replies: RepliesConfig = RepliesConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    web: WebConfig = WebConfig()
    scope: ScopeConfig = ScopeConfig()
    digest: DigestConfig = DigestConfig()
    catalogue: CatalogueConfig = CatalogueConfig()
    # The file this config came from (None: built-in defaults); relative paths resolve from its folder.
    source: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _no_source_in_file(cls, data):
        if isinstance(data, dict) and "source" in data:
            raise ValueError("'source' is not a config key")
        return data


def load_config(path: Path | None = None, *, sections: Collection[str] | None = None) -> Config:
    """Read `path`, or ./datacall.toml if it exists, or fall back to the defaults.

    `sections` limits the checks to the tables a command reads (the others keep their defaults):
    `datacall classify` needs `[classifier]`, not the database URL nor the networks' secrets, so
    it runs on a deployment's config on a laptop without importing their libraries.
    """
    explicit = path is not None
    path = Path(path) if path is not None else DEFAULT_CONFIG_PATH
    if not path.exists():
        if explicit:
            raise ConfigError(f"{path}: no such config file")
        return Config()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read: {exc}") from None
    if sections is not None:
        unknown = [key for key in data if key not in Config.model_fields or key == "source"]
        if unknown:  # a misspelt table is still named, whichever command reads the file
            raise ConfigError(f"{path}: {unknown[0]}: unknown key")
        data = {key: value for key, value in data.items() if key in sections}
    try:
        config = Config.model_validate(data).model_copy(update={"source": path.resolve()})
    except ValidationError as exc:
        raise ConfigError(_first_error(path, exc)) from None
    if sections is None or "networks" in sections:
        check_secrets(config, path)
    return config


def check_secrets(config: Config, path: Path | str) -> None:
    """Every enabled network's secrets must be set in the environment, before any work."""
    for name, network in config.networks.enabled().items():
        for key, variable in network.missing_secrets(os.environ).items():
            raise ConfigError(f"{path}: networks.{name}.{key}: environment variable {variable} is not set")


def _first_error(path: Path, exc: ValidationError) -> str:
    error = exc.errors()[0]
    key = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        return f"{path}: {key}: unknown key"
    if error["type"] == "network":  # already one sentence, with names whose case matters
        return f"{path}: {key}: {error['msg']}"
    return f"{path}: {key}: {error['msg'].lower()} (got {error.get('input')!r})"

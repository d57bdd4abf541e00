"""Config of `camaudit hub` (a YAML file of its own, separate from the device config)."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from camaudit.config.base import Section
from camaudit.config.hub_public import PublicConfig
from camaudit.config.mqtt import MqttConfig
from camaudit.config.timestamps import TimestampsConfig
from camaudit.errors import ConfigError


class HubConfig(Section):
    data_dir: Path = Field(
        default=Path("/var/lib/camaudit-hub"),
        description="Hub database, hub witness key, broker password file and secrets live here.",
    )
    db: str | None = Field(
        default=None,
        description="Hub store: a SQLite file (default data_dir/hub.db) or a postgresql:// URL "
        "(keep its password in ~/.pgpass or PGPASSFILE, not here). Env: CAMAUDIT_HUB_DB.",
    )
    broker: str | None = Field(
        default=None,
        description="External broker mqtt(s)://host:port; omit to start the hub's own mosquitto.",
    )
    broker_listen: str = Field(
        default="127.0.0.1:1883", description="host:port of the hub's mosquitto (port 0: any free)."
    )
    broker_users: list[str] = Field(
        default_factory=list,
        description="MQTT users (devices) to create in the hub mosquitto's password file; "
        "each gets data_dir/secrets/<user>.pass.",
    )
    broker_max_connections: int = Field(
        default=256, ge=16, le=1_000_000,
        description="MQTT connections the hub's broker front (HAProxy) keeps open in all (devices + workers "
        "+ alert readers); every one holds file descriptors and memory, so it bounds what a connection "
        "flood can take. mosquitto behind it accepts 64 more (the hub's own clients).",
    )
    broker_max_per_address: int = Field(
        default=16, ge=1, le=100_000,
        description="MQTT connections the broker front keeps open from one source address; more are "
        "refused (and logged in data_dir/broker/haproxy.log). Raise it for devices behind one NAT.",
    )
    broker_connect_timeout_s: float = Field(
        default=5.0, ge=0.5, le=60.0,
        description="Seconds a client has to send a complete, valid MQTT CONNECT to the broker front; "
        "a silent or trickling socket is closed then.",
    )
    broker_certfile: Path | None = Field(default=None, description="TLS cert for the hub's mosquitto.")
    broker_keyfile: Path | None = None
    mqtt: MqttConfig = Field(
        default_factory=lambda: MqttConfig(homeassistant=False),
        description="How the hub connects to an external broker (prefix, user, TLS).",
    )
    client_id: str = Field(default="camaudit-hub")
    shared: bool = Field(
        default=False,
        description="Link in the shared store and join the workers' shared subscription group "
        "(automatic once a worker ran on this store); see `camaudit hub --worker`.",
    )
    group: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="MQTT shared subscription group of the hub's workers ($share/<group>/...); "
        "default: on the hub's own mosquitto a random name kept in data_dir/broker/group (a device "
        "must not be able to join it), on a site's broker camaudit-hub.",
    )

    @property
    def worker_group(self) -> str:
        if self.group:
            return self.group
        if self.broker is None:
            from camaudit.hub.broker.files import worker_group

            return worker_group(self.data_dir)
        return "camaudit-hub"
    listen: str = Field(default="127.0.0.1:8080", description="host:port of the web page.")
    token: str | None = Field(
        default=None, min_length=22,
        description="Web login token, >= 22 characters (128 bits as `secrets.token_urlsafe(16)`); "
        "default: generated, kept in data_dir.",
    )
    trust_on_first_use: bool = Field(
        default=False, description="Enroll an unknown device by the key it announces (not by default)."
    )
    max_message_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    web: bool = Field(default=True, description="Serve the web page.")
    public: PublicConfig = Field(default_factory=PublicConfig,
                                 description="The public notice pages (docs/public-page.md).")
    timezone: str = Field(
        default="UTC",
        description="IANA time zone of the venue: the web page shows every time in it, zone named.",
    )
    venue: str | None = Field(
        default=None, max_length=200,
        description="The venue's name, shown on every page (default: the venues the devices name).",
    )
    timestamps: TimestampsConfig = Field(
        default_factory=TimestampsConfig,
        description="RFC 3161 time-stamp authorities the hub asks for a token over each device's newest "
        "checkpoint (none by default: nothing is sent anywhere unless listed).",
    )
    retention: str | None = Field(
        default=None,
        description="Retention profile (trust/retention.py: edpb-72h, at-72h, de-48h, fr-1month, es-1month, "
        "uk-31d): the hub deletes records and evidence frames older than its period, with a signed record. "
        "Default: the hub keeps everything (as before), unless retention_days is given.",
    )
    retention_days: int | None = Field(
        default=None, ge=1, le=3650, description="Retention period in days, instead of a profile.",
    )

    @model_validator(mode="after")
    def _one_retention(self) -> HubConfig:
        if self.retention is not None and self.retention_days is not None:
            raise ValueError("give retention (a profile) or retention_days, not both")
        return self

    @field_validator("retention")
    @classmethod
    def _profile(cls, v: str | None) -> str | None:
        from camaudit.trust.retention import PRESETS

        if v is not None and v not in PRESETS:
            raise ValueError(f"unknown retention profile {v!r}; one of {', '.join(PRESETS)}")
        return v

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        from camaudit.core.policy import load_timezone

        load_timezone(v)  # ValueError names the zone
        return v

    @field_validator("listen", "broker_listen")
    @classmethod
    def _hostport(cls, v: str) -> str:
        host, sep, port = v.rpartition(":")
        if not sep or not host or not port.isdigit() or int(port) > 65535:
            raise ValueError("use host:port, e.g. 127.0.0.1:8080")
        return v

    @field_validator("broker")
    @classmethod
    def _broker_url(cls, v: str | None) -> str | None:
        if v is not None:
            MqttConfig(url=v)  # same URL rules as the device
        return v

    @field_validator("db")
    @classmethod
    def _db(cls, v: str | None) -> str | None:
        if v is None:
            return None
        if "://" in v:
            scheme = v.split("://", 1)[0]
            if scheme not in ("postgresql", "postgres"):
                raise ValueError(f"{scheme}:// is not a hub store; use a SQLite file path or postgresql://...")
            from urllib.parse import urlsplit

            try:
                urlsplit(v).port  # noqa: B018  (a bad port raises)
            except ValueError:
                from camaudit.hub.store.sql import redact

                raise ValueError(f"bad PostgreSQL URL {redact(v)}") from None
        elif not v.strip():
            raise ValueError("empty path")
        else:
            from camaudit.hub.store.sql import DSN_REFUSED, dsn_like, redact

            if dsn_like(v):
                raise ValueError(DSN_REFUSED.format(redact(v)))
        return v

    @property
    def db_target(self) -> Path | str:
        """The hub store: a SQLite file path or a postgresql:// URL."""
        if self.db is None:
            return self.data_dir / "hub.db"
        return self.db if "://" in self.db else Path(self.db)

    @property
    def db_is_url(self) -> bool:
        return isinstance(self.db_target, str)

    @property
    def db_where(self) -> str:
        """The store as a message may name it (a URL's password redacted)."""
        from camaudit.hub.store.sql import redact

        return redact(str(self.db_target))

    @property
    def db_path(self) -> Path:
        """The SQLite file (HubError-free callers that need a file; see db_target)."""
        target = self.db_target
        if isinstance(target, str):
            raise ConfigError(f"hub store {self.db_where} is not a SQLite file")
        return target


def split_hostport(v: str) -> tuple[str, int]:
    host, _, port = v.rpartition(":")
    return host.strip("[]"), int(port)


def load_hub_config(path: Path) -> HubConfig:
    from camaudit.config.loader import format_validation_error

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: the hub config must be a mapping")
    data = data.get("hub", data)
    try:
        return HubConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, str(path), {})) from None

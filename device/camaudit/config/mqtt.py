"""`mqtt:` section: where the device publishes its events (owned by the MQTT work)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from camaudit.config.base import Section


class MqttConfig(Section):
    url: str = Field(default="mqtt://127.0.0.1:1883", description="mqtt:// or mqtts://host:port")
    prefix: str = Field(
        default="camaudit",
        pattern=r"^[A-Za-z0-9_./-]{1,64}$",
        description="MQTT topic prefix: 1-64 letters, digits, '_', '.', '/' or '-'.",
    )
    username: str | None = None
    password_file: str | None = Field(
        default=None, description="File holding the MQTT password (first line; keep it 0600)."
    )
    ca_file: str | None = Field(
        default=None, description="CA bundle for mqtts:// (default: the system trust store)."
    )
    cert_file: str | None = Field(default=None, description="Client certificate (optional).")
    key_file: str | None = Field(default=None, description="Client certificate key (optional).")
    insecure: bool = Field(
        default=False, description="Skip TLS host name / chain checks (tests only, never in production)."
    )
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    max_inflight: int = Field(
        default=1000, ge=1, le=100_000, description="Events sent but not yet acked by the hub."
    )
    ack_timeout_s: float = Field(
        default=10.0, gt=0, description="Re-send unacked events when the hub stays silent this long."
    )
    homeassistant: bool = Field(default=True, description="Publish Home Assistant discovery configs.")
    discovery_prefix: str = Field(default="homeassistant")

    @field_validator("url")
    @classmethod
    def _url_ok(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError("use mqtt://host:port or mqtts://host:port")
        if not parts.hostname:
            raise ValueError("the URL has no host name")
        try:
            _ = parts.port
        except ValueError as exc:
            raise ValueError(f"bad port: {exc}") from None
        return v

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme in ("mqtts", "ssl")

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or (8883 if self.tls else 1883)

    def password(self) -> str | None:
        """The password read from `password_file` (first line, stripped), or None."""
        if not self.password_file:
            return None
        from camaudit.errors import ConfigError

        try:
            text = Path(self.password_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{self.password_file}: cannot read MQTT password file: {exc}") from None
        lines = text.splitlines()
        return lines[0].strip() if lines else ""

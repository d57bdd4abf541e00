"""Wiring: the consent Policy (pure, core/policy.py) built from a validated Config.

Lives here, not in core, so that core never imports config (config imports core's
parse_hours/Release; the reverse would close an import circle)."""

from __future__ import annotations

from camaudit.config.model import Config
from camaudit.core.policy import NoticeRule, Policy, parse_hours
from camaudit.errors import ConfigError


def policy_from_config(cfg: Config) -> Policy:
    """Build from a validated Config (no I/O; time zone data comes from the system).

    The Config model already checks feed references; ConfigError here is for what it
    cannot check: the venue time zone."""
    rules = [
        NoticeRule(
            id=nid,
            covers=frozenset(n.covers),
            hours=parse_hours(n.hours) if n.hours else None,
        )
        for nid, n in cfg.notices.items()
    ]
    zones = {name: [list(p) for p in f.privacy_zones] for name, f in cfg.feeds.items()}
    releases = [r.to_release() for r in cfg.releases]
    try:
        return Policy(rules, zones, cfg.device.timezone, releases)
    except ValueError as exc:
        raise ConfigError(f"device.timezone: {exc}") from None

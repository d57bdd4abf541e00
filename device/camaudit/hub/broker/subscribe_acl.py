"""The bound on subscriptions: the hub's mosquitto loads plugin/camaudit_subscribe_acl.c.

mosquitto 2.0's acl_file grants every SUBSCRIBE (it checks only when delivering), so a device
could hold any number of subscriptions in the broker's memory. The plugin (built into
`<venv>/lib/camaudit/` by scripts/build-broker-plugin.sh) lets a device subscribe only to
the exact filters of `device_filters` (%u: its user name), the `alerts` user only to every
device's alerts, and defers the hub's own users and its workers (the file of their names,
re-read on SIGHUP) to the acl_file. Everything else is refused (SUBACK 0x80 / "not
authorized"): no wildcard, no `$share/`. So a device holds at most len(device_filters)
subscriptions.

With `passwd_file` it also evens out the cost of a refused login: a name not in the broker's
password file pays one dummy PBKDF2-SHA512, as a known name pays mosquitto's real check, so
the time to the refusal does not tell which device ids exist (docs/hub-security.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

from camaudit.hub.broker.files import ALERTS_USER, GUARD_USER, HUB_USER
from camaudit.hub.store.hub_store import HubError
from camaudit.mqtt import topics

PLUGIN_NAME = "camaudit_subscribe_acl.so"


def plugin_path() -> Path:
    """Where scripts/build-broker-plugin.sh puts the plugin for this Python environment."""
    return Path(sys.prefix) / "lib" / "camaudit" / PLUGIN_NAME


def device_filters(prefix: str) -> list[str]:
    """What a device subscribes to (mqtt/publisher.py), %u for its user name."""
    return [topics.ack(prefix, "%u"), topics.replay(prefix, "%u"), topics.evidence_ack(prefix, "%u")]


def config_lines(prefix: str, workers_file: Path, plugin: Path | None = None,
                 passwd_file: Path | None = None) -> list[str]:
    """mosquitto.conf lines (global section) loading the plugin; HubError if it is missing.

    With `passwd_file` (the broker's password file) the plugin also evens out the cost of a
    refused login: a name not in the file pays one dummy PBKDF2-SHA512, as a known one pays
    the real check (docs/hub-security.md, "User enumeration by CONNECT timing")."""
    so = plugin or plugin_path()
    if not so.is_file():
        raise HubError(f"{so} is missing: the hub's mosquitto needs it to bound subscriptions; build it with "
                       f"`scripts/build-broker-plugin.sh {sys.prefix}` in the camaudit checkout (needs gcc, "
                       "libc6-dev, mosquitto-dev, libmosquitto-dev, libssl-dev; deploy.sh --hub does it), "
                       "or start the hub with --broker URL")
    return [f"plugin {so}", f"plugin_opt_trusted {HUB_USER} {GUARD_USER}", f"plugin_opt_trusted_file {workers_file}",
            *(f"plugin_opt_allow {f}" for f in device_filters(prefix)),
            f"plugin_opt_allow.{ALERTS_USER} {topics.all_alerts(prefix)}",
            *([f"plugin_opt_passwd_file {passwd_file}"] if passwd_file is not None else [])]

"""MQTT topic names and filters: validation, matching, and a subscription index (pure)."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

S = TypeVar("S", bound=Hashable)


def valid_topic(topic: str) -> bool:
    """A topic a client may publish to: non-empty, no wildcards, no U+0000."""
    return bool(topic) and "+" not in topic and "#" not in topic and "\x00" not in topic


def valid_filter(f: str) -> bool:
    """A subscription filter: `+` fills a whole level, `#` only as the whole last level."""
    if not f or "\x00" in f:
        return False
    levels = f.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            return False
        if "+" in level and level != "+":
            return False
    return True


def is_wild(f: str) -> bool:
    return "+" in f or "#" in f


def matches(f: str, topic: str) -> bool:
    """Whether filter `f` matches `topic`; topics starting with `$` are not matched by a
    filter starting with a wildcard (MQTT 3.1.1, 4.7.2)."""
    return _match(f.split("/"), topic)


def _match(levels: list[str], topic: str) -> bool:
    if topic[:1] == "$" and levels[0] in ("+", "#"):
        return False
    parts = topic.split("/")
    for i, level in enumerate(levels):
        if level == "#":
            return True
        if i >= len(parts) or (level != "+" and level != parts[i]):
            return False
    return len(levels) == len(parts)


class SubscriptionIndex(Generic[S]):
    """filter -> {subscriber: granted qos}; exact filters are looked up, wildcards scanned."""

    def __init__(self) -> None:
        self._exact: dict[str, dict[S, int]] = {}
        self._wild: dict[str, tuple[list[str], dict[S, int]]] = {}

    def __len__(self) -> int:
        return sum(len(d) for d in self._exact.values()) + sum(len(d) for _, d in self._wild.values())

    def add(self, f: str, sub: S, qos: int) -> None:
        if is_wild(f):
            self._wild.setdefault(f, (f.split("/"), {}))[1][sub] = qos
        else:
            self._exact.setdefault(f, {})[sub] = qos

    def remove(self, f: str, sub: S) -> bool:
        """Drop `sub`'s subscription to `f`; whether it had one."""
        if is_wild(f):
            entry = self._wild.get(f)
            subs = entry[1] if entry else None
        else:
            subs = self._exact.get(f)
        if not subs or sub not in subs:
            return False
        del subs[sub]
        if not subs:
            if is_wild(f):
                del self._wild[f]
            else:
                del self._exact[f]
        return True

    def match(self, topic: str) -> dict[S, int]:
        """Every subscriber with a filter matching `topic`, at its highest granted qos."""
        out = dict(self._exact.get(topic, {}))
        for levels, subs in self._wild.values():
            if _match(levels, topic):
                for sub, qos in subs.items():
                    if qos > out.get(sub, -1):
                        out[sub] = qos
        return out

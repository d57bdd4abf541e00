"""Trusted time on the hub: RFC 3161 tokens over the checkpoints devices send.

Each round (`stamp_checkpoints`), for every device, the newest checkpoint record the hub
stores that no token stamps yet is sent to every configured authority (hub config
`timestamps.urls`, none by default); each answer, checked against our hash and nonce
(trust.tsa_client), is kept in the hub store (table `hub_tokens`, schema v4) under the
name a pack carries (trust.token_store.token_name). A token over a checkpoint's hash
proves the device's records up to that seq existed by the token's time. Hub packs carry
the tokens over their records under timestamps/, and `camaudit verify --tsa-cert` checks
them (trust.pack_time)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from camaudit.hub.store.records import _text
from camaudit.hub.store.sql import Sql
from camaudit.trust.token_store import token_name
from camaudit.trust.tsa import TokenError
from camaudit.trust.tsa_client import request_token

log = logging.getLogger(__name__)


def unstamped(sql: Sql) -> list[tuple[str, int, str]]:
    """(device, seq, hash) of each device's newest checkpoint after its newest stamped one."""
    with sql.lock:
        rows = sql.execute(
            "SELECT e.device, MAX(e.seq) FROM events e WHERE e.type = 'checkpoint' AND e.seq > "
            "COALESCE((SELECT MAX(t.seq) FROM hub_tokens t WHERE t.device = e.device), 0) GROUP BY e.device "
            "ORDER BY e.device").fetchall()
        out = []
        for dev, seq in rows:
            h = sql.execute("SELECT hash FROM events WHERE device = ? AND seq = ?", (dev, seq)).fetchone()
            if h is not None:
                out.append((str(dev), int(seq), _text(h[0])))
    return out


def stamp_checkpoints(sql: Sql, urls: Sequence[str], *, timeout_s: float = 10.0) -> tuple[int, list[str]]:
    """One round: (tokens stored, one error line per failed request). An authority that
    cannot be reached costs a warning, never a record."""
    if not urls:
        return 0, []
    stored, errors = 0, []
    for device, seq, h in unstamped(sql):
        for url in urls:
            try:
                der, facts = request_token(url, h, timeout_s=timeout_s)
            except TokenError as exc:
                errors.append(f"{device} seq {seq}: {exc}")
                log.warning("checkpoint %s seq %d not stamped: %s", device, seq, exc)
                continue
            with sql.lock:
                sql.execute("INSERT INTO hub_tokens (device, seq, name, url, der) VALUES (?,?,?,?,?) "
                            "ON CONFLICT (device, name) DO NOTHING", (device, seq, token_name(seq, der), url, der))
            stored += 1
            log.info("checkpoint %s seq %d stamped by %s", device, seq, facts.authority)
    return stored, errors


def tokens_of(sql: Sql, device: str, lo: int, hi: int) -> dict[str, bytes]:
    """name -> DER of the stored tokens over `device`'s records lo..hi (a pack's span)."""
    with sql.lock:
        rows = sql.execute("SELECT name, der FROM hub_tokens WHERE device = ? AND seq >= ? AND seq <= ? "
                           "ORDER BY seq, name", (device, lo, hi)).fetchall()
    return {str(n): bytes(d) for n, d in rows}

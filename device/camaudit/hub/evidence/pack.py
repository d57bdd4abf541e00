"""`camaudit hub export DEVICE`: an evidence pack of one device, built from what the hub
stored (the records exactly as the device signed them), the manifest signed by the hub's
own key. Evidence frames the device sent (feeds with `send_evidence: true`) are carried as the hub
stored them (hub/evidence/inbox.py: the hub's own JPEG of its pixelation of the device's safe
view, never the device's bytes), each as evidence/<hub sha256>.jpg, with hub_frames.json
mapping the device-signed sha256 to it; the manifest (hub key) signs that map, and verify
says the frames are the hub's re-encodings. The others are listed as kept on the device.
`camaudit verify PACK --hub-key HUB_KEY` proves such a pack (the hub key vouches
that it holds every record of the span; each record is still checked against the device
key); without the hub key pinned, verify says its origin is unproven (exit 3)."""

from __future__ import annotations

from pathlib import Path

from camaudit.core.record import Event
from camaudit.errors import JournalError
from camaudit.hub.custody.packs import ExportBy, export_run
from camaudit.hub.custody.prune import deletion_naming
from camaudit.hub.custody.stamps import tokens_of
from camaudit.hub.store.hub_store import HubStore
from camaudit.hub.store.sql import Sql
from camaudit.store.keys import load_key
from camaudit.store.pack import PackSummary, build_pack, check_pack_args, evidence_refs


def export_hub_pack(
    db: Path | str | HubStore,
    hub_key: Path,
    device: str,
    out: Path,
    *,
    since_ms: int | None = None,
    until_ms: int | None = None,
    feed: str | None = None,
    now_ms: int,
    custody: ExportBy | None = None,
) -> PackSummary:
    """Write `device`'s records with since_ms <= ts <= until_ms from the hub store `db` (an
    open HubStore, a SQLite file or a `postgresql://` URL). `custody`: who exports, recorded
    in the custody log before the pack is written (the pack carries that entry)."""
    out = Path(out)
    check_pack_args(out, since_ms, until_ms)
    key = load_key(hub_key)
    store = db if isinstance(db, HubStore) else HubStore(db, must_exist=True)
    try:
        _refuse_open_fork(store, device, since_ms, until_ms)
        span = store.export_span(device, since_ms, until_ms)
        frames = _frames(store.sql, device, [text for _, text in span[2]]) if span is not None else {}
        tokens = tokens_of(store.sql, device, span[2][0][0], span[2][-1][0]) if span is not None else {}
        pruned = deletion_naming(store.sql, device, span[2][0][0] - 1) if span is not None else None
    finally:
        if store is not db:
            store.close()
    if span is None:
        raise JournalError(f"export: the hub holds no record of {device} in that time span")
    public_key, head, rows = span
    lo = rows[0][0]
    for expected, (seq, _) in enumerate(rows, lo):
        if seq != expected:
            raise JournalError(
                f"export: the hub is missing seq {expected}..{seq - 1} of {device} "
                "(not replayed yet); export a span before or after it"
            )
    run = export_run(custody, device, out, since_ms=since_ms, until_ms=until_ms, feed=feed,
                     first_ts=Event.from_json(rows[0][1]).ts)
    return build_pack(
        out,
        device=device,
        public_key=public_key,
        lines=[text for _, text in rows],
        signer=key,
        signed_by="hub",
        evidence_dir=None,
        hub_frames=frames,
        feed=feed,
        since_ms=since_ms,
        until_ms=until_ms,
        now_ms=now_ms,
        head_seq=head,
        custody=run,
        timestamps=tokens,
        hub_deletion=pruned,
    )


def fork_refusal(device: str, fork_seq: int) -> str:
    """The one line an export, a web export or a subject check of a forked span stops with."""
    return (f"export: {device}'s history is forked from seq {fork_seq} (two validly signed versions, "
            "e.g. a cloned SD card) and this span is touched by the fork; no pack is signed until an "
            f"operator resolves it: camaudit hub resolve-fork {device} --keep stored|quarantined")


def _refuse_open_fork(store: HubStore, device: str, since_ms: int | None, until_ms: int | None) -> None:
    fork_seq = store.fork_in_span(device, since_ms, until_ms)
    if fork_seq is not None:
        raise JournalError(fork_refusal(device, fork_seq))


def _frames(sql: Sql, device: str, lines: list[str]) -> dict[str, bytes]:
    """The evidence frames of `device` the hub stored that these records name (a hub store
    from before evidence frames has no such table: none)."""
    from camaudit.hub.evidence.inbox import EvidenceStore

    wanted: set[str] = set()
    for line in lines:
        wanted.update(evidence_refs(Event.from_json(line)))
    if not wanted:
        return {}
    store = EvidenceStore(sql)  # creates the table if this store predates evidence frames
    out: dict[str, bytes] = {}
    for digest in sorted(wanted):
        data = store.data_of(device, digest)
        if data is not None:
            out[digest] = data
    return out

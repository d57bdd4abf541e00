"""Privacy check on what the HUB stores, serves and packs (issue 20: "bench/privacy.py on
hub-stored frames still finds 0 faces").

Sources:
- every clip in ../shared/data/videos: the real device runs on it with evidence on
  (bench/privacy.py's run_device: `camaudit run` with `evidence: blurred`); every evidence
  frame its signed capture records name is sent, as the device's bytes, to the hub;
- the five attack frames of tests/hub/test_hub_evidence_safe.py (bench/_common/
  evidence_attacks.py, built from frame 5 of the head-pose clip), each named by a capture
  record signed with a device key;
- a larger honest sample (the device keeps one frame per capture: four frames over the
  eight clips): the device's own evidence code (save_evidence, boxes from the shipped
  detector) on every --step-th raw frame of each clip.

The hub path is the real one, in this process: a hub store (SQLite file), the hub's
evidence inbox built as `camaudit hub` builds it (hub/run.py: shipped FaceCheck on), each
frame given to `EvidenceInbox.handle` (what the inbox thread runs for every message on
`<p>/+/evidence/+/+`); then the bytes the hub STORES (the evidence store), SERVES
(GET /evidence/DEVICE/SHA.jpg?capture=C on the hub's web app, logged in) and PACKS
(`camaudit hub export`'s export_hub_pack: evidence/<hub sha>.jpg via hub_frames.json, the
pack checked with verify_pack and the hub key).

Both detectors of bench/privacy.py (CenterFace fp32 >= 0.4, FaceDetectorYN fp32 >= 0.5,
a face counts when its box is >= 20 px high) look at every stored, served and packed image
(identical bytes are detected once: the detectors are deterministic). Per source it prints:
frames sent, accepted, refused by reason, stored, served, packed, faces found by each
detector in the device's frames ("sent"; for a polyglot also in the image it hides) and in
what the hub stores / serves / packs, and how many stored / served / packed frames are the
device's bytes unchanged (must be 0).

    .venv/bin/python bench/hub_privacy.py [--videos DIR] [--clips NAME,...] [--step 15] [--no-attacks] [--json]
    .venv/bin/python bench/privacy.py --hub [same options]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.privacy import VIDEOS, camaudit_device, detectors, faces  # noqa: E402

PREFIX = "camaudit"
TOKEN = "hub-privacy-bench-token-0123456789"
ATTACK_CLIP = "intel_head-pose-face-detection-female-and-male.gif"
ATTACK_FRAME = 5  # the frame tests/hub/test_hub_evidence.py's real_frame() reads
CLIP_SUFFIXES = {".mp4", ".avi", ".gif"}


@dataclass
class Sent:
    """One frame given to the hub: the device's bytes and the capture record naming it."""

    name: str  # the source (clip name or attack name)
    seq: int
    capture: str
    sha: str
    data: bytes


@dataclass
class Outcome:
    sent: Sent
    result: str  # 'stored', 'duplicate' or the reject reason
    stored: bytes | None = None
    served: bytes | None = None
    served_status: int = 0
    packed: bytes | None = None


@dataclass
class HubRun:
    outcomes: list[Outcome] = field(default_factory=list)
    pack_verified: bool | None = None
    pack_summary: str = ""


def journal_frames(db: Path, device: str, evidence_dir: Path, name: str) -> tuple[list[Any], list[Sent]]:
    """(every event of the device's journal, every evidence frame its capture records name)."""
    from camaudit.store.journal import Journal

    with Journal.open(db, device) as j:
        events = j.events()
    out: list[Sent] = []
    seen: set[str] = set()
    for ev in events:
        if not ev.type.startswith("capture."):
            continue
        for ref in ev.body.get("evidence") or []:
            sha = str(ref).removeprefix("sha256:")
            if sha in seen:
                continue
            seen.add(sha)
            out.append(Sent(name, ev.seq, str(ev.body["capture"]), sha, (evidence_dir / f"{sha}.jpg").read_bytes()))
    return events, out


def through_hub(work: Path, device: str, public_hex: str, events: list[Any], frames: list[Sent]) -> HubRun:
    """Give every frame to a real hub's evidence inbox; read back what it stores, serves and packs."""
    from fastapi.testclient import TestClient

    from camaudit.errors import VerifyError
    from camaudit.hub.evidence.inbox import EventLookup, EvidenceInbox, EvidenceStore, FaceCheck
    from camaudit.hub.evidence.pack import export_hub_pack
    from camaudit.hub.store.hub_store import HubStore
    from camaudit.hub.store.sql import open_sql
    from camaudit.hub.web.app import create_app
    from camaudit.hub.web.live import LiveAlerts
    from camaudit.store.keys import load_or_create_key
    from camaudit.store.pack_verify import verify_pack

    now = int(time.time() * 1000)
    store = HubStore(work / "hub.db")
    store.enroll(device, public_hex)
    store.write_batch([(ev, ev.to_json(), now) for ev in events], {}, {}, {}, [])
    sql = open_sql(work / "hub.db")
    # as hub/run.py's _evidence_inbox builds it (the shipped detector as the second check)
    inbox = EvidenceInbox(
        EvidenceStore(sql), EventLookup(sql), PREFIX,
        publish=lambda topic, payload, qos=1: None,
        count_rejects=lambda rejects: store.write_batch([], {}, {}, rejects, []),
        face_check=FaceCheck(),
    )
    run = HubRun()
    for f in frames:
        topic = f"{PREFIX}/{device}/evidence/{f.seq}/{f.sha}"
        o = Outcome(f, inbox.handle(topic, f.data, len(f.data), now))
        o.stored = inbox.store.data(device, f.capture, f.sha)
        run.outcomes.append(o)
    key = work / "hub.key"
    hub_pub = load_or_create_key(key).public_hex
    app = create_app(store, TOKEN, LiveAlerts(), hub_key=key, evidence=EvidenceStore(sql))
    with TestClient(app) as web:
        for o in run.outcomes:
            r = web.get(f"/evidence/{device}/{o.sent.sha}.jpg", params={"capture": o.sent.capture},
                        headers={"Authorization": f"Bearer {TOKEN}"})
            o.served_status = r.status_code
            o.served = r.content if r.status_code == 200 else None
    if any(o.stored is not None for o in run.outcomes):
        pack = work / "hub-pack.zip"
        export_hub_pack(store, key, device, pack, now_ms=now)
        with zipfile.ZipFile(pack) as z:
            mapping = json.loads(z.read("hub_frames.json"))["frames"]
            for o in run.outcomes:
                if o.sent.sha in mapping:
                    o.packed = z.read(f"evidence/{mapping[o.sent.sha]}.jpg")
        try:
            report = verify_pack(pack, hub_key=bytes.fromhex(hub_pub))
        except VerifyError as exc:  # a finding, printed with the row: the hub signed a pack verify refuses
            run.pack_verified, run.pack_summary = False, str(exc).replace(str(pack), "hub-pack.zip")
        else:
            run.pack_verified = bool(report.proven)
            run.pack_summary = report.summary().splitlines()[0] if report.summary() else ""
    store.close()
    return run


class Looker:
    """Faces found by each detector in an image, detected once per distinct bytes."""

    def __init__(self, dets: list[Any]) -> None:
        self.dets = dets
        self._memo: dict[str, dict[str, int]] = {}

    def jpeg(self, data: bytes) -> dict[str, int]:
        import cv2

        key = hashlib.sha256(data).hexdigest()
        if key not in self._memo:
            img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            if img is None:
                raise SystemExit(f"an image the hub keeps does not decode (sha256 {key})")
            self._memo[key] = self.image(img)
        return self._memo[key]

    def image(self, img: np.ndarray) -> dict[str, int]:
        return {d.name: faces(d, img) for d in self.dets}


def row_of(source: str, run: HubRun, look: Looker, hidden: dict[str, np.ndarray | None] | None = None) -> dict[str, Any]:
    """The per-source counts (see the module's doc)."""
    names = [d.name for d in look.dets]

    def total(kind: str) -> dict[str, int]:
        n = dict.fromkeys(names, 0)
        for o in run.outcomes:
            data = o.sent.data if kind == "sent" else getattr(o, kind)
            if data is not None:
                for k, v in look.jpeg(data).items():
                    n[k] += v
        return n

    results = Counter(o.result for o in run.outcomes)
    refused = {r: n for r, n in sorted(results.items()) if r not in ("stored", "duplicate")}
    row: dict[str, Any] = {
        "source": source,
        "sent": len(run.outcomes),
        "accepted": results["stored"] + results["duplicate"],
        "refused": refused,
        "stored": sum(o.stored is not None for o in run.outcomes),
        "served": sum(o.served is not None for o in run.outcomes),
        "packed": sum(o.packed is not None for o in run.outcomes),
        "faces_in_sent": total("sent"),
        "faces_in_stored": total("stored"),
        "faces_in_served": total("served"),
        "faces_in_packed": total("packed"),
        "device_bytes_kept": sum(
            any(b == o.sent.data for b in (o.stored, o.served, o.packed)) for o in run.outcomes),
        "served_is_stored": all(o.served == o.stored for o in run.outcomes),
        "packed_is_stored": all(o.packed == o.stored for o in run.outcomes if o.packed is not None),
        "pack_verified": run.pack_verified,
        "pack_verify_says": run.pack_summary,
    }
    if hidden is not None:
        n = dict.fromkeys(names, 0)
        for img in hidden.values():
            if img is not None:
                for k, v in look.image(img).items():
                    n[k] += v
        row["faces_hidden_in_sent"] = n
    return row


def clip_source(clip: Path, look: Looker) -> dict[str, Any]:
    from camaudit.store.journal import Journal

    with tempfile.TemporaryDirectory(prefix="camaudit-hubprivacy-") as tmp:
        work = Path(tmp)
        device = camaudit_device(clip, work)
        with Journal.open(work / "journal.db", device) as j:
            public_hex = j.public_key.hex()
        events, frames = journal_frames(work / "journal.db", device, work / "evidence", clip.name)
        hub = work / "hub"
        hub.mkdir()
        run = through_hub(hub, device, public_hex, events, frames)
        return row_of(clip.name, run, look)


def signed_through_hub(work: Path, device: str, items: list[tuple[str, bytes]]) -> HubRun:
    """Each (source name, frame bytes) named by a signed capture record of a fresh journal of
    `device`, then all of them through one hub in `work`/hub."""
    from camaudit.store.journal import Journal

    base = 1795651200000
    with Journal.open(work / "journal.db", device) as j:
        public_hex = j.public_key.hex()
        frames = []
        for i, (name, data) in enumerate(items):
            sha = hashlib.sha256(data).hexdigest()
            capture = f"c-{i + 1:06d}"
            body = {"capture": capture, "start": base + i, "end": base + i, "verdict": "unconsented",
                    "reasons": ["no_notice"], "basis": None, "evidence": [f"sha256:{sha}"]}
            ev = j.append("capture.end", "cam", body, base + i)
            frames.append(Sent(name, ev.seq, capture, sha, data))
        events = j.events()
    hub = work / "hub"
    hub.mkdir()
    return through_hub(hub, device, public_hex, events, frames)


def sample_source(clip: Path, step: int, look: Looker, det: Any) -> dict[str, Any]:
    """The larger honest sample: the device's own evidence code (pipeline/evidence.py's
    save_evidence, boxes from the shipped detector at its default threshold) on every
    `step`-th raw frame of `clip`, each named by a signed capture record, through the hub."""
    from bench.privacy import raw_frames
    from camaudit.pipeline.evidence import save_evidence

    with tempfile.TemporaryDirectory(prefix="camaudit-hubprivacy-") as tmp:
        work = Path(tmp)
        items = []
        for img in raw_frames(clip, step):
            sha = save_evidence(img, det.detect(img), work / "evidence").removeprefix("sha256:")
            items.append((clip.name, (work / "evidence" / f"{sha}.jpg").read_bytes()))
        run = signed_through_hub(work, "sampler", items)
        return row_of(f"{clip.name}, device safe view of every {step}th frame", run, look)


def attack_rows(videos: Path, look: Looker, only: list[str] | None = None) -> list[dict[str, Any]]:
    """One row per attack frame (bench/_common/evidence_attacks.py), all through one hub."""
    from bench._common.clip_frames import frame_at
    from bench._common.evidence_attacks import ATTACKS, attack_frames, hidden_image

    frame = frame_at(videos / ATTACK_CLIP, ATTACK_FRAME)
    attacks = {k: v for k, v in attack_frames(frame).items() if only is None or k in only}
    with tempfile.TemporaryDirectory(prefix="camaudit-hubprivacy-") as tmp:
        run = signed_through_hub(Path(tmp), "attacker", list(attacks.items()))
    rows = []
    for o in run.outcomes:
        one = HubRun([o], run.pack_verified, run.pack_summary)
        row = row_of(f"attack: {o.sent.name}", one, look, {o.sent.name: hidden_image(o.sent.name, o.sent.data)})
        rows.append(row)
    assert [r["source"] for r in rows] == [f"attack: {a}" for a in ATTACKS if a in attacks]
    return rows


def cf_yn(d: dict[str, int] | None) -> str:
    return "-" if d is None else " / ".join(str(v) for v in d.values())


def table(rows: list[dict[str, Any]], dets: list[Any]) -> str:
    lines = [
        f"faces counted when >= 20 px high; {dets[0].name} >= {dets[0].threshold}, "
        f"{dets[1].name} >= {dets[1].threshold} (CF / YN)",
        "| source | sent | accepted | refused (reason) | stored / served / packed | faces in sent CF / YN "
        "| hidden in sent CF / YN | faces in stored | in served | in packed | device bytes kept | pack verifies |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        refused = ", ".join(f"{n} {k}" for k, n in r["refused"].items()) or "0"
        pv = {None: "-", True: "yes", False: "NO"}[r["pack_verified"]]
        lines.append(
            f"| {r['source']} | {r['sent']} | {r['accepted']} | {refused} | "
            f"{r['stored']} / {r['served']} / {r['packed']} | {cf_yn(r['faces_in_sent'])} | "
            f"{cf_yn(r.get('faces_hidden_in_sent'))} | {cf_yn(r['faces_in_stored'])} | "
            f"{cf_yn(r['faces_in_served'])} | {cf_yn(r['faces_in_packed'])} | {r['device_bytes_kept']} | {pv} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=Path, default=VIDEOS)
    ap.add_argument("--clips", help="comma list of clip file names (default: every clip)")
    ap.add_argument("--attacks", help="comma list of attacks (default: all five)")
    ap.add_argument("--no-attacks", action="store_true")
    ap.add_argument("--no-clips", action="store_true")
    ap.add_argument("--step", type=int, default=15,
                    help="also send the device's safe view of every STEP-th raw frame (0: not)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)

    import cv2

    cv2.setNumThreads(1)
    t0 = time.monotonic()
    dets = detectors()
    look = Looker(dets)
    rows: list[dict[str, Any]] = []
    det: Any = None
    if not a.no_attacks:
        rows += attack_rows(a.videos, look, a.attacks.split(",") if a.attacks else None)
        for r in rows:
            print(json.dumps(r), file=sys.stderr, flush=True)
    if not a.no_clips:
        wanted = set(a.clips.split(",")) if a.clips else None
        for clip in sorted(p for p in a.videos.iterdir() if p.is_file() and p.suffix.lower() in CLIP_SUFFIXES):
            if wanted is None or clip.name in wanted:
                rows.append(clip_source(clip, look))
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
                if a.step > 0:
                    if det is None:
                        from camaudit.detect import load_detector

                        det = load_detector()
                    rows.append(sample_source(clip, a.step, look, det))
                    print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    total = {k: sum(r[f"faces_in_{k}"][d.name] for r in rows for d in dets) for k in ("stored", "served", "packed")}
    kept = sum(r["device_bytes_kept"] for r in rows)
    if a.json:
        print(json.dumps({"min_px": 20, "detectors": {d.name: d.threshold for d in dets}, "rows": rows,
                          "faces_in_hub_images": total, "device_bytes_kept": kept}, indent=1))
    else:
        print(table(rows, dets))
        for said in sorted({r["pack_verify_says"] for r in rows if r["pack_verified"] is False}):
            print(f"pack refused by verify: {said}")
        print(f"faces in what the hub stores / serves / packs: {total['stored']} / {total['served']} / "
              f"{total['packed']}; frames kept as the device's bytes: {kept} "
              f"({time.monotonic() - t0:.0f} s)")
    return 0 if not any(total.values()) and kept == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Evidence frames end to end: the real appliance (int8 model, real clips, its journal) sends the
blurred frames of a feed that opted in over the hub's own mosquitto; the hub stores the
device's bytes unchanged and shows them on the capture page behind its login; a feed that
did not opt in sends nothing; a frame made while the hub is down arrives after it is back;
a device cannot write another device's evidence topic."""

from __future__ import annotations

import hashlib
import json
import time
import zipfile
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from brokers import wait_for

from camaudit.config.model import Config
from camaudit.core.types import Detection
from camaudit.hub.broker.mosquitto import free_port
from camaudit.mqtt.evidence_sender import EvidenceSender
from camaudit.mqtt.publisher import Publisher
from camaudit.pipeline.evidence import save_evidence
from camaudit.pipeline.runner import run
from camaudit.store.evidence_outbox import EvidenceOutbox
from camaudit.store.journal import Journal
from camaudit.store.keys import load_or_create_key

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

VIDEOS = Path(__file__).resolve().parents[3] / "shared" / "data" / "videos"  # ../shared beside the repo
CLIP_A = VIDEOS / "intel_head-pose-face-detection-female-and-male.gif"
CLIP_B = VIDEOS / "intel_face-demographics-walking.gif"
T0 = 1795651200000


def need_clips() -> None:
    for c in (CLIP_A, CLIP_B):
        if not c.exists():
            pytest.skip(f"shared clip {c} not here")


def frames_named(db: Path) -> dict[str, dict[str, str]]:
    """feed -> {sha hex: capture} of every evidence frame the device's journal names."""
    out: dict[str, dict[str, str]] = {}
    with Journal.open(db, "dev1") as j:
        for ev in j.events():
            if ev.type.startswith("capture."):
                for ref in ev.body.get("evidence") or []:
                    out.setdefault(ev.feed or "", {})[ref[7:]] = ev.body["capture"]
    return out


def test_an_opted_in_feed_sends_its_frames_and_the_capture_page_shows_them(make_hub, tmp_path: Path) -> None:
    need_clips()
    hub = make_hub(web=True, broker_users=["dev1"])
    assert hub.wait_connected()
    data_dir = tmp_path / "dev1"
    hub.enroll("dev1", load_or_create_key(data_dir / "device.key").public_hex)
    cfg = Config.model_validate({
        "device": {"id": "dev1", "data_dir": str(data_dir)},
        "capture": {"idle_s": 1, "update_s": 5},
        "feeds": {
            "counter": {"source": str(CLIP_A), "fps": 5, "evidence": "blurred", "send_evidence": True},
            "door": {"source": str(CLIP_B), "fps": 5, "evidence": "blurred"},  # default: not sent
        },
        "mqtt": hub.device_mqtt("dev1").model_dump(),
    })
    t0 = time.monotonic()
    run(cfg, install_signals=False)
    run_s = time.monotonic() - t0
    named = frames_named(data_dir / "journal.db")
    assert named.get("counter") and named.get("door"), named  # both feeds kept frames on the device
    sent = named["counter"]
    inbox = hub.evidence
    wait_for(lambda: inbox.store.count("dev1") == len(sent), timeout=30, what="frames stored")
    time.sleep(1.0)  # nothing else arrives
    assert inbox.store.count("dev1") == len(sent)
    assert hub.store.rejects() == {}
    for sha, capture in sent.items():
        on_device = (data_dir / "evidence" / f"{sha}.jpg").read_bytes()
        on_hub = inbox.store.data("dev1", capture, sha)
        assert on_hub is not None and on_hub != on_device  # the hub's own re-encoding, never the device's bytes
        assert b"\xff\xe1" not in on_hub and on_hub.count(b"\xff\xd9") == 1
    for sha, capture in named["door"].items():
        assert inbox.store.data("dev1", capture, sha) is None
    # the device's outbox is empty: everything it queued was acked
    ob = EvidenceOutbox(data_dir / "journal.db", start_cursor=0)
    assert ob.counts() == {}
    ob.close()

    web = httpx.Client(base_url=hub.web_url, timeout=10)
    auth = {"Authorization": f"Bearer {hub.token}"}
    sha, capture = next(iter(sent.items()))
    url = f"/evidence/dev1/{sha}.jpg?capture={capture}"
    page = web.get(f"/capture/dev1/{capture}", headers=auth)
    assert page.status_code == 200
    assert f'src="{url.replace("&", "&amp;")}"' in page.text
    assert "whole frame pixelated" in page.text and "re-encoded by the hub" in page.text
    img = web.get(url, headers=auth)
    assert img.status_code == 200 and img.content == inbox.store.data("dev1", capture, sha)
    assert img.headers["content-type"] == "image/jpeg"
    assert "no-store" in img.headers["cache-control"] and "private" in img.headers["cache-control"]
    assert img.headers["x-content-type-options"] == "nosniff"
    # refused without a login; 404 for another capture, another device, or a frame not sent
    assert web.get(url).status_code == 401
    assert web.get(url, headers={"Authorization": "Bearer wrong-token-wrong-token"}).status_code == 401
    other_capture = next((c for c in named["door"].values() if c != capture), "c-999999")
    assert web.get(f"/evidence/dev1/{sha}.jpg?capture={other_capture}", headers=auth).status_code == 404
    assert web.get(f"/evidence/dev2/{sha}.jpg?capture={capture}", headers=auth).status_code == 404
    door_sha, door_capture = next(iter(named["door"].items()))
    assert web.get(f"/evidence/dev1/{door_sha}.jpg?capture={door_capture}", headers=auth).status_code == 404
    assert web.get(f"/evidence/dev1/{'0' * 63}.jpg?capture={capture}", headers=auth).status_code == 404
    # a feed that did not opt in: the page says the frames stay on the device
    door_page = web.get(f"/capture/dev1/{door_capture}", headers=auth).text
    assert door_sha in door_page and "stay on the device" in door_page and "<img" not in door_page
    web.close()
    # the hub's pack carries the frames it holds (byte for byte) and lists the others
    from camaudit.hub.evidence.pack import export_hub_pack
    from camaudit.store.keys import load_key
    from camaudit.store.pack_verify import verify_pack

    pack = tmp_path / "hub-pack.zip"
    s = export_hub_pack(hub.store.path, hub.data_dir / "hub.key", "dev1", pack, now_ms=int(time.time() * 1000))
    assert (s.evidence, s.missing_evidence) == (len(sent), len(named["door"]))
    r = verify_pack(pack, hub_key=bytes.fromhex(load_key(hub.data_dir / "hub.key").public_hex))
    assert r.proven and r.hub_frames == len(sent) and "re-encoded by the hub" in r.summary()
    with zipfile.ZipFile(pack) as z:
        mapping = json.loads(z.read("hub_frames.json"))["frames"]
        for sha, capture in sent.items():
            assert z.read(f"evidence/{mapping[sha]}.jpg") == inbox.store.data("dev1", capture, sha)
        assert not any(f"evidence/{sha}.jpg" in z.namelist() for sha in named["door"])
        html = z.read("report.html").decode()
    assert html.count('src="data:image/jpeg;base64,') == len(sent)
    print(f"run {run_s:.1f} s; frames sent {len(sent)}, kept {len(named['door'])}")


def make_frame(tmp: Path, i: int) -> str:
    img = np.full((270, 480, 3), 40 + i, np.uint8)
    cv2.circle(img, (240, 120), 50, (200, 180, 160), -1)
    return save_evidence(img, [Detection(190, 70, 100, 100, 0.9)], tmp)[7:]


def test_a_frame_made_while_the_hub_is_down_arrives_when_it_is_back(make_hub, tmp_path: Path) -> None:
    port = free_port()
    hub = make_hub(broker_listen=f"127.0.0.1:{port}", broker_users=["dev1"])
    assert hub.wait_connected()
    data_dir = tmp_path / "dev1"
    journal = Journal.open(data_dir / "journal.db", "dev1")
    hub.enroll("dev1", journal.public_key.hex())
    mqtt = hub.device_mqtt("dev1").model_copy(update={"ack_timeout_s": 1.0})
    outbox = EvidenceOutbox(data_dir / "journal.db", start_cursor=journal.head[0])
    sender = EvidenceSender(outbox, journal, data_dir / "evidence", ["counter"], ack_timeout_s=1.0)
    pub = Publisher(mqtt, journal, feeds=["counter"], evidence=sender)
    pub.start()
    try:
        wait_for(lambda: pub.connected, what="device connected")
        hub.stop()  # the whole hub, its mosquitto included
        wait_for(lambda: not pub.connected, what="device sees the hub gone")
        sha = make_frame(data_dir / "evidence", 1)
        body = {"capture": "c-000001", "start": T0, "end": T0 + 5000, "verdict": "unconsented",
                "reasons": ["no_notice"], "basis": None, "evidence": [f"sha256:{sha}"]}
        journal.append("capture.end", "counter", body, int(time.time() * 1000))
        pub.notify()
        time.sleep(1.5)
        assert pub.evidence_pending() == 1  # queued on the device, nothing lost
        hub2 = make_hub(broker_listen=f"127.0.0.1:{port}", broker_users=["dev1"])
        wait_for(lambda: hub2.evidence.store.count("dev1") == 1, timeout=60, what="frame after restart")
        assert hub2.evidence.store.data("dev1", "c-000001", sha) not in (None, (data_dir / "evidence" / f"{sha}.jpg").read_bytes())
        wait_for(lambda: pub.evidence_pending() == 0, what="the device's outbox row cleared by the ack")
    finally:
        pub.stop()
        journal.close()


def test_a_device_cannot_write_another_devices_evidence(make_hub, tmp_path: Path) -> None:
    from test_hub_isolation import Client, _auditor, _password

    hub = make_hub(broker_users=["dev1", "dev2"])
    assert hub.wait_connected()
    j1 = Journal.open(tmp_path / "dev1" / "journal.db", "dev1")
    hub.enroll("dev1", j1.public_key.hex())
    hub.enroll("dev2", Journal.open(tmp_path / "dev2" / "journal.db", "dev2").public_key.hex())
    sha = make_frame(tmp_path / "dev2" / "evidence", 2)
    data = (tmp_path / "dev2" / "evidence" / f"{sha}.jpg").read_bytes()
    # dev1's signed, stored event names the frame: only the topic's ACL stands in the way
    ev = j1.append("capture.end", "counter", {"capture": "c-1", "start": T0, "end": T0, "verdict": "consented",
                                               "reasons": [], "basis": "notice:x", "evidence": [f"sha256:{sha}"]}, T0)
    hub.store.write_batch([(ev, ev.to_json(), T0)], {}, {}, {}, [])
    hub.evidence.hold_s = 0.5  # dev2's control frame names a seq dev2 never sent: held, then refused
    audit = _auditor(hub)
    mallory = Client(hub.broker_url, "dev2", _password(hub, "dev2"), client_id="camaudit-dev2")
    mallory.publish(f"camaudit/dev1/evidence/{ev.seq}/{sha}", data)
    mallory.publish(f"camaudit/dev2/evidence/{ev.seq}/{sha}", data)  # control: its own topic is delivered
    wait_for(lambda: f"camaudit/dev2/evidence/{ev.seq}/{sha}" in {t for t, _ in audit.messages}, what="control")
    wait_for(lambda: hub.store.rejects().get("evidence_unreferenced") == 1, what="hub refused the control")
    time.sleep(0.5)
    assert f"camaudit/dev1/evidence/{ev.seq}/{sha}" not in {t for t, _ in audit.messages}
    assert hub.evidence.store.count() == 0
    # and no device may forge the hub's evidence ack to another device
    mallory.publish("camaudit/dev1/cmd/evidence_ack", sha.encode())
    time.sleep(0.5)
    assert "camaudit/dev1/cmd/evidence_ack" not in {t for t, _ in audit.messages}
    for c in (mallory, audit):
        c.close()
    j1.close()


def test_hostile_frames_over_mqtt_are_refused_and_counted(make_hub, tmp_path: Path) -> None:
    """The enrolled device itself sends forged, unreferenced, oversize and non-JPEG frames
    over the hub's mosquitto; the hub stores none, counts each, and keeps working."""
    from test_hub_isolation import Client, _password

    hub = make_hub(broker_users=["dev1"])
    assert hub.wait_connected()
    journal = Journal.open(tmp_path / "dev1" / "journal.db", "dev1")
    hub.enroll("dev1", journal.public_key.hex())
    ev_dir = tmp_path / "dev1" / "evidence"
    sha = make_frame(ev_dir, 3)
    data = (ev_dir / f"{sha}.jpg").read_bytes()
    not_jpeg = b"<svg xmlns='http://www.w3.org/2000/svg'/>" * 10
    nj_sha = hashlib.sha256(not_jpeg).hexdigest()
    big = data + b"\0" * (120_001 - len(data))  # over the hub's limit, under the broker's
    big_sha = hashlib.sha256(big).hexdigest()
    ev = journal.append("capture.end", "counter", {"capture": "c-1", "start": T0, "end": T0 + 1, "verdict": "consented",
                                                    "reasons": [], "basis": "notice:x",
                                                    "evidence": [f"sha256:{x}" for x in (sha, nj_sha, big_sha)]}, T0)
    other = journal.append("capture.end", "counter", {"capture": "c-2", "start": T0, "end": T0 + 1,
                                                       "verdict": "consented", "reasons": [], "basis": "notice:x",
                                                       "evidence": []}, T0)
    hub.store.write_batch([(e, e.to_json(), T0) for e in (ev, other)], {}, {}, {}, [])
    dev = Client(hub.broker_url, "dev1", _password(hub, "dev1"), client_id="camaudit-dev1")
    forged = bytearray(data)
    forged[-10] ^= 1
    sends = [
        (f"camaudit/dev1/evidence/{ev.seq}/{sha}", bytes(forged)),  # payload is not the topic's sha
        (f"camaudit/dev1/evidence/{other.seq}/{sha}", data),  # that record does not name it
        (f"camaudit/dev1/evidence/{ev.seq}/{nj_sha}", not_jpeg),
        (f"camaudit/dev1/evidence/{ev.seq}/{big_sha}", big),
    ]
    for topic, payload in sends:
        dev.publish(topic, payload)
    want = {"evidence_bad_sha": 1, "evidence_unreferenced": 1, "evidence_not_jpeg": 1, "evidence_oversize": 1}
    wait_for(lambda: hub.store.rejects() == want, timeout=30, what=f"rejects {want}")
    assert hub.evidence.store.count() == 0
    # the honest frame still goes through afterwards, and a packet over the broker's limit
    # is refused by mosquitto itself (the connection is closed, nothing reaches the hub)
    dev.publish(f"camaudit/dev1/evidence/{ev.seq}/{sha}", data)
    wait_for(lambda: hub.evidence.store.count() == 1, what="the honest frame stored")
    dev.c.publish(f"camaudit/dev1/evidence/{ev.seq}/{sha}", b"\0" * 140_000, qos=1)
    wait_for(lambda: dev.disconnects >= 1, timeout=10, what="broker closes an oversize packet")
    time.sleep(0.5)
    assert hub.store.rejects() == want
    dev.close()
    journal.close()

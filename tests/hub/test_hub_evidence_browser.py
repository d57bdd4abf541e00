"""The capture page with evidence frames the device sent, in Debian's Chromium (Playwright):
the frame (a real clip frame, faces found by the shipped int8 model, made safe by the device)
loads under the page's CSP, the privacy statement is next to it, no sideways scrolling on a
phone. Screenshots: artifacts/hub-capture-evidence-{desktop,phone}.png; the README's picture
docs/hub-capture-evidence.png when missing or with CAMAUDIT_UPDATE_DOCS=1."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import pytest
from brokers import wait_for
from hubdata import T5, fill
from test_hub_browser import ARTIFACTS, DESKTOP, DOCS, PHONE, _login, browser  # noqa: F401

from camaudit.detect import load_detector
from camaudit.mqtt.evidence_sender import EvidenceSender
from camaudit.mqtt.publisher import Publisher
from camaudit.pipeline.evidence import save_evidence
from camaudit.store.evidence_outbox import EvidenceOutbox

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

CLIP = (Path(__file__).resolve().parents[3] / "shared" / "data" / "videos"
        / "intel_head-pose-face-detection-female-and-male.gif")  # ../shared beside the repo


def test_capture_page_shows_the_frames_the_device_sent(make_hub, tmp_path: Path, browser) -> None:  # noqa: F811
    if not CLIP.exists():
        pytest.skip(f"shared clip {CLIP} not here")
    hub = make_hub(web=True, timezone="Europe/Berlin")
    journal, pub = fill(hub, tmp_path)
    pub.stop()
    cap = cv2.VideoCapture(str(CLIP))
    for _ in range(12):
        ok, img = cap.read()
        assert ok
    cap.release()
    faces = load_detector().detect(img)
    assert faces, "the model finds the faces of the clip"
    ev_dir = tmp_path / "dev1" / "evidence"
    ref = save_evidence(img, faces, ev_dir)
    outbox = EvidenceOutbox(journal.path, start_cursor=journal.head[0])
    sender = EvidenceSender(outbox, journal, ev_dir, ["counter"], ack_timeout_s=2.0)
    pub = Publisher(hub.device_mqtt("dev1"), journal, feeds=["counter", "door"], evidence=sender)
    pub.start()
    try:
        body = {"capture": "c-200", "start": T5, "end": T5 + 42_000, "frames": 210, "max_faces": len(faces),
                "distinct_tracks": len(faces), "identifiable_tracks": len(faces),
                "face_px": {"min": 60, "median": 70, "max": 80}, "verdict": "unconsented",
                "reasons": ["no_notice"], "basis": None, "evidence": [ref]}
        journal.append("capture.start", "counter", {**body, "end": None}, T5)
        journal.append("capture.end", "counter", body, T5 + 42_000)
        pub.notify()
        wait_for(lambda: hub.evidence.store.count("dev1") == 1, what="frame stored")
        for width, opts in (("desktop", DESKTOP), ("phone", PHONE)):
            ctx = browser.new_context(**opts)
            page = ctx.new_page()
            _login(page, hub)
            page.goto(hub.web_url + "/capture/dev1/c-200")
            img_el = page.locator("#evidence-frames img")
            img_el.wait_for()
            page.wait_for_function("() => document.querySelector('#evidence-frames img').complete")
            natural = page.evaluate("document.querySelector('#evidence-frames img').naturalWidth")
            assert natural == img.shape[1]  # decoded by the browser: served, allowed by the CSP
            text = page.locator("#evidence-privacy").inner_text()
            assert "pixelated" in text and "filled flat" in text and "re-encoded by the hub" in text and "never the device's bytes" in text
            scroll_w, inner_w = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert scroll_w <= inner_w, f"scrolls sideways at {width}: {scroll_w} > {inner_w}"
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"hub-capture-evidence-{width}.png"), full_page=True)
            docs_png = DOCS / "hub-capture-evidence.png"
            if width == "desktop" and (not docs_png.exists() or os.environ.get("CAMAUDIT_UPDATE_DOCS") == "1"):
                page.locator("#evidence-frames").scroll_into_view_if_needed()
                page.screenshot(path=str(docs_png), full_page=True)
            ctx.close()
    finally:
        pub.stop()
        journal.close()

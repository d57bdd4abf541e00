"""The pages: `/` devices, notices, alerts and rejects; `/captures` filtered, with a chart per
feed; `/capture/DEVICE/CAPTURE` one capture's timeline, faces, notices and signed records."""

from __future__ import annotations

import hmac
import time
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from camaudit.core.policy import REASONS
from camaudit.hub.custody import web as custody
from camaudit.hub.store.records import HubError
from camaudit.hub.web.charts import device_feed_charts
from camaudit.hub.web.next_steps import next_steps, tell_words, with_steps
from camaudit.hub.web.site import MAX_ID, Site, login_redirect, site_of
from camaudit.hub.web.views import (
    IDENTIFIABLE_WORDS,
    NOTICE_STATE_WORDS,
    capture_view,
    track_rows,
    verdict_words,
)
from camaudit.report import notice_facts
from camaudit.report.camera_health import blind_periods, period_text
from camaudit.report.model import Clock as ReportClock
from camaudit.report.notice_facts import NoticeHistory

router = APIRouter()


def device_rows(site: Site) -> list[dict[str, Any]]:
    """Every device with its state and its notices' current states (also /api/devices)."""
    clock = site.clock
    notices: dict[str, list[dict[str, Any]]] = {}
    for n in site.store.notice_states():
        notices.setdefault(str(n["device"]), []).append(
            {"notice": n["notice"], "state": n["state"], "since_ms": n["ts"],
             "since": clock.ts(n["ts"]), "covers": n["covers"],
             "words": NOTICE_STATE_WORDS.get(n["state"], n["state"])})
    forks = {str(f["device"]): int(f["fork_seq"]) for f in site.store.forks()}
    return [
        {"device": d.device, "fork_seq": forks.get(d.device), "online": d.online, "last_seen_ms": d.last_seen_ms,
         "last_seen": clock.ts(d.last_seen_ms), "stored_seq": d.head_seq,
         "seen_seq": d.max_seen, "lag": d.lag, "duplicates": d.duplicates, "enrolled": d.how,
         "enrolled_words": enrolled_words(d.how, clock.ts(d.enrolled_ms)),
         "notices": notices.get(d.device, [])}
        for d in site.store.devices()
    ]


def enrolled_words(how: str, when: str) -> str:
    """The devices table's Enrolled column: how the hub came to trust the device's key, and when."""
    if how == "enroll":
        return f"by an operator (camaudit hub enroll), {when}"
    if how == "tofu":
        return f"trusted on first use (the key it sent first), {when}"
    return f"{how}, {when}"


def alert_rows(site: Site) -> list[dict[str, Any]]:
    """Every alert (open forks, the newest device alerts) with its next steps and its
    acknowledgement, if any."""
    return [with_steps(a) for a in site.store.all_alerts(50)]


@router.get("/", response_class=HTMLResponse)
async def index(request: Request) -> Any:
    site = site_of(request)
    if not site.authed(request):
        return login_redirect()
    return site.page(request, "index.html", {"devices": device_rows(site), "alerts": alert_rows(site),
                                             "rejects": site.store.rejects(),
                                             "ack_error": request.query_params.get("ack_error", "")[:200]})


@router.post("/alerts/ack")
async def acknowledge(request: Request) -> Any:
    """An operator acknowledges an alert: who, a note; the hub keeps it (alert_acks) and shows
    it; the alert leaves the retained open alerts. A session must send its CSRF token."""
    site = site_of(request)
    if not site.authed(request):
        return login_redirect()
    raw = await request.body()
    if len(raw) > 8192:
        return JSONResponse({"error": "form too large"}, status_code=413)
    form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
    expected = getattr(request.state, "csrf", None)
    if expected is not None and not hmac.compare_digest(form.get("csrf", "").encode(), str(expected).encode()):
        return JSONResponse({"error": "bad or missing CSRF token"}, status_code=403)
    try:
        seq = int(form.get("seq", ""))
        site.store.acknowledge(form.get("kind", ""), form.get("device", "")[:MAX_ID], seq,
                               form.get("who", ""), form.get("note", ""), int(time.time() * 1000))
    except (ValueError, HubError) as exc:
        msg = str(exc) if isinstance(exc, HubError) else "acknowledge: seq is not a number"
        return RedirectResponse("/?ack_error=" + quote(msg[:200]) + "#alerts", status_code=303)
    custody.note(request, "alert.ack", device=form.get("device", "")[:MAX_ID], seq=seq,
                 kind=form.get("kind", "")[:16], acked_as=form.get("who", "")[:80])
    if site.on_ack is not None:
        site.on_ack()
    return RedirectResponse("/#alerts", status_code=303)


def filters(site: Site, q: Any) -> tuple[dict[str, Any], str | None]:
    """The captures filter from the query (times in the venue's zone); an error for a bad time."""
    error = None
    times: dict[str, int | None] = {}
    for key in ("since", "until"):
        try:
            times[key] = site.clock.parse(q.get(key), end=key == "until")
        except ValueError as exc:
            times[key], error = None, f"{'From' if key == 'since' else 'To'}: {exc}"
    return {
        "device": q.get("device") or None,
        "feed": q.get("feed") or None,
        "verdict": q.get("verdict") or None,
        "reason": q.get("reason") or None,
        "since_ms": times["since"],
        "until_ms": times["until"],
    }, error


@router.get("/captures", response_class=HTMLResponse)
async def captures(request: Request) -> Any:
    site = site_of(request)
    if not site.authed(request):
        return login_redirect()
    store, q = site.store, request.query_params
    filt, error = filters(site, q)
    rows = store.captures(**filt, limit=500)
    for r in rows:
        r["verdict_words"] = verdict_words(r["verdict"], r["reasons"], r.get("basis"))
    charts = device_feed_charts(store.hourly_per_device(**filt), site.clock.zone,
                                since_ms=filt["since_ms"], until_ms=filt["until_ms"])
    return site.page(
        request,
        "captures.html",
        {
            "rows": rows,
            "charts": charts,
            "error": error,
            "q": {k: q.get(k, "") for k in ("device", "feed", "verdict", "reason", "since", "until")},
            "devices": [d.device for d in store.devices()],
            "feeds": store.feeds(),
            "reasons": list(REASONS),
        },
        status_code=400 if error else 200,
    )


def covering_notices(site: Site, device: str, feed: str | None, start: int, end: int) -> list[dict[str, Any]]:
    """The notices covering `feed` for a capture from `start` to `end`: the one derivation the
    pack's report and `camaudit log` use too (camaudit.report.notice_facts), in its words."""
    history = NoticeHistory.from_records(site.store.notice_records(device))
    clock = ReportClock(site.clock.name)
    return [{"notice": n.notice, "state": n.state,
             "state_words": notice_facts.state_words(n, clock.both),
             "hours_words": notice_facts.hours_words(n.hours, clock.zone, n.registered),
             "words": notice_facts.words([n], clock.both, clock.zone)}
            for n in history.at(feed, start, end)]


@router.get("/device/{device}", response_class=HTMLResponse)
async def device_page(request: Request, device: str) -> Any:
    """One device: its feeds, and when each camera was covered, moved or blurred (the
    periods the pack's report lists, report/camera_health.py); `?feed=` for one feed."""
    site = site_of(request)
    if not site.authed(request):
        return login_redirect()
    store = site.store
    known = {d.device for d in store.devices()}
    if device not in known:
        return site.page(request, "device.html", {"device": device, "found": False}, status_code=404)
    feed = request.query_params.get("feed") or None
    feeds = sorted(store.device_feeds(device))
    clock = ReportClock(site.clock.name)
    periods = blind_periods(store.health_records(device), feed)
    return site.page(request, "device.html", {
        "device": device, "found": True, "feed": feed, "feeds": feeds,
        "periods": [{"feed": p.feed, "condition": p.condition, "start": p.start, "end": p.end,
                     "open": p.end is None, "alerted": p.alerted, "text": period_text(p, clock.both)}
                    for p in sorted(periods, key=lambda p: p.start, reverse=True)],
    })


@router.get("/capture/{device}/{capture:path}", response_class=HTMLResponse)
async def capture_page(request: Request, device: str, capture: str) -> Any:
    site = site_of(request)
    if not site.authed(request):
        return login_redirect()
    store = site.store
    events = store.capture_events(device, capture) if len(device) + len(capture) <= MAX_ID else []
    if not events:
        return site.page(request, "capture.html", {"cap": None, "device": device, "capture": capture},
                         status_code=404)
    custody.note(request, "capture.view", device=device, capture=capture)
    first = capture_view(events, [], [])
    start = first["start"] if first["start"] is not None else int(events[0].get("ts") or 0)
    end = first["end"] if first["end"] is not None else int(events[-1].get("ts") or start)
    view = capture_view(events, [], store.notice_changes(device, start, end))
    view["covering"] = covering_notices(site, device, view["feed"], start, end)
    view["tracks_words"], view["tracks"] = track_rows(events)
    steps = next_steps(view["reasons"]) if view["verdict"] == "unconsented" else []
    view["steps"], view["tell"] = [st.do for st in steps], tell_words(steps)
    view["clock_unsynced"] = store.clock_unsynced_at(device, int(events[0].get("seq") or 0))
    view["fork_seq"] = store.fork_seq(device)
    have = site.evidence.frames(device, capture) if site.evidence is not None else {}
    view["frames_sent"] = [
        {"ref": ref, "sha": ref[7:], "frame": have.get(ref[7:])} for ref in view["evidence"]
    ]
    return site.page(request, "capture.html",
                     {"cap": view, "device": device, "capture": capture,
                      "identifiable_words": IDENTIFIABLE_WORDS})

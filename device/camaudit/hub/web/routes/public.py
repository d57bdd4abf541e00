"""The public page of a notice (no login): `/public/DEVICE/NOTICE` (HTML),
`/public/DEVICE/NOTICE.json` (the same facts, DTPR-style, with OSM tags), the "was I
filmed?" form (`POST /public/DEVICE/NOTICE/request`, answered "received" with a reference
and nothing of what was sent), and the operator's list of requests (`/requests`, login).

Every public answer: no cookie, `Cache-Control: no-store` for the form's reply, its own
rate limit (token buckets per source address and global, hub/public/limit.py), bodies read
up to hub/public/request.MAX_BODY bytes, and the site's security headers (web/security.py).
The facts come from hub/public/facts.py; nothing about a person, no time finer than a day."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from camaudit.hub.public.facts import public_facts, window_start
from camaudit.hub.public.limit import TokenBuckets
from camaudit.hub.public.request import (
    MAX_BODY,
    MAX_CONTACT,
    MAX_WINDOW_H,
    RequestRefused,
    check_request,
)
from camaudit.hub.store import public as pstore
from camaudit.hub.web.site import Site, login_redirect, site_of

log = logging.getLogger(__name__)
router = APIRouter()

MAX_NAME = 64  # device and notice ids (device ids are <= 64)


@dataclass
class PublicSettings:
    """`url`: the hub's public address (e.g. https://hub.example.org), for the links the
    JSON gives; `operator`: OSM `operator=` (default: the notice's controller); `cameras`:
    per 'device/feed' OSM settings (surveillance, zone, direction, mount)."""

    url: str | None = None
    operator: str | None = None
    cameras: dict[str, dict[str, Any]] = field(default_factory=dict)
    pages: TokenBuckets = field(default_factory=lambda: TokenBuckets(
        1.0, 30, global_rate=50.0, global_burst=300))
    forms: TokenBuckets = field(default_factory=lambda: TokenBuckets(
        1 / 120, 3, global_rate=0.5, global_burst=30))


def settings_of(request: Request) -> PublicSettings:
    s = getattr(request.app.state, "public", None)
    if s is None:
        s = request.app.state.public = PublicSettings()
    return s  # type: ignore[no-any-return,unused-ignore]


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"


def _urls(request: Request, s: PublicSettings, device: str, notice: str) -> dict[str, str]:
    base = (s.url or str(request.base_url)).rstrip("/")
    page = f"{base}/public/{quote(device, safe='')}/{quote(notice, safe='')}"
    return {"page": page, "json": page + ".json", "form": page + "#was-i-filmed"}


def _limited(request: Request, site: Site, wait: float, json: bool = False) -> Any:
    headers = {"Retry-After": str(int(wait) + 1), "Cache-Control": "no-store"}
    if json:
        return JSONResponse({"error": "too many requests"}, status_code=429, headers=headers)
    return site.templates.TemplateResponse(request, "public_reply.html", {"kind": "limited"},
                                           status_code=429, headers=headers)


def _facts(request: Request, site: Site, device: str, notice: str) -> dict[str, Any] | None:
    if not (0 < len(device) <= MAX_NAME and 0 < len(notice) <= MAX_NAME):
        return None
    store = site.store
    online = pstore.device_online(store, device)
    if online is None:
        return None
    reg = pstore.registration(store, device, notice)
    if reg is None:
        return None
    s = settings_of(request)
    now = int(time.time() * 1000)
    start, _ = window_start(now, site.clock.zone)
    feeds = sorted({str(c) for c in reg.get("covers") or [] if isinstance(c, str)})
    return public_facts(
        device, notice, reg, notice_state=pstore.notice_state(store, device, notice), device_online=online,
        last_types=pstore.last_types(store, device, feeds), buckets=pstore.buckets(store, device, feeds, start),
        tz=site.clock.zone, now_ms=now, urls=_urls(request, s, device, notice), cameras=s.cameras,
        operator=s.operator)


def _not_found(request: Request, site: Site) -> Any:
    return site.templates.TemplateResponse(request, "public_reply.html", {"kind": "unknown"}, status_code=404)


@router.get("/public/{device}/{notice}.json")
async def public_json(request: Request, device: str, notice: str) -> Any:
    site = site_of(request)
    wait = settings_of(request).pages.take(_client(request))
    if wait:
        return _limited(request, site, wait, json=True)
    facts = _facts(request, site, device, notice)
    if facts is None:
        return JSONResponse({"error": "no such notice"}, status_code=404)
    return JSONResponse(facts, headers={"Cache-Control": "public, max-age=60",
                                        "Access-Control-Allow-Origin": "*"})


@router.get("/public/{device}/{notice}", response_class=HTMLResponse)
async def public_page(request: Request, device: str, notice: str) -> Any:
    site = site_of(request)
    wait = settings_of(request).pages.take(_client(request))
    if wait:
        return _limited(request, site, wait)
    facts = _facts(request, site, device, notice)
    if facts is None:
        return _not_found(request, site)
    return site.templates.TemplateResponse(
        request, "public_notice.html",
        {"f": facts, "action": f"/public/{quote(device, safe='')}/{quote(notice, safe='')}/request",
         "max_contact": MAX_CONTACT, "max_window_h": MAX_WINDOW_H},
        headers={"Cache-Control": "public, max-age=60"})


async def _bounded_body(request: Request) -> bytes | None:
    """The body, or None when it is (or announces itself) longer than MAX_BODY."""
    try:
        if int(request.headers.get("content-length") or 0) > MAX_BODY:
            return None
    except ValueError:
        return None
    got = bytearray()
    async for chunk in request.stream():
        got += chunk
        if len(got) > MAX_BODY:
            return None
    return bytes(got)


@router.post("/public/{device}/{notice}/request", response_class=HTMLResponse)
async def public_request(request: Request, device: str, notice: str) -> Any:
    site = site_of(request)
    s = settings_of(request)
    who = _client(request)
    wait = s.forms.take(who)
    if wait:
        log.warning("public request form from %s rate-limited", who)
        return _limited(request, site, wait)
    no_store = {"Cache-Control": "no-store"}
    body = await _bounded_body(request)
    if body is None:
        return site.templates.TemplateResponse(request, "public_reply.html", {"kind": "too_big"},
                                               status_code=413, headers=no_store)
    facts = _facts(request, site, device, notice)
    if facts is None:
        return _not_found(request, site)
    try:
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=8, strict_parsing=False)
        req = check_request(form, [c["feed"] for c in facts["cameras"]], site.clock.zone,
                            int(time.time() * 1000))
    except (RequestRefused, UnicodeDecodeError, ValueError) as exc:
        why = str(exc) if isinstance(exc, RequestRefused) else "the form could not be read"
        return site.templates.TemplateResponse(request, "public_reply.html", {"kind": "refused", "why": why},
                                               status_code=400, headers=no_store)
    try:
        ref = pstore.add_request(site.store, device, notice, req)
    except pstore.RequestsFull:
        log.warning("public request form: the store holds its maximum of requests")
        return site.templates.TemplateResponse(request, "public_reply.html", {"kind": "full"},
                                               status_code=503, headers=no_store)
    log.info("public request %s recorded for %s/%s", ref, device, notice)
    return site.templates.TemplateResponse(request, "public_reply.html", {"kind": "received", "ref": ref},
                                           headers=no_store)


@router.get("/requests", response_class=HTMLResponse)
async def operator_requests(request: Request) -> Any:
    site = site_of(request)
    if not site.authed(request):
        return login_redirect()
    return site.page(request, "requests.html", {"rows": pstore.requests(site.store), "alerts": site.store.alerts(20)})



"""The hub's web page: FastAPI + Jinja2 templates rendered on the server, assets shipped locally.

Login by token (a server-side session cookie that expires; `Authorization: Bearer <token>`
works too); security headers, sessions, CSRF and login rate limits live in hub/websec.py.
Pages: `/` devices, live alerts (SSE on /alerts/stream) and reject counts; `/captures`
with filters and a per-feed chart of captures per hour by verdict.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from camaudit.hub.chart import feed_charts
from camaudit.hub.live import LiveAlerts
from camaudit.hub.store import HubStore
from camaudit.hub.websec import COOKIE, SecurityHeaders, WebAuth

log = logging.getLogger(__name__)

HERE = Path(__file__).parent


def _fmt_ts(ms: int | None) -> str:
    if ms is None:
        return "never"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _parse_time(v: str | None) -> int | None:
    """`2026-11-26T10:00` / `2026-11-26 10:00` / `2026-11-26` (UTC) or epoch ms -> ms."""
    if not v:
        return None
    v = v.strip()
    if v.isdigit():
        return int(v)
    for fmt in ("%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            return int(datetime.strptime(v, fmt).replace(tzinfo=UTC).timestamp() * 1000)
        except ValueError:
            continue
    return None


def create_app(store: HubStore, token: str, live: LiveAlerts) -> FastAPI:
    app = FastAPI(title="camaudit hub", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["ts"] = _fmt_ts
    app.add_middleware(SecurityHeaders)
    web_auth = WebAuth(token)
    authed = web_auth.authed

    def login_redirect() -> RedirectResponse:
        return RedirectResponse("/login", status_code=303)

    @app.get("/login", response_class=HTMLResponse)
    async def login_form(request: Request) -> Any:
        return templates.TemplateResponse(request, "login.html", {"error": None})

    @app.post("/login", response_class=HTMLResponse)
    async def login(request: Request) -> Any:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        sid, wait = web_auth.login(request, (form.get("token") or [""])[0])
        if wait:
            return templates.TemplateResponse(
                request, "login.html", {"error": f"Too many attempts; try again in {wait} s."},
                status_code=429, headers={"Retry-After": str(wait)},
            )
        if sid is None:
            return templates.TemplateResponse(
                request, "login.html", {"error": "Wrong token."}, status_code=401
            )
        resp = RedirectResponse("/", status_code=303)
        resp.set_cookie(**web_auth.cookie(request, sid))
        return resp

    @app.post("/logout")
    async def logout(request: Request) -> Any:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        if not web_auth.logout(request, (form.get("csrf") or [""])[0]):
            return JSONResponse({"error": "bad or missing CSRF token"}, status_code=403)
        resp = login_redirect()
        resp.delete_cookie(COOKIE, path="/")
        return resp

    @app.get("/", response_class=HTMLResponse)
    async def index(request: Request) -> Any:
        if not authed(request):
            return login_redirect()
        return templates.TemplateResponse(
            request,
            "index.html",
            {"devices": store.devices(), "alerts": store.alerts(50), "rejects": store.rejects()},
        )

    @app.get("/captures", response_class=HTMLResponse)
    async def captures(request: Request) -> Any:
        if not authed(request):
            return login_redirect()
        q = request.query_params
        filt: dict[str, Any] = {
            "device": q.get("device") or None,
            "feed": q.get("feed") or None,
            "verdict": q.get("verdict") or None,
            "reason": q.get("reason") or None,
            "since_ms": _parse_time(q.get("since")),
            "until_ms": _parse_time(q.get("until")),
        }
        rows = store.captures(**filt, limit=500)
        charts = feed_charts(store.hourly(**filt))
        return templates.TemplateResponse(
            request,
            "captures.html",
            {
                "rows": rows,
                "charts": charts,
                "q": {k: q.get(k, "") for k in ("device", "feed", "verdict", "reason", "since", "until")},
                "devices": [d.device for d in store.devices()],
                "feeds": store.feeds(),
                "reasons": ["no_notice", "notice_missing", "outside_hours", "privacy_zone"],
            },
        )

    @app.get("/alerts/stream")
    async def alert_stream(request: Request) -> Any:
        if not authed(request):
            return JSONResponse({"error": "login required"}, status_code=401)
        return StreamingResponse(
            live.stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @app.get("/api/devices")
    async def api_devices(request: Request) -> Any:
        if not authed(request):
            return JSONResponse({"error": "login required"}, status_code=401)
        return [
            {"device": d.device, "online": d.online, "last_seen_ms": d.last_seen_ms,
             "stored_seq": d.head_seq, "seen_seq": d.max_seen, "lag": d.lag,
             "duplicates": d.duplicates, "enrolled": d.how}
            for d in store.devices()
        ]

    @app.get("/api/rejects")
    async def api_rejects(request: Request) -> Any:
        if not authed(request):
            return JSONResponse({"error": "login required"}, status_code=401)
        return store.rejects()

    @app.get("/healthz")
    async def healthz() -> Any:
        return {"ok": True}

    return app

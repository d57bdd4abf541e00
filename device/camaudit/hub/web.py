"""The hub's web page: FastAPI + Jinja2 templates rendered on the server, assets shipped locally.

Login by token (cookie holds a SHA-256 of it; `Authorization: Bearer <token>` works too).
Pages: `/` devices, live alerts (SSE on /alerts/stream) and reject counts; `/captures`
with filters and a per-feed chart of captures per hour by verdict.
"""

from __future__ import annotations

import hashlib
import hmac
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

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
COOKIE = "camaudit_hub"


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
    session = hashlib.sha256(b"camaudit-hub-session:" + token.encode()).hexdigest()

    def authed(request: Request) -> bool:
        cookie = request.cookies.get(COOKIE, "")
        if cookie and hmac.compare_digest(cookie, session):
            return True
        auth = request.headers.get("authorization", "")
        return auth.startswith("Bearer ") and hmac.compare_digest(auth[7:].encode(), token.encode())

    def login_redirect() -> RedirectResponse:
        return RedirectResponse("/login", status_code=303)

    @app.get("/login", response_class=HTMLResponse)
    async def login_form(request: Request) -> Any:
        return templates.TemplateResponse(request, "login.html", {"error": None})

    @app.post("/login", response_class=HTMLResponse)
    async def login(request: Request) -> Any:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        given = (form.get("token") or [""])[0]
        if not hmac.compare_digest(given.encode(), token.encode()):
            log.warning("web login with a wrong token from %s", request.client.host if request.client else "?")
            return templates.TemplateResponse(
                request, "login.html", {"error": "Wrong token."}, status_code=401
            )
        resp = RedirectResponse("/", status_code=303)
        resp.set_cookie(COOKIE, session, httponly=True, samesite="strict")
        return resp

    @app.get("/logout")
    async def logout() -> Any:
        resp = login_redirect()
        resp.delete_cookie(COOKIE)
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

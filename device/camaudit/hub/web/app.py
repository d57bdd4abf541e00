"""The hub's web page: FastAPI + Jinja2 templates rendered on the server, assets shipped locally
(no inline script or style: a strict CSP can forbid both).

Login by token (a server-side session cookie that expires; `Authorization: Bearer <token>`
works too); security headers, sessions, CSRF and login rate limits live in hub/web/security.py.
Pages: `/` devices (refreshed live from /api/devices) with each notice's current state, live
alerts (SSE on /alerts/stream) each linking to its capture, reject counts; `/captures` with
filters, a per-feed chart of captures per hour by verdict and the export form;
`/capture/DEVICE/CAPTURE` one capture's timeline, faces, notices and signed records;
`/export` the evidence pack of a span (hub/evidence/pack.py). Every time is in the venue's zone, named.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import FastAPI, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.background import BackgroundTask

from camaudit.core.policy import REASONS, load_timezone
from camaudit.errors import CamauditError
from camaudit.hub.evidence.inbox import SHA, EvidenceStore
from camaudit.hub.store.hub_store import HubStore
from camaudit.hub.web.charts import feed_charts
from camaudit.hub.web.live import LiveAlerts
from camaudit.hub.web.security import COOKIE, SecurityHeaders, WebAuth
from camaudit.hub.web.views import (
    IDENTIFIABLE_WORDS,
    NOTICE_STATE_WORDS,
    Clock,
    capture_view,
    reason_label,
    verdict_words,
)

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
MAX_ID = 128  # device + capture id length in a capture URL (device ids are <= 64)


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)[:64] or "pack"


def create_app(
    store: HubStore, token: str, live: LiveAlerts, *, timezone: str = "UTC", hub_key: Path | None = None,
    evidence: EvidenceStore | None = None,
) -> FastAPI:
    """`timezone`: the venue's IANA zone, for every time shown; `hub_key`: the hub's signing
    key, for /export (without it the export form is not offered); `evidence`: the blurred
    frames devices sent (shown on capture pages when present)."""
    app = FastAPI(title="camaudit hub", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    clock = Clock(load_timezone(timezone))
    templates.env.filters["ts"] = clock.ts
    templates.env.filters["utc"] = clock.utc
    templates.env.filters["reason"] = reason_label
    templates.env.filters["notice_state"] = lambda s: NOTICE_STATE_WORDS.get(str(s), str(s))
    templates.env.filters["q"] = lambda v: quote(str(v), safe="")
    templates.env.globals["zone"] = clock.name

    def page(request: Request, name: str, ctx: dict[str, Any], status_code: int = 200) -> Any:
        # `csrf`: the token the web-security middleware (if any) puts on request.state, for
        # every form that POSTs.
        full = {"csrf": getattr(request.state, "csrf", ""), "can_export": hub_key is not None, **ctx}
        return templates.TemplateResponse(request, name, full, status_code=status_code)
    app.add_middleware(SecurityHeaders)
    web_auth = WebAuth(token)
    authed = web_auth.authed

    def login_redirect() -> RedirectResponse:
        return RedirectResponse("/login", status_code=303)

    @app.get("/login", response_class=HTMLResponse)
    async def login_form(request: Request) -> Any:
        return page(request, "login.html", {"error": None})

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

    def device_rows() -> list[dict[str, Any]]:
        notices: dict[str, list[dict[str, Any]]] = {}
        for n in store.notice_states():
            notices.setdefault(str(n["device"]), []).append(
                {"notice": n["notice"], "state": n["state"], "since_ms": n["ts"],
                 "since": clock.ts(n["ts"]), "covers": n["covers"],
                 "words": NOTICE_STATE_WORDS.get(n["state"], n["state"])})
        return [
            {"device": d.device, "online": d.online, "last_seen_ms": d.last_seen_ms,
             "last_seen": clock.ts(d.last_seen_ms), "stored_seq": d.head_seq,
             "seen_seq": d.max_seen, "lag": d.lag, "duplicates": d.duplicates, "enrolled": d.how,
             "notices": notices.get(d.device, [])}
            for d in store.devices()
        ]

    @app.get("/", response_class=HTMLResponse)
    async def index(request: Request) -> Any:
        if not authed(request):
            return login_redirect()
        return page(request, "index.html",
                    {"devices": device_rows(), "alerts": store.alerts(50), "rejects": store.rejects()})

    def filters(q: Any) -> tuple[dict[str, Any], str | None]:
        error = None
        times: dict[str, int | None] = {}
        for key in ("since", "until"):
            try:
                times[key] = clock.parse(q.get(key))
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

    @app.get("/captures", response_class=HTMLResponse)
    async def captures(request: Request) -> Any:
        if not authed(request):
            return login_redirect()
        q = request.query_params
        filt, error = filters(q)
        rows = store.captures(**filt, limit=500)
        for r in rows:
            r["verdict_words"] = verdict_words(r["verdict"], r["reasons"], r.get("basis"))
        charts = feed_charts(store.hourly(**filt), clock.zone,
                             since_ms=filt["since_ms"], until_ms=filt["until_ms"])
        return page(
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

    @app.get("/capture/{device}/{capture:path}", response_class=HTMLResponse)
    async def capture_page(request: Request, device: str, capture: str) -> Any:
        if not authed(request):
            return login_redirect()
        events = store.capture_events(device, capture) if len(device) + len(capture) <= MAX_ID else []
        if not events:
            return page(request, "capture.html", {"cap": None, "device": device, "capture": capture},
                        status_code=404)
        first = capture_view(events, [], [])
        start = first["start"] if first["start"] is not None else int(events[0].get("ts") or 0)
        end = first["end"] if first["end"] is not None else int(events[-1].get("ts") or start)
        view = capture_view(events, store.notice_states(device, at_ms=start),
                            store.notice_changes(device, start, end))
        have = evidence.frames(device, capture) if evidence is not None else {}
        view["frames_sent"] = [
            {"ref": ref, "sha": ref[7:], "frame": have.get(ref[7:])} for ref in view["evidence"]
        ]
        return page(request, "capture.html",
                    {"cap": view, "device": device, "capture": capture,
                     "identifiable_words": IDENTIFIABLE_WORDS})

    @app.get("/evidence/{device}/{name}")
    def evidence_frame(request: Request, device: str, name: str, capture: str = "") -> Any:
        """One stored evidence frame of `device`'s `capture`, exactly the bytes the device sent."""
        if not authed(request):
            return JSONResponse({"error": "login required"}, status_code=401)
        sha = name.removesuffix(".jpg")
        data = None
        if evidence is not None and SHA.fullmatch(sha) and len(device) + len(capture) <= MAX_ID:
            data = evidence.data(device, capture, sha)
        if data is None:
            return JSONResponse({"error": "no such frame"}, status_code=404)
        return Response(data, media_type="image/jpeg",
                        headers={"Cache-Control": "private, no-store", "Content-Disposition": "inline"})

    @app.get("/export")
    def export(request: Request) -> Any:  # sync: FastAPI runs it in its thread pool
        if not authed(request):
            return login_redirect()
        q = request.query_params
        device = q.get("device") or ""

        def refuse(msg: str, status: int) -> Any:
            log.info("web export refused: %s", msg)
            return page(request, "export_error.html", {"error": msg}, status_code=status)

        if hub_key is None:
            return refuse("this hub has no signing key configured for exports", 404)
        if not device or len(device) > MAX_ID or store.public_key(device) is None:
            return refuse(f"choose an enrolled device (got {device[:64]!r})", 400)
        try:
            since_ms, until_ms = clock.parse(q.get("since")), clock.parse(q.get("until"))
        except ValueError as exc:
            return refuse(str(exc), 400)
        feed = q.get("feed") or None
        from camaudit.hub.evidence.pack import export_hub_pack

        tmp = Path(tempfile.mkdtemp(prefix="camaudit-export-"))
        out = tmp / f"camaudit-{_safe_name(device)}-{time.strftime('%Y%m%d-%H%M%S')}.zip"
        try:
            summary = export_hub_pack(store, hub_key, device, out, since_ms=since_ms,
                                      until_ms=until_ms, feed=feed, now_ms=int(time.time() * 1000))
        except CamauditError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            return refuse(str(exc).splitlines()[0], 404 if "no record" in str(exc) else 409)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        log.info("web export of %s: %s", device, summary.summary())
        return FileResponse(out, media_type="application/zip", filename=out.name,
                            background=BackgroundTask(shutil.rmtree, tmp, True))

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
        return JSONResponse(device_rows(), headers={"Cache-Control": "no-store"})

    @app.get("/api/rejects")
    async def api_rejects(request: Request) -> Any:
        if not authed(request):
            return JSONResponse({"error": "login required"}, status_code=401)
        return store.rejects()

    @app.get("/healthz")
    async def healthz() -> Any:
        return {"ok": True}

    return app

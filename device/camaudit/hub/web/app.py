"""The hub's web page: FastAPI + Jinja2 templates rendered on the server, assets shipped locally
(no inline script or style: a strict CSP can forbid both).

Login by token (a server-side session cookie that expires; `Authorization: Bearer <token>`
works too); security headers, sessions, CSRF and login rate limits live in hub/web/security.py.
Pages: `/` devices (refreshed live from /api/devices) with each notice's current state, live
alerts (SSE on /alerts/stream) each linking to its capture, reject counts; `/captures` with
filters, a per-feed chart of captures per hour by verdict and the export form;
`/capture/DEVICE/CAPTURE` one capture's timeline, faces, notices and signed records;
`/export` the evidence pack of a span (hub/evidence/pack.py). Every time is in the venue's zone, named.

Here the app is assembled; the routes live in web/routes/ (one module per area) and share
one `Site` (web/site.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from camaudit.core.policy import load_timezone
from camaudit.hub.custody import page as custody_page
from camaudit.hub.custody.log import custody_log
from camaudit.hub.evidence.inbox import EvidenceStore
from camaudit.hub.store.hub_store import HubStore
from camaudit.hub.web.live import LiveAlerts
from camaudit.hub.web.routes import api, export, login, pages, public
from camaudit.hub.web.security import MAX_BODY, BodyLimit, SecurityHeaders, WebAuth
from camaudit.hub.web.site import Site
from camaudit.hub.web.views import NOTICE_STATE_WORDS, Clock, reason_label

HERE = Path(__file__).parent


def _templates(clock: Clock) -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["ts"] = clock.ts
    templates.env.filters["utc"] = clock.utc
    templates.env.filters["reason"] = reason_label
    templates.env.filters["notice_state"] = lambda s: NOTICE_STATE_WORDS.get(str(s), str(s))
    templates.env.filters["q"] = lambda v: quote(str(v), safe="")
    templates.env.globals["zone"] = clock.name
    return templates


def create_app(
    store: HubStore, token: str, live: LiveAlerts, *, timezone: str = "UTC", hub_key: Path | None = None,
    evidence: EvidenceStore | None = None, venue: str | None = None,
    on_ack: Callable[[], None] | None = None, max_body: int = MAX_BODY,
) -> FastAPI:
    """`timezone`: the venue's IANA zone, for every time shown; `hub_key`: the hub's signing
    key, for /export (without it the export form is not offered); `evidence`: the blurred
    frames devices sent (shown on capture pages when present); `max_body`: the largest request
    body taken on any route (a larger one gets 413 before it is read: web/security.py)."""
    app = FastAPI(title="camaudit hub", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    clock = Clock(load_timezone(timezone))
    app.state.custody = custody_log(store, hub_key)
    app.state.site = Site(store, WebAuth(token), live, clock, _templates(clock), hub_key, evidence, venue, on_ack)
    app.add_middleware(BodyLimit, max_bytes=max_body)  # inside SecurityHeaders: a 413 has the headers too
    app.add_middleware(SecurityHeaders)
    for area in (login, pages, export, api, custody_page, public):
        app.include_router(area.router)
    return app

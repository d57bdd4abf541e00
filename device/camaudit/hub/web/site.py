"""What every route of the hub's page shares: the store, the login, the clock, the templates.

`create_app` (app.py) puts one Site on `app.state.site`; a route reads it with `site_of`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from fastapi.templating import Jinja2Templates

from camaudit.hub.evidence.inbox import EvidenceStore
from camaudit.hub.store.hub_store import HubStore
from camaudit.hub.web.live import LiveAlerts
from camaudit.hub.web.security import WebAuth
from camaudit.hub.web.views import Clock

MAX_ID = 128  # device + capture id length in a capture URL (device ids are <= 64)


@dataclass
class Site:
    store: HubStore
    auth: WebAuth
    live: LiveAlerts
    clock: Clock
    templates: Jinja2Templates
    hub_key: Path | None = None  # the hub's signing key, for /export (None: no export form)
    evidence: EvidenceStore | None = None  # blurred frames devices sent
    venue: str | None = None  # the venue's name (hub config); else the devices' journalled venues
    on_ack: Callable[[], None] | None = None  # after an alert is acknowledged (republish open alerts)

    def venue_name(self) -> str:
        if self.venue:
            return self.venue
        names = sorted(set(self.store.venues().values()))
        return ", ".join(names) if names else "venue not named (set `venue` in the hub's config)"

    def authed(self, request: Request) -> bool:
        return self.auth.authed(request)

    def page(self, request: Request, name: str, ctx: dict[str, Any], status_code: int = 200) -> Any:
        # `csrf`: the token the web-security middleware (if any) puts on request.state, for
        # every form that POSTs.
        full = {"csrf": getattr(request.state, "csrf", ""), "can_export": self.hub_key is not None,
                "venue": self.venue_name(), **ctx}
        return self.templates.TemplateResponse(request, name, full, status_code=status_code)


def site_of(request: Request) -> Site:
    site: Site = request.app.state.site
    return site


def login_redirect() -> RedirectResponse:
    return RedirectResponse("/login", status_code=303)

"""`/audit-log`: the custody log for operators (behind login), times in the venue's zone."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from camaudit.hub.web.site import login_redirect, site_of

router = APIRouter()

SHOWN = 1000  # the newest entries shown; `camaudit hub audit-log` prints them all


@router.get("/audit-log", response_class=HTMLResponse)
async def audit_log(request: Request) -> Any:
    site = site_of(request)
    if not site.authed(request):
        return login_redirect()
    clog = getattr(request.app.state, "custody", None)
    entries = clog.entries() if clog is not None else []
    rows = [
        {"seq": e["seq"], "when": site.clock.ts(e["ts"]), "who": e["who"], "what": e["what"],
         "where": e["where"], "detail": ", ".join(f"{k}={v}" for k, v in sorted(e["detail"].items()) if v is not None)}
        for e in reversed(entries[-SHOWN:])
    ]
    return site.page(request, "audit_log.html", {"rows": rows, "total": len(entries)})

"""Machine routes: live alerts (SSE), devices and rejects as JSON, and the health check."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from camaudit.hub.web.routes.pages import device_rows
from camaudit.hub.web.site import site_of

router = APIRouter()

LOGIN_REQUIRED = {"error": "login required"}


@router.get("/alerts/stream")
async def alert_stream(request: Request) -> Any:
    site = site_of(request)
    if not site.authed(request):
        return JSONResponse(LOGIN_REQUIRED, status_code=401)
    return StreamingResponse(
        site.live.stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/api/devices")
async def api_devices(request: Request) -> Any:
    site = site_of(request)
    if not site.authed(request):
        return JSONResponse(LOGIN_REQUIRED, status_code=401)
    return JSONResponse(device_rows(site), headers={"Cache-Control": "no-store"})


@router.get("/api/rejects")
async def api_rejects(request: Request) -> Any:
    site = site_of(request)
    if not site.authed(request):
        return JSONResponse(LOGIN_REQUIRED, status_code=401)
    return site.store.rejects()


@router.get("/healthz")
async def healthz() -> Any:
    return {"ok": True}

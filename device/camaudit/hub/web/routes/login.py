"""Sign in by token (a server-side session cookie), sign out (CSRF-checked)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from camaudit.hub.custody import web as custody
from camaudit.hub.web.security import COOKIE
from camaudit.hub.web.site import login_redirect, site_of

router = APIRouter()


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request) -> Any:
    return site_of(request).page(request, "login.html", {"error": None})


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Any:
    site = site_of(request)
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    sid, wait = site.auth.login(request, (form.get("token") or [""])[0])
    custody.note_login(request, sid, wait)
    if wait:
        return site.templates.TemplateResponse(
            request, "login.html", {"error": f"Too many attempts; try again in {wait} s."},
            status_code=429, headers={"Retry-After": str(wait)},
        )
    if sid is None:
        return site.templates.TemplateResponse(
            request, "login.html", {"error": "Wrong token."}, status_code=401
        )
    resp = RedirectResponse("/", status_code=303)
    resp.set_cookie(**site.auth.cookie(request, sid))
    return resp


@router.post("/logout")
async def logout(request: Request) -> Any:
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    if not site_of(request).auth.logout(request, (form.get("csrf") or [""])[0]):
        return JSONResponse({"error": "bad or missing CSRF token"}, status_code=403)
    resp = login_redirect()
    resp.delete_cookie(COOKIE, path="/")
    return resp

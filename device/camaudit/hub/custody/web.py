"""The custody hook for web routes: `note(request, what, **detail)` appends who (the
session, by a hash of its id; or the bearer token), what and from where (the client
address) to the custody log the app holds (`app.state.custody`, set by create_app)."""

from __future__ import annotations

import hashlib
from typing import Any

from camaudit.hub.web.security import COOKIE


def who_of(request: Any) -> str:
    sid = request.cookies.get(COOKIE, "")
    if sid:
        return f"session {hashlib.sha256(sid.encode()).hexdigest()[:8]}"
    if request.headers.get("authorization", "").startswith("Bearer "):
        return "bearer token"
    return "anonymous"


def note(request: Any, what: str, *, who: str | None = None, **detail: Any) -> None:
    clog = getattr(request.app.state, "custody", None)
    if clog is None:
        return
    where = request.client.host if request.client else "?"
    clog.record(who or who_of(request), what, where, detail)


def session_who(sid: str) -> str:
    return f"session {hashlib.sha256(sid.encode()).hexdigest()[:8]}"


def note_login(request: Any, sid: str | None, wait: int) -> None:
    """A login (the new session) or a failed one (wrong token, or refused by the rate limit)."""
    if sid:
        note(request, "login", who=session_who(sid))
    else:
        note(request, "login.failed", who="wrong token" if not wait else "rate-limited", rate_limited=bool(wait))


def export_by(request: Any) -> Any:
    """The ExportBy of a web export (None when the app keeps no custody log)."""
    from camaudit.hub.custody.packs import ExportBy

    clog = getattr(request.app.state, "custody", None)
    if clog is None:
        return None
    return ExportBy(clog, who_of(request), request.client.host if request.client else "?", "web export")

"""Web security of the hub's page, kept apart from its routes (hub/web/app.py).

- `SecurityHeaders`: an ASGI middleware that puts on every answer a Content-Security-Policy
  (own origin only, no inline script or style, `frame-ancestors 'none'`), X-Frame-Options
  DENY, X-Content-Type-Options nosniff and Referrer-Policy no-referrer.
- `Sessions`: server-side sessions with random ids (`secrets.token_urlsafe(32)`, 256
  bits) that expire (idle and absolute), each with its own CSRF token for POSTs (logout).
- `LoginLimiter`: failed logins are limited per client address and in total.
- `BodyLimit`: an ASGI middleware that refuses a request body over `MAX_BODY` bytes with
  413 before it is read: by its Content-Length at once, and a chunked (or lying) body by
  counting the bytes as the route reads them; nothing past the bound is ever buffered.
- `WebAuth`: what web.py calls: `authed(request)`, `login(request, given)`,
  `logout(request, form)`, and the cookie settings (HttpOnly, SameSite=Strict, Max-Age,
  Secure when the page is served over TLS).
"""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from camaudit.errors import ConfigError

log = logging.getLogger(__name__)

COOKIE = "camaudit_hub"
MIN_TOKEN_CHARS = 22  # secrets.token_urlsafe(16): 128 bits

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class SecurityHeaders:
    """ASGI middleware: the security headers on every HTTP answer (streams included)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in HEADERS if k not in names
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


MAX_BODY = 64 * 1024  # a login or logout form is < 200 bytes; no route takes an upload


class _TooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: a request body over `max_bytes` gets 413 and is never read further.

    A Content-Length over the bound is answered before one body byte is read; a chunked body
    (or one longer than it claimed) is counted chunk by chunk as the route reads it, and the
    route is stopped with 413 at the first chunk past the bound. uvicorn stops reading the
    socket while the app does not ask for more (its flow control), so what is buffered stays
    within about one read buffer."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, send: Send, status: int, text: bytes) -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(text)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": text})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = f"request body over {self.max_bytes} bytes\n".encode()
        for name, value in scope.get("headers", []):
            if name.lower() == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    await self._refuse(send, 400, b"bad Content-Length\n")
                    return
                if length > self.max_bytes:
                    log.warning("web: %s %s refused, Content-Length %d", scope.get("method"),
                                scope.get("path"), length)
                    await self._refuse(send, 413, too_large)
                    return
        seen = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except _TooLarge:
            log.warning("web: %s %s refused, body over %d bytes", scope.get("method"),
                        scope.get("path"), self.max_bytes)
            if not started:
                await self._refuse(send, 413, too_large)


@dataclass
class _Session:
    csrf: str
    created: float
    last: float


class Sessions:
    """Random session ids that expire after `idle_s` without use or `max_s` in all."""

    def __init__(self, idle_s: float = 2 * 3600, max_s: float = 12 * 3600, limit: int = 1000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.idle_s, self.max_s, self.limit = idle_s, max_s, limit
        self._clock = clock
        self._s: dict[str, _Session] = {}
        self._lock = threading.Lock()

    def create(self) -> str:
        now = self._clock()
        sid = secrets.token_urlsafe(32)
        with self._lock:
            self._expire(now)
            if len(self._s) >= self.limit:  # drop the oldest, never grow without bound
                del self._s[min(self._s, key=lambda k: self._s[k].created)]
            self._s[sid] = _Session(secrets.token_urlsafe(32), now, now)
        return sid

    def _expire(self, now: float) -> None:
        for sid in [k for k, s in self._s.items()
                    if now - s.last > self.idle_s or now - s.created > self.max_s]:
            del self._s[sid]

    def get(self, sid: str) -> _Session | None:
        if not sid:
            return None
        now = self._clock()
        with self._lock:
            s = self._s.get(sid)
            if s is None:
                return None
            if now - s.last > self.idle_s or now - s.created > self.max_s:
                del self._s[sid]
                return None
            s.last = now
            return s

    def drop(self, sid: str) -> None:
        with self._lock:
            self._s.pop(sid, None)


class LoginLimiter:
    """At most `per_client` failed logins per client address per `window_s`, and
    `total` failures from everyone per window (a spread-out guesser is slowed too)."""

    def __init__(self, per_client: int = 5, total: int = 50, window_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_client, self.total, self.window_s = per_client, total, window_s
        self._clock = clock
        self._fails: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()
        self._lock = threading.Lock()

    def _trim(self, q: deque[float], now: float) -> None:
        while q and now - q[0] > self.window_s:
            q.popleft()

    def retry_after(self, client: str) -> int:
        """0 if `client` may try now, else seconds to wait."""
        now = self._clock()
        with self._lock:
            q = self._fails.get(client, deque())
            self._trim(q, now)
            self._trim(self._all, now)
            if len(q) >= self.per_client:
                return int(self.window_s - (now - q[0])) + 1
            if len(self._all) >= self.total:
                return int(self.window_s - (now - self._all[0])) + 1
        return 0

    def failed(self, client: str) -> None:
        now = self._clock()
        with self._lock:
            if len(self._fails) > 10_000:  # bounded memory under a spray of addresses
                self._fails.clear()
            self._fails.setdefault(client, deque()).append(now)
            self._all.append(now)


class WebAuth:
    """Login by the hub token (>= 128 bits) or `Authorization: Bearer`, sessions by cookie."""

    def __init__(self, token: str, *, sessions: Sessions | None = None,
                 limiter: LoginLimiter | None = None) -> None:
        if len(token) < MIN_TOKEN_CHARS:
            raise ConfigError(f"hub web token: it must have at least {MIN_TOKEN_CHARS} characters "
                             "(128 bits, e.g. `python -c 'import secrets; print(secrets.token_urlsafe(24))'`)")
        self.token = token.encode()
        self.sessions = sessions or Sessions()
        self.limiter = limiter or LoginLimiter()

    def authed(self, request: Any) -> bool:
        """A live session cookie (its CSRF token then goes to request.state.csrf), or a bearer token."""
        s = self.sessions.get(request.cookies.get(COOKIE, ""))
        if s is not None:
            request.state.csrf = s.csrf
            return True
        auth = request.headers.get("authorization", "")
        return bool(auth.startswith("Bearer ") and hmac.compare_digest(auth[7:].encode(), self.token))

    @staticmethod
    def client(request: Any) -> str:
        return request.client.host if request.client else "?"

    def login(self, request: Any, given: str) -> tuple[str | None, int]:
        """(session id, 0) on the right token; (None, 0) wrong; (None, seconds) rate-limited."""
        who = self.client(request)
        wait = self.limiter.retry_after(who)
        if wait:
            log.warning("web login from %s rate-limited (%d s)", who, wait)
            return None, wait
        if not hmac.compare_digest(given.encode(), self.token):
            self.limiter.failed(who)
            log.warning("web login with a wrong token from %s", who)
            return None, 0
        log.info("web login from %s", who)
        return self.sessions.create(), 0

    def logout(self, request: Any, csrf: str) -> bool:
        """Ends the session if the form's CSRF token is the session's own."""
        sid = request.cookies.get(COOKIE, "")
        s = self.sessions.get(sid)
        if s is None or not hmac.compare_digest(csrf.encode(), s.csrf.encode()):
            return False
        self.sessions.drop(sid)
        return True

    def cookie(self, request: Any, sid: str) -> dict[str, Any]:
        """set_cookie() arguments: expiring, HttpOnly, SameSite=Strict, Secure under TLS."""
        return {"key": COOKIE, "value": sid, "max_age": int(self.sessions.max_s), "httponly": True,
                "samesite": "strict", "secure": request.url.scheme == "https", "path": "/"}

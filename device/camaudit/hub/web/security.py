"""Web security of the hub's page, kept apart from its routes (hub/web/app.py).

- `SecurityHeaders`: an ASGI middleware that puts on every answer a Content-Security-Policy
  (own origin only, no inline script or style, `frame-ancestors 'none'`), X-Frame-Options
  DENY, X-Content-Type-Options nosniff and Referrer-Policy no-referrer.
- `Sessions`: server-side sessions with random ids (`secrets.token_urlsafe(32)`, 256
  bits) that expire (idle and absolute), each with its own CSRF token for POSTs (logout).
- `LoginLimiter`: failed logins, and wrong bearer tokens, are limited per client address
  with a doubling lock (never for everyone: no one locks the operator out from elsewhere).
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
    """Failed logins (or bearer-token guesses) are limited per client address, never for
    everyone: `per_client` failures within `window_s` lock that address for `window_s`, and
    each further lock of the same address doubles, up to `max_wait_s`; a success clears it.
    A guesser elsewhere on the network cannot lock the operator out. Memory is bounded: at
    most `max_clients` addresses are remembered (the oldest are forgotten first)."""

    def __init__(self, per_client: int = 5, window_s: float = 60.0, max_wait_s: float = 3600.0,
                 max_clients: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_client, self.window_s, self.max_wait_s = per_client, window_s, max_wait_s
        self.max_clients = max_clients
        self._clock = clock
        self._fails: dict[str, deque[float]] = {}
        self._strikes: dict[str, int] = {}
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int:
        """0 if `client` may try now, else seconds to wait."""
        now = self._clock()
        with self._lock:
            until = self._until.get(client, 0.0)
            return int(until - now) + 1 if until > now else 0

    def failed(self, client: str) -> None:
        now = self._clock()
        with self._lock:
            q = self._fails.pop(client, deque())
            self._fails[client] = q  # most recent last: the oldest are forgotten first
            while q and now - q[0] > self.window_s:
                q.popleft()
            q.append(now)
            if len(q) >= self.per_client:
                q.clear()
                strikes = self._strikes.get(client, 0) + 1
                self._strikes[client] = strikes
                self._until[client] = now + min(self.window_s * 2 ** min(strikes - 1, 30), self.max_wait_s)
            while len(self._fails) > self.max_clients:
                old = next(iter(self._fails))
                for d in (self._fails, self._strikes, self._until):
                    d.pop(old, None)

    def succeeded(self, client: str) -> None:
        with self._lock:
            for d in (self._fails, self._strikes, self._until):
                d.pop(client, None)


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
        self.bearer_limiter = LoginLimiter()  # wrong `Authorization: Bearer` guesses, per address

    def authed(self, request: Any) -> bool:
        """A live session cookie (its CSRF token then goes to request.state.csrf), or a bearer token."""
        s = self.sessions.get(request.cookies.get(COOKIE, ""))
        if s is not None:
            request.state.csrf = s.csrf
            return True
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return False
        who = self.client(request)
        if self.bearer_limiter.retry_after(who):
            return False  # too many wrong guesses from this address: not even compared
        if hmac.compare_digest(auth[7:].encode(), self.token):
            return True
        self.bearer_limiter.failed(who)
        log.warning("web: a wrong bearer token from %s", who)
        return False

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
        self.limiter.succeeded(who)
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

"""The hub web page's security: headers, expiring sessions, POST logout with CSRF, login
rate limit, tokens of at least 128 bits (against the real hub web server on 127.0.0.1)."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError
from starlette.requests import Request

from camaudit.errors import ConfigError
from camaudit.hub.web.security import COOKIE, CSP, LoginLimiter, Sessions, WebAuth

pytestmark = pytest.mark.integration
TOKEN = "websec-token-0123456789abcdef"


@pytest.fixture
def hub(make_hub):
    return make_hub(web=True, token=TOKEN)


def _login(url: str, token: str = TOKEN) -> httpx.Response:
    return httpx.post(url + "/login", data={"token": token}, follow_redirects=False)


def test_every_answer_carries_the_security_headers(hub) -> None:
    for path in ("/login", "/", "/captures", "/api/devices", "/static/hub.css", "/healthz", "/nope"):
        r = httpx.get(hub.web_url + path, headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.headers["content-security-policy"] == CSP, path
        assert "frame-ancestors 'none'" in CSP and "script-src 'self'" in CSP
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"


def test_session_cookie_expires_and_logout_needs_post_with_csrf(hub) -> None:
    r = _login(hub.web_url)
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=43200" in cookie
    assert "Secure" not in cookie  # plain http on 127.0.0.1; see the TLS case below
    sid = r.cookies[COOKIE]
    assert len(sid) >= 43  # 256 bits from secrets
    jar = {COOKIE: sid}
    page = httpx.get(hub.web_url + "/", cookies=jar)
    assert page.status_code == 200
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    assert len(csrf) >= 43
    assert httpx.get(hub.web_url + "/logout", cookies=jar).status_code == 405  # no GET logout
    r = httpx.post(hub.web_url + "/logout", cookies=jar, data={"csrf": "forged"})
    assert r.status_code == 403
    assert httpx.get(hub.web_url + "/", cookies=jar, follow_redirects=False).status_code == 200
    r = httpx.post(hub.web_url + "/logout", cookies=jar, data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    # the old cookie is dead on the server, whatever the browser keeps
    assert httpx.get(hub.web_url + "/", cookies=jar, follow_redirects=False).status_code == 303


def test_login_attempts_are_rate_limited(hub) -> None:
    for _ in range(5):
        assert _login(hub.web_url, "wrong-token").status_code == 401
    r = _login(hub.web_url)  # even the right token waits now
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert httpx.get(hub.web_url + "/api/devices",
                     headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_sessions_expire_idle_and_absolute() -> None:
    now = [0.0]
    s = Sessions(idle_s=10, max_s=30, clock=lambda: now[0])
    a = s.create()
    now[0] = 9
    assert s.get(a) is not None
    now[0] = 20
    assert s.get(a) is None  # idle for 11 s
    b = s.create()
    for t in range(25, 56, 5):
        now[0] = t
        assert (s.get(b) is not None) == (t - 20 <= 30)
    lim = LoginLimiter(per_client=2, window_s=60, clock=lambda: now[0])
    lim.failed("a")
    lim.failed("a")
    assert lim.retry_after("a") > 0 and lim.retry_after("b") == 0
    for n in range(50):  # 50 wrong tries from everywhere else lock no one else out
        lim.failed(f"10.0.0.{n}")
    assert lim.retry_after("operator") == 0
    now[0] += 61
    assert lim.retry_after("a") == 0
    lim.failed("a")
    lim.failed("a")
    assert 61 <= lim.retry_after("a") <= 121  # the second lock of the same address doubles
    lim.succeeded("a")
    assert lim.retry_after("a") == 0
    small = LoginLimiter(per_client=1, max_clients=100, clock=lambda: now[0])
    for n in range(1000):
        small.failed(f"10.1.{n // 256}.{n % 256}")
    assert len(small._fails) <= 100 and len(small._until) <= 100  # bounded memory


def test_secure_cookie_under_tls_and_short_tokens_refused(make_hub, tmp_path) -> None:
    auth = WebAuth(TOKEN)
    req = Request({"type": "http", "scheme": "https", "server": ("hub", 443), "path": "/login",
                   "headers": [], "query_string": b""})
    assert auth.cookie(req, "sid")["secure"] is True
    with pytest.raises(ConfigError, match="128 bits"):
        WebAuth("x" * 21)
    with pytest.raises(ValidationError):
        make_hub(web=True, token="eight-ch")
    generated = make_hub(web=True, data_dir=tmp_path / "gen").token
    assert len(generated) >= 32  # secrets.token_urlsafe(24): 192 bits


def _from(source: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=source), follow_redirects=False)


def test_wrong_logins_lock_only_their_address_and_x_forwarded_for_is_not_trusted(hub) -> None:
    """50 wrong tries from loopback 127.0.0.1 (each naming another X-Forwarded-For address)
    lock 127.0.0.1, not the operator on 127.0.0.2."""
    with _from("127.0.0.1") as stranger:
        codes = [stranger.post(hub.web_url + "/login", data={"token": "wrong"},
                               headers={"X-Forwarded-For": f"10.9.0.{n}"}).status_code for n in range(50)]
        assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}  # XFF did not spread the limit
    with _from("127.0.0.2") as operator:
        assert operator.post(hub.web_url + "/login", data={"token": TOKEN}).status_code == 303


def test_bearer_token_guesses_are_limited_per_address(hub) -> None:
    with _from("127.0.0.2") as guesser:
        for n in range(5):
            r = guesser.get(hub.web_url + "/api/devices", headers={"Authorization": f"Bearer guess-{n}"})
            assert r.status_code in (303, 401)
        # locked: even the right token is not compared from this address now
        r = guesser.get(hub.web_url + "/api/devices", headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code in (303, 401)
    with _from("127.0.0.1") as operator:
        r = operator.get(hub.web_url + "/api/devices", headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 200

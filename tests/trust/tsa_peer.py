"""The local `openssl ts` authority, shared with the hub tests and the demo:
camaudit.trust.local_tsa."""

from camaudit.trust.local_tsa import Authority, make_authority, serve

__all__ = ["Authority", "make_authority", "serve"]

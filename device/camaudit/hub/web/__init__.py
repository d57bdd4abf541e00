"""The hub web page: the app and its routes, security (sessions, CSRF, headers), views, charts, live updates."""

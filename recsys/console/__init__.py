"""The curators' console: server-rendered pages at ``/console`` on the API's own app.

``recsys.console.mount.install_console(app)`` adds its routes, its static files and its HTML
error pages; the app factory calls it. ``recsys.console.web`` says how sessions, CSRF and
roles work.
"""

__all__ = [
    "link_preview",
    "mount",
    "pair_reach",
    "routes_artists",
    "routes_history",
    "routes_review",
    "routes_session",
    "routes_trust",
    "web",
]

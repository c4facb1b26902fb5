"""The app's pages: each one's URL path (the key), title and icon, in menu order. Read by the
entry point (dashboards/app.py) and by the server (dashboards/serve.py), which must know the
page URLs before any script runs."""

from __future__ import annotations

PAGES: dict[str, tuple[str, str]] = {
    "cohort": ("Cohort review", ":material/bar_chart:"),
    "patient": ("Patient view", ":material/person:"),
    "safety": ("Safety", ":material/health_and_safety:"),
    "data": ("Data", ":material/upload_file:"),
    "audit": ("Audit trail", ":material/policy:"),
    "definitions": ("Definitions", ":material/menu_book:"),
}

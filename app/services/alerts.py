"""Alerts: list, acknowledge, run the completeness check (the repository's own operations,
passed through so routers reach the database only through services)."""

from __future__ import annotations

from app.repositories.alerts import acknowledge as acknowledge
from app.repositories.alerts import check_completeness as check_completeness
from app.repositories.alerts import list_alerts as list_alerts

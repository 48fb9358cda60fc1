"""Enterprises and meters. Their reads and writes need no more than the repository does, so
the service passes them through (routers reach the database only through services)."""

from __future__ import annotations

from app.repositories.core import create_enterprise as create_enterprise
from app.repositories.core import create_meter as create_meter
from app.repositories.core import get_enterprise as get_enterprise
from app.repositories.core import get_meter as get_meter
from app.repositories.core import list_enterprises as list_enterprises
from app.repositories.core import list_meters as list_meters
from app.repositories.core import meters_with_code as meters_with_code

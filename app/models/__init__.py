"""ORM models, one module per domain. Import them here so metadata knows every table."""

from app.models.alerts import Alert
from app.models.base import Base
from app.models.carbon import (
    ActivityBatch,
    ActivityRecord,
    ActivityRevision,
    CarbonPeriod,
    FrozenLedger,
    PeriodEvent,
)
from app.models.core import ApiKey, Enterprise, Meter
from app.models.readings import IngestBatch, MeterDay, Reading, ReadingRevision

__all__ = [
    "ActivityBatch",
    "ActivityRecord",
    "ActivityRevision",
    "Alert",
    "ApiKey",
    "Base",
    "CarbonPeriod",
    "Enterprise",
    "FrozenLedger",
    "IngestBatch",
    "Meter",
    "MeterDay",
    "PeriodEvent",
    "Reading",
    "ReadingRevision",
]

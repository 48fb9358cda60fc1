"""ORM models, one module per domain. Import them here so metadata knows every table."""

from app.models.alerts import Alert
from app.models.base import Base
from app.models.carbon import (
    ActivityBatch,
    ActivityRecord,
    ActivityRevision,
    CarbonPeriod,
    FrozenLedger,
    Instrument,
    InstrumentBatch,
    InstrumentRevision,
    PeriodEvent,
)
from app.models.core import ApiKey, Enterprise, Meter, RegistryDocument
from app.models.jobs import JobRun, SchedulerLeaderRow
from app.models.pv import PvArray, Roof, WeatherStation
from app.models.quarantine import QuarantinedRow
from app.models.readings import IngestBatch, MeterDay, Reading, ReadingRevision
from app.models.simulations import ScenarioArtifact, ScenarioRun
from app.models.storage import StorageAsset, StorageCapacityTest, StorageMeter, StoragePlan
from app.models.vpp import (
    DrEvent,
    DrEventVersion,
    DrInstruction,
    DrPlan,
    DrSettlement,
    FlexResource,
)

__all__ = [
    "ActivityBatch",
    "ActivityRecord",
    "ActivityRevision",
    "Alert",
    "ApiKey",
    "Base",
    "CarbonPeriod",
    "DrEvent",
    "DrEventVersion",
    "DrInstruction",
    "DrPlan",
    "DrSettlement",
    "Enterprise",
    "FlexResource",
    "FrozenLedger",
    "IngestBatch",
    "Instrument",
    "InstrumentBatch",
    "InstrumentRevision",
    "JobRun",
    "Meter",
    "MeterDay",
    "PeriodEvent",
    "PvArray",
    "QuarantinedRow",
    "Reading",
    "ReadingRevision",
    "RegistryDocument",
    "Roof",
    "ScenarioArtifact",
    "ScenarioRun",
    "SchedulerLeaderRow",
    "StorageAsset",
    "StorageCapacityTest",
    "StorageMeter",
    "StoragePlan",
    "WeatherStation",
]

"""The demo park (``zcpark serve --demo``): :mod:`.park` runs the loaders in order; the PV
(:mod:`.pv`) and carbon (:mod:`.carbon`) loaders and the park's own use the shared pieces of
:mod:`.common` and never each other."""

from app.demo.common import ENTERPRISES, SEED, YEAR, DemoContext, demo_end
from app.demo.park import (
    DEMO_LOADERS,
    DemoState,
    add_demo_readings,
    demo_state,
    load_demo_park,
    load_enterprises_and_meters,
)

__all__ = ["DEMO_LOADERS", "ENTERPRISES", "SEED", "YEAR", "DemoContext", "DemoState",
           "add_demo_readings", "demo_end", "demo_state", "load_demo_park",
           "load_enterprises_and_meters"]

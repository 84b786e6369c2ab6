"""The province configuration: centers, services, counters, calendar, priority groups, policy.

Loaded from a TOML file (default: ``queue_server/data/province.toml`` with the 54 centers of
Quang Ninh from ``quangninh_units.csv``). Every error names the file, the key or CSV line, and
what was expected; docs/configuration.md describes the keys. The model lives in
:mod:`queue_server.province_model`, the parsing in :mod:`queue_server.province_loader`; this
module is what the rest of the code imports.
"""

from __future__ import annotations

from pathlib import Path

from queue_server.province_loader import read_province
from queue_server.province_model import (
    WEEKDAYS,
    Calendar,
    Center,
    Counter,
    Named,
    OpeningHours,
    Policy,
    Province,
    Service,
)

DEFAULT_PROVINCE_FILE = Path(__file__).parent / "data" / "province.toml"

__all__ = ["DEFAULT_PROVINCE_FILE", "WEEKDAYS", "Calendar", "Center", "Counter", "Named",
           "OpeningHours", "Policy", "Province", "Service", "load_province"]


def load_province(path: Path | str | None = None) -> Province:
    """Read and validate a province file; raises ConfigError naming file, key and expectation."""
    return read_province(Path(path) if path is not None else DEFAULT_PROVINCE_FILE)

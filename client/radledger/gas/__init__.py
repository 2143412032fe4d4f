"""Gas: the measurements (:mod:`.measurements`, on a fresh in-process chain) and the committed snapshot
with DESIGN.md's targets (:mod:`.snapshot`), as `radledger gas snapshot | check | table` uses them."""

from __future__ import annotations

from radledger.gas.measurements import (
    EXACT_ESTIMATOR,
    MEASUREMENTS,
    Bench,
    estimator_of,
    exact_estimator,
    measure,
    measurement,
)
from radledger.gas.snapshot import (
    DEFAULT_SNAPSHOT,
    DEFAULT_TOLERANCE,
    DESCRIPTIONS,
    TARGETS,
    GasCheckError,
    Row,
    compare,
    dumps,
    format_rows,
    markdown_table,
    read_snapshot,
    write_snapshot,
)

__all__ = [
    "DEFAULT_SNAPSHOT",
    "DEFAULT_TOLERANCE",
    "DESCRIPTIONS",
    "EXACT_ESTIMATOR",
    "MEASUREMENTS",
    "TARGETS",
    "Bench",
    "GasCheckError",
    "Row",
    "compare",
    "dumps",
    "estimator_of",
    "exact_estimator",
    "format_rows",
    "markdown_table",
    "measure",
    "measurement",
    "read_snapshot",
    "write_snapshot",
]

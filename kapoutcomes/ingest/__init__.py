"""Importing clinic EHR exports: read, detect the layout, normalise, de-identify, validate,
de-duplicate and store - losing nothing. See docs/importing.md.

The API is free of any UI: the dashboard's upload page passes ``(name, bytes)`` pairs.
"""

from kapoutcomes.ingest.errors import IngestError
from kapoutcomes.ingest.frames import QUARANTINE_META
from kapoutcomes.ingest.mapping import Mapping
from kapoutcomes.ingest.mapping import load as load_mapping
from kapoutcomes.ingest.pipeline import ImportRequest, find_patient_id, import_files, run_import
from kapoutcomes.ingest.presets import PRESETS
from kapoutcomes.ingest.quarantine import quarantine_csv, quarantine_files, quarantine_frame
from kapoutcomes.ingest.read import (
    DEFAULT_LIMITS,
    MAX_BYTES,
    MAX_CELL_CHARS,
    MAX_COLUMNS,
    MAX_FIELD_CHARS,
    MAX_ROWS,
    MAX_UNPACKED_BYTES,
    ImportLimits,
)
from kapoutcomes.ingest.report import FileReport, ImportReport, ReasonCount

__all__ = [
    "DEFAULT_LIMITS",
    "MAX_BYTES",
    "MAX_CELL_CHARS",
    "MAX_COLUMNS",
    "MAX_FIELD_CHARS",
    "MAX_ROWS",
    "MAX_UNPACKED_BYTES",
    "PRESETS",
    "QUARANTINE_META",
    "FileReport",
    "ImportLimits",
    "ImportReport",
    "ImportRequest",
    "IngestError",
    "Mapping",
    "ReasonCount",
    "find_patient_id",
    "import_files",
    "load_mapping",
    "quarantine_csv",
    "quarantine_files",
    "quarantine_frame",
    "run_import",
]

"""File parsers: a dump file in, validated rows and row errors out. No database access.

- `parse_certhelper_pairs(path)`: Certhelper's pairs export (JSON list or CSV).
- `recognise_dump(path)` and `DumpSource.read()`: the OMS-ish dumps, streamed as records.
"""

from .certhelper import RECONSTRUCTION_TYPES, CerthelperPair, parse_certhelper_pairs
from .common import DumpFileError, ParsedFile, RowError
from .oms import FILL, LUMISECTION, RUN, DumpSource, Record, SkippedFile, expand_paths, recognise_dump

__all__ = [
    "FILL",
    "LUMISECTION",
    "RECONSTRUCTION_TYPES",
    "RUN",
    "CerthelperPair",
    "DumpFileError",
    "DumpSource",
    "ParsedFile",
    "Record",
    "RowError",
    "SkippedFile",
    "expand_paths",
    "parse_certhelper_pairs",
    "recognise_dump",
]

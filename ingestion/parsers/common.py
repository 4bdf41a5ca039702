"""Shared pieces of the dump parsers: row errors, file opening, value coercion.

Parsers never touch the database. They turn a file into validated, normalised
records plus `RowError`s, so a bad row is rejected before any write and never
aborts a batch.
"""

import csv
import datetime as dt
import gzip
import io
import json
import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# A Certhelper dataset or comment can be long; the csv module's default 128 kB
# field limit is plenty, but a corrupt file can hold one giant "field".
csv.field_size_limit(10_000_000)


@dataclass(frozen=True)
class RowError:
    """A rejected row. `line` is the physical line in a CSV file (header = 1), or
    the 1-based position of the item in a JSON list."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "reason": self.reason}


class RowInvalid(ValueError):
    """Raised by the coercion helpers; the parser turns it into a RowError."""


# What a value no coercion helper foresaw can raise while a row is converted. The
# readers make these row errors too: one odd cell must not stop the file (or leave
# its job running). Anything else is a bug and stops the file loudly.
UNFORESEEN_CELL_ERRORS = (RecursionError, ValueError, TypeError, ArithmeticError)


def unforeseen_reason(error: BaseException) -> str:
    if isinstance(error, RecursionError):
        return "a value nested too deeply"
    return f"unreadable value ({type(error).__name__}: {str(error)[:80]})"


class DumpFileError(Exception):
    """The file as a whole cannot be read (any further): unreadable, truncated,
    not the expected format, or missing a required column. Rows yielded before
    it was raised are valid and may be imported."""

    def __init__(self, file: str, reason: str):
        self.file = file
        self.reason = reason
        super().__init__(f"{file}: {reason}")


@dataclass
class ParsedFile:
    """A whole file parsed in memory: the valid rows, the rejected ones, and the
    file-level error that stopped the parse, if any (rows before it are kept)."""

    rows: list = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    fatal: str = ""


class InflatedTooLarge(Exception):
    """A gzipped file inflated beyond IMPORT_MAX_INFLATED_MB."""


def inflated_limit_mb() -> float:
    # Read at each open, so a test (or an operator's shell) can change it.
    from django.conf import settings

    return float(settings.IMPORT_MAX_INFLATED_MB)


def _too_large(name: str) -> str:
    return f"{name} inflates to more than {inflated_limit_mb():g} MB (IMPORT_MAX_INFLATED_MB)"


class _InflateBound(io.RawIOBase):
    """The inflated bytes of a gzip file, counted as they are read: the reader stops
    at the limit however the caller reads (csv line by line, json all at once)."""

    def __init__(self, stream: gzip.GzipFile, limit: int):
        self._stream = stream
        self._limit = limit
        self._inflated = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = self._stream.readinto(buffer)
        self._inflated += count
        if self._inflated > self._limit:
            raise InflatedTooLarge
        return count

    def close(self) -> None:
        self._stream.close()
        super().close()


def open_text(path: Path) -> io.TextIOBase:
    """Open a text file, gunzipping `.gz` files up to IMPORT_MAX_INFLATED_MB
    (InflatedTooLarge beyond)."""
    if path.suffix == ".gz":
        bounded = _InflateBound(gzip.open(path, "rb"), int(inflated_limit_mb() * 1024 * 1024))
        return io.TextIOWrapper(io.BufferedReader(bounded), encoding="utf-8", newline="")
    return path.open("r", encoding="utf-8", newline="")


def iter_csv(path: Path, *, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str] | RowError]]:
    """Yield (line, row dict) for each CSV record, or (line, RowError) for a
    record with the wrong number of fields.

    Raises DumpFileError when the file cannot be opened, lacks a `required`
    column, or breaks off (truncated gzip, bad encoding). Records read before the
    damage have been yielded already.
    """
    name = path.name
    last_line = 0
    try:
        with open_text(path) as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise DumpFileError(name, "empty file (no header)")
            header = [column.strip() for column in header]
            missing = [column for column in required if column not in header]
            if missing:
                raise DumpFileError(name, f"missing required column {', '.join(repr(c) for c in missing)}")
            last_line = reader.line_num
            for values in reader:
                line = last_line + 1  # the record's first line (a quoted field may span lines)
                last_line = reader.line_num
                if not values:
                    continue
                if len(values) != len(header):
                    yield line, RowError(name, line, f"expected {len(header)} fields, got {len(values)}")
                    continue
                yield line, dict(zip(header, values, strict=True))
    except InflatedTooLarge:
        raise DumpFileError(name, _too_large(name)) from None
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DumpFileError(name, f"truncated or corrupt gzip after line {last_line} ({exc})") from exc
    except UnicodeDecodeError as exc:
        raise DumpFileError(name, f"not UTF-8 text after line {last_line}") from exc
    except csv.Error as exc:
        raise DumpFileError(name, f"malformed CSV after line {last_line} ({exc})") from exc
    except OSError as exc:
        raise DumpFileError(name, f"cannot read file ({exc.strerror or exc})") from exc


def load_json(path: Path) -> Any:
    """The whole JSON document of a (possibly gzipped) file, or DumpFileError."""
    try:
        with open_text(path) as handle:
            return json.load(handle)
    except InflatedTooLarge:
        raise DumpFileError(path.name, _too_large(path.name)) from None
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DumpFileError(path.name, f"truncated or corrupt gzip ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise DumpFileError(path.name, f"invalid JSON at line {exc.lineno} ({exc.msg})") from exc
    except RecursionError:
        raise DumpFileError(path.name, "invalid JSON (nested too deeply)") from None
    except UnicodeDecodeError as exc:
        raise DumpFileError(path.name, "not UTF-8 text") from exc
    except OSError as exc:
        raise DumpFileError(path.name, f"cannot read file ({exc.strerror or exc})") from exc


# --- Value coercion ----------------------------------------------------------
# CSV cells arrive as strings, JSON values as their own types. Empty, "nan" and
# None all mean "no value". Anything else that does not parse is a row error.

_MISSING = {"", "nan", "none", "null", "na", "n/a"}

# The mirror's integer columns are 32-bit (PostgreSQL `integer`), except BigIntegerFields.
# A larger value is a row error here, not a failed batch at the database.
DB_INT_MAX = 2**31 - 1
DB_BIGINT_MAX = 2**63 - 1


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and value.strip().lower() in _MISSING


def to_float(value: Any, column: str) -> float | None:
    if is_missing(value):
        return None
    if isinstance(value, bool):
        raise RowInvalid(f"{column}: expected a number, got {value!r}")
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise RowInvalid(f"{column}: expected a number, got {value!r}") from None
    except OverflowError:  # an integer beyond any float, e.g. 10**400 in JSON
        raise RowInvalid(f"{column}: expected a finite number, got a {len(str(value))}-digit integer") from None
    if not math.isfinite(number):
        raise RowInvalid(f"{column}: expected a finite number, got {value!r}")
    return number


def to_int(value: Any, column: str, *, minimum: int | None = None, maximum: int = DB_INT_MAX) -> int | None:
    """An integer; "9322.0" (a pandas float column) is accepted, "9322.5" is not."""
    number = to_float(value, column)
    if number is None:
        return None
    if not number.is_integer():
        raise RowInvalid(f"{column}: expected an integer, got {value!r}")
    result = int(number)
    if minimum is not None and result < minimum:
        raise RowInvalid(f"{column}: must be >= {minimum}, got {result}")
    if result > maximum:
        raise RowInvalid(f"{column}: must be <= {maximum}, got {result}")
    return result


def to_required_int(value: Any, column: str, *, minimum: int = 1) -> int:
    result = to_int(value, column, minimum=minimum)
    if result is None:
        raise RowInvalid(f"{column}: missing")
    return result


_TRUE = {"true", "1", "1.0", "yes", "t"}
_FALSE = {"false", "0", "0.0", "no", "f"}


def to_bool(value: Any, column: str) -> bool | None:
    if is_missing(value):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        if value in (0, 1):
            return bool(value)
        raise RowInvalid(f"{column}: expected a boolean, got {value!r}")
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise RowInvalid(f"{column}: expected a boolean, got {value!r}")


def to_datetime(value: Any, column: str) -> dt.datetime | None:
    """An ISO-8601 timestamp. OMS times are UTC; a naive one is taken as UTC."""
    if is_missing(value):
        return None
    if not isinstance(value, str):
        raise RowInvalid(f"{column}: expected an ISO-8601 timestamp, got {value!r}")
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise RowInvalid(f"{column}: unparseable timestamp {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    try:
        return parsed.astimezone(dt.UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+14:00 is before year 1 in UTC
        raise RowInvalid(f"{column}: timestamp out of range {value!r}") from None


def to_str(value: Any, column: str, *, max_length: int | None = None) -> str:
    if is_missing(value):
        return ""
    if isinstance(value, dict | list):
        raise RowInvalid(f"{column}: expected text, got {type(value).__name__}")
    text = str(value).strip()
    if max_length is not None and len(text) > max_length:
        raise RowInvalid(f"{column}: longer than {max_length} characters")
    if "\x00" in text:  # legal in JSON, refused by PostgreSQL text columns
        raise RowInvalid(f"{column}: contains a NUL character")
    return text


def to_str_list(value: Any, column: str, *, separator: str = ";") -> list[str] | None:
    """A list of names: a JSON list, or a string joined with `separator`."""
    if is_missing(value):
        return None
    if isinstance(value, list):
        if not all(isinstance(item, str) for item in value):
            raise RowInvalid(f"{column}: expected a list of names")
        names = [item.strip() for item in value if item.strip()]
    elif isinstance(value, str):
        names = [item.strip() for item in value.split(separator) if item.strip()]
    else:
        raise RowInvalid(f"{column}: expected a list of names, got {value!r}")
    if any("\x00" in name for name in names):  # PostgreSQL jsonb refuses \u0000
        raise RowInvalid(f"{column}: contains a NUL character")
    return names

"""Small dump files written to tmp_path for parser, service and command tests."""

import gzip
import json
from pathlib import Path


def write_text(path: Path, text: str) -> Path:
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    lines = [",".join(header)] + [",".join("" if v is None else str(v) for v in row) for row in rows]
    return write_text(path, "\n".join(lines) + "\n")


def write_json(path: Path, document: object) -> Path:
    return write_text(path, json.dumps(document))


def write_truncated_gzip(path: Path, text: str, *, keep: float = 0.6) -> Path:
    data = gzip.compress(text.encode())
    path.write_bytes(data[: int(len(data) * keep)])
    return path


LS_HEADER = [
    "run_number",
    "lumisection_number",
    "fill_number",
    "init_lumi",
    "end_lumi",
    "delivered_lumi",
    "recorded_lumi",
    "pileup",
    "physics_flag",
    "cms_active",
    "beam1_present",
    "beam2_present",
    "beam1_stable",
    "beam2_stable",
    "bpix_ready",
    "fpix_ready",
    "tibtid_ready",
    "tob_ready",
    "tecp_ready",
    "tecm_ready",
]


def ls_row(run: int, number: int, *, lumi: float = 0.5, pileup: float = 40.0) -> list[object]:
    return [run, number, 6612, lumi, lumi, 0.12 * number, 0.11 * number, pileup] + [1] * 12


def oms_api_page(resource: str, items: list[tuple[str, dict, dict]]) -> dict:
    """An OMS API page: items are (id, attributes, units by attribute)."""
    return {
        "data": [
            {
                "id": item_id,
                "type": resource,
                "attributes": attributes,
                "links": {"self": f"https://example.invalid/agg/api/v1/{resource}/{item_id}"},
                "meta": {"row": {name: {"units": unit} for name, unit in units.items()}},
            }
            for item_id, attributes, units in items
        ],
        "links": {"first": None, "last": None, "next": None, "prev": None},
        "meta": {"totalResourceCount": len(items)},
    }

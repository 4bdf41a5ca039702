"""Certified-good lumisections from the certification JSON masks (golden, DCS-only, tracker).

A mask maps a run to its good lumisection ranges ({"315257": [[1, 88], [91, 92]]}). A run
inside a mask's run range but absent from it had no good lumisection; outside every mask's
range the frame's own count stays (the Run Registry's, from the run features frame), or
NaN where there is none.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd


def good_lumisections(paths: Iterable[Path]) -> tuple[dict[int, int], list[tuple[int, int]]]:
    """Per run, the most good lumisections any mask gives it; and each mask's run range."""
    good: dict[int, int] = {}
    ranges: list[tuple[int, int]] = []
    for path in paths:
        with Path(path).open() as handle:
            mask = json.load(handle)
        runs = [int(r) for r in mask]
        if not runs:
            continue
        ranges.append((min(runs), max(runs)))
        for run, spans in mask.items():
            count = sum(int(b) - int(a) + 1 for a, b in spans)
            good[int(run)] = max(good.get(int(run), 0), count)
    return good, ranges


def with_good_lumisections(frame: pd.DataFrame, directory: Path | str | None) -> pd.DataFrame:
    """The run-features frame with `good_ls` from the masks in `directory`
    (certification_json_*.json) for the runs they cover; the frame's own `good_ls`
    elsewhere; unchanged when no directory is given."""
    if not directory:
        return frame
    paths = sorted(Path(directory).glob("certification_json_*.json"))
    if not paths:
        return frame
    good, ranges = good_lumisections(paths)
    frame = frame.copy()
    runs = frame.index.to_numpy()
    covered = np.zeros(len(runs), dtype=bool)
    for lo, hi in ranges:
        covered |= (runs >= lo) & (runs <= hi)
    values = np.array([good.get(int(r), 0) for r in runs], dtype=float)
    own = frame["good_ls"].to_numpy(dtype=float) if "good_ls" in frame.columns else np.full(len(runs), np.nan)
    frame["good_ls"] = np.where(covered, values, own)
    return frame

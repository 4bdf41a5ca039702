"""Small hand-made histories for the ML tests (DataFrames, no database)."""

import pandas as pd

from recommender.ml.dataset import labels_from_records, normalise_run_features

PP = "/Express/Collisions2024/DQM"
PP_PROMPT = "/PromptReco/Collisions2024/DQM"
COSMICS = "/Express/Cosmics2024/DQM"


def runs_frame(rows: dict[int, dict]) -> pd.DataFrame:
    return normalise_run_features(pd.DataFrame([{"run_number": r, **values} for r, values in rows.items()]))


def labels(rows: list[tuple]) -> pd.DataFrame:
    """rows: (run, reconstruction, reference, dataset)."""
    return labels_from_records(
        [
            {"run_number": r, "reconstruction": reco, "reference_run_number": ref, "dataset": ds}
            for r, reco, ref, ds in rows
        ],
        {},
    )

"""Ranker.serving_scores (a recommendation's rows as arrays) gives exactly the fitted
pipeline's probabilities for the same rows as a frame, unknown and missing categories
included."""

import numpy as np
import pandas as pd

from recommender.ml.model import Ranker
from recommender.ml.pipeline import build_pipeline


def test_it_scores_exactly_as_the_pipeline():
    rng = np.random.default_rng(0)
    numeric, categorical = ["a", "b", "c"], ["reconstruction", "run_class"]
    n = 400
    train = pd.DataFrame(rng.normal(size=(n, 3)), columns=numeric)
    train.loc[rng.random(n) < 0.2, "b"] = np.nan
    train["reconstruction"] = rng.choice(["express", "prompt"], n)
    train["run_class"] = rng.choice(["cosmics", "collisions_pp", None], n)
    y = (train["a"] + (train["run_class"] == "cosmics") + rng.normal(scale=0.5, size=n)) > 0.5
    ranker = Ranker(
        pipeline=build_pipeline(numeric=numeric, categorical=categorical, max_iter=20),
        numeric=numeric,
        categorical=categorical,
    )
    ranker.pipeline.fit(train[numeric + categorical], y)

    serving = train.head(50).copy()
    serving.loc[0, "run_class"] = "heavy_ion"  # never seen in training
    serving.loc[1, "reconstruction"] = np.nan
    expected = ranker.pipeline.predict_proba(serving[numeric + categorical])[:, 1]
    assert np.array_equal(ranker.scores(serving), expected)
    arrays = [serving[c].to_numpy(dtype=object) for c in categorical]
    assert np.array_equal(ranker.serving_scores(serving[numeric].to_numpy(dtype=float), arrays), expected)

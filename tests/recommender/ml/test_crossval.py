import numpy as np

from recommender.ml.crossval import DEFAULT_CONFIDENCE_THRESHOLDS, confidence_thresholds, fit_calibrator


def test_it_sets_the_confidence_words_where_rank_one_was_right_97_and_80_percent_of_the_time():
    probabilities = np.r_[np.full(90, 0.99), np.full(10, 0.85), np.full(30, 0.6), np.full(10, 0.3)]
    correct = np.r_[np.ones(90), np.ones(10), np.ones(25), np.zeros(5), np.ones(3), np.zeros(7)]
    thresholds = confidence_thresholds(probabilities, correct)
    assert thresholds == {"high": 0.85, "medium": 0.6}  # 100/100 from 0.85; 125/130 from 0.6; 25/30 in [0.6, 0.85)
    assert confidence_thresholds(np.zeros(0), np.zeros(0)) == DEFAULT_CONFIDENCE_THRESHOLDS


def test_it_calibrates_rank_one_scores_monotonically_and_only_with_both_outcomes():
    raw = np.linspace(0, 1, 100)
    correct = raw > 0.3
    calibrator = fit_calibrator(raw, correct)
    mapped = calibrator.predict(raw)
    assert (np.diff(mapped) >= 0).all()
    assert mapped[0] == 0.0
    assert mapped[-1] == 1.0
    assert fit_calibrator(raw, np.ones(100, dtype=bool)) is None

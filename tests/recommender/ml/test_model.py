"""The decision layer (`recommender.ml.model.decide`): rank 1 is persistence's pick."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.ml.model import decide, log_odds


def _decide(candidates, scores, persistence, **options):
    n = len(candidates)
    return decide(
        candidates,
        np.asarray(scores, dtype=float),
        never_used=np.zeros(n, dtype=bool),
        run_gap=np.arange(n, 0, -1),
        persistence=persistence,
        **options,
    )


def test_a_saturated_score_does_not_take_rank_one_from_persistences_pick():
    # What the kept-back periods showed: 1.0 for one candidate, 1e-52 for persistence's pick;
    # 1.0 - 1e-52 == 1.0 in floating point, so a raw margin of 1 was met and the model switched.
    candidates = [316985, 317100, 317200, 317300, 317400, 317500]
    scores = [1e-52, 1.0, 0.2, 0.1, 1e-78, 0.05]
    order = _decide(candidates, scores, persistence=[316985, 317200])
    assert candidates[order[0]] == 316985
    assert candidates[order[1]] == 317100  # the model's favourite comes next
    # the rule, when one is set, is in log-odds, where saturation cannot make every margin
    assert np.isfinite(log_odds(np.array([0.0, 1e-52, 1.0]))).all()
    assert candidates[_decide(candidates, scores, persistence=[316985], switch_log_odds=200.0)[0]] == 316985


scores_and_pick = st.integers(min_value=1, max_value=40).flatmap(
    lambda n: st.tuples(
        st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=n, max_size=n),
        st.integers(min_value=0, max_value=n - 1),
        st.integers(min_value=0, max_value=4),
    )
)


@settings(max_examples=300, deadline=None)
@given(scores_and_pick)
def test_rank_one_is_persistences_pick_whatever_the_scores(case):
    scores, pick, reserved = case
    candidates = [380000 + 7 * i for i in range(len(scores))]
    order = _decide(candidates, scores, persistence=[candidates[pick]], reserved_new_slots=reserved)
    assert candidates[order[0]] == candidates[pick]
    assert sorted(order.tolist()) == list(range(len(candidates)))  # every candidate, once

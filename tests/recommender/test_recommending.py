from collections import deque

import pytest

from recommender.exceptions import UnknownRunReconstruction
from recommender.recommending import RecommendationResult, recommendations_for, serving_cache_clear
from tests.factories import RunFactory, RunReconstructionFactory

from .ml.synthetic import DATASETS, make_labels, make_runs, pair_rows, reference_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_cache():
    serving_cache_clear()
    yield
    serving_cache_clear()


def test_it_recommends_with_reasons_and_side_by_side_values(trained):
    numbers, run_number = trained
    results = recommendations_for(run_number=run_number, reconstruction="express")
    assert 1 <= len(results) <= 5
    assert all(isinstance(r, RecommendationResult) for r in results)
    assert [r.rank for r in results] == list(range(1, len(results) + 1))
    assert all(r.reference_run_number < run_number for r in results)
    assert reference_of(numbers[-1]) in [r.reference_run_number for r in results]
    best = results[0]
    assert best.reasons, "a recommendation says why"
    assert all(reason.description for reason in best.reasons)
    rows = {row.name: row for row in best.side_by_side}
    assert rows["duration"].run_value == 3100
    assert rows["duration"].reference_value is not None
    assert best.model_version_id is not None
    assert all(0.0 <= r.score <= 1.0 for r in results)  # probabilities (calibrated when training could)
    assert all(r.score <= 1.0 - best.score + 1e-9 for r in results[1:])


def test_it_keeps_persistences_pick_at_rank_one_when_serving(trained):
    from recommender.ml.baselines import persistence_ranking
    from recommender.ml.run_table import Target
    from recommender.serving import history_for as _history_for

    _, run_number = trained
    results = recommendations_for(run_number=run_number, reconstruction="express")
    target_history = _history_for(run_number)
    pick = persistence_ranking(target_history, Target(run_number, "express", "collisions_pp"))[0]
    assert results[0].reference_run_number == pick


def test_it_falls_back_to_persistence_without_a_model(db):
    numbers = make_runs(12)
    make_labels(pair_rows(numbers))
    results = recommendations_for(run_number=numbers[-1] + 0, reconstruction="express")
    assert [r.reference_run_number for r in results][:1] == [reference_of(numbers[-2])]
    assert results[0].model_version_id is None


def test_it_says_when_the_run_is_unknown(db):
    with pytest.raises(UnknownRunReconstruction):
        recommendations_for(run_number=1, reconstruction="express")


def _history_state(value):
    """What a History knows, as plain values: equal histories compare equal whatever
    the order their dicts were filled in or which string objects they share; the
    caches are left out."""
    if hasattr(value, "__dict__"):
        return {k: _history_state(v) for k, v in vars(value).items() if k not in ("_rank_cache", "_order")}
    if isinstance(value, dict):
        return sorted((repr(k), _history_state(v)) for k, v in value.items())
    if isinstance(value, list | tuple | deque):
        return [_history_state(v) for v in value]
    return value.item() if hasattr(value, "item") else value


def _served_histories_are_replays(numbers):
    """Every run's history as served (a new run's, an older run's) is the one a full
    replay of the labels before it gives, and the labels served are the database's."""
    from recommender.ml.history import History
    from recommender.selectors import labels_frame
    from recommender.serving import history_for, labels_in_use

    labels = labels_frame()
    assert labels_in_use().equals(labels)
    for target in [*numbers[::3], numbers[-1] + 1]:
        assert _history_state(recommendations_history(target)) == _history_state(
            History.from_labels(labels, before_run=target)
        ), target
    assert _history_state(history_for(numbers[-1] + 1)) == _history_state(History.from_labels(labels))


def recommendations_history(run_number):
    """The history a recommendation for `run_number` is computed from, read as
    recommendations_for reads it (the change counters first)."""
    from recommender import serving

    with serving.cache.lock:
        serving.cache.revalidate()
        return serving.history_for(run_number)


def test_it_serves_each_run_the_history_of_the_labels_before_it():
    numbers = make_runs(40)
    make_labels(pair_rows(numbers))
    _served_histories_are_replays(numbers)


def test_it_serves_the_history_of_the_labels_as_they_are_after_each_change():
    """A decision on a new run, on an older run, a removed decision and a label
    corrected in place: each is in the very next history served."""
    from recommender.models import ReferencePair
    from tests.factories import ReferencePairFactory

    numbers = make_runs(30)
    make_labels(pair_rows(numbers))
    _served_histories_are_replays(numbers)

    newest = numbers[-1] + 1
    RunReconstructionFactory(
        run=RunFactory(run_number=newest, run_class="collisions_pp"),
        reconstruction="express",
        dataset=DATASETS["express"],
    )
    _served_histories_are_replays(numbers)

    def label(run_number: int) -> None:
        """A shifter's decision: one label row, nothing else written."""
        ReferencePairFactory(
            run_reconstruction=RunReconstructionFactory(run__run_number=run_number, reconstruction="express"),
            reference=RunReconstructionFactory(run__run_number=numbers[0], reconstruction="express"),
            source="shifter",  # a run has one Certhelper label at most
        )

    label(newest)
    _served_histories_are_replays([*numbers, newest])
    label(numbers[16])
    _served_histories_are_replays([*numbers, newest])
    ReferencePair.objects.filter(run_reconstruction__run__run_number=numbers[5]).delete()
    _served_histories_are_replays([*numbers, newest])
    corrected = ReferencePair.objects.get(
        run_reconstruction__run__run_number=numbers[20], run_reconstruction__reconstruction="express"
    )
    corrected.reference = RunReconstructionFactory(run__run_number=numbers[1], reconstruction="express")
    ReferencePair.objects.bulk_update([corrected], ["reference"])  # as the Certhelper import corrects one
    _served_histories_are_replays([*numbers, newest])


def test_a_recommendation_after_a_decision_follows_the_new_label(trained):
    """The reference a shifter has just used for the group is the next run's rank 1
    (persistence), in the very next recommendation of this process."""
    from tests.factories import ReferencePairFactory

    numbers, run_number = trained
    before = recommendations_for(run_number=run_number, reconstruction="express")
    assert before[0].reference_run_number == reference_of(numbers[-1])
    chosen = numbers[-3]
    ReferencePairFactory(
        run_reconstruction=RunReconstructionFactory(
            run=RunFactory(run_number=run_number - 1), reconstruction="express", dataset=DATASETS["express"]
        ),
        reference=RunReconstructionFactory(run__run_number=chosen, reconstruction="express"),
        source="shifter",
    )
    after = recommendations_for(run_number=run_number, reconstruction="express")
    assert after[0].reference_run_number == chosen


def test_a_recommendation_after_a_model_activation_comes_from_the_new_model(trained):
    from recommender.models import ModelVersion
    from recommender.training import model_version_activate, model_version_train

    _, run_number = trained
    first = recommendations_for(run_number=run_number, reconstruction="express")
    old = first[0].model_version_id
    model_version_train(force=True)  # the trained fixture's MODEL_DIR
    newest = ModelVersion.objects.exclude(pk=old).order_by("-id").first()
    assert newest is not None
    model_version_activate(model_version_id=newest.pk)
    assert {r.model_version_id for r in recommendations_for(run_number=run_number, reconstruction="express")} == {
        newest.pk
    }
    model_version_activate(model_version_id=old)
    assert {r.model_version_id for r in recommendations_for(run_number=run_number, reconstruction="express")} == {old}


@pytest.mark.django_db(databases=[])
def test_the_reasons_medians_equal_numpys_nanmedian_bit_for_bit():
    """The reasons' medians are np.nanmedian's, as they were: any difference would
    change which features a recommendation names."""
    import warnings

    import numpy as np

    from recommender.recommending import _column_medians

    rng = np.random.default_rng(7)
    for _ in range(300):
        block = rng.normal(size=(int(rng.integers(1, 300)), int(rng.integers(1, 40)))) * 10.0 ** rng.integers(-3, 6)
        block[rng.random(block.shape) < rng.random()] = np.nan
        block[:, 0] = np.nan  # an all-NaN column: NaN, as pandas gives
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            expected = np.nanmedian(block, axis=0)
        assert np.array_equal(_column_medians(block), expected, equal_nan=True)


def test_ranks_two_to_five_share_what_rank_one_leaves_in_the_models_order():
    import numpy as np

    from recommender.ml.model import Ranker
    from recommender.recommending import displayed_scores

    class Plateau(Ranker):
        # an isotonic map with one plateau: every lower rank would read 0.15
        def confidence(self, raw_scores):
            return np.where(np.asarray(raw_scores) > 0.5, 0.8, 0.15)

    ranker = Plateau(pipeline=None, numeric=[], categorical=[])
    shown = displayed_scores(ranker, np.array([0.9, 0.3, 0.2, 0.1, 0.1]))
    assert shown[0] == 0.8
    assert np.allclose(shown[1:], [0.2 * 3 / 7, 0.2 * 2 / 7, 0.2 / 7, 0.2 / 7])
    assert shown[1] > shown[2] > shown[3]  # no longer a tie where the model tells them apart
    assert np.isclose(shown.sum(), 1.0)

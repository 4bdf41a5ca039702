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
    from recommender.ml.features import Target
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
    the order their dicts were filled in or which string objects they share (a
    pickle's bytes depend on both); the caches are left out."""
    if hasattr(value, "__dict__"):
        return {k: _history_state(v) for k, v in vars(value).items() if k not in ("_rank_cache", "_order")}
    if isinstance(value, dict):
        return sorted((repr(k), _history_state(v)) for k, v in value.items())
    if isinstance(value, list | tuple | deque):
        return [_history_state(v) for v in value]
    return value.item() if hasattr(value, "item") else value


def test_it_rebuilds_an_older_runs_history_from_checkpoints_exactly(monkeypatch):
    """A run page of an older run starts from the nearest checkpoint; the result
    must be the history a full replay of the earlier labels gives."""
    from recommender import recommending, serving
    from recommender.ml.features import History
    from recommender.selectors import labels_frame

    numbers = make_runs(40)
    make_labels(pair_rows(numbers))
    monkeypatch.setattr(serving, "CHECKPOINT_LABELS", 7)
    recommending.serving_cache_clear()
    labels = labels_frame()

    state = _history_state

    for target in numbers[::3]:
        expected = History.from_labels(labels, before_run=target)
        assert state(serving.history_for(target)) == state(expected), target
    assert len(serving.cache.checkpoints) > 3


def test_a_changed_label_replays_the_history_from_the_checkpoint_before_it(monkeypatch):
    """A decision on a new run, a decision on an older run and a replaced decision
    each keep the checkpoints before the change; the history must still be the one a
    full replay of every label gives."""
    from recommender import selectors, serving
    from recommender.ml.features import History
    from recommender.models import ReferencePair
    from recommender.selectors import labels_frame, labels_read
    from tests.factories import ReferencePairFactory

    numbers = make_runs(30)
    make_labels(pair_rows(numbers))
    monkeypatch.setattr(serving, "CHECKPOINT_LABELS", 7)
    cache = serving.cache
    # parts are read after the change counters, as recommendations_for does
    cache.revalidate()
    cache.label_history()
    first = list(cache.checkpoints)
    assert len(first) > 3

    state = _history_state

    newest = numbers[-1] + 1
    RunReconstructionFactory(
        run=RunFactory(run_number=newest, run_class="collisions_pp"),
        reconstruction="express",
        dataset=DATASETS["express"],
    )

    def label(run_number: int) -> None:
        """A shifter's decision: one label row, nothing else written."""
        ReferencePairFactory(
            run_reconstruction=RunReconstructionFactory(run__run_number=run_number, reconstruction="express"),
            reference=RunReconstructionFactory(run__run_number=numbers[0], reconstruction="express"),
            source="shifter",  # a run has one Certhelper label at most
        )

    reads = []
    monkeypatch.setattr(selectors, "labels_read", lambda **kw: reads.append(kw) or labels_read(**kw))

    def cache_reads() -> list[dict]:
        """How the cache read the labels after a change, checking what it then holds
        against a full read and a full replay."""
        reads.clear()
        cache.revalidate()
        labels, history = cache.label_history()
        how = list(reads)
        assert labels.equals(labels_frame())
        assert state(history) == state(History.from_labels(labels_frame()))
        for target in numbers[::4]:
            expected = History.from_labels(labels_frame(), before_run=target)
            assert state(cache.history_before(target)) == state(expected), target
        return how

    assert cache_reads() == [{}]  # the new run (a sync): everything read again

    # A decision on a run after every label: the new row merged, every checkpoint kept.
    held = ReferencePair.objects.order_by("-id").values_list("id", flat=True).first()
    label(newest)
    assert cache_reads() == [{"after_id": held}]
    assert cache.checkpoints[: len(first)] == first

    # A second label on an older run: merged too, the checkpoints before it kept.
    older = numbers[16]
    label(older)
    assert len(cache_reads()) == 1 and reads[0] != {}
    assert [c for c in cache.checkpoints if c[0] <= older] == [c for c in first if c[0] <= older]

    # A label removed (a shifter's replaced decision): noticed, the labels read again.
    removed = numbers[5]
    ReferencePair.objects.filter(run_reconstruction__run__run_number=removed).delete()
    assert cache_reads()[-1] == {}
    assert [c for c in cache.checkpoints if c[0] <= removed] == [c for c in first if c[0] <= removed]

    # A label changed in place, as the Certhelper import corrects a reference: the same.
    corrected = ReferencePair.objects.get(
        run_reconstruction__run__run_number=numbers[20], run_reconstruction__reconstruction="express"
    )
    corrected.reference = RunReconstructionFactory(run__run_number=numbers[1], reconstruction="express")
    ReferencePair.objects.bulk_update([corrected], ["reference"])
    assert cache_reads()[-1] == {}

    # Nothing changed in the labels themselves (a write elsewhere in the counted tables):
    # the same history object.
    _, history = cache.label_history()
    RunFactory(run_number=numbers[-1] + 50)
    cache.revalidate()
    assert cache.label_history()[1] is history


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


def test_an_older_runs_history_is_kept_until_a_label_before_it_changes():
    from recommender import serving
    from tests.factories import ReferencePairFactory

    numbers = make_runs(30)
    make_labels(pair_rows(numbers))
    cache = serving.cache
    cache.revalidate()
    older, newer = numbers[10], numbers[25]
    kept_older, kept_newer = cache.history_before(older), cache.history_before(newer)
    assert cache.history_before(older) is kept_older

    # a shifter's decision on a run between them: the older run's history stays, the newer one's goes
    ReferencePairFactory(
        run_reconstruction=RunReconstructionFactory(run__run_number=numbers[15], reconstruction="express"),
        reference=RunReconstructionFactory(run__run_number=numbers[0], reconstruction="express"),
        source="shifter",
    )
    cache.revalidate()
    assert cache.history_before(older) is kept_older
    assert cache.history_before(newer) is not kept_newer


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

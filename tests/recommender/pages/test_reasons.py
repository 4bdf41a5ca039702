import datetime as dt

import pytest

from recommender.ml import catalogue
from recommender.ml.catalogue import FEATURE_COLUMNS
from recommender.pages.reasons import (
    DEFAULT_CONFIDENCE_THRESHOLDS,
    MAX_SENTENCES,
    Context,
    confidence_for,
    kind_of,
    sentences,
)
from recommender.ranking_reads import ReferenceFacts
from recommender.recommending import Reason
from recommender.rule_reasons import RULE_DECLARED

NOW = dt.datetime(2024, 6, 10, 12, tzinfo=dt.UTC)


def _facts(**overrides) -> ReferenceFacts:
    values = {
        "reference_run_number": 376959,
        "group_runs": 342,
        "is_group_current": True,
        "current_since_run": 376959,
        "group_last_run": 380000,
        "first_certified_at": NOW - dt.timedelta(days=40),
        "reference_start": NOW - dt.timedelta(days=41),
        "other_reco_first_use": {},
        "curated_note": None,
    }
    values.update(overrides)
    return ReferenceFacts(**values)


def _context(facts=None, side_by_side=None) -> Context:
    return Context(
        run_class="cosmics",
        reconstruction="express",
        facts=facts or _facts(),
        side_by_side=side_by_side
        or {"apv_mode": ("DECO", "DECO"), "b_field": (3.8, 3.8001), "era": ("Run2024C", "Run2024B")},
        run_start=NOW,
        now=NOW,
    )


def _reason(feature: str, effect: float) -> Reason:
    return Reason(feature, catalogue.description(feature), effect)


def test_it_says_the_current_reference_in_the_shifters_words():
    out = sentences(reasons=[_reason("group_is_last", 0.4), _reason("group_recency_rank", 0.2)], context=_context())
    assert [s.text for s in out] == ["current reference for cosmics express since run 376959 (used for 342 runs)"]
    assert out[0].supports


def test_it_joins_same_conditions_into_one_sentence():
    out = sentences(reasons=[_reason("apv_same", 0.1), _reason("b_field_same", 0.08)], context=_context())
    assert [s.text for s in out] == ["same APV mode (DECO) and B field (3.8 T)"]


def test_it_offers_a_never_used_reference_for_new_conditions():
    facts = _facts(
        group_runs=0,
        is_group_current=False,
        current_since_run=None,
        first_certified_at=NOW - dt.timedelta(days=2, hours=3),
    )
    out = sentences(reasons=[_reason("never_used_rank", 0.3)], context=_context(facts))
    assert out[0].text == "certified 2 days ago and never used: a candidate for the new conditions"


def test_it_says_when_another_reconstruction_switched_to_it():
    facts = _facts(is_group_current=False, other_reco_first_use={"prompt": NOW - dt.timedelta(hours=30)})
    out = sentences(reasons=[_reason("other_reco_switched_to", 0.2)], context=_context(facts))
    assert out[0].text == "the prompt reconstruction switched to it yesterday"


def test_it_gives_at_most_three_and_drops_negligible_contributions():
    reasons = [
        _reason("group_is_last", 0.5),
        _reason("apv_same", 0.2),
        _reason("d_log_duration", 0.15),
        _reason("other_reco_switched_to", 0.12),
        _reason("curated_active", 0.004),  # below the absolute floor
    ]
    context = _context(side_by_side={"apv_mode": ("DECO", "PEAK"), "duration": (3600.0, 3400.0)})
    out = sentences(reasons=reasons, context=context)
    assert len(out) == MAX_SENTENCES
    assert not [s for s in out if "leaders" in s.text]
    assert out[1].text == "different APV mode (PEAK, the run DECO)"
    assert out[2].text == "similar duration (3400 s; the run 3600 s)"
    # Relative to the strongest reason, 0.03 of 0.5 is negligible too.
    assert sentences(reasons=[_reason("group_is_last", 0.5), _reason("apv_same", 0.03)], context=context)[1:] == []


def test_a_feature_the_catalogue_does_not_know_is_an_error_for_the_code_and_its_description_on_the_page(caplog):
    # kind_of is what the catalogue test and the code use: no guessing there.
    with pytest.raises(catalogue.UnknownFeature):
        kind_of("z_new_feature_of_h9")
    # A ranking stored by a newer model (a worker deployed before this web pod) keeps its page.
    out = sentences(reasons=[Reason("z_new_feature_of_h9", "gain of the strip readout", -0.2)], context=_context())
    assert [(s.text, s.supports) for s in out] == [("gain of the strip readout", False)]
    assert "z_new_feature_of_h9" in caplog.text and "not in the model feature catalogue" in caplog.text


def test_it_says_a_reason_stored_under_a_features_former_name_as_under_its_name():
    stored = Reason("g_is_last", "current reference of this reconstruction type and run class", 0.4)
    assert kind_of("g_is_last") == kind_of("group_is_last") == "group"
    assert [s.text for s in sentences(reasons=[stored], context=_context())] == [
        "current reference for cosmics express since run 376959 (used for 342 runs)"
    ]


def test_it_puts_the_rule_that_holds_rank_one_first_in_its_own_words():
    reasons = [_reason("group_is_last", 0.4), Reason(RULE_DECLARED, "declared by the shift leaders", 0.0)]
    out = sentences(reasons=reasons, context=_context())
    assert (out[0].text, out[0].rule) == ("declared by the shift leaders", True)


@pytest.mark.parametrize("feature", FEATURE_COLUMNS)
@pytest.mark.parametrize("effect", [0.3, -0.3])
def test_it_has_a_sentence_or_a_deliberate_silence_for_every_feature(feature, effect):
    # A kind without a branch in reasons._sentence raises; None is a kind's chosen silence.
    out = sentences(reasons=[_reason(feature, effect)], context=_context())
    assert all(s.text for s in out)


def test_it_says_the_group_history_for_the_persistence_fallback():
    out = sentences(
        reasons=[Reason("group_recency_rank", "most recently used", 0.0)], context=_context(), model_used=False
    )
    assert out[0].text.startswith("current reference for cosmics express")


def test_it_picks_the_confidence_word_from_the_models_thresholds():
    assert confidence_for(score=0.85, evaluation={}).word == "high"
    assert confidence_for(score=0.6, evaluation=None).word == "medium"
    low = confidence_for(score=0.3, evaluation={})
    assert low.word == "low" and low.check_with_leader
    measured = {"confidence_thresholds": {"high": 0.9, "medium": 0.7}}
    assert confidence_for(score=0.85, evaluation=measured).word == "medium"
    assert confidence_for(score=0.65, evaluation=measured).word == "low"
    # a 0.88 first choice under a 0.9 cut-off is low, and says it is used about 88% of the time
    low = confidence_for(score=0.88, evaluation={"confidence_thresholds": {"high": 0.95, "medium": 0.9}})
    assert low.word == "low"
    assert low.explanation == (
        "about 88% of first choices scored like this were the reference the shifter used, "
        "below the 90% RefRun calls medium"
    )
    # A nonsense threshold falls back to the documented defaults.
    assert confidence_for(score=0.85, evaluation={"confidence_thresholds": {"high": 7}}).word == "high"
    assert DEFAULT_CONFIDENCE_THRESHOLDS == {"high": 0.8, "medium": 0.5}


def test_it_has_no_confidence_without_a_model_score_and_none_without_conditions():
    assert confidence_for(score=float("nan"), evaluation={}) is None
    unknown = confidence_for(score=0.99, evaluation={}, conditions_known=False)
    assert unknown.word == "unknown" and unknown.check_with_leader


def test_it_counts_time_from_the_run_when_the_run_is_not_new():
    old_run = NOW - dt.timedelta(days=400)
    facts = _facts(group_runs=0, is_group_current=False, first_certified_at=old_run - dt.timedelta(days=3, hours=1))
    context = Context("cosmics", "express", facts, {}, run_start=old_run, now=NOW)
    out = sentences(reasons=[_reason("never_used_rank", 0.3)], context=context)
    assert out[0].text == "certified 3 days before the run and never used: a candidate for the new conditions"
    far = Context("cosmics", "express", facts, {"duration": (190.0, 133557.0)}, run_start=old_run, now=NOW)
    assert (
        sentences(reasons=[_reason("d_log_duration", 0.2)], context=far)[0].text == "duration 133557 s (the run 190 s)"
    )


def test_it_tells_an_old_switch_of_another_reconstruction_from_a_new_one():
    facts = _facts(is_group_current=False, other_reco_first_use={"prompt": NOW - dt.timedelta(days=40)})
    out = sentences(reasons=[_reason("other_reco_switched_to", 0.2)], context=_context(facts))
    assert out[0].text == "also the prompt reference, first used 40 days ago"


def test_it_says_a_borrowed_reference_and_certification_in_words():
    out = sentences(
        reasons=[_reason("lender_class", 0.3), _reason("cand_good_frac", 0.2), _reason("cand_era_pos", 0.1)],
        context=_context(),
    )
    assert [s.text for s in out] == [
        "a reference cosmics runs borrowed from another run class before",
        "certified good in the Tracker certification",
        "among the first good runs of its era",
    ]

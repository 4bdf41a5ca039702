"""The DQMIO dataset a run is filed under in the DQM GUI: recorded, or from the era and
stream rule; never a Certhelper label."""

import bisect
import csv
import gzip

import pandas as pd
import pytest
from django.urls import reverse

from recommender.dqm_datasets import (
    DQMIO_NAME,
    DqmDataset,
    dqm_dataset_by_rule,
    dqm_dataset_from_dials,
    dqm_datasets_for,
    era_name,
)
from tests.factories import FillFactory, ReferencePairFactory, RunFactory, RunReconstructionFactory


@pytest.mark.parametrize(
    ("run_class", "era", "reconstruction", "expected"),
    [
        ("cosmics", "Run2024C", "express", "/StreamExpressCosmics/Run2024C-Express-v1/DQMIO"),
        ("cosmics", "Run2024C", "prompt", "/Cosmics/Run2024C-PromptReco-v1/DQMIO"),
        ("collisions_pp", "Run2024C", "express", "/StreamExpress/Run2024C-Express-v1/DQMIO"),
        ("collisions_pp", "2018D", "prompt", "/ZeroBias/Run2018D-PromptReco-v1/DQMIO"),
        ("heavy_ion", "HIRun2023A", "express", "/StreamHIExpress/HIRun2023A-Express-v1/DQMIO"),
        ("commissioning", "Commissioning2018", "prompt", "/ZeroBias/Commissioning2018-PromptReco-v1/DQMIO"),
    ],
)
def test_the_rule_names_the_stream_era_and_processing(run_class, era, reconstruction, expected):
    assert (
        dqm_dataset_by_rule(run_class=run_class, era=era, reconstruction=reconstruction, versions={}).name == expected
    )


@pytest.mark.parametrize(
    ("run_class", "era", "reconstruction", "why"),
    [
        ("heavy_ion", "HIRun2023A", "prompt", "no DQMIO rule for this run class"),
        ("cosmics", "", "express", "the run's era is unknown"),
        ("cosmics", "Run2024C", "rereco", "no DQMIO rule for rereco"),
    ],
)
def test_where_the_rule_cannot_know_it_names_nothing_and_says_why(run_class, era, reconstruction, why):
    dataset = dqm_dataset_by_rule(run_class=run_class, era=era, reconstruction=reconstruction, versions={})
    assert (dataset.name, dataset.how) == ("", why)


@pytest.mark.django_db
def test_the_version_follows_the_newest_earlier_recorded_name_of_the_same_era():
    RunReconstructionFactory(
        run=RunFactory(run_number=319000, era="2018C", run_class="collisions_pp"),
        reconstruction="prompt",
        dataset="/ZeroBias/Run2018C-PromptReco-v3/DQMIO",
    )
    RunFactory(run_number=319100, era="2018C", run_class="collisions_pp")
    RunFactory(run_number=318900, era="2018C", run_class="collisions_pp")
    found = dqm_datasets_for(run_numbers=[319100, 318900], reconstruction="prompt")
    assert found[319100].name == "/ZeroBias/Run2018C-PromptReco-v3/DQMIO" and found[319100].how == "era rule"
    assert found[318900].name == "/ZeroBias/Run2018C-PromptReco-v1/DQMIO"  # nothing earlier recorded


@pytest.mark.django_db
def test_the_run_page_s_six_runs_cost_the_queries_of_one(django_assert_max_num_queries):
    # A name match scans the run reconstructions: read once, not per run.
    for number in range(319100, 319106):
        RunFactory(run_number=number, era="2018C" if number % 2 else "2018D", run_class="collisions_pp")
    with django_assert_max_num_queries(5) as one:
        dqm_datasets_for(run_numbers=[319100], reconstruction="prompt")
    with django_assert_max_num_queries(len(one.captured_queries)):
        found = dqm_datasets_for(run_numbers=list(range(319100, 319106)), reconstruction="prompt")
    assert found[319101].name == "/ZeroBias/Run2018C-PromptReco-v1/DQMIO"


@pytest.mark.django_db
def test_the_version_follows_a_name_recorded_since_the_last_page():
    RunFactory(run_number=319100, era="2018C", run_class="collisions_pp")
    assert dqm_datasets_for(run_numbers=[319100], reconstruction="prompt")[319100].name.endswith("-v1/DQMIO")
    RunReconstructionFactory(
        run=RunFactory(run_number=319000, era="2018C", run_class="collisions_pp"),
        reconstruction="prompt",
        dataset="/ZeroBias/Run2018C-PromptReco-v2/DQMIO",
    )
    assert dqm_datasets_for(run_numbers=[319100], reconstruction="prompt")[319100].name.endswith("-v2/DQMIO")


@pytest.mark.django_db
def test_a_run_without_its_own_era_takes_its_fills():
    RunFactory(run_number=316000, era="", run_class="collisions_pp", fill=FillFactory(era="2018A"))
    assert dqm_datasets_for(run_numbers=[316000], reconstruction="express")[316000].name == (
        "/StreamExpress/Run2018A-Express-v1/DQMIO"
    )


@pytest.mark.shared_data
def test_on_the_2018_pairs_the_rule_gives_the_recorded_name(shared_data_dir):
    """The 2018 Certhelper datasets are DQMIO names: the rule, with each run's era from
    its fill (the newest fill starting at or before it) and the version of the newest
    earlier recorded name, must give the recorded one for at least 90% of them."""
    fills = pd.read_csv(shared_data_dir / "oms_fills_2009_2022.csv.gz", usecols=["oms_first_run_number", "oms_era"])
    fills = fills.dropna().sort_values("oms_first_run_number")
    firsts, eras = fills["oms_first_run_number"].astype(int).tolist(), fills["oms_era"].tolist()
    with gzip.open(shared_data_dir / "certhelper_pairs.csv.gz", "rt", newline="") as handle:
        rows = sorted(
            (int(r["run_number"]), r["run_reconstruction_type"], DQMIO_NAME.match(r["dataset"].strip()))
            for r in csv.DictReader(handle)
        )
    versions: dict[tuple[str, str, str], int] = {}
    checked = matched = 0
    for run_number, reconstruction, recorded in rows:
        if recorded is None or recorded["processing"] not in ("Express", "PromptReco"):
            continue
        run_class = "cosmics" if "Cosmics" in recorded["primary"] else "collisions_pp"
        era = era_name(eras[bisect.bisect_right(firsts, run_number) - 1])
        rule = dqm_dataset_by_rule(run_class=run_class, era=era, reconstruction=reconstruction, versions=versions)
        checked += 1
        matched += rule.name == recorded.group(0)
        versions[(recorded["primary"], recorded["era"], recorded["processing"])] = int(recorded["version"])
    assert checked > 1900
    assert matched / checked >= 0.90, (matched, checked)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("run_class", "label", "run_dataset", "reference_dataset"),
    [
        (
            "cosmics",
            "/Express/Cosmics2024/DQM",
            "/StreamExpressCosmics/Run2024F-Express-v1/DQMIO",
            "/StreamExpressCosmics/Run2024E-Express-v1/DQMIO",
        ),
        (
            "collisions_pp",
            "/Express/Collisions2024/DQM",
            "/StreamExpress/Run2024F-Express-v1/DQMIO",
            "/StreamExpress/Run2024E-Express-v1/DQMIO",
        ),
    ],
)
def test_a_run_3_run_page_links_dqmio_datasets_never_certhelper_labels(
    client, shifter_sam, run_class, label, run_dataset, reference_dataset
):
    def reco(number, era):
        return RunReconstructionFactory(
            run=RunFactory(run_number=number, era=era, run_class=run_class), reconstruction="express", dataset=label
        )

    ReferencePairFactory(run_reconstruction=reco(382000, "Run2024E"), reference=reco(381900, "Run2024E"))
    reco(383000, "Run2024F")
    client.force_login(shifter_sam)
    body = client.get(reverse("recommender:run_detail", args=[383000, "express"])).content.decode()
    assert f"start?runnr=383000;dataset={run_dataset};" in body
    assert f"referenceobj1=other:381900:{reference_dataset}::" in body
    assert f"dataset={label}" not in body and f":{label}:" not in body


@pytest.mark.django_db
def test_a_run_whose_dataset_cannot_be_known_says_so(client, shifter_sam):
    RunReconstructionFactory(
        run=RunFactory(run_number=383100, era="", run_class="cosmics", fill=None),
        reconstruction="express",
        dataset="/Express/Cosmics2024/DQM",
    )
    client.force_login(shifter_sam)
    body = client.get(reverse("recommender:run_detail", args=[383100, "express"])).content.decode()
    assert "The DQM GUI links name no dataset: the run&#x27;s era is unknown" in body
    assert "start?runnr=383100;sampletype=offline_data" in body


# --- the names DIALS lists (Run.dqmio_datasets) ----------------------------------------------

DIALS_COSMICS = [
    "/Cosmics/Run2024F-PromptReco-v2/DQMIO",
    "/MinimumBias/Run2024F-PromptReco-v2/DQMIO",
    "/StreamExpressCosmics/Run2024F-Express-v3/DQMIO",
]


@pytest.mark.django_db
def test_dials_names_come_after_the_recorded_one_and_before_the_rule():
    RunFactory(run_number=383000, era="Run2024F", run_class="cosmics", dqmio_datasets=DIALS_COSMICS)
    RunReconstructionFactory(
        run=RunFactory(run_number=383001, era="Run2024F", run_class="cosmics", dqmio_datasets=DIALS_COSMICS),
        reconstruction="express",
        dataset="/StreamExpressCosmics/Run2024F-Express-v1/DQMIO",
    )
    RunFactory(run_number=383002, era="Run2024F", run_class="cosmics")  # DIALS lists nothing
    RunFactory(
        run_number=383003,
        era="",
        run_class="heavy_ion",
        dqmio_datasets=["/HIPhysicsRawPrime0/HIRun2024A-PromptReco-v1/DQMIO"],
    )

    express = dqm_datasets_for(run_numbers=[383000, 383001, 383002], reconstruction="express")
    prompt = dqm_datasets_for(run_numbers=[383000, 383003], reconstruction="prompt")

    assert express[383000] == DqmDataset("/StreamExpressCosmics/Run2024F-Express-v3/DQMIO", "DIALS")
    assert express[383001] == DqmDataset("/StreamExpressCosmics/Run2024F-Express-v1/DQMIO", "recorded")
    assert express[383002] == DqmDataset("/StreamExpressCosmics/Run2024F-Express-v1/DQMIO", "era rule")
    # The rule's primary dataset among DIALS's prompt datasets; heavy-ion prompt, which
    # the rule cannot name, from DIALS alone.
    assert prompt[383000] == DqmDataset("/Cosmics/Run2024F-PromptReco-v2/DQMIO", "DIALS")
    assert prompt[383003] == DqmDataset("/HIPhysicsRawPrime0/HIRun2024A-PromptReco-v1/DQMIO", "DIALS")


def test_a_run_dials_lists_no_dataset_of_the_reconstruction_for_gets_none_from_it():
    names = ["/Cosmics/Run2024F-PromptReco-v2/DQMIO"]
    assert dqm_dataset_from_dials(names=names, run_class="cosmics", reconstruction="express") == ""
    assert dqm_dataset_from_dials(names=names, run_class="cosmics", reconstruction="rereco") == ""


@pytest.mark.django_db
def test_the_run_page_links_the_name_dials_lists(client, shifter_sam):
    def reco(number, names):
        return RunReconstructionFactory(
            run=RunFactory(run_number=number, era="Run2024F", run_class="cosmics", dqmio_datasets=names),
            reconstruction="express",
            dataset="/Express/Cosmics2024/DQM",
        )

    reference_names = ["/StreamExpressCosmics/Run2024F-Express-v2/DQMIO"]
    ReferencePairFactory(run_reconstruction=reco(383050, []), reference=reco(383040, reference_names))
    reco(383100, DIALS_COSMICS)
    client.force_login(shifter_sam)
    body = client.get(reverse("recommender:run_detail", args=[383100, "express"])).content.decode()
    assert "start?runnr=383100;dataset=/StreamExpressCosmics/Run2024F-Express-v3/DQMIO;" in body
    assert "referenceobj1=other:383040:/StreamExpressCosmics/Run2024F-Express-v2/DQMIO::" in body
    assert "(from DIALS)" in body

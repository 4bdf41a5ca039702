from recommender.pages.links import dqm_gui_compare_url, oms_fill_url, oms_run_url, reference_links


def test_it_overlays_a_reference_of_another_era_from_its_own_dataset(settings):
    settings.DQM_GUI_URL = "https://cmsweb.cern.ch/dqm/offline/"
    settings.OMS_WEB_URL = "https://cmsoms.cern.ch"
    links = reference_links(
        run_number=380100,
        dataset="/StreamExpress/Run2024C-Express-v1/DQMIO",
        reference_run_number=367355,
        reference_dataset="/StreamExpress/Run2023C-Express-v1/DQMIO",
    )
    assert links.compare == (
        "https://cmsweb.cern.ch/dqm/offline/start?runnr=380100;dataset=/StreamExpress/Run2024C-Express-v1/DQMIO;"
        "sampletype=offline_data;workspace=Tracker;referencepos=overlay;referenceshow=all;"
        "referenceobj1=other:367355:/StreamExpress/Run2023C-Express-v1/DQMIO::"
    )
    assert links.oms == "https://cmsoms.cern.ch/cms/runs/report?cms_run=367355"


def test_it_names_another_instance_from_the_settings(settings):
    settings.DQM_GUI_URL = "https://cmsweb-testbed.cern.ch/dqm/dev"
    settings.OMS_WEB_URL = "https://vocms0185.cern.ch/"
    url = dqm_gui_compare_url(
        run_number=5, dataset="/A/B/DQMIO", reference_run_number=4, reference_dataset="/A/C/DQMIO"
    )
    assert url.startswith("https://cmsweb-testbed.cern.ch/dqm/dev/start?runnr=5;")
    assert oms_run_url(5) == "https://vocms0185.cern.ch/cms/runs/report?cms_run=5"
    assert oms_fill_url(9322) == "https://vocms0185.cern.ch/cms/fills/report?cms_fill=9322"


def test_a_reference_without_a_known_dataset_is_named_by_run_alone():
    url = dqm_gui_compare_url(
        run_number=5,
        dataset="/Cosmics/Run2024C-PromptReco-v1/DQMIO",
        reference_run_number=4,
        reference_dataset="To Be Defined",
    )
    assert url.endswith("referenceobj1=other:4:::")


def test_a_certhelper_label_is_never_named_as_a_dqm_gui_dataset():
    url = dqm_gui_compare_url(
        run_number=380100,
        dataset="/Express/Cosmics2024/DQM",
        reference_run_number=379900,
        reference_dataset="/PromptReco/Collisions2024/DQM",
    )
    assert "dataset=" not in url and "/DQM:" not in url and url.endswith("referenceobj1=other:379900:::")


def test_it_leaves_out_an_unknown_run_dataset_and_quotes_odd_characters():
    url = dqm_gui_compare_url(
        run_number=5, dataset="", reference_run_number=4, reference_dataset="/A B/Run2024C;x-Express-v1/DQMIO"
    )
    assert "dataset=" not in url.split("referenceobj1")[0]
    assert "referenceobj1=other:4:/A%20B/Run2024C%3Bx-Express-v1/DQMIO::" in url

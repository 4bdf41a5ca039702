"""The "certified good" lumisections: the masks where they reach, the Run Registry elsewhere."""

import json

import numpy as np
import pandas as pd
import pytest

from ingestion.models import TrackerCertification
from recommender.ml.certification import with_good_lumisections
from recommender.selectors import run_features_frame
from tests.factories import RunFactory


def _masks(tmp_path):
    (tmp_path / "certification_json_trk_promptreco_2018.json").write_text(
        json.dumps({"315100": [[1, 40]], "315300": [[1, 10], [20, 29]]})
    )
    return tmp_path


def test_the_masks_keep_their_figures_and_the_frame_fills_the_rest(tmp_path):
    frame = pd.DataFrame({"good_ls": [5.0, 7.0, 3.0, 9.0, np.nan]}, index=[315100, 315200, 315300, 380000, 380001])

    out = with_good_lumisections(frame, _masks(tmp_path))

    # Inside the masks' run range: the masks' counts (0 for a run absent from them),
    # whatever the frame held; outside: the frame's own count, or NaN.
    assert out["good_ls"].tolist()[:4] == [40.0, 0.0, 20.0, 9.0]
    assert np.isnan(out["good_ls"].iloc[4])


def test_without_a_good_ls_column_it_is_as_before(tmp_path):
    frame = pd.DataFrame({"x": [1, 2]}, index=[315100, 380000])
    out = with_good_lumisections(frame, _masks(tmp_path))
    assert out["good_ls"].iloc[0] == 40.0 and np.isnan(out["good_ls"].iloc[1])


@pytest.mark.django_db
def test_the_run_features_frame_reads_the_run_registry_prompt_first():
    run = RunFactory(run_number=380100)
    other = RunFactory(run_number=380101)
    RunFactory(run_number=380102)
    TrackerCertification.objects.create(
        run=run, dataset="/Express/X/DQM", reconstruction="express", good_lumisections=80
    )
    TrackerCertification.objects.create(
        run=run, dataset="/PromptReco/X/DQM", reconstruction="prompt", good_lumisections=90
    )
    TrackerCertification.objects.create(
        run=other, dataset="/Express/X/DQM", reconstruction="express", good_lumisections=12
    )

    frame = run_features_frame()

    assert frame.loc[380100, "good_ls"] == 90.0
    assert frame.loc[380101, "good_ls"] == 12.0
    assert np.isnan(frame.loc[380102, "good_ls"])

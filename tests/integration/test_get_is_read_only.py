"""GET never writes: every page and API route of the URL configuration, opened as a
shifter and as a shift leader, leaves the row count of every table as it was.

The routes come from walking the URL resolver, so a new page is covered the day it
is added; their path parameters are filled with a real run, reconstruction, decision
and job kind. The run is the newest one, after every label, with an active trained
model: its express ranking is stored (the refresh's), its prompt ranking is not, so
its page computes one in memory (what the pages used to store on the way).
"""

import re

import pytest
from django.apps import apps
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.roles import SHIFTERS
from recommender.recommending import serving_cache_clear
from recommender.services import feedback_record, recommendations_store
from recommender.training import model_version_train
from tests.factories import RunFactory, RunReconstructionFactory, UserFactory
from tests.recommender.ml.synthetic import DATASETS, make_labels, make_runs, pair_rows

pytestmark = pytest.mark.django_db

# Routes that take no GET at all, or cannot be built from names alone; each says why.
NOT_WALKED = {
    # The admin's catch-all (a trailing-slash redirect for any unknown admin path).
    "admin/(?P<url>.*)$",
}


@pytest.fixture
def world(tmp_path):
    serving_cache_clear()
    with override_settings(MODEL_DIR=tmp_path / "models"):
        numbers = make_runs(48)
        make_labels(pair_rows(numbers))
        model_version_train()
        new = RunFactory(run_number=numbers[-1] + 1, run_class="collisions_pp", duration=3100)
        RunReconstructionFactory(run=new, reconstruction="express", dataset=DATASETS["express"])
        stored = recommendations_store(run_number=new.run_number, reconstruction="express")
        assert stored and stored[0].model_version_id is not None
        # A decision, so the feedback API's detail route has a row to show.
        feedback = feedback_record(
            user=UserFactory(username="dora", groups=[SHIFTERS]),
            run_number=new.run_number,
            reconstruction="express",
            decision="accepted",
            recommended_run_number=stored[0].reference_run_number,
            model_version_id=stored[0].model_version_id,
        )
        yield {"run_number": new.run_number, "reconstruction": "prompt", "feedback": feedback.pk}
    serving_cache_clear()


def _routes(patterns=None, prefix: str = "", namespace: str = "") -> list[tuple[str, str | None, list[str]]]:
    """(route text, name to reverse or None, parameter names) of every URL pattern."""
    found = []
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        text = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            found += _routes(pattern.url_patterns, text, inner)
        elif isinstance(pattern, URLPattern):
            parameters = list(pattern.pattern.regex.groupindex)
            found.append((text, f"{namespace}{pattern.name}" if pattern.name else None, parameters))
    return found


def _paths(values: dict[str, object]) -> list[str]:
    paths, unknown = [], []
    for text, name, parameters in _routes():
        if text in NOT_WALKED:
            continue
        missing = [p for p in parameters if p not in values]
        if missing:
            unknown.append((text, missing))
            continue
        if name is None:
            # An unnamed route (the admin's redirects): its parameters put in by hand.
            path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), text)
            assert not re.search(r"[()\[\]^$?*]", path), f"{text}: name this route or list it in NOT_WALKED"
            paths.append("/" + path)
        else:
            paths.append(reverse(name, kwargs={p: values[p] for p in parameters}))
    assert unknown == [], "routes whose parameters this test cannot fill yet: add a value for them"
    return sorted(set(paths))


def _row_counts() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


@pytest.fixture
def values(world, leader_lea):
    from recommender.models import ModelVersion

    return {
        "run_number": world["run_number"],
        "reconstruction": world["reconstruction"],
        "pk": world["feedback"],
        "kind": "oms",
        "unknown": "expres",  # a mistyped reconstruction: the page that says so
        # the admin's: every registered model's change, history and delete pages
        "object_id": str(ModelVersion.objects.first().pk),
        "app_label": "recommender",
        "content_type_id": 1,
        "id": 1,  # the admin's password change of a user
    }


@pytest.mark.parametrize("persona", ["shifter_sam", "leader_lea", "admin_ada"])
def test_it_writes_no_row_on_any_get(client, request, values, persona):
    client.force_login(request.getfixturevalue(persona))
    paths = _paths(values)
    assert f"/runs/{values['run_number']}/prompt/" in paths
    assert f"/api/runs/{values['run_number']}/prompt/recommendations/" in paths
    before = _row_counts()
    answered = {path: client.get(path).status_code for path in paths}
    changed = {label: (n, after) for label, after in _row_counts().items() if (n := before[label]) != after}
    assert changed == {}, f"GET wrote rows: {changed}"
    assert answered[f"/runs/{values['run_number']}/prompt/"] == 200
    assert all(status < 500 for status in answered.values()), answered


def test_the_count_sees_a_write(client, shifter_sam, values):
    """The comparison above can fail: a POST that stores a decision changes the counts."""
    client.force_login(shifter_sam)
    shown = client.get(f"/api/runs/{values['run_number']}/prompt/recommendations/").json()
    before = _row_counts()
    answer = client.post(
        "/api/feedback/",
        {
            "run_number": values["run_number"],
            "reconstruction": "prompt",
            "decision": "accepted",
            "recommended_run_number": shown[0]["reference_run_number"],
            "model_version_id": shown[0]["model_version_id"],
        },
        content_type="application/json",
    )
    assert answer.status_code == 201, answer.content
    after = _row_counts()
    assert after["recommender.Feedback"] == before["recommender.Feedback"] + 1
    assert after["recommender.RunReconstruction"] == before["recommender.RunReconstruction"] + 1

"""Tasks are named after their services; their old names, kept for one release,
queue what arrives under them again under the new names."""

import pytest
from celery import current_app

from accounts import tasks as accounts_tasks
from ingestion import tasks as ingestion_tasks
from recommender import tasks as recommender_tasks

RENAMED = [
    ("ingestion.tasks.sync_oms", ingestion_tasks.runs_sync, {"run_from": 1, "run_to": 2}),
    ("ingestion.tasks.sync_oms_chunk", ingestion_tasks.runs_chunk_sync, {"job_id": 7, "first_run": 1, "last_run": 2}),
    ("ingestion.tasks.sync_conditions", ingestion_tasks.conditions_sync, {"run_from": 1, "run_to": 2}),
    ("recommender.tasks.retrain", recommender_tasks.model_version_train, {"force": True}),
    ("recommender.tasks.refresh_recommendations", recommender_tasks.recommendations_refresh, {"newest_runs": 50}),
    ("recommender.tasks.sync_certhelper", recommender_tasks.certhelper_sync, {"force": True, "job_id": 7}),
    ("recommender.tasks.login_records_prune", accounts_tasks.login_records_prune, {}),
]


@pytest.mark.parametrize(("old_name", "new", "arguments"), RENAMED, ids=[old for old, _, _ in RENAMED])
def test_it_queues_a_message_under_an_old_name_again_under_the_new_one(old_name, new, arguments, monkeypatch):
    queued = []
    monkeypatch.setattr(new, "apply_async", lambda args, kwargs: queued.append((args, kwargs)))

    outcome = current_app.tasks[old_name].apply(kwargs=arguments).get()

    assert queued == [((), arguments)]
    assert new.name in outcome and new.name != old_name


def test_it_forwards_positional_arguments_too(monkeypatch):
    queued = []
    new = ingestion_tasks.runs_chunk_sync
    monkeypatch.setattr(new, "apply_async", lambda args, kwargs: queued.append((args, kwargs)))

    current_app.tasks["ingestion.tasks.sync_oms_chunk"].apply(args=[7, 1, 2]).get()

    assert queued == [((7, 1, 2), {})]

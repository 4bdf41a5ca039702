"""The recommender's tasks are named after their services; their old names, kept for
one release, queue what arrives under them again under the new names."""

import pytest
from celery import current_app

from accounts import tasks as accounts_tasks
from recommender import tasks

RENAMED = [
    ("recommender.tasks.retrain", tasks.model_version_train, {"force": True}),
    ("recommender.tasks.refresh_recommendations", tasks.recommendations_refresh, {"newest_runs": 50}),
    ("recommender.tasks.sync_certhelper", tasks.certhelper_sync, {"force": True, "job_id": 7}),
    ("recommender.tasks.login_records_prune", accounts_tasks.login_records_prune, {}),
]


@pytest.mark.parametrize(("old_name", "new", "arguments"), RENAMED, ids=[old for old, _, _ in RENAMED])
def test_it_queues_a_message_under_an_old_name_again_under_the_new_one(old_name, new, arguments, monkeypatch):
    queued = []
    monkeypatch.setattr(new, "apply_async", lambda args, kwargs: queued.append((args, kwargs)))

    outcome = current_app.tasks[old_name].apply(kwargs=arguments).get()

    assert queued == [((), arguments)]
    assert new.name in outcome and new.name != old_name

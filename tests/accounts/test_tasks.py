"""The hourly beat task that drops login counters nobody needs any more (the accounts
app's own: the jobs app's stale-job sweep knows nothing of logins)."""

import datetime as dt

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from accounts import tasks
from accounts.models import LoginThrottle

pytestmark = pytest.mark.django_db


def test_it_prunes_counters_whose_window_is_over_and_keeps_live_ones(settings):
    old = LoginThrottle.objects.create(key="old", failures=3)
    live = LoginThrottle.objects.create(key="live", failures=3)
    long_ago = timezone.now() - dt.timedelta(seconds=settings.LOGIN_LOCKOUT_S + 60)
    LoginThrottle.objects.filter(pk=old.pk).update(updated_at=long_ago)

    assert tasks.login_records_prune() == "1 login records pruned"
    assert list(LoginThrottle.objects.values_list("pk", flat=True)) == [live.pk]


def test_it_is_on_the_beat_schedule():
    entry = PeriodicTask.objects.get(task="accounts.tasks.login_records_prune")
    assert entry.enabled and entry.crontab.minute == "37"

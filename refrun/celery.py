"""The Celery app. Tasks live in each app's tasks.py; the beat table is in the
database (django-celery-beat), seeded by a migration and editable in admin."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refrun.settings")

app = Celery("refrun")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

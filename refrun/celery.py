"""The Celery app. Tasks live in each app's tasks.py. The beat table is defined in
refrun/beat.py (REFRUN_BEAT_* overrides from the environment); beat runs its rows
from the database (django-celery-beat), where the admin can edit them."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refrun.settings")
# One OpenMP thread per process: web and Celery workers already fill the cores,
# and scikit-learn's predict was seen 40 times slower with threads competing.
os.environ.setdefault("OMP_NUM_THREADS", "1")

app = Celery("refrun")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

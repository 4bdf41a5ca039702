import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refrun.settings")
# One OpenMP thread per process: web and Celery workers already fill the cores,
# and scikit-learn's predict was seen 40 times slower with threads competing.
os.environ.setdefault("OMP_NUM_THREADS", "1")
application = get_wsgi_application()

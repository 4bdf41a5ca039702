#!/bin/sh
# The container's one entrypoint: the first argument names the role.
#   web          gunicorn (refrun/gunicorn.conf.py; WEB_CONCURRENCY workers, PORT)
#   worker       a Celery worker, node name celery@$HOSTNAME
#   worker-ping  exit 0 only if that worker answers (the liveness probe)
#   beat         Celery beat, the periodic jobs (exactly one per deployment)
#   migrate      apply the database migrations (a Job before each rollout)
#   manage ...   any manage.py command, e.g. `manage train`, `manage createsuperuser`
# Anything else is run as given.
set -eu

cd /app
node="celery@${HOSTNAME:-$(hostname)}"
role="${1:-web}"
[ "$#" -gt 0 ] && shift

case "$role" in
    web)
        exec gunicorn --config /app/refrun/gunicorn.conf.py "$@" refrun.wsgi:application
        ;;
    worker)
        exec celery -A refrun worker --loglevel "${CELERY_LOG_LEVEL:-info}" \
            --concurrency "${CELERY_CONCURRENCY:-1}" --hostname "$node" "$@"
        ;;
    worker-ping)
        # Asks this pod's worker only (-d): another worker's answer must not keep it alive.
        exec celery -A refrun inspect ping --destination "$node" --timeout "${PING_TIMEOUT_S:-10}" "$@"
        ;;
    beat)
        # The schedule lives in the database (django-celery-beat): no file, no pid file.
        exec celery -A refrun beat --loglevel "${CELERY_LOG_LEVEL:-info}" --pidfile= "$@"
        ;;
    migrate)
        exec python manage.py migrate --no-input "$@"
        ;;
    manage)
        exec python manage.py "$@"
        ;;
    *)
        exec "$role" "$@"
        ;;
esac

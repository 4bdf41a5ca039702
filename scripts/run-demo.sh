#!/usr/bin/env bash
# The demo: `make run`. Migrates, creates the demo users and data, starts a
# Celery worker and beat in the background and the web server in the
# foreground; Ctrl-C stops all three.
#
# Without REDIS_URL Celery uses the filesystem broker under var/; with it, Redis.
# PORT (default 8000) picks the web port; REFRUN_DATA=DIR loads the real dumps
# instead of the simulation.
set -euo pipefail

cd "$(dirname "$0")/.."
PY=.venv/bin/python
CELERY=.venv/bin/celery
PORT="${PORT:-8000}"
export REFRUN_DEMO=true
export DJANGO_SETTINGS_MODULE=refrun.settings
VAR_DIR="${REFRUN_VAR_DIR:-var}"
mkdir -p "$VAR_DIR/log"

"$PY" manage.py migrate --no-input -v 0
"$PY" manage.py demo_setup

pids=()
cleanup() {
    trap - EXIT INT TERM
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

"$CELERY" -A refrun worker --concurrency 1 -l info >"$VAR_DIR/log/celery-worker.log" 2>&1 &
pids+=($!)
"$CELERY" -A refrun beat -l info --pidfile= >"$VAR_DIR/log/celery-beat.log" 2>&1 &
pids+=($!)
echo "Celery worker and beat started (logs in $VAR_DIR/log/); broker: ${REDIS_URL:-filesystem under $VAR_DIR}"
echo "RefRun demo on http://127.0.0.1:$PORT/ (users shifter/shifter, leader/leader, admin/admin); Ctrl-C stops it"

# Not exec: the trap must outlive the web server to stop the workers.
"$PY" manage.py runserver "127.0.0.1:$PORT" --noreload --insecure &
pids+=($!)
wait "${pids[-1]}"

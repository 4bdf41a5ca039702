#!/usr/bin/env bash
# The demo: `make run`. Migrates, creates the demo users and data and a model,
# starts a local OMS (fake_oms), a Celery worker and beat in the background and
# the web server (gunicorn, WEB_CONCURRENCY workers, default 2) in the foreground;
# Ctrl-C stops them all.
#
# Without REDIS_URL Celery uses the filesystem broker under var/; with it, Redis.
# PORT (default 8000) picks the web port, FAKE_OMS_PORT (default 8765) the local
# OMS's; REFRUN_DATA=DIR loads the real dumps instead of the simulation.
set -euo pipefail

cd "$(dirname "$0")/.."
PY=.venv/bin/python
CELERY=.venv/bin/celery
PORT="${PORT:-8000}"
FAKE_OMS_PORT="${FAKE_OMS_PORT:-8765}"
export REFRUN_DEMO=true
export DJANGO_SETTINGS_MODULE=refrun.settings
VAR_DIR="${REFRUN_VAR_DIR:-var}"
mkdir -p "$VAR_DIR/log"

# RefRun talks to the local OMS exactly as to CERN's: token, runs, fills,
# lumisections and Certhelper over HTTP.
OMS_BASE="http://127.0.0.1:$FAKE_OMS_PORT"
export OMS_API_URL="$OMS_BASE/agg/api"
export OMS_TOKEN_URL="$OMS_BASE/auth/realms/cern/api-access/token"
export CERTHELPER_URL="$OMS_BASE/certify/allRunsRefRuns/"
export OMS_CLIENT_ID="${OMS_CLIENT_ID:-refrun-demo}"
export OMS_CLIENT_SECRET="${OMS_CLIENT_SECRET:-demo-secret}"
# The conditions services too (demo/fake_conditions.py under the local OMS): the
# APV-mode CGI and DIALS, whose token comes from the local SSO endpoint.
export APV_MODE_URL="$OMS_BASE/apv/getReadOutmode.pl"
export DIALS_API_URL="$OMS_BASE/dials/api/v1"
export DIALS_TOKEN_URL="$OMS_TOKEN_URL"
export DIALS_CLIENT_ID="${DIALS_CLIENT_ID:-refrun-demo}"
export DIALS_CLIENT_SECRET="${DIALS_CLIENT_SECRET:-demo-secret}"
# The local Run Registry (demo/fake_runregistry.py), served by the same fake_oms.
export RUNREGISTRY_API_URL="$OMS_BASE/runregistry/api"
export RUNREGISTRY_TOKEN_URL="$OMS_TOKEN_URL"
export RUNREGISTRY_CLIENT_ID="${RUNREGISTRY_CLIENT_ID:-refrun-demo}"
export RUNREGISTRY_CLIENT_SECRET="${RUNREGISTRY_CLIENT_SECRET:-demo-secret}"

"$PY" manage.py migrate --no-input -v 0

pids=()
cleanup() {
    trap - EXIT INT TERM
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

if [ -n "${REFRUN_DATA:-}" ]; then
    "$PY" manage.py demo_setup
    "$PY" manage.py fake_oms --port "$FAKE_OMS_PORT" --data "$REFRUN_DATA" >"$VAR_DIR/log/fake-oms.log" 2>&1 &
else
    # The local OMS has its own database with the whole simulation; RefRun's
    # holds back the newest runs, which its first sync then fetches.
    OMS_DATABASE_URL="sqlite:///$(cd "$VAR_DIR" && pwd)/oms.sqlite3"
    DATABASE_URL="$OMS_DATABASE_URL" "$PY" manage.py migrate --no-input -v 0
    if [ ! -s "$VAR_DIR/oms-filled" ]; then
        DATABASE_URL="$OMS_DATABASE_URL" REFRUN_DEMO=false "$PY" manage.py simulate --seed 1 >"$VAR_DIR/log/fake-oms-simulate.log"
        date -u > "$VAR_DIR/oms-filled"
    fi
    "$PY" manage.py demo_setup --hold-back-runs 30
    DATABASE_URL="$OMS_DATABASE_URL" "$PY" manage.py fake_oms --port "$FAKE_OMS_PORT" >"$VAR_DIR/log/fake-oms.log" 2>&1 &
fi
pids+=($!)

"$CELERY" -A refrun worker --concurrency 1 -l info >"$VAR_DIR/log/celery-worker.log" 2>&1 &
pids+=($!)
"$CELERY" -A refrun beat -l info --pidfile= >"$VAR_DIR/log/celery-beat.log" 2>&1 &
pids+=($!)
# Don't wait 15 minutes for beat: sync now, then the newest runs' conditions, then
# store the new runs' recommendations.
"$PY" manage.py shell --no-imports -c "
from ingestion.tasks import conditions_sync, runs_sync
from recommender.tasks import recommendations_refresh
(runs_sync.si() | conditions_sync.si() | recommendations_refresh.si()).delay()
"
echo "local OMS on $OMS_BASE; Celery worker and beat started (logs in $VAR_DIR/log/); broker: ${REDIS_URL:-filesystem under $VAR_DIR}"
echo "RefRun demo on http://127.0.0.1:$PORT/ (users shifter/shifter, leader/leader, admin/admin); Ctrl-C stops it"

# Served as in production: gunicorn (refrun/gunicorn.conf.py) with the static
# files collected, hashed and compressed, then served by whitenoise.
export STATIC_MANIFEST=true
"$PY" manage.py collectstatic --no-input -v 0
# Not exec: the trap must outlive the web server to stop the others.
GUNICORN_BIND="127.0.0.1:$PORT" "$PY" -m gunicorn --config refrun/gunicorn.conf.py refrun.wsgi:application &
pids+=($!)
wait "${pids[-1]}"

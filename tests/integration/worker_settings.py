"""Settings for the Celery worker the integration tests start: RefRun's own, with
short claim and redelivery times so a killed worker's chunk comes back in seconds
rather than the production minutes (claims) and hour (Redis visibility timeout)."""

from refrun.settings import *  # noqa: F403

OMS_SYNC_CLAIM_TTL_S = 4
OMS_MAX_REQUESTS_PER_S = 0
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 8,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}

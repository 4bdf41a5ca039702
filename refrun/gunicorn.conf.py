"""gunicorn's settings for every way RefRun is served: the container's `web` role
(deploy/entrypoint.sh) and `make run` (scripts/run-demo.sh). Read from the
environment like the Django settings; gunicorn's own WEB_CONCURRENCY and
GUNICORN_CMD_ARGS still apply on top."""

import os

bind = os.getenv("GUNICORN_BIND", f"0.0.0.0:{os.getenv('PORT', '8000')}")
# Sync workers: a request is CPU-bound (the ranking), so one per core; two by default.
workers = int(os.getenv("WEB_CONCURRENCY", "2"))
timeout = int(os.getenv("GUNICORN_TIMEOUT_S", "60"))
# Below Kubernetes' default 30 s grace period, so running requests finish on a rollout.
graceful_timeout = int(os.getenv("GUNICORN_GRACEFUL_TIMEOUT_S", "25"))
keepalive = 5
# The workers' heartbeat files: in memory, since the root filesystem may be read-only.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
accesslog = os.getenv("GUNICORN_ACCESS_LOG", "-") or None
errorlog = "-"
loglevel = os.getenv("GUNICORN_LOG_LEVEL", "info")
# The router or ingress in front terminates TLS; Django decides what to trust
# from it (SECURE_PROXY_SSL_HEADER), so gunicorn need not filter by address.
forwarded_allow_ips = os.getenv("FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn's runtime-control socket (gunicornc) is unused: without this it goes to
# $HOME/.gunicorn/, shared by every gunicorn of a user and not writable in the image.
control_socket_disable = True

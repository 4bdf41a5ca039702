"""/metrics: django-prometheus's request and database metrics, plus RefRun's own.

gunicorn runs several worker processes and a scrape reaches one of them. A counter
kept in a process would count only that worker's requests and restart at zero with
it, so RefRun's business figures are not counted in the process at all: a collector
reads them from the database at scrape time (operations.selectors), and every
worker answers with the same numbers. django-prometheus's per-process request
metrics are merged across workers only in prometheus_client's multiprocess mode
(PROMETHEUS_MULTIPROC_DIR set for the web server), which this view honours.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from functools import lru_cache

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from .selectors import business_figures

logger = logging.getLogger(__name__)


class RefRunCollector:
    """RefRun's figures, read from the database at each scrape."""

    def collect(self):
        up = GaugeMetricFamily("refrun_business_metrics_up", "1 if RefRun's figures could be read from the database")
        try:
            figures = business_figures()
        except DatabaseError as error:
            logger.warning("metrics: database unreadable: %s", error)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up

        yield CounterMetricFamily(
            "refrun_rankings_stored",
            "Rankings the model showed: one per run reconstruction and model version, stored on first display",
            value=figures.rankings_stored,
        )
        decisions = CounterMetricFamily(
            "refrun_decisions", "Shifters' decisions ever recorded, superseded ones included", labels=["decision"]
        )
        for decision, n in figures.decisions.items():
            decisions.add_metric([decision], n)
        yield decisions
        current = GaugeMetricFamily("refrun_decisions_current", "Current shifters' decisions", labels=["decision"])
        for decision, n in figures.current_decisions.items():
            current.add_metric([decision], n)
        yield current

        acceptance = GaugeMetricFamily(
            "refrun_first_choice_acceptance_ratio",
            "Share of current decisions that accepted the first choice (all models, or the active one)",
            labels=["model"],
        )
        counted = GaugeMetricFamily(
            "refrun_first_choice_decisions", "Current decisions behind the acceptance ratio", labels=["model"]
        )
        for scope, rate in (("all", figures.acceptance_all), ("active", figures.acceptance_active)):
            if rate is None:
                continue
            counted.add_metric([scope], rate.decisions)
            if rate.rate is not None:
                acceptance.add_metric([scope], rate.rate)
        yield acceptance
        yield counted

        if figures.newest_run is not None:
            yield GaugeMetricFamily("refrun_newest_run_number", "Newest run in RefRun's OMS mirror", figures.newest_run)
        if figures.oms_sync_last_success is not None:
            yield GaugeMetricFamily(
                "refrun_oms_sync_last_success_timestamp_seconds",
                "When the last OMS sync succeeded (Unix time)",
                figures.oms_sync_last_success.timestamp(),
            )
            yield GaugeMetricFamily(
                "refrun_oms_sync_age_seconds",
                "Seconds since the last successful OMS sync",
                (figures.now - figures.oms_sync_last_success).total_seconds(),
            )
        yield GaugeMetricFamily(
            "refrun_active_model_version",
            "Id of the active model version; 0 when none is active (the persistence ranking serves)",
            figures.active_model_version or 0,
        )
        failures = CounterMetricFamily("refrun_job_failures", "Failed jobs by kind", labels=["kind"])
        for kind, n in figures.job_failures.items():
            failures.add_metric([kind], n)
        yield failures


_refrun_registry = CollectorRegistry()
_refrun_registry.register(RefRunCollector())


def metrics_text() -> bytes:
    """The exposition text: the process's (or, in multiprocess mode, all workers')
    metrics, then RefRun's."""
    if os.getenv("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry) + generate_latest(_refrun_registry)


@lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs)


def metrics_allowed(request: HttpRequest) -> bool:
    """A bearer token equal to METRICS_TOKEN, or a direct connection from an address
    in METRICS_ALLOWED_CIDRS.

    A request that came through a proxy (it carries Forwarded or X-Forwarded-For)
    is never let in by address: REMOTE_ADDR is then the proxy's (the OpenShift
    router's, say), and allowing it would open /metrics to anyone on the internet.
    Prometheus scrapes the pod directly and sends neither header.
    """
    token = settings.METRICS_TOKEN
    scheme, _, offered = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(offered.strip().encode(), token.encode()):
        return True
    if "HTTP_FORWARDED" in request.META or "HTTP_X_FORWARDED_FOR" in request.META:
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in _networks(tuple(settings.METRICS_ALLOWED_CIDRS)))

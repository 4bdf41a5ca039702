"""A small synthetic OMS for tests, served by demo.fake_oms on a real socket."""

import contextlib
import datetime as dt
from collections.abc import Iterator

from demo.fake_oms import CERTHELPER_PATH, TOKEN_PATH, FakeOmsData, FakeOmsServer, make_server
from ingestion.clients import CerthelperClient, OmsClient

FIRST_RUN = 320001
START = dt.datetime(2018, 8, 1, tzinfo=dt.UTC)
CLIENT_SECRET = "s3cr3t-never-in-logs"


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def synthetic_data(*, runs: int = 30, lumisections: int = 5, first_run: int = FIRST_RUN) -> FakeOmsData:
    """`runs` consecutive 2018 collision runs, ten per fill, each with `lumisections` LS."""
    data = FakeOmsData()
    for index in range(runs):
        run_number = first_run + index
        fill_number = 7000 + index // 10
        start = START + dt.timedelta(hours=index)
        data.fills.setdefault(
            fill_number,
            {
                "fill_number": fill_number,
                "start_time": _iso(start),
                "end_time": _iso(start + dt.timedelta(hours=10)),
                "bunches_colliding": 2544,
                "bunches_target": 2556,
                "init_lumi": 1.9,
                "peak_lumi": 2.0,
                "peak_pileup": 55.0,
                "delivered_lumi": 500.0,
                "recorded_lumi": 470.0,
                "energy": 6500.0,
                "b_field": 3.8,
                "fill_type_runtime": "PROTONS",
                "fill_type_party1": "PROTON",
                "fill_type_party2": "PROTON",
                "era": "Run2018D",
            },
        )
        data.runs[run_number] = {
            "run_number": run_number,
            "fill_number": fill_number,
            "start_time": _iso(start),
            "end_time": _iso(start + dt.timedelta(minutes=50)),
            "duration": 3000,
            "init_lumi": 1.5,
            "end_lumi": 1.2,
            "delivered_lumi": 50.0 + index,
            "recorded_lumi": 48.0 + index,
            "b_field": 3.8,
            "energy": 6500.0,
            "l1_hlt_mode": "collisions2018",
            "hlt_key": "/cdaq/physics/Run2018/2e34/v3.6.1/HLT/V2",
            "sequence": "GLOBAL-RUN",
            "components": ["DAQ", "PIXEL", "TRACKER", "TRG"],
            "stable_beam": True,
            "fill_type_runtime": "PROTONS",
            "era": "Run2018D",
            "last_lumisection_number": lumisections,
            "l1_rate": 90000.0,
            "hlt_physics_rate": 1000.0,
            "hlt_physics_counter": 3_000_000,
        }
        data.lumisections[run_number] = [
            {
                "run_number": run_number,
                "lumisection_number": ls,
                "fill_number": fill_number,
                "init_lumi": 1.5 - 0.001 * ls,
                "end_lumi": 1.5 - 0.001 * (ls + 1),
                "delivered_lumi": 0.35 * ls,
                "recorded_lumi": 0.33 * ls,
                "pileup": 50.0 + ls / 10,
                "physics_flag": ls > 1,
                "cms_active": True,
                "beam1_present": True,
                "beam2_present": True,
                "beam1_stable": True,
                "beam2_stable": True,
                "bpix_ready": ls > 1,
                "fpix_ready": ls > 1,
                "tibtid_ready": True,
                "tob_ready": True,
                "tecp_ready": True,
                "tecm_ready": True,
            }
            for ls in range(1, lumisections + 1)
        ]
    data.certhelper_pairs = [
        {
            "run_number": first_run + 1,
            "run_reconstruction_type": "express",
            "reference_run_number": first_run,
            "reference_run_reconstruction_type": "express",
            "dataset": "/StreamExpress/Run2018D-Express-v1/DQMIO",
        }
    ]
    return data


@contextlib.contextmanager
def running(data: FakeOmsData, **kwargs) -> Iterator[FakeOmsServer]:
    server = make_server(data, port=0, **kwargs)
    thread = server.start_in_thread()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def oms_client(server: FakeOmsServer, **overrides) -> OmsClient:
    options = {
        "api_url": f"{server.url}/agg/api",
        "token_url": f"{server.url}{TOKEN_PATH}",
        "client_id": "refrun-test",
        "client_secret": CLIENT_SECRET,
        "audience": "cmsoms-prod",
        "timeout_s": 5.0,
        "max_requests_per_s": None,
        "max_retries": 3,
        "backoff_base_s": 0.0,
        "sleep": lambda seconds: None,
    }
    options.update(overrides)
    return OmsClient(**options)


def certhelper_client(server: FakeOmsServer, **overrides) -> CerthelperClient:
    return CerthelperClient(**{"url": f"{server.url}{CERTHELPER_PATH}", "timeout_s": 5.0, **overrides})


def oms_settings(settings, server: FakeOmsServer) -> None:
    """Point Django settings at the fake (for code that builds clients from settings)."""
    settings.OMS_API_URL = f"{server.url}/agg/api"
    settings.OMS_TOKEN_URL = f"{server.url}{TOKEN_PATH}"
    settings.OMS_CLIENT_ID = "refrun-test"
    settings.OMS_CLIENT_SECRET = CLIENT_SECRET
    settings.OMS_MAX_REQUESTS_PER_S = 0
    settings.OMS_TIMEOUT_S = 5.0
    settings.CERTHELPER_URL = f"{server.url}{CERTHELPER_PATH}"


def conditions_settings(settings, server: FakeOmsServer) -> None:
    """Point the conditions sources at the fake's APV-mode and DIALS doubles."""
    from demo.fake_conditions import urls

    for name, value in urls(server.url).items():
        setattr(settings, name, value)
    settings.DIALS_TOKEN_URL = f"{server.url}{TOKEN_PATH}"
    settings.DIALS_CLIENT_ID = "refrun-test"
    settings.DIALS_CLIENT_SECRET = CLIENT_SECRET
    settings.APV_MODE_MAX_REQUESTS_PER_S = 0
    settings.DIALS_MAX_REQUESTS_PER_S = 0
    settings.APV_MODE_TIMEOUT_S = 2.0
    settings.DIALS_TIMEOUT_S = 2.0
    settings.CONDITIONS_MAX_RETRIES = 1

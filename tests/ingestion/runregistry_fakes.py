"""A small synthetic Run Registry for tests, served by demo.fake_oms on a real socket."""

from demo.fake_oms import TOKEN_PATH, FakeOmsData, FakeOmsServer
from demo.fake_runregistry import RUNREGISTRY_PREFIX, TRACKER, RrDataset
from ingestion.runregistry_client import RunRegistryClient

FIRST_RUN = 380001
CLIENT_SECRET = "rr-s3cr3t"


def synthetic_runregistry(*, runs: int = 12, first_run: int = FIRST_RUN) -> FakeOmsData:
    """`runs` runs with online, express and prompt datasets; the last three express ones
    OPEN; every fourth run's pixel BAD; each run 20 lumisections, 18 of them good."""
    data = FakeOmsData()
    for index in range(runs):
        run_number = first_run + index
        good = [(1, 18, "GOOD"), (19, 20, "BAD")]
        ranges = {c: list(good) for c in TRACKER}
        if index % 4 == 0:
            ranges["tracker-pixel"] = [(1, 20, "BAD")]
        data.runregistry.add(RrDataset(run_number, "online", "SIGNOFF", "Collisions24", True))
        express_state = "OPEN" if index >= runs - 3 else "COMPLETED"
        data.runregistry.add(
            RrDataset(run_number, "/Express/Collisions2024/DQM", express_state, "Collisions24", True, ranges)
        )
        data.runregistry.add(
            RrDataset(run_number, "/PromptReco/Collisions2024G/DQM", "SIGNOFF", "Collisions24", True, ranges)
        )
    return data


def runregistry_client(server: FakeOmsServer, **overrides) -> RunRegistryClient:
    options = {
        "api_url": f"{server.url}{RUNREGISTRY_PREFIX}",
        "token_url": f"{server.url}{TOKEN_PATH}",
        "client_id": "refrun-test",
        "client_secret": CLIENT_SECRET,
        "timeout_s": 1.0,
        "max_retries": 2,
        "backoff_base_s": 0.0,
        "page_size": 10,
        "sleep": lambda seconds: None,
    }
    options.update(overrides)
    return RunRegistryClient(**options)


def runregistry_settings(settings, server: FakeOmsServer) -> None:
    """Point Django settings at the fake's Run Registry (code that builds clients from settings)."""
    settings.RUNREGISTRY_API_URL = f"{server.url}{RUNREGISTRY_PREFIX}"
    settings.RUNREGISTRY_TOKEN_URL = f"{server.url}{TOKEN_PATH}"
    settings.RUNREGISTRY_CLIENT_ID = "refrun-test"
    settings.RUNREGISTRY_CLIENT_SECRET = CLIENT_SECRET
    settings.RUNREGISTRY_TIMEOUT_S = 5.0

import pytest

from tests.ingestion.clients.fakes import running, synthetic_data


@pytest.fixture
def fake_oms():
    with running(synthetic_data(runs=25, lumisections=7)) as server:
        yield server

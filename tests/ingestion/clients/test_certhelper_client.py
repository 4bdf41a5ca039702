import pytest

from ingestion.clients import CerthelperClient, CerthelperError, CerthelperTransientError
from tests.ingestion.clients.fakes import certhelper_client


def test_it_fetches_every_pair_in_one_call(fake_oms):
    pairs = certhelper_client(fake_oms).reference_pairs()

    assert pairs == fake_oms.data.certhelper_pairs
    assert fake_oms.counters["certhelper"] == 1


@pytest.mark.parametrize("fault", ["error_500", "error_429", "cut_body"])
def test_it_reports_a_transient_failure_without_calling_again(fake_oms, fault):
    fake_oms.faults.arm({"fault": fault, "resource": "certhelper"})

    with pytest.raises(CerthelperTransientError):
        certhelper_client(fake_oms).reference_pairs()

    assert fake_oms.counters["certhelper"] == 1


def test_it_reports_a_timeout_as_transient(fake_oms):
    fake_oms.faults.arm({"fault": "slow", "seconds": 1.0, "resource": "certhelper"})

    with pytest.raises(CerthelperTransientError, match="Timeout"):
        certhelper_client(fake_oms, timeout_s=0.2).reference_pairs()


def test_it_rejects_a_wrong_address_clearly(fake_oms):
    client = CerthelperClient(url=f"{fake_oms.url}/mldatasets/allRunsRefRuns/")

    with pytest.raises(CerthelperError, match="HTTP 404") as excinfo:
        client.reference_pairs()

    assert not isinstance(excinfo.value, CerthelperTransientError)

"""The factories themselves: the fault tests count fills, so a factory must not leave strays."""

import pytest

from ingestion.models import Fill
from tests.factories import RunFactory

pytestmark = pytest.mark.django_db


def test_it_gets_an_existing_run_without_building_a_fill():
    run = RunFactory(run_number=390001)
    fills = Fill.objects.count()

    again = RunFactory(run_number=390001)

    assert again.pk == run.pk
    assert Fill.objects.count() == fills


def test_it_still_makes_a_missing_run_with_its_fill():
    fills = Fill.objects.count()

    run = RunFactory(run_number=390002)

    assert run.fill is not None
    assert Fill.objects.count() == fills + 1

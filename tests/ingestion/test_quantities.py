"""The catalogue of mirrored OMS quantities is the one place that names them:
every entry reaches the model, the OMS client, the parsers, the precedence rules,
the local OMS and the model's run features."""

import pytest

from ingestion import quantities
from ingestion.clients import FILL_FIELDS, LUMISECTION_FIELDS, RUN_FIELDS, OmsClient
from ingestion.models import Fill, Lumisection, Run
from ingestion.parsers.oms import fill_data, lumisection_data, run_data
from ingestion.services.precedence import FILL_FIELDS as FILL_WRITE_FIELDS
from ingestion.services.precedence import LUMISECTION_FIELDS as LS_WRITE_FIELDS
from ingestion.services.precedence import RUN_GROUPS
from recommender.ml.dataset import RUN_FEATURE_COLUMNS
from tests.ingestion.clients.fakes import FIRST_RUN, oms_client, running, synthetic_data

MODELS = {quantities.FILL: Fill, quantities.RUN: Run, quantities.LUMISECTION: Lumisection}
CLIENT_FIELDS = {quantities.FILL: FILL_FIELDS, quantities.RUN: RUN_FIELDS, quantities.LUMISECTION: LUMISECTION_FIELDS}
PARSERS = {quantities.FILL: fill_data, quantities.RUN: run_data, quantities.LUMISECTION: lumisection_data}
KEYS = {
    quantities.FILL: {"fill_number": 7000},
    quantities.RUN: {"run_number": 355100},
    quantities.LUMISECTION: {"run_number": 355100, "lumisection_number": 1},
}

ENTRIES = [pytest.param(q, id=f"{q.entity}.{q.name}") for q in quantities.QUANTITIES]


@pytest.mark.parametrize("q", ENTRIES)
def test_every_entry_is_a_model_field_with_its_help_text_and_length(q):
    field = MODELS[q.entity]._meta.get_field("fill" if (q.entity, q.name) == ("run", "fill_number") else q.name)

    if field.is_relation:
        return  # the run's fill: a foreign key, its help is the Fill model's
    assert field.help_text == q.help
    assert field.null or field.blank
    if q.type == "text":
        assert field.max_length == q.max_length


@pytest.mark.parametrize("q", ENTRIES)
def test_every_oms_entry_is_asked_for_and_parsed(q):
    parsed = PARSERS[q.entity](KEYS[q.entity], {})
    if q.oms is not None:
        assert q.oms in CLIENT_FIELDS[q.entity]
        assert q.name in parsed
    elif q.is_source_unit:
        assert q.name in parsed or q.entity == quantities.LUMISECTION
    else:  # from elsewhere (DQM, the cosmics counter, the stored lumisections): never asked of OMS
        assert q.name not in CLIENT_FIELDS[q.entity]


@pytest.mark.parametrize("q", ENTRIES)
def test_every_entry_has_a_place_in_the_precedence_rules(q):
    if q.entity == quantities.RUN:
        assert q.name in RUN_GROUPS[q.group]
    elif q.entity == quantities.FILL:
        assert q.name in FILL_WRITE_FIELDS
    else:
        assert q.name in LS_WRITE_FIELDS


def test_the_source_units_travel_with_their_values():
    for q in quantities.QUANTITIES:
        if q.source_unit:
            unit = quantities.quantity(q.entity, q.source_unit)
            assert unit.is_source_unit and unit.group == q.group


def test_the_features_are_catalogued_or_derived():
    derived = {"run_class", "ls_count", "pileup", "good_ls"}
    catalogued = {q.name for q in quantities.QUANTITIES if q.feature}
    assert set(RUN_FEATURE_COLUMNS) == derived | catalogued
    assert len(RUN_FEATURE_COLUMNS) == len(set(RUN_FEATURE_COLUMNS))


def test_the_local_oms_serves_every_attribute_the_client_asks_for():
    with running(synthetic_data(runs=2, lumisections=2)) as server:
        client: OmsClient = oms_client(server)
        run = next(iter(client.runs(run_from=FIRST_RUN, run_to=FIRST_RUN)))
        lumisection = next(iter(client.lumisections(FIRST_RUN)))

    assert set(RUN_FIELDS) <= set(run.attributes)
    assert set(LUMISECTION_FIELDS) <= set(lumisection.attributes)

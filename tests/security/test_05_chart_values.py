"""Finding 5: extreme but finite lumisection values must not take a page down, and
nothing in a chart's text can break out of an SVG attribute."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.pages.charts import Series, line_chart_svg

EXTREMES = [1.7e308, -1.7e308, 5e-324, -5e-324, 1e-310, 1e300, -1e300, 0.0]


@pytest.mark.parametrize("value", EXTREMES)
def test_an_extreme_value_beside_ordinary_ones_draws_a_chart(value):
    points = [(1, 1.2), (2, value), (3, 1.3), (4, 1.1)]

    svg = line_chart_svg(title="Pileup", unit="interactions", series=[Series("run 1", points, "run-line")])

    assert svg.startswith("<svg") and "nan" not in svg.lower() and "inf" not in svg.lower()


def test_the_largest_and_smallest_finite_values_together_draw_a_chart():
    points = [(1, 1.7e308), (2, -1.7e308), (3, 5e-324)]

    svg = line_chart_svg(title="Pileup", unit="x", series=[Series("run 1", points, "run-line")])

    assert "nan" not in svg.lower() and "inf" not in svg.lower()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 10**6), st.floats(allow_nan=True, allow_infinity=True)), max_size=30))
def test_any_float_series_draws_or_is_empty_but_never_raises(points):
    svg = line_chart_svg(title="t", unit="u", series=[Series("s", points, "run-line")])

    assert svg == "" or ("nan" not in svg.lower() and "inf" not in svg.lower())
    if svg == "":
        assert not any(v is not None and math.isfinite(v) and abs(v) < 1e15 for _, v in points)


def test_quotes_in_a_title_or_label_cannot_leave_the_attribute():
    attack = '" onmouseover="alert(1)'

    svg = line_chart_svg(title=attack, unit=attack, series=[Series(attack, [(1, 1.0), (2, 2.0)], "run-line")])

    assert 'onmouseover="' not in svg and "&quot;" in svg


@pytest.mark.django_db
def test_the_run_page_answers_with_extreme_lumisection_values(client, shifter_sam):
    from django.urls import reverse

    from tests.factories import LumisectionFactory, RunFactory

    run = RunFactory(run_number=380100)
    for number, value in enumerate([1.7e308, -1.7e308, 5e-324, 1.2], start=1):
        LumisectionFactory(run=run, number=number, init_lumi=value, pileup=value)
    client.force_login(shifter_sam)

    response = client.get(reverse("recommender:run_detail", args=[380100, "express"]))

    assert response.status_code == 200

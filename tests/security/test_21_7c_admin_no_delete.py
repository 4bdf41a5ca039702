"""Issue 21, finding 7c: a superuser could delete decisions and the active model version
in the admin, although FeedbackAdmin said it was read-only. Nobody, superusers
included, deletes a decision (Feedback), a label from a shifter (ReferencePair with
source "shifter") or a model version that was ever active: not from its delete page,
not with the bulk "delete selected" action, and not as a cascade of deleting a run
reconstruction."""

import importlib

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

from recommender.models import Feedback, LabelSource, ModelVersion, ModelVersionStatus, ReferencePair
from recommender.training import model_version_activate
from tests.factories import ModelVersionFactory, ReferencePairFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def decision(shifter_sam):
    label = ReferencePairFactory(source=LabelSource.SHIFTER, recorded_by=shifter_sam)
    feedback = Feedback.objects.create(
        run_reconstruction=label.run_reconstruction,
        user=shifter_sam,
        decision="accepted",
        recommended_reference=label.reference.run,
    )
    ReferencePair.objects.filter(pk=label.pk).update(feedback=feedback)
    return feedback


@pytest.fixture
def shifter_label(decision):
    return decision.labels.get()


@pytest.fixture
def certhelper_label():
    return ReferencePairFactory(source=LabelSource.CERTHELPER)


@pytest.fixture
def versions():
    """A retired version (active once), the active one, and a candidate never activated."""
    retired, active, candidate = ModelVersionFactory(), ModelVersionFactory(), ModelVersionFactory()
    model_version_activate(model_version_id=retired.pk)
    model_version_activate(model_version_id=active.pk)
    retired.refresh_from_db()
    active.refresh_from_db()
    assert retired.status == ModelVersionStatus.RETIRED and active.status == ModelVersionStatus.ACTIVE
    return retired, active, candidate


@pytest.fixture
def superuser(client, admin_ada):
    client.force_login(admin_ada)
    return client


def delete_page(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_delete", args=[obj.pk])


def bulk_delete(client, model, pks: list[int]):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return client.post(url, {"action": "delete_selected", "_selected_action": pks, "post": "yes"})


def has_delete_permission(model, user, obj=None) -> bool:
    request = RequestFactory().get("/admin/")
    request.user = user
    return admin.site.get_model_admin(model).has_delete_permission(request, obj)


# --- Decisions --------------------------------------------------------------------------


def test_a_superuser_cannot_delete_a_decision_from_its_delete_page(superuser, decision):
    assert superuser.get(delete_page(decision)).status_code == 403
    assert superuser.post(delete_page(decision), {"post": "yes"}).status_code == 403
    assert Feedback.objects.filter(pk=decision.pk).exists()


def test_a_superuser_cannot_bulk_delete_decisions(superuser, decision):
    bulk_delete(superuser, Feedback, [decision.pk])

    assert Feedback.objects.filter(pk=decision.pk).exists()
    changelist = superuser.get(reverse("admin:recommender_feedback_changelist")).content.decode()
    assert "delete_selected" not in changelist


def test_the_feedback_admin_gives_nobody_delete_permission(admin_ada, decision):
    assert not has_delete_permission(Feedback, admin_ada)
    assert not has_delete_permission(Feedback, admin_ada, decision)


# --- Labels from shifters ----------------------------------------------------------------


def test_a_superuser_cannot_delete_a_shifters_label(superuser, admin_ada, shifter_label):
    assert superuser.post(delete_page(shifter_label), {"post": "yes"}).status_code == 403
    assert ReferencePair.objects.filter(pk=shifter_label.pk).exists()
    assert not has_delete_permission(ReferencePair, admin_ada, shifter_label)


def test_a_shifters_label_is_not_deleted_in_a_bulk_delete_with_certhelper_labels(
    superuser, shifter_label, certhelper_label
):
    response = bulk_delete(superuser, ReferencePair, [certhelper_label.pk, shifter_label.pk])

    assert response.status_code == 403
    assert ReferencePair.objects.filter(pk__in=[certhelper_label.pk, shifter_label.pk]).count() == 2


def test_a_certhelper_label_can_still_be_deleted(superuser, admin_ada, certhelper_label):
    # Certhelper's labels are re-imported from Certhelper: a bad import can be cleaned up.
    assert has_delete_permission(ReferencePair, admin_ada, certhelper_label)

    assert superuser.post(delete_page(certhelper_label), {"post": "yes"}).status_code == 302
    assert not ReferencePair.objects.filter(pk=certhelper_label.pk).exists()


def test_a_superuser_cannot_delete_decisions_by_deleting_their_run_reconstruction(superuser, decision):
    response = superuser.post(delete_page(decision.run_reconstruction), {"post": "yes"})

    assert response.status_code == 403
    assert Feedback.objects.filter(pk=decision.pk).exists()


# --- Model versions that were ever active -------------------------------------------------


def test_a_superuser_cannot_delete_the_active_model_version(superuser, admin_ada, versions):
    _, active, _ = versions

    assert superuser.post(delete_page(active), {"post": "yes"}).status_code == 403
    assert ModelVersion.objects.filter(pk=active.pk).exists()
    assert not has_delete_permission(ModelVersion, admin_ada, active)


def test_a_superuser_cannot_delete_a_version_that_was_active_once(superuser, admin_ada, versions):
    retired, _, _ = versions

    assert superuser.post(delete_page(retired), {"post": "yes"}).status_code == 403
    assert ModelVersion.objects.filter(pk=retired.pk).exists()
    assert not has_delete_permission(ModelVersion, admin_ada, retired)


def test_a_bulk_delete_of_model_versions_deletes_none_if_one_was_ever_active(superuser, versions):
    retired, active, candidate = versions

    response = bulk_delete(superuser, ModelVersion, [retired.pk, active.pk, candidate.pk])

    assert response.status_code == 403
    assert ModelVersion.objects.count() == 3


def test_a_candidate_never_activated_can_be_deleted(superuser, admin_ada, versions):
    _, _, candidate = versions
    assert has_delete_permission(ModelVersion, admin_ada, candidate)

    bulk_delete(superuser, ModelVersion, [candidate.pk])

    assert not ModelVersion.objects.filter(pk=candidate.pk).exists()


def test_the_migration_marks_the_versions_active_before_it(versions):
    retired, active, _ = versions
    ModelVersion.objects.update(was_ever_active=False)  # as the rows were before the migration
    migration = importlib.import_module("recommender.migrations.0015_modelversion_was_ever_active")

    migration.mark_versions_ever_active(apps, None)

    assert set(ModelVersion.objects.filter(was_ever_active=True)) == {retired, active}
